"""The question page of ``/s/answer/<page>``, written around a kept shell.

A question page is the same for every resident at the same place of the same survey,
apart from three parts: the error summary, the CSRF field and the questions with what
this resident has chosen or typed. So ``templates/surveys/answering/page.html`` (in the
respondent layout, which depends on nobody's login) is rendered once per variant -- the
survey's revision, the page, the language, "page n of m", first or last page, anonymous
or not, with or without errors -- with a marker in each of those three slots, cut at the
markers and kept for the application. A request writes the three parts
(:mod:`surveys.form_html`) and joins them with the kept text: the same page as rendering
the whole template, without a template render, ``url_for`` or ``gettext`` per request.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app, render_template
from markupsafe import Markup

from surveys.definition import Page, SurveyDefinition, text_in
from surveys.form_html import csrf_html, error_summary_html, questions_html
from surveys.languages import autonym, direction

SLOTS = {"error_summary": error_summary_html, "csrf": csrf_html, "questions": questions_html}
# A marker no survey text can contain: NUL and a random part made when the process starts.
_MARK = f"\x00{secrets.token_hex(8)}:"
_MARKERS = {name: Markup(f"{_MARK}{name}\x00") for name in SLOTS}
_CUT = re.compile(re.escape(_MARK) + r"(\w+)\x00")
_KEPT = "answering_page_shells"
KEPT_MAX = 1024  # variants kept per application before the store starts again


def render_page(defn: SurveyDefinition, survey: Any, page: Page, language: str, form, *, number: int, total: int,
                first: bool, last: bool, anonymous: bool) -> str:
    """The page for ``form`` (a page form of :func:`surveys.forms.build_page_form`).

    ``survey`` has ``id``, ``revision`` and ``updated_at``: a changed survey gets new
    shells. Call inside ``force_locale(language)``, as the answering views do.
    """
    has_errors = bool(form.errors)
    key = (survey.id, survey.revision, survey.updated_at, page.key, language, number, total, first, last,
           anonymous, has_errors)
    kept = current_app.extensions.setdefault(_KEPT, {})
    shell = kept.get(key)
    if shell is None:
        shell = _cut(render_template(
            "surveys/answering/page.html", slots=_MARKERS, defn=defn, page=page, language=language,
            text_in=text_in, autonym=autonym, direction=direction, title=text_in(defn.title, language),
            page_lang=language, page_dir=direction(language), number=number, total=total, first=first, last=last,
            anonymous=anonymous, has_errors=has_errors))
        if len(kept) >= KEPT_MAX:
            kept.clear()
        kept[key] = shell
    out = [shell[0]]
    for index in range(1, len(shell), 2):
        out.append(SLOTS[shell[index]](form))
        out.append(shell[index + 1])
    return "".join(out)


def _cut(html: str) -> tuple[str, ...]:
    """(text, slot name, text, slot name, ..., text): ``re.split`` with the names kept."""
    parts = tuple(_CUT.split(html))
    names = parts[1::2]
    if sorted(names) != sorted(SLOTS):
        raise RuntimeError(f"surveys/answering/page.html must show each slot once, not {names}")
    return parts
