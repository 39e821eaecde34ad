"""Writing surveys: create, import, edit, reorder, copy, and freeze once sent.

Services take a Session and never commit. Every change goes through
:func:`save_definition`, which parses the new definition (so what is stored is always
valid), refuses structural changes to a sent survey and bumps the revision.
Question and page edits work on the plain-data form of the definition and re-parse
it, so their errors read like an imported file's: by question and field.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.models import StaffUser
from surveys.definition import (
    DefinitionError,
    SurveyDefinition,
    definition_to_dict,
    load_definition,
    parse_definition,
    read_file_data,
    structure_changes,
    structure_fingerprint,
)
from surveys.models import Survey, SurveyStatus


class StructureFrozen(Exception):
    """The survey has been sent: only texts may change. ``changes`` says what was tried."""

    def __init__(self, changes: list[str]) -> None:
        self.changes = changes
        super().__init__(_("Enkäten är redan skickad, så frågorna och deras ordning kan inte ändras längre – "
                           "bara texterna. Gör en kopia för att ändra mer."))


class EditConflict(Exception):
    """The survey changed since the editor's page was loaded."""

    def __init__(self) -> None:
        super().__init__(_("Någon annan har ändrat enkäten sedan du öppnade sidan. Ladda om och gör ändringen igen."))


def definition_of(survey: Survey) -> SurveyDefinition:
    """The survey's definition as dataclasses (parsed once per distinct content)."""
    return _parse_cached(json.dumps(survey.definition, sort_keys=True, ensure_ascii=False))


@lru_cache(maxsize=128)
def _parse_cached(canonical_json: str) -> SurveyDefinition:
    return parse_definition(json.loads(canonical_json))


def blank_definition(title: str) -> SurveyDefinition:
    """A Swedish survey with one empty page, to be filled in."""
    return parse_definition({"languages": ["sv"], "title": {"sv": title}, "pages": [{"key": "p1", "questions": []}]})


def create_survey(session: Session, *, title: str, created_by: StaffUser | None,
                  definition: SurveyDefinition | None = None) -> Survey:
    """A new draft (blank unless a definition is given)."""
    title = " ".join(title.split())[:200] or text_title(definition)
    defn = definition or blank_definition(title)
    survey = Survey(title=title, definition=definition_to_dict(defn), status=SurveyStatus.DRAFT,
                    created_by=created_by, revision=1)
    session.add(survey)
    session.flush()
    return survey


def text_title(defn: SurveyDefinition | None) -> str:
    return (defn.title.get("sv", "") if defn else "")[:200] or _("Ny enkät")


def import_survey(session: Session, *, text: str, format: str, title: str, created_by: StaffUser | None) -> Survey:
    """A new draft from a YAML or JSON file; raises DefinitionError listing every problem."""
    defn = load_definition(text, format)
    return create_survey(session, title=title or text_title(defn), created_by=created_by, definition=defn)


def check_revision(survey: Survey, revision: int | str | None) -> None:
    """Raise EditConflict unless ``revision`` is the survey's current one."""
    try:
        current = int(revision) if revision is not None else None
    except (TypeError, ValueError):
        current = None
    if current != survey.revision:
        raise EditConflict()


def save_definition(survey: Survey, data: dict[str, Any] | SurveyDefinition, *, revision: int | str | None) -> SurveyDefinition:
    """Replace the survey's definition: parse, check freezing and revision, store.

    Raises DefinitionError (what is wrong, by question and field), StructureFrozen
    (a sent survey whose structure would change) or EditConflict.
    """
    check_revision(survey, revision)
    new = data if isinstance(data, SurveyDefinition) else parse_definition(data)
    if survey.is_frozen and structure_fingerprint(new) != survey.structure_fingerprint:
        raise StructureFrozen(structure_changes(definition_of(survey), new))
    stored = definition_to_dict(new)
    if stored != survey.definition:
        survey.definition = stored
        survey.revision += 1
        survey.updated_at = utcnow()
    return new


def replace_from_text(survey: Survey, text: str, format: str, *, revision: int | str | None) -> SurveyDefinition:
    """The YAML/JSON editor: the whole definition from text."""
    return save_definition(survey, read_file_data(text, format), revision=revision)


def freeze_structure(survey: Survey, *, now: datetime | None = None) -> None:
    """Call when the survey is first sent: from now on only its texts may change."""
    if survey.structure_fingerprint is None:
        survey.structure_fingerprint = structure_fingerprint(definition_of(survey))
    if survey.sent_at is None:
        survey.sent_at = now or utcnow()


def copy_survey(session: Session, survey: Survey, *, created_by: StaffUser | None) -> Survey:
    """A new draft with the same definition and settings, remembering where it came from."""
    title = _("%(title)s (kopia)", title=survey.title)[:200]
    duplicate = Survey(title=title, definition=copy.deepcopy(survey.definition), status=SurveyStatus.DRAFT,
                       anonymous=survey.anonymous, created_by=created_by, copied_from_id=survey.id, revision=1)
    session.add(duplicate)
    session.flush()
    return duplicate


