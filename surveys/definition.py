"""Survey definitions: what a survey asks, in which languages, on which pages.

A definition is plain data (a YAML or JSON file, or the JSON stored with a survey)
turned into frozen dataclasses by :func:`parse_definition`, which checks everything
and reports *all* problems at once, each naming the question (or page) and the field
in Swedish, for instance ``fråga "q3" (sida 2): fältet "options" saknas``.

The file format (YAML shown; JSON has the same shape)::

    languages: [sv, en]                # Swedish is required; others optional
    title: {sv: Trygghet i kommunen, en: Safety in the municipality}
    intro: {sv: "Markdown ...", en: "..."}       # optional, limited Markdown
    closing: {sv: "Tack!", en: "Thank you!"}     # optional, limited Markdown
    pages:
      - key: p1                        # optional, generated when missing
        title: {sv: Om dig, en: About you}       # optional
        condition: {question: q1, equals: ja}    # optional; earlier pages only
        questions:
          - key: trygghet_kvall         # stable key: the same question across surveys
            type: scale                # see QuestionType
            text: {sv: ..., en: ...}
            help: {sv: ..., en: ...}   # optional hint
            required: true
            scale: {min: 1, max: 5, low_label: {...}, high_label: {...}, dont_know: true}

A text may be a plain string when the survey is in Swedish only. ``other: true``,
``dont_know: true`` and the yes/no labels use built-in translations
(:mod:`surveys.languages`) unless the definition gives its own.

Answers (what :func:`surveys.forms.clean_answers` returns and what conditions read)
are JSON values keyed by question key: single choice and yes/no a string (``"yes"``,
``"no"``); multiple choice a list of strings in option order; scale an integer or
``"dont_know"``; matrix a mapping item key -> scale value (or option value); number
an integer; text a string; ``None`` for a visible question left unanswered. The
free text of an "annat, nämligen" option is stored under ``other_key(key)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml
from flask_babel import gettext as _

from surveys.languages import DEFAULT_LABELS, LANGUAGE_CODE, language_name

FORMAT_VERSION = 1

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
OPTION_VALUE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
RESERVED_KEYS = frozenset({"csrf_token", "nav", "preview_state"})  # form control names
OTHER_VALUE = "other"
DONT_KNOW = "dont_know"
OTHER_SUFFIX = "-other"

MAX_TEXT = 2000
MAX_MARKDOWN = 20000
MAX_PAGES = 100
MAX_QUESTIONS = 500
MAX_OPTIONS = 100
MAX_ITEMS = 60
MAX_SCALE_POINTS = 21
SCALE_BOUND = 1000
NUMBER_BOUND = 10**12
TEXT_LIMITS = {"short_text": (200, 1000), "long_text": (5000, 10000)}  # (default, highest)
MAX_FILE_CHARACTERS = 1_000_000

Texts = dict[str, str]


class QuestionType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SCALE = "scale"  # e.g. 1-5 or 0-10 with end labels and an optional "vet ej"
    MATRIX = "matrix"  # several items on one scale (or one list of options)
    NUMBER = "number"  # a whole number in a range
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    YES_NO = "yes_no"


CHOICE_TYPES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE})
TEXT_TYPES = frozenset({QuestionType.SHORT_TEXT, QuestionType.LONG_TEXT})
# Which answers a condition can look at, and with which operator.
CONDITION_OPERATORS = {
    QuestionType.SINGLE_CHOICE: "equals",
    QuestionType.YES_NO: "equals",
    QuestionType.SCALE: "equals",
    QuestionType.MULTIPLE_CHOICE: "includes",
}

COMMON_FIELDS = ("key", "type", "text", "help", "required", "condition")
TYPE_FIELDS = {
    QuestionType.SINGLE_CHOICE: ("options", "other"),
    QuestionType.MULTIPLE_CHOICE: ("options", "other", "min_choices", "max_choices"),
    QuestionType.SCALE: ("scale",),
    QuestionType.MATRIX: ("items", "scale", "options"),
    QuestionType.NUMBER: ("min", "max"),
    QuestionType.SHORT_TEXT: ("max_length",),
    QuestionType.LONG_TEXT: ("max_length",),
    QuestionType.YES_NO: ("yes_label", "no_label"),
}
ALL_QUESTION_FIELDS = frozenset(COMMON_FIELDS).union(*TYPE_FIELDS.values())


class DefinitionError(ValueError):
    """A definition that cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str] | tuple[str, ...]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class Option:
    value: str
    label: Texts


@dataclass(frozen=True)
class Scale:
    min: int
    max: int
    low_label: Texts | None = None
    high_label: Texts | None = None
    dont_know: Texts | None = None  # the label of a "vet ej" choice, when there is one

    def values(self) -> list[int | str]:
        points: list[int | str] = list(range(self.min, self.max + 1))
        return points + [DONT_KNOW] if self.dont_know else points


@dataclass(frozen=True)
class MatrixItem:
    key: str
    text: Texts


