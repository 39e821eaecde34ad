"""Languages a survey can be written in: direction, names, and built-in answer labels.

A survey's texts are written by the analyst in each of its languages. A few short
labels that every survey needs ("Ja", "Vet ej", "Annat, nämligen") have built-in
translations here, so a definition can say ``dont_know: true`` instead of spelling
them out; for a language without a built-in label the definition must give it.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi"})

# What a resident sees in a language list: each language in its own words.
AUTONYMS = {
    "sv": "Svenska",
    "en": "English",
    "ar": "العربية",
    "fa": "فارسی",
    "fi": "Suomi",
    "so": "Soomaali",
    "ti": "ትግርኛ",
    "pl": "Polski",
    "uk": "Українська",
    "de": "Deutsch",
    "es": "Español",
    "fr": "Français",
    "se": "Davvisámegiella",
    "yi": "ייִדיש",
    "rom": "Romani",
    "ku": "Kurdî",
    "bs": "Bosanski",
    "hr": "Hrvatski",
    "sr": "Srpski",
    "tr": "Türkçe",
    "ru": "Русский",
}

# What an analyst sees in the authoring pages (Swedish msgids, translated later).
LANGUAGE_NAMES = {
    "sv": _l("svenska"),
    "en": _l("engelska"),
    "ar": _l("arabiska"),
    "fa": _l("persiska"),
    "fi": _l("finska"),
    "so": _l("somaliska"),
    "ti": _l("tigrinja"),
    "pl": _l("polska"),
    "uk": _l("ukrainska"),
    "de": _l("tyska"),
    "es": _l("spanska"),
    "fr": _l("franska"),
    "se": _l("nordsamiska"),
    "yi": _l("jiddisch"),
    "rom": _l("romani"),
    "ku": _l("kurdiska"),
    "bs": _l("bosniska"),
    "hr": _l("kroatiska"),
    "sr": _l("serbiska"),
    "tr": _l("turkiska"),
    "ru": _l("ryska"),
}

DEFAULT_LABELS: dict[str, dict[str, str]] = {
    "yes": {"sv": "Ja", "en": "Yes", "ar": "نعم", "fa": "بله", "fi": "Kyllä", "so": "Haa", "pl": "Tak",
            "uk": "Так", "de": "Ja", "es": "Sí", "fr": "Oui", "tr": "Evet", "ru": "Да"},
    "no": {"sv": "Nej", "en": "No", "ar": "لا", "fa": "خیر", "fi": "Ei", "so": "Maya", "pl": "Nie",
           "uk": "Ні", "de": "Nein", "es": "No", "fr": "Non", "tr": "Hayır", "ru": "Нет"},
    "dont_know": {"sv": "Vet ej", "en": "Don't know", "ar": "لا أعرف", "fa": "نمی‌دانم", "fi": "En osaa sanoa",
                  "so": "Ma aqaan", "pl": "Nie wiem", "uk": "Не знаю", "de": "Weiß nicht", "es": "No sé",
                  "fr": "Je ne sais pas", "tr": "Bilmiyorum", "ru": "Не знаю"},
    "other": {"sv": "Annat, nämligen", "en": "Other, namely", "ar": "أخرى، يرجى التحديد", "fa": "سایر، لطفاً مشخص کنید", "fi": "Muu, mikä",
              "pl": "Inne, jakie", "de": "Sonstiges, und zwar", "es": "Otro, ¿cuál?", "fr": "Autre, précisez"},
}


def is_rtl(language: str) -> bool:
    """True for languages written right to left (Arabic, Persian, Hebrew, Urdu ...)."""
    return language.split("-")[0].lower() in RTL_LANGUAGES


def direction(language: str) -> str:
    """The HTML ``dir`` value for a language: "rtl" or "ltr"."""
    return "rtl" if is_rtl(language) else "ltr"


def language_name(language: str) -> str:
    """The language's name in the user interface language (for analysts)."""
    name = LANGUAGE_NAMES.get(language)
    return str(name) if name is not None else language


def autonym(language: str) -> str:
    """The language's name in itself (for residents choosing a language)."""
    return AUTONYMS.get(language, language)
