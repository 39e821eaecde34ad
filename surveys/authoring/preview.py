"""Preview a survey as a resident sees it, page by page, without storing anything.

The answers given so far travel with the form in a signed hidden field, so conditions
work across pages while nothing is written to the database (or to the session
cookie, which long answers would overflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import MultiDict

from surveys.definition import Page, SurveyDefinition
from surveys.forms import (
    SurveyPageForm,
    build_page_form,
    clean_answers,
    next_page,
    previous_page,
    prune_answers,
)

STATE_FIELD = "preview_state"


class PreviewStateInvalid(Exception):
    """The hidden state was tampered with, or belongs to another survey."""


@dataclass
class PreviewStep:
    """What to show next: a page with its form, the intro (page None, not done) or the end."""

    page: Page | None
    form: SurveyPageForm | None
    answers: dict[str, Any]
    done: bool = False
    status: int = 200


def _serializer(secret_key: str, survey_id: int) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"survey-preview-{survey_id}")


def dump_state(secret_key: str, survey_id: int, page: Page | None, answers: dict[str, Any]) -> str:
    return _serializer(secret_key, survey_id).dumps({"page": page.key if page else None, "answers": answers})


def load_state(secret_key: str, survey_id: int, token: str | None) -> tuple[str | None, dict[str, Any]]:
    if not token:
        return None, {}
    try:
        state = _serializer(secret_key, survey_id).loads(token)
    except BadSignature as error:
        raise PreviewStateInvalid() from error
    if not isinstance(state, dict) or not isinstance(state.get("answers"), dict):
        raise PreviewStateInvalid()
    return state.get("page"), state["answers"]


def step(defn: SurveyDefinition, language: str, page_key: str | None, answers: dict[str, Any],
         nav: str | None, formdata: MultiDict) -> PreviewStep:
    """Handle one POST of the preview: start, go back, or validate the page and go on."""
    answers = prune_answers(defn, answers)
    page = defn.page(page_key) if page_key else None
    if nav == "start" or page is None:
        answers, target = {}, next_page(defn, None, {})
    elif nav == "back":
        target = previous_page(defn, page, answers)
        if target is None:
            return PreviewStep(page=None, form=None, answers=answers)
    else:
        formdata = MultiDict(formdata)
        formdata.pop(STATE_FIELD, None)
        form = build_page_form(defn, page, language, answers, formdata)
        if not form.validate():
            return PreviewStep(page=page, form=form, answers=answers, status=400)
        answers = prune_answers(defn, {**answers, **clean_answers(form)})
        target = next_page(defn, page, answers)
    if target is None:
        return PreviewStep(page=None, form=None, answers=answers, done=True)
    return PreviewStep(page=target, form=build_page_form(defn, target, language, answers), answers=answers)