@dataclass(frozen=True)
class Condition:
    """Show a question or page when an earlier answer equals (or includes) a value."""

    question_key: str
    operator: str  # "equals" | "includes"
    value: str | int

    def holds(self, answers: Mapping[str, Any]) -> bool:
        answer = answers.get(self.question_key)
        if answer is None:
            return False
        if self.operator == "includes":
            return isinstance(answer, list) and self.value in answer
        return answer == self.value


@dataclass(frozen=True)
class Question:
    key: str
    type: QuestionType
    text: Texts
    help: Texts | None = None
    required: bool = False
    options: tuple[Option, ...] = ()  # choices; yes/no has the options "yes" and "no"
    other: Texts | None = None  # label of an "annat, nämligen" option with free text
    min_choices: int | None = None
    max_choices: int | None = None
    scale: Scale | None = None
    items: tuple[MatrixItem, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int | None = None
    condition: Condition | None = None

    def values(self) -> list[str | int]:
        """Every value an answer (or a matrix item's answer) can take."""
        if self.scale is not None:
            return self.scale.values()
        values: list[str | int] = [option.value for option in self.options]
        return values + [OTHER_VALUE] if self.other else values


@dataclass(frozen=True)
class Page:
    key: str
    questions: tuple[Question, ...]
    title: Texts | None = None
    condition: Condition | None = None


@dataclass(frozen=True)
class SurveyDefinition:
    languages: tuple[str, ...]
    title: Texts
    pages: tuple[Page, ...]
    intro: Texts | None = None
    closing: Texts | None = None
    default_language: str = field(default="sv")

    def questions(self) -> Iterator[Question]:
        for page in self.pages:
            yield from page.questions

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions() if q.key == key), None)

    def page(self, key: str) -> Page | None:
        return next((p for p in self.pages if p.key == key), None)

    def page_of(self, question_key: str) -> Page | None:
        return next((p for p in self.pages if any(q.key == question_key for q in p.questions)), None)


def text_in(texts: Mapping[str, str] | None, language: str, fallback: str = "sv") -> str:
    """The text in ``language``, else in Swedish, else empty."""
    if not texts:
        return ""
    return texts.get(language) or texts.get(fallback) or ""


def other_key(question_key: str) -> str:
    """Where the free text of an "annat, nämligen" answer is kept in an answers mapping."""
    return question_key + OTHER_SUFFIX


# --- parsing -------------------------------------------------------------------------------


class _Parser:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.languages: tuple[str, ...] = ("sv",)

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def mapping(self, raw: Any, where: str, what: str) -> dict | None:
        if not isinstance(raw, dict):
            self.error(where, _("%(what)s ska vara en samling fält (nyckel: värde)", what=what))
            return None
        return raw

    def unknown_fields(self, raw: dict, where: str, allowed: tuple[str, ...] | frozenset[str],
                       question_type: str | None = None) -> None:
        for name in raw:
            if name in allowed:
                continue
            if question_type and name in ALL_QUESTION_FIELDS:
                self.error(where, _('fältet "%(field)s" hör inte till frågetypen "%(type)s"',
                                    field=name, type=question_type))
            else:
                self.error(where, _('okänt fält "%(field)s"', field=str(name)[:60]))

    def texts(self, raw: Any, where: str, name: str, *, required: bool, limit: int = MAX_TEXT) -> Texts | None:
        if raw is None or raw == "" or raw == {}:
            if required:
                self.error(where, _('fältet "%(field)s" saknas', field=name))
            return None
        if isinstance(raw, str):
            raw = {"sv": raw}
        if not isinstance(raw, dict):
            self.error(where, _('fältet "%(field)s" ska vara en text eller en text per språk', field=name))
            return None
        texts: Texts = {}
        reported: set[str] = set()
        for language, value in raw.items():
            if language not in self.languages:
                self.error(where, _('fältet "%(field)s" har text på språket "%(code)s", som inte finns i "languages"',
                                    field=name, code=str(language)[:20]))
                continue
            if isinstance(value, bool):
                self.error(where, _('fältet "%(field)s" på språket "%(code)s": skriv texten inom citattecken '
                                    '(YAML läser yes, no, on och off som sant eller falskt)', field=name, code=language))
                reported.add(language)
                continue
            if isinstance(value, (int, float)):
                value = str(value)
            if not isinstance(value, str):
                self.error(where, _('fältet "%(field)s" ska vara en text på språket "%(code)s"',
                                    field=name, code=language))
                reported.add(language)
                continue
            value = _clean_text(value)
            if len(value) > limit:
                self.error(where, _('fältet "%(field)s" är för långt på språket "%(code)s" (högst %(n)s tecken)',
                                    field=name, code=language, n=limit))
            if value:
                texts[language] = value
        for language in self.languages:
            if language not in texts and language not in reported:
                self.error(where, _('fältet "%(field)s" saknar text på %(name)s ("%(code)s")',
                                    field=name, name=language_name(language), code=language))
        return {language: texts[language] for language in self.languages if language in texts}

    def label_or_default(self, raw: Any, where: str, name: str, default: str) -> Texts | None:
        """A label that may be ``true`` (built-in translations) or texts."""
        if raw is True:
            labels = DEFAULT_LABELS[default]
            missing = [language for language in self.languages if language not in labels]
            for language in missing:
                self.error(where, _('fältet "%(field)s" har ingen inbyggd text på %(name)s ("%(code)s"): skriv texten själv',
                                    field=name, name=language_name(language), code=language))
            return None if missing else {language: labels[language] for language in self.languages}
        if raw is False or raw is None:
            return None
        return self.texts(raw, where, name, required=True)

    def integer(self, raw: Any, where: str, name: str, low: int, high: int) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.error(where, _('fältet "%(field)s" ska vara ett heltal', field=name))
            return None
        if not low <= raw <= high:
            self.error(where, _('fältet "%(field)s" ska vara mellan %(low)s och %(high)s', field=name, low=low, high=high))
            return None
        return raw

    def key(self, raw: Any, where: str, name: str = "key") -> str | None:
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str) or not KEY_PATTERN.match(raw):
            self.error(where, _('fältet "%(field)s" ska börja med en liten bokstav och bara innehålla a–z, 0–9 och _ '
                                '(högst 40 tecken)', field=name))
            return None
        if raw in RESERVED_KEYS:
            self.error(where, _('fältet "%(field)s": "%(key)s" är reserverat, välj en annan nyckel', field=name, key=raw))
            return None
        return raw