def update_settings(survey: Survey, *, title: str, anonymous: bool, texts: dict[str, dict[str, str]],
                    revision: int | str | None) -> SurveyDefinition:
    """Internal title, anonymous mode and the survey's own texts (title, intro, closing)."""
    check_revision(survey, revision)
    if survey.is_frozen and anonymous != survey.anonymous:
        raise StructureFrozen([_("anonymt eller identifierat läge kan inte ändras när enkäten är skickad")])
    data = copy.deepcopy(survey.definition)
    for name in ("title", "intro", "closing"):
        value = {language: text for language, text in texts.get(name, {}).items() if text and text.strip()}
        if value:
            data[name] = value
        else:
            data.pop(name, None)
    defn = save_definition(survey, data, revision=revision)
    survey.title = " ".join(title.split())[:200] or survey.title
    survey.anonymous = anonymous
    return defn


def list_surveys(session: Session) -> list[Survey]:
    return list(session.scalars(select(Survey).order_by(Survey.updated_at.desc(), Survey.id.desc())))


# --- questions and pages ----------------------------------------------------------------------


def _locate(data: dict[str, Any], key: str) -> tuple[int, int]:
    for page_index, page in enumerate(data["pages"]):
        for index, question in enumerate(page.get("questions", [])):
            if question.get("key") == key:
                return page_index, index
    raise LookupError(key)


def _page_index(data: dict[str, Any], page_key: str) -> int:
    for index, page in enumerate(data["pages"]):
        if page.get("key") == page_key:
            return index
    raise LookupError(page_key)


def _rename_references(data: dict[str, Any], old: str, new: str) -> None:
    """Conditions follow a question whose key changes."""
    for page in data["pages"]:
        for holder in [page, *page.get("questions", [])]:
            condition = holder.get("condition")
            if isinstance(condition, dict) and condition.get("question") == old:
                condition["question"] = new


def save_question(survey: Survey, question: dict[str, Any], *, page_key: str, old_key: str | None,
                  revision: int | str | None) -> SurveyDefinition:
    """Add a question at the end of a page (``old_key`` None) or replace one.

    Replacing keeps the question's place when it stays on its page; moving it to another
    page puts it last there. A changed key carries its conditions along.
    """
    data = copy.deepcopy(survey.definition)
    target_page = _page_index(data, page_key)
    if old_key is None:
        data["pages"][target_page].setdefault("questions", []).append(question)
    else:
        page_index, index = _locate(data, old_key)
        if page_index == target_page:
            data["pages"][page_index]["questions"][index] = question
        else:
            del data["pages"][page_index]["questions"][index]
            data["pages"][target_page].setdefault("questions", []).append(question)
        if question.get("key") and question["key"] != old_key:
            _rename_references(data, old_key, question["key"])
    return save_definition(survey, data, revision=revision)


def delete_question(survey: Survey, key: str, *, revision: int | str | None) -> SurveyDefinition:
    data = copy.deepcopy(survey.definition)
    page_index, index = _locate(data, key)
    del data["pages"][page_index]["questions"][index]
    return save_definition(survey, data, revision=revision)


def move_question(survey: Survey, key: str, direction: str, *, revision: int | str | None) -> SurveyDefinition:
    """One step up or down; past the top or bottom of a page it moves to the neighbouring page."""
    data = copy.deepcopy(survey.definition)
    page_index, index = _locate(data, key)
    questions = data["pages"][page_index]["questions"]
    step = -1 if direction == "up" else 1
    if 0 <= index + step < len(questions):
        questions[index], questions[index + step] = questions[index + step], questions[index]
    elif 0 <= page_index + step < len(data["pages"]):
        question = questions.pop(index)
        neighbour = data["pages"][page_index + step].setdefault("questions", [])
        if step < 0:
            neighbour.append(question)
        else:
            neighbour.insert(0, question)
    return save_definition(survey, data, revision=revision)


def save_page(survey: Survey, page: dict[str, Any], *, old_key: str | None,
              revision: int | str | None) -> SurveyDefinition:
    """Add a page at the end (``old_key`` None) or change a page's key, title and condition."""
    data = copy.deepcopy(survey.definition)
    if old_key is None:
        data["pages"].append({**page, "questions": []})
    else:
        index = _page_index(data, old_key)
        data["pages"][index] = {**page, "questions": data["pages"][index].get("questions", [])}
    return save_definition(survey, data, revision=revision)


def delete_page(survey: Survey, key: str, *, revision: int | str | None) -> SurveyDefinition:
    """Remove an empty page (questions must be moved or removed first)."""
    data = copy.deepcopy(survey.definition)
    index = _page_index(data, key)
    if data["pages"][index].get("questions"):
        raise DefinitionError([_('sida %(n)s ("%(key)s"): sidan har frågor – flytta eller ta bort dem först',
                                 n=index + 1, key=key)])
    if len(data["pages"]) == 1:
        raise DefinitionError([_("enkäten: den sista sidan kan inte tas bort")])
    del data["pages"][index]
    return save_definition(survey, data, revision=revision)


def move_page(survey: Survey, key: str, direction: str, *, revision: int | str | None) -> SurveyDefinition:
    data = copy.deepcopy(survey.definition)
    index = _page_index(data, key)
    other = index + (-1 if direction == "up" else 1)
    if 0 <= other < len(data["pages"]):
        data["pages"][index], data["pages"][other] = data["pages"][other], data["pages"][index]
    return save_definition(survey, data, revision=revision)


def readiness_problems(defn: SurveyDefinition) -> list[str]:
    """What stops a valid draft from being sent (empty pages, no questions)."""
    problems = []
    if not any(True for _question in defn.questions()):
        problems.append(_("enkäten har inga frågor"))
    for number, page in enumerate(defn.pages, 1):
        if not page.questions:
            problems.append(_('sida %(n)s ("%(key)s") har inga frågor', n=number, key=page.key))
    return problems
