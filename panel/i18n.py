"""Language and time zone selection.

The user interface is written in Swedish (the msgids are Swedish); English and
further languages are translation catalogs in ``panel/translations``. The choice
order: ``?lang=`` (remembered in the session), then the language of the member a
page is about (:func:`prefer_member_language`: a link from their email, their own
pages), then the browser's Accept-Language, then Swedish.

Staff pages are offered in ``LANGUAGES`` (Swedish, English). Resident pages -- the
sign-up, the member's own pages, answering a survey, the public privacy and results
pages -- are offered in ``PANEL_RESIDENT_LANGUAGES`` as well (Arabic, right to left).
A resident language remembered in the session is used on the next resident page,
never on a staff page.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_babel import refresh

# Whole blueprints a resident uses, and the resident pages of blueprints that are
# otherwise for staff.
RESIDENT_BLUEPRINTS = frozenset({"members", "answering"})
RESIDENT_ENDPOINTS = frozenset({
    "recruitment.join", "recruitment.join_details", "privacy.public", "publication.public_report", "static",
})
RIGHT_TO_LEFT = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi"})
# The language switch: each language named in itself.
AUTONYMS = {"sv": "Svenska", "en": "English", "ar": "العربية"}


def is_resident_page() -> bool:
    """Whether this request is for a page residents use (an unknown address counts: its 404 page)."""
    endpoint = request.endpoint
    if endpoint is None:
        return not request.path.startswith(("/staff", "/committee"))
    return request.blueprint in RESIDENT_BLUEPRINTS or endpoint in RESIDENT_ENDPOINTS


def resident_languages() -> tuple[str, ...]:
    """The languages residents may choose, for pages and emails alike: the staff languages
    (LANGUAGES) and PANEL_RESIDENT_LANGUAGES, in that order."""
    config = current_app.config
    staff = tuple(config["LANGUAGES"])
    return staff + tuple(code for code in config.get("PANEL_RESIDENT_LANGUAGES", ()) if code not in staff)


def languages_here() -> tuple[str, ...]:
    """The languages this page may be shown in: staff languages, plus the residents' on resident pages."""
    if not has_request_context() or not is_resident_page():
        return tuple(current_app.config["LANGUAGES"])
    return resident_languages()


def direction(language: str) -> str:
    return "rtl" if language.split("_")[0] in RIGHT_TO_LEFT else "ltr"


def select_locale() -> str:
    if not has_request_context():  # CLI commands and background work: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = languages_here()
    wanted = request.args.get("lang")
    if wanted in languages:
        session["lang"] = wanted
        return wanted
    if session.get("lang") in languages:
        return session["lang"]
    if g.get("member_language") in languages:
        return g.member_language
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def prefer_member_language(language: str) -> None:
    """This page is about a member (opened from a link in their email, or one of their own
    pages): show it in the member's language -- the language of their emails -- unless the
    resident has chosen a language here (``?lang=``, the language switch)."""
    g.member_language = language
    refresh()  # a text translated before this point must not fix the page's language


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]