def _clean_text(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(ch for ch in value if ch in "\n\t" or (ord(ch) >= 32 and ord(ch) != 127))
    return "\n".join(line.rstrip() for line in value.strip().split("\n"))


def _page_where(number: int, key: Any) -> str:
    if isinstance(key, str) and key:
        return _('sida %(n)s ("%(key)s")', n=number, key=key[:40])
    return _("sida %(n)s", n=number)


def _question_where(number: int, page_number: int, key: Any) -> str:
    if isinstance(key, str) and key:
        return _('fråga "%(key)s" (sida %(page)s)', key=key[:40], page=page_number)
    return _("fråga %(n)s (sida %(page)s)", n=number, page=page_number)


def parse_definition(data: Any) -> SurveyDefinition:
    """Check a survey definition (as loaded from YAML or JSON) and build it.

    Raises :class:`DefinitionError` listing every problem, each naming the question or
    page and the field. Keys missing from pages and questions are generated ("p1",
    "q1", ...), so that what is stored always has them.
    """
    parser = _Parser()
    where = _("enkäten")
    raw = parser.mapping(data, where, _("enkäten"))
    if raw is None:
        raise DefinitionError(parser.errors)
    parser.unknown_fields(raw, where, ("format", "languages", "title", "intro", "closing", "pages"))
    if raw.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        parser.error(where, _('fältet "format" ska vara %(n)s', n=FORMAT_VERSION))
    parser.languages = _parse_languages(parser, raw.get("languages", ["sv"]), where)
    title = parser.texts(raw.get("title"), where, "title", required=True, limit=200)
    intro = parser.texts(raw.get("intro"), where, "intro", required=False, limit=MAX_MARKDOWN)
    closing = parser.texts(raw.get("closing"), where, "closing", required=False, limit=MAX_MARKDOWN)

    raw_pages = raw.get("pages")
    if raw_pages is None or raw_pages == []:
        parser.error(where, _('fältet "pages" saknas (minst en sida)'))
        raw_pages = []
    elif not isinstance(raw_pages, list):
        parser.error(where, _('fältet "pages" ska vara en lista av sidor'))
        raw_pages = []
    elif len(raw_pages) > MAX_PAGES:
        parser.error(where, _("enkäten har för många sidor (högst %(n)s)", n=MAX_PAGES))
        raw_pages = raw_pages[:MAX_PAGES]

    pages = [_parse_page(parser, raw_page, number) for number, raw_page in enumerate(raw_pages, 1)]
    pages = _assign_keys(parser, pages)
    _check_conditions(parser, pages)
    if sum(len(p["questions"]) for p in pages) > MAX_QUESTIONS:
        parser.error(where, _("enkäten har för många frågor (högst %(n)s)", n=MAX_QUESTIONS))
    if parser.errors:
        raise DefinitionError(parser.errors)
    return SurveyDefinition(
        languages=parser.languages,
        title=title or {},
        intro=intro,
        closing=closing,
        pages=tuple(
            Page(key=p["key"], title=p["title"], condition=p["condition"],
                 questions=tuple(_build_question(q) for q in p["questions"]))
            for p in pages
        ),
    )


def _parse_languages(parser: _Parser, raw: Any, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",")]
    if not isinstance(raw, list) or not all(isinstance(code, str) for code in raw):
        parser.error(where, _('fältet "languages" ska vara en lista av språkkoder, till exempel [sv, en]'))
        return ("sv",)
    languages: list[str] = []
    for code in raw:
        if not LANGUAGE_CODE.match(code):
            parser.error(where, _('fältet "languages": "%(code)s" är ingen språkkod (två eller tre små bokstäver, '
                                  'till exempel sv, en, ar)', code=code[:20]))
        elif code in languages:
            parser.error(where, _('fältet "languages": "%(code)s" står två gånger', code=code))
        else:
            languages.append(code)
    if "sv" not in languages:
        parser.error(where, _('fältet "languages" ska innehålla svenska ("sv")'))
        languages.insert(0, "sv")
    return tuple(languages)


