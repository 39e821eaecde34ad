"""The panel's terms, versioned.

Each version is a set of templates, ``templates/members/terms/<version>.<language>.html``
(Swedish, English, and Arabic for residents), and is never edited once members have agreed
to it: write a new version and make it CURRENT. A consent records the version, so a
member can always read the exact text they agreed to at ``/panel/terms/<version>``.

The Swedish text is the one that applies; a translation says so at its top and is there to
help a resident read it. A page in a language the version has no text in shows the first of
FALLBACK that it has (Swedish, then English).
"""

from __future__ import annotations

from datetime import date

from flask import current_app
from jinja2 import TemplateNotFound

# Oldest first; the last is the one new members agree to.
VERSIONS: dict[str, date] = {
    "2026-11": date(2026, 11, 1),
}
CURRENT = next(reversed(VERSIONS))
LANGUAGES = ("sv", "en", "ar")  # the languages terms may be written in
FALLBACK = ("sv", "en")  # for a page language without a text: Swedish applies, then English


def is_known(version: str) -> bool:
    return version in VERSIONS


def _template(version: str, language: str) -> str:
    return f"members/terms/{version}.{language}.html"


def _exists(name: str) -> bool:
    try:
        current_app.jinja_env.get_template(name)
    except TemplateNotFound:
        return False
    return True


def text_language(version: str, language: str) -> str:
    """The language ``version`` is shown in on a page in ``language``: that language when the
    version has a text in it, else the first of FALLBACK that it has."""
    if version not in VERSIONS:
        raise ValueError(f"unknown terms version {version!r}")
    for code in dict.fromkeys((language.split("_")[0], *FALLBACK)):
        if code in LANGUAGES and _exists(_template(version, code)):
            return code
    raise LookupError(f"terms version {version!r} has no text in {FALLBACK}")


def template_for(version: str, language: str) -> str:
    """The template holding ``version`` for a page in ``language`` (see :func:`text_language`)."""
    return _template(version, text_language(version, language))
