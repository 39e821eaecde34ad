"""The export table: one row per response, one variable per answer, with labels.

This module is plain data in, plain data out (no database, no Flask): the survey
definition and the responses' answers become an :class:`ExportTable` (a data frame
plus a :class:`Variable` for every column), which :mod:`surveys.exports.formats` writes
as CSV, XLSX, SPSS ``.sav`` or a codebook.

How answers are coded (the same in every format; the codebook says it per variable):

* single choice: the option's position, 1, 2, ...; "annat, nämligen" is the last code
  and its free text a string variable of its own (``<key>_annat``);
* yes/no: 1 = yes, 0 = no;
* multiple choice: one 0/1 variable per option (``<key>_<option>``), plus one for
  "annat" and the string variable with its text;
* scale: the scale value itself; "vet ej" a code above the scale (99, 999 or 9999);
* matrix: one variable per item (``<key>_<item>``), coded as a scale or as a choice;
* number: the number; text: the text.

Missing answers keep their reason where the variable is coded: ``-1`` = not answered
(the question was shown and skipped), ``-2`` = not shown (hidden by a condition, or a
page the respondent never got to); when a scale or a number question's lowest
allowed answer is below zero the two codes move below it. These codes, and "vet
ej", are SPSS user-missing values. A number question without a lowest answer has no
free codes (any whole number may be an answer), so there both reasons are left empty
(system missing), as are unanswered text variables; :func:`uncoded_variables`
names them for the file's note.

No direct identifier is ever part of the table: no name, email, member or invitation
id, token, or the response's database id. Rows are numbered 1..n in an order that
says nothing about who answered when (the responses' random ids).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import lazy_gettext as _l

from surveys.definition import (
    DONT_KNOW,
    OTHER_VALUE,
    Question,
    QuestionType,
    SurveyDefinition,
    other_key,
    text_in,
)

NOT_ANSWERED = -1
NOT_SHOWN = -2
SPSS_MAX_NAME_BYTES = 64
SPSS_MAX_LABEL_BYTES = 250
SPSS_MAX_VALUE_LABEL_BYTES = 120
SPSS_RESERVED = frozenset({"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"})

# Variable kinds, as the codebook names them.
KINDS = {
    "id": _l("löpnummer"),
    "background": _l("bakgrund"),
    "weight": _l("vikt"),
    "category": _l("kategori"),
    "binary": _l("valt (0/1)"),
    "scale": _l("skala"),
    "number": _l("tal"),
    "text": _l("text"),
    "date": _l("datum"),
}


@dataclass(frozen=True)
class Variable:
    """One column of the export and everything the codebook says about it."""

    name: str  # SPSS-legal, unique (case-insensitively), at most 64 bytes
    label: str  # the question (and option or item) text
    kind: str  # a key of KINDS
    measure: str  # SPSS measure level: nominal, ordinal or scale
    value_labels: Mapping[Any, str] = field(default_factory=dict)  # code -> label (valid values)
    missing: Mapping[Any, str] = field(default_factory=dict)  # user-missing code -> label
    question_key: str | None = None
    note: str = ""

    @property
    def is_text(self) -> bool:
        return self.kind in ("text", "background", "date")

    def labels(self) -> dict[Any, str]:
        """Every code with a label: valid values first, then the missing codes."""
        return {**self.value_labels, **self.missing}


@dataclass(frozen=True)
class ExportTable:
    """Rows (a data frame whose columns are the variables' names) with their variables.

    Numeric variables are float columns (NaN = system missing); text variables are
    object columns of strings ("" when empty).
    """

    title: str
    variables: tuple[Variable, ...]
    data: pd.DataFrame
    notes: tuple[str, ...] = ()  # weighting, anonymity and coding notes for the codebook
    weighted: bool = False

    @property
    def row_count(self) -> int:
        return len(self.data)

    def variable(self, name: str) -> Variable:
        return next(v for v in self.variables if v.name == name)


@dataclass(frozen=True)
class ResponseRecord:
    """What the export reads of one stored response (never who gave it)."""

    sort_key: str  # the response's random id, for an order unrelated to time or person
    language: str
    submitted_on: date | None
    gender: str
    age_group: str
    district_code: str
    answers: Mapping[str, Any]


# --------------------------------------------------------------------------- names


def truncate_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def spss_name(candidate: str, taken: set[str]) -> str:
    """An SPSS-legal variable name from ``candidate``, unique against ``taken`` (upper case).

    SPSS names start with a letter, hold letters, digits, ``_`` and ``.``, do not end
    with ``.``, are at most 64 bytes, are not reserved words, and are compared without
    regard to case. The chosen name is added to ``taken``.
    """
    name = re.sub(r"[^A-Za-z0-9_.]", "_", candidate)
    if not name or not name[0].isalpha():
        name = "v" + name
    name = name.rstrip(".") or "v"
    name = truncate_bytes(name, SPSS_MAX_NAME_BYTES)
    if name.upper() in SPSS_RESERVED:
        name += "_"
    unique, number = name, 1
    while unique.upper() in taken:
        number += 1
        suffix = f"_{number}"
        unique = name[: SPSS_MAX_NAME_BYTES - len(suffix)] + suffix
    taken.add(unique.upper())
    return unique


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Column:
    """Where a variable's values come from in a response's answers."""

    variable: Variable
    reader: Any  # (answers: Mapping, shown: bool) -> value


def _missing_codes(lowest: int) -> tuple[int, int]:
    if lowest > NOT_ANSWERED:
        return NOT_ANSWERED, NOT_SHOWN
    return lowest - 1, lowest - 2


def _dont_know_code(highest: int) -> int:
    return next(code for code in (99, 999, 9999) if code > highest)


def _missing_labels(codes: tuple[int, int]) -> dict[int, str]:
    return {codes[0]: str(_l("Ej besvarad")), codes[1]: str(_l("Visades inte"))}


class _Layout:
    """Builds the variables of a survey and how each reads an answer."""

    def __init__(self, defn: SurveyDefinition, language: str) -> None:
        self.defn = defn
        self.language = language
        self.taken: set[str] = set()
        self.columns: list[_Column] = []

    def text(self, texts: Mapping[str, str] | None) -> str:
        return text_in(texts, self.language)

    def add(self, candidate: str, reader: Any, **fields: Any) -> None:
        variable = Variable(name=spss_name(candidate, self.taken), **fields)
        self.columns.append(_Column(variable, reader))

    def reserve(self, *names: str) -> None:
        for name in names:
            self.taken.add(name.upper())

    def question(self, q: Question) -> None:
        handlers = {
            QuestionType.SINGLE_CHOICE: self._single,
            QuestionType.YES_NO: self._yes_no,
            QuestionType.MULTIPLE_CHOICE: self._multiple,
            QuestionType.SCALE: self._scale,
            QuestionType.MATRIX: self._matrix,
            QuestionType.NUMBER: self._number,
            QuestionType.SHORT_TEXT: self._text,
            QuestionType.LONG_TEXT: self._text,
        }
        handlers[q.type](q)

    # Each reader gets (answers, key) -> raw answer; coded by _code.

    def _choice_codes(self, q: Question) -> dict[str, int]:
        values = [option.value for option in q.options] + ([OTHER_VALUE] if q.other else [])
        return {value: number for number, value in enumerate(values, 1)}

    def _choice_labels(self, q: Question) -> dict[int, str]:
        labels = {number: self.text(option.label) for number, option in enumerate(q.options, 1)}
        if q.other:
            labels[len(q.options) + 1] = self.text(q.other)
        return labels

    def _single(self, q: Question) -> None:
        codes = self._choice_codes(q)
        missing = (NOT_ANSWERED, NOT_SHOWN)

        def read(answers: Mapping[str, Any]) -> Any:
            return _coded(answers, q.key, lambda value: codes.get(value), missing)

        self.add(q.key, read, label=self.text(q.text), kind="category", measure="nominal",
                 value_labels=self._choice_labels(q), missing=_missing_labels(missing), question_key=q.key)
        if q.other:
            self._other_text(q)

    def _yes_no(self, q: Question) -> None:
        labels = {option.value: self.text(option.label) for option in q.options}
        codes = {"yes": 1, "no": 0}
        missing = (NOT_ANSWERED, NOT_SHOWN)

        def read(answers: Mapping[str, Any]) -> Any:
            return _coded(answers, q.key, lambda value: codes.get(value), missing)

        self.add(q.key, read, label=self.text(q.text), kind="category", measure="nominal",
                 value_labels={1: labels.get("yes", ""), 0: labels.get("no", "")},
                 missing=_missing_labels(missing), question_key=q.key)

    def _multiple(self, q: Question) -> None:
        missing = (NOT_ANSWERED, NOT_SHOWN)
        options = [(option.value, self.text(option.label)) for option in q.options]
        if q.other:
            options.append((OTHER_VALUE, self.text(q.other)))
        question_text = self.text(q.text)
        for value, label in options:
            def read(answers: Mapping[str, Any], value: str = value) -> Any:
                return _coded(answers, q.key, lambda chosen: 1 if value in chosen else 0, missing)

            candidate = f"{q.key}_annat" if value == OTHER_VALUE else f"{q.key}_{value}"
            self.add(candidate, read, label=f"{question_text}: {label}", kind="binary", measure="nominal",
                     value_labels={0: str(_l("Ej valt")), 1: str(_l("Valt"))},
                     missing=_missing_labels(missing), question_key=q.key)
        if q.other:
            self._other_text(q)

    def _other_text(self, q: Question) -> None:
        def read(answers: Mapping[str, Any]) -> Any:
            return _text(answers.get(other_key(q.key)))

        self.add(f"{q.key}_annat_text", read,
                 label=f"{self.text(q.text)}: {self.text(q.other)} ({_l('fritext')})",
                 kind="text", measure="nominal", question_key=q.key)

    def _scale_variable(self, candidate: str, q: Question, label: str, item: str | None) -> None:
        scale = q.scale
        assert scale is not None
        missing = _missing_codes(scale.min)
        dont_know = _dont_know_code(scale.max) if scale.dont_know else None
        value_labels: dict[int, str] = {}
        if scale.low_label:
            value_labels[scale.min] = self.text(scale.low_label)
        if scale.high_label:
            value_labels[scale.max] = self.text(scale.high_label)
        missing_labels = _missing_labels(missing)
        if dont_know is not None:
            missing_labels = {dont_know: self.text(scale.dont_know), **missing_labels}

        def convert(value: Any) -> Any:
            if value == DONT_KNOW:
                return dont_know
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def read(answers: Mapping[str, Any]) -> Any:
            return _coded(answers, q.key, convert, missing, item=item)

        note = str(_l("Skala %(low)s–%(high)s.", low=scale.min, high=scale.max))
        self.add(candidate, read, label=label, kind="scale", measure="ordinal", value_labels=value_labels,
                 missing=missing_labels, question_key=q.key, note=note)

    def _scale(self, q: Question) -> None:
        self._scale_variable(q.key, q, self.text(q.text), None)

    def _matrix(self, q: Question) -> None:
        question_text = self.text(q.text)
        for item in q.items:
            label = f"{question_text}: {self.text(item.text)}"
            candidate = f"{q.key}_{item.key}"
            if q.scale is not None:
                self._scale_variable(candidate, q, label, item.key)
                continue
            codes = self._choice_codes(q)
            missing = (NOT_ANSWERED, NOT_SHOWN)

            def read(answers: Mapping[str, Any], item_key: str = item.key, codes: dict = codes) -> Any:
                return _coded(answers, q.key, lambda value: codes.get(value), missing, item=item_key)

            self.add(candidate, read, label=label, kind="category", measure="nominal",
                     value_labels=self._choice_labels(q), missing=_missing_labels(missing), question_key=q.key)

    def _number(self, q: Question) -> None:
        def whole(value: Any) -> Any:
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        bounds = []
        if q.min is not None:
            bounds.append(str(_l("minst %(n)s", n=q.min)))
        if q.max is not None:
            bounds.append(str(_l("högst %(n)s", n=q.max)))
        range_note = ", ".join(bounds) + "." if bounds else ""
        if q.min is None:  # any whole number may be an answer: no code is free
            def read(answers: Mapping[str, Any]) -> Any:
                return whole(answers.get(q.key))

            note = str(_l("Tomt = ej besvarad eller visades inte.")) + (" " + range_note if range_note else "")
            self.add(q.key, read, label=self.text(q.text), kind="number", measure="scale", question_key=q.key,
                     note=note.strip())
            return
        # The answering form refuses answers below the lowest one, so codes below it cannot
        # be answers: skipped and not shown are told apart as in every coded variable.
        missing = _missing_codes(q.min)

        def read_coded(answers: Mapping[str, Any]) -> Any:
            return _coded(answers, q.key, whole, missing)

        self.add(q.key, read_coded, label=self.text(q.text), kind="number", measure="scale", question_key=q.key,
                 missing=_missing_labels(missing), note=range_note)

    def _text(self, q: Question) -> None:
        def read(answers: Mapping[str, Any]) -> Any:
            return _text(answers.get(q.key))

        self.add(q.key, read, label=self.text(q.text), kind="text", measure="nominal", question_key=q.key,
                 note=str(_l("Tomt = ej besvarad eller visades inte.")))


def uncoded_variables(table: ExportTable) -> list[Variable]:
    """The answer variables whose missing answers are left empty (system missing) without
    saying why: text variables and number questions without a lowest answer."""
    return [v for v in table.variables
            if v.question_key is not None and (v.is_text or (v.kind == "number" and not v.missing))]


def _coded(answers: Mapping[str, Any], key: str, convert: Any, missing: tuple[int, int], item: str | None = None) -> Any:
    """The code of an answer, or the code saying why there is none."""
    if key not in answers:
        return missing[1]  # hidden by a condition (or a page never reached)
    value = answers[key]
    if value is None:
        return missing[0]
    if item is not None:
        if not isinstance(value, Mapping):
            return missing[0]
        value = value.get(item)
        if value is None:
            return missing[0]
    code = convert(value)
    return missing[0] if code is None else code


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --------------------------------------------------------------------------- building


BACKGROUND = ("lopnr", "kon", "aldersgrupp", "omrade", "omrade_namn", "sprak", "svarsdag", "vikt", "designvikt")


def build_table(
    defn: SurveyDefinition,
    records: Sequence[ResponseRecord],
    *,
    title: str,
    weights: Mapping[str, float] | None = None,
    district_names: Mapping[str, str] | None = None,
    notes: Iterable[str] = (),
    language: str = "sv",
    design_weights: Mapping[str, float] | None = None,
) -> ExportTable:
    """The export table of ``records`` (ordered by their random ``sort_key``).

    ``weights`` maps a record's ``sort_key`` to its weight; ``None`` leaves out the
    ``vikt`` variable (not weighted to the population). ``design_weights`` (the same keys)
    are the design weights 1/π of an equal-allocation sample, as ``designvikt``; ``None``
    leaves it out. ``language`` chooses the labels' language
    (Swedish when a text is missing in it).
    """
    records = sorted(records, key=lambda record: record.sort_key)
    layout = _Layout(defn, language)
    layout.reserve(*BACKGROUND)
    for question in defn.questions():
        layout.question(question)
    names = district_names or {}

    background: list[tuple[Variable, list[Any]]] = [
        (Variable("lopnr", str(_l("Löpnummer (ingen koppling till person eller svarstid)")), "id", "nominal"),
         [float(number) for number in range(1, len(records) + 1)]),
        (Variable("kon", str(_l("Kön (vid svarstillfället)")), "background", "nominal"),
         [record.gender for record in records]),
        (Variable("aldersgrupp", str(_l("Åldersgrupp (det år inbjudan skickades)")), "background", "ordinal"),
         [record.age_group for record in records]),
        (Variable("omrade", str(_l("Område, kod (vid svarstillfället)")), "background", "nominal"),
         [record.district_code for record in records]),
        (Variable("omrade_namn", str(_l("Område, namn")), "background", "nominal"),
         [names.get(record.district_code, "") for record in records]),
        (Variable("sprak", str(_l("Språk som enkäten besvarades på")), "background", "nominal"),
         [record.language for record in records]),
        (Variable("svarsdag", str(_l("Svarsdag (UTC)")), "date", "nominal"),
         [record.submitted_on.isoformat() if record.submitted_on else "" for record in records]),
    ]
    if weights is not None:
        values = [float(weights.get(record.sort_key, math.nan)) for record in records]
        background.append((Variable("vikt", str(_l("Vikt")), "weight", "scale",
                                    note=str(_l("Se viktningen i kodboken."))), values))
    if design_weights is not None:
        values = [float(design_weights.get(record.sort_key, math.nan)) for record in records]
        background.append((Variable("designvikt", str(_l("Designvikt (1/sannolikheten att komma med i urvalet)")),
                                    "weight", "scale", note=str(_l("Se viktningen i kodboken."))), values))

    columns: dict[str, Any] = {}
    for variable, values in background:
        columns[variable.name] = _column(variable, values)
    for column in layout.columns:
        values = [column.reader(record.answers) for record in records]
        columns[column.variable.name] = _column(column.variable, values)
    variables = tuple(v for v, _ in background) + tuple(c.variable for c in layout.columns)
    frame = pd.DataFrame(columns, columns=[v.name for v in variables])
    return ExportTable(title=title, variables=variables, data=frame, notes=tuple(notes),
                       weighted=weights is not None)


def _column(variable: Variable, values: list[Any]) -> Any:
    if variable.is_text:
        return pd.Series(["" if value is None else str(value) for value in values], dtype=object)
    return pd.Series(np.array(values, dtype=float), dtype="float64")  # None becomes NaN


def submitted_day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None