def _parse_page(parser: _Parser, raw: Any, number: int) -> dict:
    key_raw = raw.get("key") if isinstance(raw, dict) else None
    where = _page_where(number, key_raw)
    page = {"number": number, "where": where, "key": None, "title": None, "condition": None,
            "raw_condition": None, "questions": []}
    raw = parser.mapping(raw, where, _("sidan"))
    if raw is None:
        return page
    parser.unknown_fields(raw, where, ("key", "title", "condition", "questions"))
    page["key"] = parser.key(key_raw, where)
    page["title"] = parser.texts(raw.get("title"), where, "title", required=False, limit=200)
    page["raw_condition"] = raw.get("condition")
    raw_questions = raw.get("questions", [])
    if raw_questions is None:
        raw_questions = []
    if not isinstance(raw_questions, list):
        parser.error(where, _('fältet "questions" ska vara en lista av frågor'))
        raw_questions = []
    page["questions"] = [_parse_question(parser, raw_q, n, number) for n, raw_q in enumerate(raw_questions, 1)]
    return page


def _parse_question(parser: _Parser, raw: Any, number: int, page_number: int) -> dict:
    key_raw = raw.get("key") if isinstance(raw, dict) else None
    where = _question_where(number, page_number, key_raw)
    question: dict[str, Any] = {"where": where, "number": number, "page_number": page_number, "valid": False,
                                "key": None, "raw_condition": None, "condition": None}
    raw = parser.mapping(raw, where, _("frågan"))
    if raw is None:
        return question
    errors_before = len(parser.errors)
    question["key"] = parser.key(key_raw, where)
    question["raw_condition"] = raw.get("condition")
    raw_type = raw.get("type")
    if raw_type is None:
        parser.error(where, _('fältet "type" saknas'))
        return question
    try:
        qtype = QuestionType(raw_type)
    except ValueError:
        parser.error(where, _('fältet "type": "%(type)s" är ingen frågetyp (välj bland %(types)s)',
                              type=str(raw_type)[:40], types=", ".join(t.value for t in QuestionType)))
        return question
    question["type"] = qtype
    parser.unknown_fields(raw, where, COMMON_FIELDS + TYPE_FIELDS[qtype], question_type=qtype.value)
    question["text"] = parser.texts(raw.get("text"), where, "text", required=True)
    question["help"] = parser.texts(raw.get("help"), where, "help", required=False)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        parser.error(where, _('fältet "required" ska vara true eller false'))
        required = False
    question["required"] = required

    if qtype in CHOICE_TYPES:
        question["options"] = _parse_options(parser, raw, where, minimum=2 if qtype == QuestionType.SINGLE_CHOICE else 1)
        question["other"] = parser.label_or_default(raw.get("other"), where, "other", "other")
        if question["other"] and any(o.value == OTHER_VALUE for o in question["options"]):
            parser.error(where, _('fältet "options": värdet "%(value)s" är reserverat för "other"', value=OTHER_VALUE))
    if qtype == QuestionType.MULTIPLE_CHOICE:
        _parse_choice_limits(parser, raw, where, question)
    if qtype == QuestionType.SCALE:
        question["scale"] = _parse_scale(parser, raw.get("scale"), where, required=True)
    if qtype == QuestionType.MATRIX:
        _parse_matrix(parser, raw, where, question)
    if qtype == QuestionType.NUMBER:
        question["min"] = parser.integer(raw.get("min"), where, "min", -NUMBER_BOUND, NUMBER_BOUND)
        question["max"] = parser.integer(raw.get("max"), where, "max", -NUMBER_BOUND, NUMBER_BOUND)
        if question["min"] is not None and question["max"] is not None and question["min"] > question["max"]:
            parser.error(where, _('fältet "min" är större än fältet "max"'))
    if qtype in TEXT_TYPES:
        default, highest = TEXT_LIMITS[qtype]
        max_length = parser.integer(raw.get("max_length"), where, "max_length", 1, highest)
        question["max_length"] = max_length if max_length is not None else default
    if qtype == QuestionType.YES_NO:
        yes = _label(parser, raw.get("yes_label", True), where, "yes_label", "yes")
        no = _label(parser, raw.get("no_label", True), where, "no_label", "no")
        question["options"] = (Option("yes", yes or {}), Option("no", no or {}))
    question["valid"] = len(parser.errors) == errors_before
    return question


