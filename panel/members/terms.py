"""The panel's terms, versioned.

Each version is a pair of templates, ``templates/members/terms/<version>.sv.html``
and ``<version>.en.html``, and is never edited once members have agreed to it:
write a new version and make it CURRENT. A consent records the version, so a
member can always read the exact text they agreed to at ``/panel/terms/<version>``.
"""

from __future__ import annotations

from datetime import date

# Oldest first; the last is the one new members agree to.
VERSIONS: dict[str, date] = {
    "2026-11": date(2026, 11, 1),
}
CURRENT = next(reversed(VERSIONS))
LANGUAGES = ("sv", "en")


def is_known(version: str) -> bool:
    return version in VERSIONS


def template_for(version: str, language: str) -> str:
    """The template holding ``version`` in ``language`` (Swedish when there is no such language)."""
    if version not in VERSIONS:
        raise ValueError(f"unknown terms version {version!r}")
    return f"members/terms/{version}.{language if language in LANGUAGES else 'sv'}.html"