def _label(parser: _Parser, raw: Any, where: str, name: str, default: str) -> Texts | None:
    if raw is False or raw is None:
        raw = True
    return parser.label_or_default(raw, where, name, default)


def _parse_options(parser: _Parser, raw: dict, where: str, minimum: int) -> tuple[Option, ...]:
    raw_options = raw.get("options")
    if raw_options is None:
        parser.error(where, _('fältet "options" saknas'))
        return ()
    if not isinstance(raw_options, list):
        parser.error(where, _('fältet "options" ska vara en lista av svarsalternativ'))
        return ()
    if len(raw_options) < minimum:
        parser.error(where, _('fältet "options" ska ha minst %(n)s svarsalternativ', n=minimum))
    if len(raw_options) > MAX_OPTIONS:
        parser.error(where, _('fältet "options" har för många svarsalternativ (högst %(n)s)', n=MAX_OPTIONS))
        raw_options = raw_options[:MAX_OPTIONS]
    options: list[Option] = []
    seen: set[str] = set()
    for number, raw_option in enumerate(raw_options, 1):
        option_where = where + ": " + _('alternativ %(n)s i "options"', n=number)
        if not isinstance(raw_option, dict):
            parser.error(option_where, _('ska ha fälten "value" och "label"'))
            continue
        parser.unknown_fields(raw_option, option_where, ("value", "label"))
        value = raw_option.get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is None:
            parser.error(option_where, _('fältet "value" saknas'))
        elif not isinstance(value, str) or not OPTION_VALUE_PATTERN.match(value):
            parser.error(option_where, _('fältet "value" ska vara en kort text med a–z, 0–9 och _ (till exempel '
                                         '"buss"); skriv det inom citattecken om det är yes, no, true eller false'))
            value = None
        elif value in seen:
            parser.error(option_where, _('fältet "value": "%(value)s" används redan av ett annat alternativ', value=value))
            value = None
        label = parser.texts(raw_option.get("label"), option_where, "label", required=True)
        if value is not None:
            seen.add(value)
            options.append(Option(value, label or {}))
    return tuple(options)


def _parse_choice_limits(parser: _Parser, raw: dict, where: str, question: dict) -> None:
    count = len(question["options"]) + (1 if question["other"] else 0)
    low = parser.integer(raw.get("min_choices"), where, "min_choices", 1, MAX_OPTIONS + 1)
    high = parser.integer(raw.get("max_choices"), where, "max_choices", 1, MAX_OPTIONS + 1)
    if low is not None and count and low > count:
        parser.error(where, _('fältet "min_choices" är större än antalet svarsalternativ (%(n)s)', n=count))
    if high is not None and count and high > count:
        parser.error(where, _('fältet "max_choices" är större än antalet svarsalternativ (%(n)s)', n=count))
    if low is not None and high is not None and low > high:
        parser.error(where, _('fältet "min_choices" är större än fältet "max_choices"'))
    question["min_choices"], question["max_choices"] = low, high


def _parse_scale(parser: _Parser, raw: Any, where: str, required: bool) -> Scale | None:
    if raw is None:
        if required:
            parser.error(where, _('fältet "scale" saknas'))
        return None
    if not isinstance(raw, dict):
        parser.error(where, _('fältet "scale" ska ha fälten "min" och "max"'))
        return None
    scale_where = where + ": " + _('fältet "scale"')
    parser.unknown_fields(raw, scale_where, ("min", "max", "low_label", "high_label", "dont_know"))
    low = parser.integer(raw.get("min"), scale_where, "min", -SCALE_BOUND, SCALE_BOUND)
    high = parser.integer(raw.get("max"), scale_where, "max", -SCALE_BOUND, SCALE_BOUND)
    if raw.get("min") is None:
        parser.error(scale_where, _('fältet "min" saknas'))
    if raw.get("max") is None:
        parser.error(scale_where, _('fältet "max" saknas'))
    low_label = parser.texts(raw.get("low_label"), scale_where, "low_label", required=False)
    high_label = parser.texts(raw.get("high_label"), scale_where, "high_label", required=False)
    dont_know = parser.label_or_default(raw.get("dont_know"), scale_where, "dont_know", "dont_know")
    if low is None or high is None:
        return None
    if low >= high:
        parser.error(scale_where, _('fältet "min" ska vara mindre än fältet "max"'))
        return None
    if high - low + 1 > MAX_SCALE_POINTS:
        parser.error(scale_where, _("skalan har för många steg (högst %(n)s)", n=MAX_SCALE_POINTS))
        return None
    return Scale(low, high, low_label, high_label, dont_know)


def _parse_matrix(parser: _Parser, raw: dict, where: str, question: dict) -> None:
    has_scale, has_options = raw.get("scale") is not None, raw.get("options") is not None
    if has_scale == has_options:
        parser.error(where, _('en matrisfråga ska ha antingen fältet "scale" eller fältet "options"'))
    question["scale"] = _parse_scale(parser, raw.get("scale"), where, required=False) if has_scale else None
    question["options"] = _parse_options(parser, raw, where, minimum=2) if has_options else ()
    raw_items = raw.get("items")
    question["items"] = ()
    if raw_items is None:
        parser.error(where, _('fältet "items" saknas'))
        return
    if not isinstance(raw_items, list) or not raw_items:
        parser.error(where, _('fältet "items" ska vara en lista med minst ett påstående'))
        return
    if len(raw_items) > MAX_ITEMS:
        parser.error(where, _('fältet "items" har för många påståenden (högst %(n)s)', n=MAX_ITEMS))
        raw_items = raw_items[:MAX_ITEMS]
    items: list[MatrixItem] = []
    for number, raw_item in enumerate(raw_items, 1):
        item_where = where + ": " + _('påstående %(n)s i "items"', n=number)
        if not isinstance(raw_item, dict):
            parser.error(item_where, _('ska ha fälten "key" och "text"'))
            continue
        parser.unknown_fields(raw_item, item_where, ("key", "text"))
        key = parser.key(raw_item.get("key"), item_where)
        if raw_item.get("key") in (None, ""):
            parser.error(item_where, _('fältet "key" saknas'))
        elif key is not None and any(item.key == key for item in items):
            parser.error(item_where, _('fältet "key": "%(key)s" används redan i den här matrisen', key=key))
            key = None
        text = parser.texts(raw_item.get("text"), item_where, "text", required=True)
        if key is not None:
            items.append(MatrixItem(key, text or {}))
    question["items"] = tuple(items)


def _assign_keys(parser: _Parser, pages: list[dict]) -> list[dict]:
    """Check that keys are unique and generate the missing ones (p1, q1, ...)."""
    seen_pages: dict[str, int] = {}
    seen_questions: dict[str, int] = {}
    for page in pages:
        if page["key"] is not None:
            if page["key"] in seen_pages:
                parser.error(page["where"], _('fältet "key": "%(key)s" används redan av sida %(n)s',
                                              key=page["key"], n=seen_pages[page["key"]]))
            seen_pages.setdefault(page["key"], page["number"])
        for question in page["questions"]:
            key = question["key"]
            if key is None:
                continue
            if key in seen_questions:
                parser.error(question["where"], _('fältet "key": "%(key)s" används redan av en fråga på sida %(n)s',
                                                  key=key, n=seen_questions[key]))
            seen_questions.setdefault(key, page["number"])
    counter = 0
    for page in pages:
        if page["key"] is None:
            page["key"] = _free_key("p", page["number"], seen_pages)
            seen_pages[page["key"]] = page["number"]
        for question in page["questions"]:
            counter += 1
            if question["key"] is None:
                question["key"] = _free_key("q", counter, seen_questions)
                seen_questions[question["key"]] = page["number"]
    return pages


def _free_key(prefix: str, number: int, taken: Mapping[str, int]) -> str:
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def _check_conditions(parser: _Parser, pages: list[dict]) -> None:
    """Conditions refer to questions on earlier pages, and to values those questions have."""
    earlier: dict[str, dict] = {}
    for page in pages:
        if page["raw_condition"] is not None:
            page["condition"] = _parse_condition(parser, page["raw_condition"], page["where"], earlier, pages)
        for question in page["questions"]:
            if question["raw_condition"] is not None:
                question["condition"] = _parse_condition(parser, question["raw_condition"], question["where"],
                                                         earlier, pages)
        for question in page["questions"]:
            earlier[question["key"]] = question


def _parse_condition(parser: _Parser, raw: Any, where: str, earlier: dict[str, dict], pages: list[dict]) -> Condition | None:
    where = where + ": " + _('fältet "condition"')
    if not isinstance(raw, dict):
        parser.error(where, _('ska ha fälten "question" och "equals" (eller "includes")'))
        return None
    parser.unknown_fields(raw, where, ("question", "equals", "includes"))
    target_key = raw.get("question")
    operators = [op for op in ("equals", "includes") if op in raw]
    if not isinstance(target_key, str) or not target_key:
        parser.error(where, _('fältet "question" saknas'))
        return None
    if len(operators) != 1:
        parser.error(where, _('ange antingen "equals" eller "includes" (ett av dem)'))
        return None
    operator = operators[0]
    target = earlier.get(target_key)
    if target is None:
        exists = any(q["key"] == target_key for p in pages for q in p["questions"])
        if exists:
            parser.error(where, _('frågan "%(key)s" kommer inte före den här sidan: ett villkor kan bara gälla '
                                  'frågor på tidigare sidor', key=target_key[:40]))
        else:
            parser.error(where, _('frågan "%(key)s" finns inte', key=target_key[:40]))
        return None
    if not target["valid"]:
        return None  # its own errors are reported already
    expected = CONDITION_OPERATORS.get(target["type"])
    if expected is None:
        parser.error(where, _('frågan "%(key)s" är av typen "%(type)s": villkor kan bara gälla enkelval, flerval, '
                              'ja/nej och skalor', key=target_key, type=target["type"].value))
        return None
    if operator != expected:
        parser.error(where, _('använd "%(expected)s" för frågan "%(key)s" (typen "%(type)s")',
                              expected=expected, key=target_key, type=target["type"].value))
        return None
    value = raw[operator]
    allowed = _values_of(target)
    if target["type"] == QuestionType.SCALE and isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        value = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and target["type"] != QuestionType.SCALE:
        value = str(value)
    if isinstance(value, bool) or value not in allowed:
        parser.error(where, _('värdet "%(value)s" finns inte bland svaren på frågan "%(key)s" (%(allowed)s)',
                              value=str(value)[:40], key=target_key, allowed=", ".join(map(str, allowed))[:300]))
        return None
    return Condition(target_key, operator, value)


def _values_of(question: dict) -> list[str | int]:
    if question.get("scale") is not None:
        return question["scale"].values()
    values: list[str | int] = [option.value for option in question.get("options", ())]
    return values + [OTHER_VALUE] if question.get("other") else values


def _build_question(q: dict) -> Question:
    return Question(
        key=q["key"], type=q["type"], text=q["text"], help=q["help"], required=q["required"],
        options=tuple(q.get("options", ())), other=q.get("other"),
        min_choices=q.get("min_choices"), max_choices=q.get("max_choices"),
        scale=q.get("scale"), items=tuple(q.get("items", ())), min=q.get("min"), max=q.get("max"),
        max_length=q.get("max_length"), condition=q["condition"],
    )


# --- writing ----------------------------------------------------------------------------


def definition_to_dict(defn: SurveyDefinition) -> dict[str, Any]:
    """The definition as plain data (what is stored and exported); parses back to ``defn``."""
    data: dict[str, Any] = {"format": FORMAT_VERSION, "languages": list(defn.languages), "title": dict(defn.title)}
    if defn.intro:
        data["intro"] = dict(defn.intro)
    if defn.closing:
        data["closing"] = dict(defn.closing)
    data["pages"] = [_page_to_dict(page) for page in defn.pages]
    return data


def _page_to_dict(page: Page) -> dict[str, Any]:
    data: dict[str, Any] = {"key": page.key}
    if page.title:
        data["title"] = dict(page.title)
    if page.condition:
        data["condition"] = _condition_to_dict(page.condition)
    data["questions"] = [question_to_dict(q) for q in page.questions]
    return data


def _condition_to_dict(condition: Condition) -> dict[str, Any]:
    return {"question": condition.question_key, condition.operator: condition.value}


def question_to_dict(q: Question) -> dict[str, Any]:
    """One question as plain data, in the file format."""
    data: dict[str, Any] = {"key": q.key, "type": q.type.value, "text": dict(q.text)}
    if q.help:
        data["help"] = dict(q.help)
    data["required"] = q.required
    if q.type == QuestionType.YES_NO:
        data["yes_label"] = dict(q.options[0].label)
        data["no_label"] = dict(q.options[1].label)
    elif q.options:
        data["options"] = [{"value": o.value, "label": dict(o.label)} for o in q.options]
    if q.other:
        data["other"] = dict(q.other)
    for name in ("min_choices", "max_choices"):
        if getattr(q, name) is not None:
            data[name] = getattr(q, name)
    if q.scale is not None:
        scale: dict[str, Any] = {"min": q.scale.min, "max": q.scale.max}
        for name in ("low_label", "high_label", "dont_know"):
            if getattr(q.scale, name):
                scale[name] = dict(getattr(q.scale, name))
        data["scale"] = scale
    if q.items:
        data["items"] = [{"key": item.key, "text": dict(item.text)} for item in q.items]
    for name in ("min", "max", "max_length"):
        if getattr(q, name) is not None:
            data[name] = getattr(q, name)
    if q.condition:
        data["condition"] = _condition_to_dict(q.condition)
    return data


class _YamlDumper(yaml.SafeDumper):
    """Block style, Unicode as is, multi-line texts as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_YamlDumper.add_representer(str, _represent_str)


def dump_definition(defn: SurveyDefinition, format: str = "yaml") -> str:
    """Write a definition as a YAML or JSON file that :func:`load_definition` reads back."""
    data = definition_to_dict(defn)
    if format == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if format != "yaml":
        raise ValueError(f"unknown format {format!r}: use 'yaml' or 'json'")
    return yaml.dump(data, Dumper=_YamlDumper, allow_unicode=True, sort_keys=False, width=100)


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases (no "billion laughs")."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, _("alias (*namn) används inte i enkätfiler"), event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        # YAML keeps the last of two equal keys without a word: the first text would be lost.
        seen = set()
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.MarkedYAMLError(None, None, _duplicate_key(key_node.value), key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _duplicate_key(key: str) -> str:
    return _("nyckeln ”%(key)s” står två gånger på samma ställe; ta bort den ena", key=key)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice (json keeps the last one silently)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise DefinitionError([_("filen kunde inte läsas som JSON: %(problem)s", problem=_duplicate_key(key))])
        data[key] = value
    return data


def guess_format(filename: str | None, text: str) -> str:
    """"json" for .json files or text starting with "{", else "yaml"."""
    if filename and filename.lower().endswith(".json"):
        return "json"
    if filename and filename.lower().endswith((".yaml", ".yml")):
        return "yaml"
    return "json" if text.lstrip().startswith("{") else "yaml"


def read_file_data(text: str, format: str = "yaml") -> Any:
    """The plain data in a YAML or JSON text; syntax problems raise DefinitionError."""
    if len(text) > MAX_FILE_CHARACTERS:
        raise DefinitionError([_("filen är för stor (högst %(n)s tecken)", n=MAX_FILE_CHARACTERS)])
    if "\x00" in text:
        raise DefinitionError([_("filen innehåller ett otillåtet tecken (NUL)")])
    try:
        if format == "json":
            return json.loads(text, object_pairs_hook=_unique_keys)
        if format != "yaml":
            raise ValueError(f"unknown format {format!r}: use 'yaml' or 'json'")
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except DefinitionError:
        raise
    except json.JSONDecodeError as error:
        raise DefinitionError([_("filen kunde inte läsas som JSON: rad %(line)s, kolumn %(col)s: %(problem)s",
                                 line=error.lineno, col=error.colno, problem=error.msg)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else "?"
        problem = error.problem or error.context or ""
        raise DefinitionError([_("filen kunde inte läsas som YAML: rad %(line)s: %(problem)s",
                                 line=line, problem=problem)]) from None
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        raise DefinitionError([_("filen kunde inte läsas (%(problem)s)", problem=type(error).__name__)]) from None


def load_definition(text: str, format: str = "yaml") -> SurveyDefinition:
    """Read and check a definition from YAML or JSON text (see :func:`parse_definition`)."""
    return parse_definition(read_file_data(text, format))


# --- structure ------------------------------------------------------------------------------


def structure(defn: SurveyDefinition) -> dict[str, Any]:
    """Everything in a definition except its texts: what is frozen once a survey is sent."""
    return {
        "languages": list(defn.languages),
        "pages": [
            {
                "key": page.key,
                "condition": _condition_to_dict(page.condition) if page.condition else None,
                "questions": [_question_structure(q) for q in page.questions],
            }
            for page in defn.pages
        ],
    }


def _question_structure(q: Question) -> dict[str, Any]:
    return {
        "key": q.key,
        "type": q.type.value,
        "required": q.required,
        "options": [o.value for o in q.options],
        "other": q.other is not None,
        "min_choices": q.min_choices,
        "max_choices": q.max_choices,
        "scale": None if q.scale is None else {"min": q.scale.min, "max": q.scale.max,
                                               "dont_know": q.scale.dont_know is not None},
        "items": [item.key for item in q.items],
        "min": q.min,
        "max": q.max,
        "max_length": q.max_length,
        "condition": _condition_to_dict(q.condition) if q.condition else None,
    }


def structure_fingerprint(defn: SurveyDefinition) -> str:
    """SHA-256 of :func:`structure`: unchanged by text corrections, changed by anything else."""
    canonical = json.dumps(structure(defn), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def structure_changes(old: SurveyDefinition, new: SurveyDefinition) -> list[str]:
    """Say in Swedish what differs in structure between two definitions (empty when nothing)."""
    changes: list[str] = []
    old_s, new_s = structure(old), structure(new)
    if old_s["languages"] != new_s["languages"]:
        changes.append(_("språken har ändrats"))
    old_q = {q["key"]: q for p in old_s["pages"] for q in p["questions"]}
    new_q = {q["key"]: q for p in new_s["pages"] for q in p["questions"]}
    for key in old_q:
        if key not in new_q:
            changes.append(_('frågan "%(key)s" har tagits bort eller bytt nyckel', key=key))
        elif old_q[key] != new_q[key]:
            fields = [name for name in old_q[key] if old_q[key][name] != new_q[key][name]]
            changes.append(_('frågan "%(key)s" har ändrats (%(fields)s)', key=key, fields=", ".join(fields)))
    for key in new_q:
        if key not in old_q:
            changes.append(_('frågan "%(key)s" har lagts till', key=key))
    old_order = [(p["key"], p["condition"], [q["key"] for q in p["questions"]]) for p in old_s["pages"]]
    new_order = [(p["key"], p["condition"], [q["key"] for q in p["questions"]]) for p in new_s["pages"]]
    if not changes and old_order != new_order:
        changes.append(_("sidorna eller frågornas ordning har ändrats"))
    return changes
