"""Computing a survey report: responses → data frame → weights → estimates → document.

Three steps, each usable alone (the exports use the first two):

1. :func:`response_frame` reads the stored responses into a pandas data frame laid
   out as :class:`analysis.Question` expects: the snapshot ``gender``,
   ``age_group`` and ``district`` of every respondent, then one column per
   question (single choice, yes/no, matrix item with options: the chosen value;
   scale, number, matrix item on a scale: the number, "vet ej" as NaN with its
   own 0/1 column; multiple choice: one 0/1 column per option).
2. :func:`weight_responses` weights the frame to the population figures with the
   analyst's :class:`ReportSettings` (:func:`analysis.weight`), or says in plain
   Swedish why it cannot.
3. :func:`build_report` computes everything else with the ``analysis`` package
   (response rates and the R-indicator from the invitations, weighted and
   unweighted estimates overall and per breakdown, cross-tabs with the Rao–Scott
   test) and returns a :class:`~surveys.results.document.ReportDocument`.

Every statistic comes from ``analysis``; this module only moves data in and out.
Nothing here commits.
"""

from __future__ import annotations

import gc
import json
import math
import warnings
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sqlalchemy import String, Text, case, cast, func, select
from sqlalchemy.orm import Session

from analysis import (
    METHODS,
    ConvergenceWarning,
    Question as AnalysisQuestion,
    SurveyDesign,
    Trim,
    WeightingResult,
    r_indicator,
    response_rates,
    weight,
    weighted_crosstab,
)
from analysis.estimates import estimate_reports
from analysis.targets import DEFAULT_AGE_BANDS, PopulationTable
from panel.models import District, Member, PopulationDataset
from panel.population.services import load_population, population_in_use
from surveys.answering.models import SurveyResponse
from surveys.authoring.services import definition_of
from surveys.definition import DONT_KNOW, OTHER_VALUE, QuestionType, SurveyDefinition, TEXT_TYPES, other_key
from surveys.fielding.models import Invitation, SurveyFielding
from surveys.models import Survey
from surveys.results import document as doc
from surveys.results.models import WeightingSettings

#: The weighting variables a panel records for every respondent (the snapshot).
VARIABLES: tuple[str, ...] = ("gender", "age_group", "district")
DEFAULT_MARGINS: tuple[tuple[str, ...], ...] = (("gender",), ("age_group",), ("district",))
#: Cross-tabs made when the analyst has chosen none: the first closed questions by these.
DEFAULT_CROSSTAB_COLUMNS: tuple[str, ...] = ("gender", "age_group")
DEFAULT_CROSSTAB_QUESTIONS = 3
#: Methods that need calibration bounds (g = w / d between lower and upper).
BOUNDED = frozenset(name for name, spec in METHODS.items() if spec.bounds == "required")
DEFAULT_BOUNDS = (0.2, 5.0)

VARIABLE_TITLES: dict[str, doc.Texts] = {
    "gender": {"sv": "Kön", "en": "Gender"},
    "age_group": {"sv": "Åldersgrupp", "en": "Age group"},
    "district": {"sv": "Område", "en": "District"},
    "total": {"sv": "Totalt", "en": "Total"},
    doc.OVERALL: {"sv": "Alla", "en": "All"},
}


def _margin_sv(margin: str | Sequence[str]) -> str:
    """A margin or variable as Swedish notes name it: "gender × age_group" or ("gender",
    "age_group") → "kön × åldersgrupp"; anything else (a question's key) as it is."""
    parts = [p.strip() for p in (margin.split("×") if isinstance(margin, str) else margin)]
    return " × ".join(VARIABLE_TITLES[p]["sv"].lower() if p in VARIABLES else p for p in parts)


GENDER_LABELS: dict[str, doc.Texts] = {
    "kvinna": {"sv": "Kvinna", "en": "Woman"},
    "man": {"sv": "Man", "en": "Man"},
    "annan": {"sv": "Annan / icke-binär", "en": "Other / non-binary"},
    "uppger_ej": {"sv": "Vill inte uppge", "en": "Prefers not to say"},
}
DONT_KNOW_LABEL: doc.Texts = {"sv": "Vet ej", "en": "Don't know"}
OTHER_LABEL: doc.Texts = {"sv": "Annat", "en": "Other"}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ReportSettings:
    """The analyst's choices for one survey's report (defaults when none are saved).

    ``margins`` are the weighting margins (one variable, or several for a cross);
    ``trim_lower``/``trim_upper`` bound the weights as multiples of the mean weight
    (trimming re-weights until the margins hold again); for the bounded calibration
    methods (``truncated_linear``, ``logit``) they are the bounds of g instead.
    ``collapse`` merges categories before weighting; ``crosstabs`` are the pairs
    (row question, column question or breakdown) to cross-tabulate, empty for the
    defaults; ``population_dataset_id`` None means the figures in use
    (:func:`panel.population.services.population_in_use`).
    """

    enabled: bool = True
    method: str = "rake"
    margins: tuple[tuple[str, ...], ...] = DEFAULT_MARGINS
    trim_lower: float | None = None
    trim_upper: float | None = None
    collapse: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    population_dataset_id: int | None = None
    crosstabs: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled, "method": self.method,
            "margins": [list(m) for m in self.margins],
            "trim_lower": self.trim_lower, "trim_upper": self.trim_upper,
            "collapse": {k: [list(g) for g in v] for k, v in self.collapse.items()},
            "population_dataset_id": self.population_dataset_id,
            "crosstabs": [list(pair) for pair in self.crosstabs],
        }

    @classmethod
    def from_row(cls, row: WeightingSettings) -> ReportSettings:
        margins = tuple(tuple(str(v) for v in m) for m in (row.margins or []) if m)
        return cls(
            enabled=bool(row.enabled), method=row.method or "rake", margins=margins or DEFAULT_MARGINS,
            trim_lower=row.trim_lower, trim_upper=row.trim_upper,
            collapse={str(k): tuple(tuple(str(c) for c in g) for g in v) for k, v in (row.collapse or {}).items()},
            population_dataset_id=row.population_dataset_id,
            crosstabs=tuple((str(a), str(b)) for a, b in (row.crosstabs or [])),
        )


def settings_for(session: Session, survey: Survey) -> ReportSettings:
    """The survey's saved settings, or the defaults."""
    row = session.get(WeightingSettings, survey.id)
    return ReportSettings.from_row(row) if row is not None else ReportSettings()


def save_settings(session: Session, survey: Survey, settings: ReportSettings, *,
                  updated_by_id: int | None = None) -> WeightingSettings:
    """Store the settings (the next report uses them)."""
    if settings.method not in METHODS:
        raise ValueError(f"okänd viktningsmetod {settings.method!r}")
    row = session.get(WeightingSettings, survey.id)
    if row is None:
        row = WeightingSettings(survey_id=survey.id)
        session.add(row)
    data = settings.to_dict()
    row.enabled = data["enabled"]
    row.method = data["method"]
    row.margins = data["margins"]
    row.trim_lower = data["trim_lower"]
    row.trim_upper = data["trim_upper"]
    row.collapse = data["collapse"]
    row.population_dataset_id = data["population_dataset_id"]
    row.crosstabs = data["crosstabs"]
    row.updated_by_id = updated_by_id
    session.flush()
    return row


# --------------------------------------------------------------------------- the frame


@dataclass(frozen=True)
class AnalysedQuestion:
    """One analysed question (or matrix item) and where its answers are in the frame."""

    key: str
    stable_key: str
    question_type: str
    kind: str  # single | multiple | numeric
    text: doc.Texts
    categories: tuple[doc.Category, ...]
    columns: tuple[str, ...]
    item_text: doc.Texts | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    dont_know_column: str | None = None

    @property
    def analysis(self) -> AnalysisQuestion:
        if self.kind == "single":
            return AnalysisQuestion.single_choice(self.key, self.columns[0], [c.value for c in self.categories])
        if self.kind == "multiple":
            return AnalysisQuestion.multiple_choice(
                self.key, {c.value: col for c, col in zip(self.categories, self.columns, strict=True)})
        return AnalysisQuestion.numeric(self.key, self.columns[0])


def _categorical(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """A text column as integer codes (-1: missing) into its values sorted, the order
    ``analysis`` gives text levels (one hash of the rows, then a sort of the few values)."""
    codes, uniques = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
    values = list(uniques)
    try:
        levels = sorted(values)
    except TypeError:
        levels = sorted(values, key=str)
    position = pd.Index(levels, dtype=object).get_indexer(pd.Index(values, dtype=object))
    return np.append(position, -1).astype(np.int32)[codes], levels


@dataclass
class ResponseFrame:
    """The responses as a data frame, the questions it holds, and the free text.

    ``categories`` holds, per text column, its integer codes and sorted values once
    known (read from the response store, or made on first use by :meth:`categorical`).
    """

    data: pd.DataFrame
    questions: list[AnalysedQuestion]
    free_text: list[doc.FreeTextAnswers]
    shown: dict[str, int]
    categories: dict[str, tuple[np.ndarray, list[Any]]] = field(default_factory=dict, repr=False)

    def categorical(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """Codes and sorted values of the text column ``name`` (see :func:`_categorical`)."""
        found = self.categories.get(name)
        if found is None:
            found = self.categories[name] = _categorical(self.data[name])
        return found

    @cached_property
    def coded(self) -> pd.DataFrame:
        """``data`` with every text column (breakdowns, single-choice answers) as a pandas
        Categorical whose categories are its values sorted, the order ``analysis`` gives
        text levels: the estimates and cross-tabs then gather integer codes instead of
        hashing 100,000 strings per question and breakdown. Same numbers, same order."""
        columns = {}
        for name, column in self.data.items():
            if column.dtype == object:
                codes, levels = self.categorical(name)
                column = pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(levels, dtype=object)),
                                   index=column.index, name=name)
            columns[name] = column
        return pd.DataFrame(columns, index=self.data.index)

    def answered(self, question: AnalysedQuestion) -> int:
        """How many respondents answered ``question`` ("vet ej" counts as an answer)."""
        if len(self.data) == 0:
            return 0
        first = question.columns[0]
        if self.data[first].dtype == object:
            count = int((self.categorical(first)[0] >= 0).sum())
        else:
            count = int(np.count_nonzero(~np.isnan(self.data[first].to_numpy())))
        if question.dont_know_column:
            count += int(np.count_nonzero(self.data[question.dont_know_column].to_numpy() == 1.0))
        return count


def document_texts(texts: Mapping[str, str] | None, languages: Sequence[str]) -> doc.Texts:
    texts = texts or {}
    out = {lang: texts[lang] for lang in languages if texts.get(lang)}
    if "sv" not in out:
        out["sv"] = texts.get("sv") or next(iter(texts.values()), "")
    return out


def analysed_questions(defn: SurveyDefinition) -> list[AnalysedQuestion]:
    """The survey's questions as they are analysed (text questions are free text only)."""
    langs = defn.languages
    out: list[AnalysedQuestion] = []
    for q in defn.questions():
        text = document_texts(q.text, langs)
        qtype = q.type.value
        if q.type in (QuestionType.SINGLE_CHOICE, QuestionType.YES_NO):
            cats = tuple(doc.Category(o.value, document_texts(o.label, langs)) for o in q.options)
            if q.other:
                cats += (doc.Category(OTHER_VALUE, document_texts(q.other, langs)),)
            out.append(AnalysedQuestion(q.key, q.key, qtype, "single", text, cats, (q.key,)))
        elif q.type == QuestionType.MULTIPLE_CHOICE:
            cats = tuple(doc.Category(o.value, document_texts(o.label, langs)) for o in q.options)
            if q.other:
                cats += (doc.Category(OTHER_VALUE, document_texts(q.other, langs)),)
            out.append(AnalysedQuestion(q.key, q.key, qtype, "multiple", text, cats,
                                        tuple(f"{q.key}__{c.value}" for c in cats)))
        elif q.type in (QuestionType.SCALE, QuestionType.NUMBER):
            scale = q.scale
            out.append(AnalysedQuestion(
                q.key, q.key, qtype, "numeric", text, (), (q.key,),
                scale_min=scale.min if scale else q.min, scale_max=scale.max if scale else q.max,
                dont_know_column=f"{q.key}__{DONT_KNOW}" if scale and scale.dont_know else None))
        elif q.type == QuestionType.MATRIX:
            for item in q.items:
                key = f"{q.key}.{item.key}"
                item_text = document_texts(item.text, langs)
                if q.scale is not None:
                    out.append(AnalysedQuestion(
                        key, key, qtype, "numeric", text, (), (key,), item_text=item_text,
                        scale_min=q.scale.min, scale_max=q.scale.max,
                        dont_know_column=f"{key}__{DONT_KNOW}" if q.scale.dont_know else None))
                else:
                    cats = tuple(doc.Category(o.value, document_texts(o.label, langs)) for o in q.options)
                    out.append(AnalysedQuestion(key, key, qtype, "single", text, cats, (key,), item_text=item_text))
    return out


def free_text_sources(defn: SurveyDefinition) -> list[tuple[Any, str, str]]:
    """(question, answer key, source) of every free-text answer a response can hold, in the
    survey's order: a text question's own answer ("text") and an "annat, nämligen" text ("other")."""
    return [(q, key, source) for q in defn.questions()
            for key, source in ([(q.key, "text")] if q.type in TEXT_TYPES else [])
            + ([(other_key(q.key), "other")] if q.other else [])]


@contextmanager
def bulk_objects() -> Iterator[None]:
    """Pause the cyclic garbage collector while a hundred thousand decoded answer mappings
    are made: its passes over them double the time of the read (they hold no cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode_all(texts: list[str | None]) -> list[Any]:
    """Every stored JSON text decoded (SQL NULL as None), in one json.loads when all are valid."""
    try:
        return json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")
    except ValueError:  # a malformed document (not written by this application): one by one
        out: list[Any] = []
        for text in texts:
            try:
                out.append(json.loads(text) if text is not None else None)
            except ValueError:
                out.append(None)
        return out


def _chosen(lists: list[Any], values: list[str]) -> np.ndarray:
    """rows × values, 1.0 where the row's list holds the value."""
    out = np.zeros((len(lists), len(values)))
    lengths = np.fromiter(map(len, lists), dtype=np.intp, count=len(lists))
    flat = list(chain.from_iterable(lists))
    if flat:
        index = pd.Index(values, dtype=object)
        try:
            where = index.get_indexer(pd.Index(flat, dtype=object))
        except TypeError:  # something unhashable in a list (not written by this application)
            where = index.get_indexer(pd.Index([x if isinstance(x, str) else None for x in flat], dtype=object))
        row = np.repeat(np.arange(len(lists)), lengths)
        found = where >= 0
        out[row[found], where[found]] = 1.0
    return out


_NUMBER_TYPES = (int, float)


def _numbers(values: list[Any]) -> np.ndarray:
    """Answers as floats: numbers stay, anything else ("vet ej", None, text) is NaN."""
    try:  # JSON numbers as they are, text ("vet ej", "12") parsed, anything else (null, true, lists) NaN
        out = np.array([v if type(v) in _NUMBER_TYPES else None for v in values], dtype=float)
    except OverflowError:  # an integer beyond float: as pandas converts it below
        pass
    else:
        texts = [i for i, v in enumerate(values) if type(v) is str]
        if texts:
            parsed = pd.to_numeric(pd.Series([values[i] for i in texts], dtype=object), errors="coerce")
            out[texts] = parsed.to_numpy(dtype=float)
        return out
    series = pd.Series(values, dtype=object)
    series[series.map(type).eq(bool)] = None  # JSON true/false are not numbers
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _by_key(answers: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, list[Any]]:
    """The answers to each of ``keys``, one list per key in row order (None where absent).

    One pass over the answer mappings (each read while it is in the processor's cache),
    not one pass per key: at 100,000 responses that halves the time.
    """
    n = len(answers)
    out: dict[str, list[Any]] = {key: [None] * n for key in keys}
    get = out.get
    for i, mapping in enumerate(answers):
        for key, value in mapping.items():
            column = get(key)
            if column is not None:
                column[i] = value
    return out


class _Recent:
    """A small per-process cache of computed inputs, keyed by a fingerprint of the rows they
    came from (so a new, changed or deleted row makes a new key), oldest dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: tuple, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_FRAMES = _Recent(2)  # a 100,000-response frame is about 50 MB
_REPRESENTATIVENESS = _Recent(16)


def clear_caches() -> None:
    """Forget the cached response frames and response-rate figures (benchmarks, tests)."""
    _FRAMES.clear()
    _REPRESENTATIVENESS.clear()


def cached_response_frame(session: Session, survey: Survey, *, defn: SurveyDefinition | None = None) -> ResponseFrame:
    """:func:`response_frame`, kept per process while the survey's responses stay the same.

    The key is a digest of the ids of the survey's responses (ids are random and a
    stored response is never changed, so a new, deleted or replaced response makes a
    new key), with the survey's revision (texts) and structure.
    Treat the result as read-only: it is shared by every report built from it.
    """
    from surveys.results import store

    ids = store.response_ids(session, survey)
    key = (str(session.get_bind().url), survey.id, survey.revision, survey.structure_fingerprint, store.digest(ids))
    found = _FRAMES.get(key)
    if found is None:
        found = store.load_frame(session, survey, defn=defn, ids=ids)
        _FRAMES.put(key, found)
    return found


def response_frame(session: Session, survey: Survey, *, defn: SurveyDefinition | None = None) -> ResponseFrame:
    """Every stored response of ``survey`` as one row (see the module docstring).

    Columns: ``gender``, ``age_group`` (None when outside every age band),
    ``district`` (the district code), ``language``, then the question columns of
    :func:`analysed_questions`. Free-text answers (text questions and "annat,
    nämligen") are collected apart, sorted. Read from the survey's compacted columns
    (:mod:`surveys.results.store`) plus the responses stored since, decoded here.
    """
    from surveys.results import store

    return store.load_frame(session, survey, defn=defn)


def decode_responses(session: Session, survey: Survey, *, defn: SurveyDefinition | None = None,
                     ids: Sequence[str] | None = None) -> tuple[list[str], ResponseFrame]:
    """The responses' ids (as the database writes them as text) and their frame,
    decoded from the stored JSON answers: every response of ``survey``, or those of ``ids``."""
    defn = defn or definition_of(survey)
    # The answers come as their JSON text and are decoded in one call (one array of every
    # document): a json.loads per row through the driver's type processing costs twice as much.
    query = (select(cast(SurveyResponse.id, String), SurveyResponse.gender, SurveyResponse.age_group,
                    SurveyResponse.district_code, SurveyResponse.language, cast(SurveyResponse.answers, Text))
             .where(SurveyResponse.survey_id == survey.id))
    if ids is None:
        rows = session.execute(query).all()
    else:
        wanted = [uuid.UUID(i) for i in ids]
        rows = [row for start in range(0, len(wanted), 500)
                for row in session.execute(query.where(SurveyResponse.id.in_(wanted[start:start + 500]))).all()]
    row_ids, gender, age, district, language, stored = (
        (list(c) for c in zip(*rows)) if rows else ([], [], [], [], [], []))
    answers: list[dict[str, Any]] = [a if isinstance(a, dict) else {} for a in _decode_all(stored)]
    ages = pd.Series(age, dtype=object)
    columns: dict[str, Any] = {
        "gender": pd.Series(gender, dtype=object),
        "age_group": ages.where(~ages.isin(["", "-"]), None),
        "district": pd.Series(district, dtype=object),
        "language": pd.Series(language, dtype=object),
    }
    questions = analysed_questions(defn)
    present = Counter(chain.from_iterable(answers))  # how many were shown each question
    free_keys = [key for _q, key, _source in free_text_sources(defn)]
    by_key = _by_key(answers, [aq.key.partition(".")[0] for aq in questions] + free_keys)
    items: dict[str, dict[str, list[Any]]] = {}  # matrix answers per item, one pass per matrix
    for aq in questions:
        parent, _sep, item = aq.key.partition(".")
        if item and parent not in items:
            keys = [other.key.partition(".")[2] for other in questions if other.key.partition(".")[0] == parent]
            items[parent] = _by_key([v if isinstance(v, dict) else {} for v in by_key[parent]], keys)
    shown: dict[str, int] = {}
    for aq in questions:
        parent, _sep, item = aq.key.partition(".")
        raw = items[parent][item] if item else by_key[parent]
        shown[aq.key] = present.get(parent, 0)
        if aq.kind == "single":
            series = pd.Series(raw, dtype=object)
            columns[aq.columns[0]] = series.where(series.isin([c.value for c in aq.categories]), None)
        elif aq.kind == "multiple":
            answered = np.fromiter((isinstance(v, list) for v in raw), dtype=bool, count=len(raw))
            lists = [v if isinstance(v, list) else () for v in raw]
            chosen = _chosen(lists, [c.value for c in aq.categories])
            for k, column in enumerate(aq.columns):
                columns[column] = np.where(answered, chosen[:, k], np.nan)
        else:
            columns[aq.columns[0]] = _numbers(raw)
            if aq.dont_know_column:
                series = pd.Series(raw, dtype=object)
                columns[aq.dont_know_column] = np.where(series.isna().to_numpy(), np.nan,
                                                        series.eq(DONT_KNOW).to_numpy(dtype=float))
    data = pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))
    free: list[doc.FreeTextAnswers] = []
    for q, key, source in free_text_sources(defn):
        texts = sorted(filter(None, [v.strip() for v in by_key[key] if type(v) is str]))
        free.append(doc.FreeTextAnswers(q.key, source, document_texts(q.text, defn.languages), tuple(texts)))
    return [str(i) for i in row_ids], ResponseFrame(data, questions, free, shown)


# --------------------------------------------------------------------------- weighting


@dataclass
class Weighting:
    """The outcome of weighting: ``result`` (None when not weighted) and ``reason`` (why not),
    the population figures used and the margins weighted to."""

    result: WeightingResult | None
    reason: str = ""
    dataset: PopulationDataset | None = None
    table: PopulationTable | None = None
    margins: tuple[tuple[str, ...], ...] = ()
    warnings: tuple[str, ...] = ()
    #: True when the chosen settings are why there are no weights (the responses and the
    #: population figures exist): the settings form refuses such settings.
    settings_fault: bool = False


@dataclass(frozen=True)
class DesignWeights:
    """The respondents' design weights ``d_i = 1 / π_i`` (``weights`` None when there are
    none to use) and, in plain Swedish, what was done or why not (``note``, "" when the
    design gives everyone the same probability and there is nothing to say).

    ``invitation`` maps each stratum at invitation time (gender, age band or None,
    district code) to its design weight, for the response-rate side (R-indicator).
    The note is a :class:`~surveys.results.document.Note` coded ``design.applied``,
    ``design.not_linked`` or ``design.not_recorded``, with the smallest and largest π.
    """

    weights: np.ndarray | None = None
    note: str = ""
    invitation: Mapping[tuple[Any, Any, Any], float] = field(default_factory=dict)

    @property
    def applied(self) -> bool:
        return self.weights is not None


def _stratum_key(gender: Any, age_group: Any, district: Any) -> tuple[Any, Any, Any]:
    """A stratum as both the invitations and the response frame can give it (no band: None)."""
    return (gender, None if age_group in (None, "", "-") else age_group, district)


def design_weights(session: Session, survey: Survey, data: pd.DataFrame) -> DesignWeights:
    """The design weights of the respondents in ``data`` (the frame of :func:`response_frame`).

    Only a sample whose inclusion probabilities differ between strata (equal allocation,
    :func:`surveys.fielding.sampling.expected_allocation`) has any: whole-panel and filter
    targets invite everyone eligible (π = 1) and proportional allocation gives everyone
    n / N, so their weights would be constant and change nothing. Surveys sent before the
    design was recorded (``SurveyFielding.design`` NULL) have none: they report as before.

    π belongs to the stratum at invitation time, but an anonymous response keeps only the
    snapshot taken when the resident answered (gender and district then; the age band of
    the invitation's year, so New Year moves nobody), and nothing links it to its
    invitation (that is what anonymity means). The snapshot is used as the invitation stratum only
    when the respondents' snapshot strata are exactly the invitation strata of the
    completed invitations, counted per stratum (then nobody changed group between
    invitation and answer, short of changes that cancel out exactly); otherwise no design
    weights are used and the note says why.
    """
    from surveys.fielding.sampling import inclusion_probabilities

    fielding = session.get(SurveyFielding, survey.id)
    probabilities = inclusion_probabilities(fielding.design if fielding is not None else None)
    if (not probabilities and fielding is not None and fielding.mode == "sample" and fielding.allocation == "equal"
            and fielding.sent_at is not None):
        return DesignWeights(note=doc.Note(
            "Urvalet drogs med lika fördelning per grupp (kön × åldersgrupp × område), så de inbjudna hade olika "
            "sannolikhet att komma med, men enkäten skickades innan antalet som kunde väljas i varje grupp "
            "sparades. Sannolikheterna kan därför inte räknas ut: de oviktade siffrorna och viktningen behandlar "
            "alla svarande som om de hade samma sannolikhet att komma med. Viktning på kön, åldersgrupp och "
            "område var för sig rättar inte helt för det; bara poststratifiering på hela korsningen "
            "kön × åldersgrupp × område gör det.", "design.not_recorded"))
    if len(set(probabilities.values())) <= 1:
        return DesignWeights()
    weight_of = {_stratum_key(*stratum): float(1 / p) for stratum, p in probabilities.items()}
    low, high = float(min(probabilities.values())), float(max(probabilities.values()))
    unequal = ("Urvalet drogs med lika fördelning per grupp (kön × åldersgrupp × område), så de inbjudna hade "
               f"olika sannolikhet att komma med: mellan {_percent_text(low)} och {_percent_text(high)} i olika "
               "grupper. R-indikatorn räknas med de inbjudnas designvikter (1/sannolikheten att komma med).")
    params = {"min_probability": low, "max_probability": high}
    if len(data) == 0:
        return DesignWeights(note=doc.Note(unequal, "design.applied", params), invitation=weight_of)
    completed = Counter({_stratum_key(g, a, d): int(n) for g, a, d, n in session.execute(
        select(Invitation.gender, Invitation.age_group, Invitation.district_code, func.count(Invitation.id))
        .where(Invitation.survey_id == survey.id, Invitation.completed_at.is_not(None))
        .group_by(Invitation.gender, Invitation.age_group, Invitation.district_code)).all()})
    strata = list(zip(data["gender"].tolist(), data["age_group"].tolist(), data["district"].tolist(), strict=True))
    answered = Counter(_stratum_key(*stratum) for stratum in strata)
    if answered != completed or any(key not in weight_of for key in answered):
        moved = sum((answered - completed).values())
        return DesignWeights(note=doc.Note(unequal + (
            f" {moved} svarande tillhörde en annan grupp när de svarade än när de bjöds in" if moved else
            " De svarandes grupper stämmer inte med de besvarade inbjudningarnas")
            + ", och anonyma svar kan inte kopplas till sin inbjudan. Därför får svaren inga designvikter: "
              "de oviktade siffrorna och viktningen behandlar alla svarande som om de hade samma sannolikhet "
              "att komma med.", "design.not_linked", params | {"count": moved}), invitation=weight_of)
    weights = np.fromiter((weight_of[_stratum_key(*stratum)] for stratum in strata), dtype=float, count=len(strata))
    return DesignWeights(weights, doc.Note(unequal + " Varje svarande har därför designvikten 1/sannolikheten att "
                                                     "komma med (efter gruppen vid inbjudan): viktningen till "
                                                     "befolkningen utgår från den, och utan viktning till "
                                                     "befolkningen är resultaten viktade med den ensam "
                                                     "(”Designviktat”). Kolumnen ”Oviktat” är fördelningen bland "
                                                     "de svarande.", "design.applied", params), weight_of)


def estimation_design(weighting: Weighting, base: DesignWeights, n: int) -> tuple[SurveyDesign | None, str]:
    """The design the estimates use and what it is (the ``status`` of the report's weighting):
    the weights to the population (``"weighted"``); else the design weights 1/π alone, scaled
    to mean 1 so weighted counts stay on the respondents' scale (``"design_weighted"``); else
    equal weights (``"unweighted"``)."""
    if weighting.result is not None:
        return weighting.result.design, "weighted"
    if base.applied and n:
        return SurveyDesign(weights=base.weights / base.weights.mean()), "design_weighted"
    return (SurveyDesign(weights=np.ones(n)) if n else None), "unweighted"


def population_dataset(session: Session, settings: ReportSettings) -> PopulationDataset | None:
    if settings.population_dataset_id is not None:
        found = session.get(PopulationDataset, settings.population_dataset_id)
        if found is not None:
            return found
    return population_in_use(session)  # the version the analyst marked (latest by default)


def population_table(dataset: PopulationDataset, districts: set[str]) -> tuple[PopulationTable, list[str]]:
    """The stored figures ready for weighting: one period, the panel's age bands, and the
    regions as districts when they are the panel's districts."""
    notes: list[str] = []
    table = load_population(dataset)
    if len(table.periods) > 1:
        latest = table.periods[-1]
        table = table.select(period=latest)
        notes.append(f"Befolkningsfilen har flera perioder; den senaste ({latest}) används.")
    if "age" in table.dims or "age_group" in table.dims:
        table = table.with_age_bands(DEFAULT_AGE_BANDS)
    if table.region_dim == "region":
        codes = {str(c) for c in table.data["region"].dropna().unique()}
        if codes & districts:  # the regions are the panel's districts (e.g. RegSO areas)
            table = table.to_districts()
    return table, notes


def weight_responses(session: Session, survey: Survey, settings: ReportSettings | None = None, *,
                     frame: ResponseFrame | None = None, design: DesignWeights | None = None) -> Weighting:
    """Weight the survey's responses to the population figures, or explain why not.

    The respondents' design weights (:func:`design_weights`, or ``design``) are the
    starting weights, when the sample gave its strata different inclusion probabilities.

    Respondents outside the figures (no age band, a district without figures) get
    weight 0 and are named in the warnings; genders without population figures
    ("annan", "uppger_ej") are weighted by :data:`analysis.UNCOVERED_RULE`.
    """
    settings = settings or settings_for(session, survey)
    frame = frame or cached_response_frame(session, survey)
    data = frame.data
    if not settings.enabled:
        return Weighting(None, "Analytikern har valt att inte vikta den här enkäten till befolkningen.")
    if len(data) == 0:
        return Weighting(None, "Enkäten har inga svar ännu.")
    if settings.method not in METHODS:
        return Weighting(None, f"Okänd viktningsmetod {settings.method!r}.")
    dataset = population_dataset(session, settings)
    if dataset is None:
        return Weighting(None, "Det finns inga befolkningssiffror uppladdade, så svaren kan inte viktas. "
                               "Ladda upp SCB:s befolkningstabell för kommunen.")
    try:
        table, notes = population_table(dataset, {str(d) for d in data["district"].dropna().unique()})
    except ValueError as error:
        return Weighting(None, f"Befolkningssiffrorna ”{dataset.name}” kan inte användas för viktning: {error}",
                         dataset=dataset, settings_fault=True)
    margins: list[tuple[str, ...]] = []
    for margin in settings.margins:
        missing = [v for v in margin if v not in table.dims]
        if missing:
            notes.append(f"Befolkningssiffrorna saknar {', '.join(VARIABLE_TITLES[v]['sv'].lower() for v in missing)}: "
                         f"marginalen {_margin_sv(margin)} används inte.")
            continue
        margins.append(margin)
    if not margins:
        return Weighting(None, "Befolkningssiffrorna har ingen av de valda viktningsvariablerna "
                               f"({', '.join(_margin_sv(m) for m in settings.margins)}).",
                         dataset=dataset, table=table, warnings=tuple(notes), settings_fault=True)
    if settings.method == "poststratify" and len(margins) > 1:
        return Weighting(None, "Poststratifiering använder en enda marginal (till exempel kön × åldersgrupp); "
                               "välj en korsad marginal eller räfsning.", dataset=dataset, table=table,
                         settings_fault=True)
    if table.total <= 0:
        return Weighting(None, "Befolkningssiffrorna summerar till noll.", dataset=dataset, table=table,
                         settings_fault=True)
    targets = table.targets(*[m[0] if len(m) == 1 else m for m in margins])
    bounds = None
    trim = None
    if settings.method in BOUNDED:
        bounds = (settings.trim_lower or DEFAULT_BOUNDS[0], settings.trim_upper or DEFAULT_BOUNDS[1])
    elif settings.trim_lower is not None or settings.trim_upper is not None:
        trim = Trim(lower=settings.trim_lower if settings.trim_lower is not None else -math.inf,
                    upper=settings.trim_upper if settings.trim_upper is not None else math.inf,
                    relative_to="mean", reweight=True)
    variables = sorted({v for m in margins for v in m}, key=VARIABLES.index)
    respondents = data[variables]
    collapse = {k: [list(g) for g in v] for k, v in settings.collapse.items() if k in variables}
    design = design if design is not None else design_weights(session, survey, data)
    base = None
    if design.applied:
        # In population units (sum = the population), as analysis.weight wants base
        # weights: a bounded calibration bounds g = w / d against them.
        first = next(iter(targets.values()))
        base = design.weights * (float(first.sum()) / float(design.weights.sum()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = weight(respondents, targets, settings.method, weights=base, collapse=collapse or None,
                            drop_unmatched=True, bounds=bounds, trim=trim, on_nonconvergence="warn",
                            summary_by="district" if "district" in variables else None,
                            metadata={"dataset_id": dataset.id})
        except ValueError as error:
            return Weighting(None, "Svaren kan inte viktas med de valda inställningarna. "
                                   + _weighting_error_text(error, settings, respondents, targets, collapse,
                                                           domain_labels(session, data)),
                             dataset=dataset, table=table, margins=tuple(margins), warnings=tuple(notes),
                             settings_fault=True)
    for caught_warning in caught:
        if issubclass(caught_warning.category, ConvergenceWarning):
            notes.append(_shortfall_text(result) or "Viktningen konvergerade inte helt.")
        else:
            notes.append(str(caught_warning.message))
    for issue in result.report.issues:
        if issue.severity != "error":
            notes.append(doc.weighting_note(issue))  # the English text, with its kind and data
    kept = result.weights > 0
    if not kept.any() or not np.isfinite(result.weights).all():
        return Weighting(None, "Viktningen gav inga användbara vikter (alla svarande föll bort eller "
                               "vikterna blev ogiltiga).", dataset=dataset, table=table, margins=tuple(margins),
                         warnings=tuple(notes), settings_fault=True)
    dropped = int((~kept).sum())
    if dropped:
        notes.append(f"{dropped} svarande saknar motsvarighet i befolkningssiffrorna (till exempel ingen "
                     "åldersgrupp eller ett område utan siffror) och får vikten 0.")
    return Weighting(result, "", dataset=dataset, table=table, margins=tuple(margins), warnings=tuple(notes))


#: The largest relative error from a population figure that saved settings may leave
#: (weighting that stops short of the figures is refused by the settings form).
TARGET_MISS_LIMIT = 1e-3


def _percent_text(share: float, digits: int = 1) -> str:
    return f"{share * 100:.{digits}f}".replace(".", ",").replace("-", "\u2212") + "\u00a0%"


def _decimal_text(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _shortfall_text(result: WeightingResult) -> str:
    """Plain Swedish when the weights miss the population figures (or the bounds), else ""."""
    fitted = [m.max_relative_error for m in result.margins
              if m.implied_by is None and m.max_relative_error is not None and math.isfinite(m.max_relative_error)]
    error = max(fitted, default=float(result.max_relative_error))
    if result.trimming is not None and result.trimming.reweight and not result.trimming.within_bounds:
        return ("Vikterna håller sig inte inom de valda gränserna när befolkningssiffrorna ska stämma "
                f"(största avvikelse från en befolkningssiffra {_percent_text(error, 2)}).")
    if not result.converged and not (error <= TARGET_MISS_LIMIT):
        return ("Viktningen når inte befolkningssiffrorna med de valda inställningarna: den största avvikelsen "
                f"från en befolkningssiffra är {_percent_text(error)}. Vidga gränserna för vikterna, slå ihop små "
                "grupper eller välj en annan metod.")
    return ""


def _bound_shortfalls(respondents: pd.DataFrame, targets: Mapping[Any, pd.Series],
                      collapse: Mapping[str, Sequence[Sequence[str]]], lower: float, upper: float,
                      labels: Mapping[str, Mapping[str, doc.Texts]]) -> list[str]:
    """Groups whose share of the respondents times the bounds cannot reach their share of
    the population (the check ``analysis`` makes, approximately, in words)."""
    merged = {variable: {c: " + ".join(group) for group in groups for c in group}
              for variable, groups in collapse.items()}
    found: list[tuple[float, str]] = []
    for key, target in targets.items():
        variables = (key,) if isinstance(key, str) else tuple(key)
        if not isinstance(target, pd.Series) or target.sum() <= 0:
            continue

        def merge(cell: tuple, variables: tuple[str, ...] = variables) -> tuple:
            return tuple(merged.get(v, {}).get(c, c) for v, c in zip(variables, cell, strict=True))

        population: Counter[tuple] = Counter()
        for k, people in zip(target.index, target.to_numpy(dtype=float), strict=True):
            if math.isfinite(people):
                population[merge(k if isinstance(k, tuple) else (k,))] += people
        sample: Counter[tuple] = Counter(
            cell for cell in map(merge, respondents[list(variables)].itertuples(index=False, name=None))
            if cell in population)
        total_sample, total_population = sum(sample.values()), sum(population.values())
        if total_sample <= 0 or total_population <= 0:
            continue
        for cell, people in population.items():
            count = sample.get(cell, 0)
            if count <= 0 or people <= 0:
                continue
            s, p = count / total_sample, people / total_population
            if s * upper < p or s * lower > p:
                label = " × ".join(_label_of(labels, v, str(c))["sv"] for v, c in zip(variables, cell, strict=True))
                need = (f"kräver en högsta gräns på minst {_decimal_text(math.ceil(p / s * 10) / 10)}" if s * upper < p
                        else f"kräver en lägsta gräns på högst {_decimal_text(math.floor(p / s * 100) / 100)}")
                found.append((abs(math.log(p / s)), f"{label}: {_percent_text(s)} av de svarande men "
                                                    f"{_percent_text(p)} av befolkningen ({need})"))
    return [text for _gap, text in sorted(found, key=lambda f: -f[0])]


def _weighting_error_text(error: ValueError, settings: ReportSettings, respondents: pd.DataFrame,
                          targets: Mapping[Any, pd.Series], collapse: Mapping[str, Sequence[Sequence[str]]],
                          labels: Mapping[str, Mapping[str, doc.Texts]]) -> str:
    """Why ``analysis.weight`` refused, in plain Swedish with what to do (the technical
    text only for a refusal this does not know)."""
    report = getattr(error, "report", None)
    kinds = {issue.kind for issue in report.errors} if report is not None else set()
    if getattr(error, "kind", None) == "nobody_left":
        return ("Ingen av de svarande har en grupp som finns i befolkningssiffrorna (till exempel ingen "
                "åldersgrupp eller ett område utan siffror). Välj andra befolkningssiffror eller viktningsvariabler.")
    if getattr(error, "kind", None) == "zero_population":
        return "Befolkningssiffrorna summerar till noll för de valda variablerna. Välj andra befolkningssiffror."
    texts: list[str] = []
    if "infeasible_bounds" in kinds:
        bounded = settings.method in BOUNDED
        lower = (settings.trim_lower or DEFAULT_BOUNDS[0]) if bounded else (settings.trim_lower or 0.0)
        upper = (settings.trim_upper or DEFAULT_BOUNDS[1]) if bounded else (settings.trim_upper or math.inf)
        limits = []
        if bounded or settings.trim_lower is not None:
            limits.append(f"lägsta {_decimal_text(lower)}")
        if bounded or settings.trim_upper is not None:
            limits.append(f"högsta {_decimal_text(upper)}")
        groups = _bound_shortfalls(respondents, targets, collapse, lower, upper, labels)
        texts.append(f"Gränserna för vikterna ({', '.join(limits)} gånger "
                     f"{'grundvikten' if bounded else 'medelvikten'}) är för snäva: några grupper har för få "
                     "svarande för att nå sin andel av befolkningen inom gränserna"
                     + (f", till exempel {'; '.join(groups[:3])}" if groups else "") + ". "
                     "Vidga gränserna, lämna dem tomma eller slå ihop små grupper.")
    for issue in (report.errors if report is not None else ()):
        if issue.kind == "empty_target":
            variables = [v.strip() for v in (issue.margin or "").split("×")]
            names = []
            for category in issue.categories[:5]:
                parts = category if isinstance(category, tuple) else (category,)
                if len(parts) == len(variables):
                    names.append(" × ".join(_label_of(labels, v, str(c))["sv"]
                                            for v, c in zip(variables, parts, strict=True)))
                else:
                    names.append(" × ".join(str(c) for c in parts))
            more = len(issue.categories) - len(names)
            texts.append(f"Inga svarande i {', '.join(names)}{f' och {more} grupper till' if more > 0 else ''} "
                         f"(marginalen {_margin_sv(issue.margin or '')}), så den delen av befolkningen kan inte "
                         "representeras. "
                         "Slå ihop gruppen med en närliggande under ”Slå ihop grupper före viktning” eller "
                         "välj andra viktningsvariabler.")
        elif issue.kind == "totals_disagree":
            texts.append(f"Befolkningssiffrorna för marginalen {_margin_sv(issue.margin or '')} summerar till en "
                         "annan total än de andra marginalerna. Använd siffror för samma befolkning och datum.")
    if not texts:
        texts.append("Slå ihop tomma eller små grupper, välj andra variabler eller en annan metod. "
                     f"Tekniska detaljer (engelska): {error}")
    return " ".join(dict.fromkeys(texts))


def settings_refusal(session: Session, survey: Survey, settings: ReportSettings) -> str | None:
    """Why ``settings`` cannot be saved, in plain Swedish, or None.

    The responses so far are weighted with them: settings under which weighting
    fails, or stops short of the population figures, are refused (the report would
    otherwise go unweighted or off the figures). Without responses or population
    figures there is nothing to try, and turning weighting off is always allowed.
    """
    weighting = weight_responses(session, survey, settings)
    if weighting.result is None:
        return weighting.reason if weighting.settings_fault else None
    return _shortfall_text(weighting.result) or None


# --------------------------------------------------------------------------- labels


def domain_labels(session: Session, data: pd.DataFrame) -> dict[str, dict[str, doc.Texts]]:
    """Readable labels of every breakdown category, per language."""
    names = dict(session.execute(select(District.code, District.name)).all())
    labels: dict[str, dict[str, doc.Texts]] = {"gender": {}, "age_group": {}, "district": {}}
    genders = set(data["gender"].dropna().unique()) if len(data) else set()
    for g in sorted(genders | set(GENDER_LABELS), key=lambda v: list(GENDER_LABELS).index(v) if v in GENDER_LABELS else 9):
        labels["gender"][g] = GENDER_LABELS.get(g, {"sv": g, "en": g})
    for band in DEFAULT_AGE_BANDS.labels:
        labels["age_group"][band] = {"sv": f"{band.replace('-', '–')} år", "en": f"{band.replace('-', '–')} years"}
    for code in sorted(set(names) | (set(data["district"].dropna().unique()) if len(data) else set())):
        name = names.get(code, code)
        labels["district"][code] = {"sv": name, "en": name}
    return labels


def _label_of(labels: Mapping[str, Mapping[str, doc.Texts]], variable: str, value: str) -> doc.Texts:
    if variable == doc.OVERALL:
        return dict(VARIABLE_TITLES[doc.OVERALL])
    found = labels.get(variable, {}).get(value)
    return dict(found) if found else {"sv": value, "en": value}


# --------------------------------------------------------------------------- estimates


def _finite(values: pd.Series) -> list[float | None]:
    """The column as floats, None where missing, NaN or infinite (as :func:`doc.finite`, per column)."""
    return [v if math.isfinite(v) else None for v in values.to_numpy(dtype=float, na_value=np.nan).tolist()]


def _rows(report: pd.DataFrame, labels: Mapping[str, Mapping[str, doc.Texts]]) -> dict[str, list[doc.ResultRow]]:
    out: dict[str, list[doc.ResultRow]] = {}
    texts = [[str(v) for v in report[name].tolist()]
             for name in ("question", "category", "domain_variable", "domain_value", "ci_method")]
    numbers = [_finite(report[name]) for name in ("estimate", "se", "ci_low", "ci_high", "df", "deff", "weighted_n")]
    counts = [[int(v) for v in report[name].tolist()] for name in ("n", "count")]
    notes = [[str(v or "") for v in report[name].tolist()] for name in ("flag", "reason")]
    domain_label: dict[tuple[str, str], doc.Texts] = {}
    for (question, category, variable, value, method, estimate, se, low, high, df, deff, wn, n, count, flag,
         reason) in zip(*texts, *numbers, *counts, *notes, strict=True):
        key = (variable, value)
        if key not in domain_label:
            domain_label[key] = _label_of(labels, variable, value)
        out.setdefault(question, []).append(doc.ResultRow(
            category=category, domain_variable=variable, domain_value=value,
            domain_label=domain_label[key], estimate=estimate, se=se, ci_low=low, ci_high=high,
            ci_method=method, df=df, deff=deff, n=n, count=count, weighted_n=wn, flag=flag, reason=reason,
        ))
    return out


def _estimates(data: pd.DataFrame, designs: Mapping[str, tuple[SurveyDesign, bool]],
               questions: list[AnalysedQuestion], by: Sequence[str],
               labels: Mapping[str, Mapping[str, doc.Texts]]) -> dict[str, dict[str, list[doc.ResultRow]]]:
    """Every question overall and per breakdown, for each of ``designs`` (name: design and
    whether it is weighted), in one pass of :func:`analysis.estimates.estimate_reports`."""
    analysis_questions = [q.analysis for q in questions]
    analysis_questions += [AnalysisQuestion.multiple_choice(f"{q.key}__{DONT_KNOW}", {DONT_KNOW: q.dont_know_column})
                           for q in questions if q.dont_know_column]
    if not analysis_questions or len(data) == 0:
        return {name: {} for name in designs}
    reports = estimate_reports(data, {name: design for name, (design, _w) in designs.items()}, analysis_questions,
                               by=list(by),
                               deff_method={name: "srs" if weighted else "replace"
                                            for name, (_d, weighted) in designs.items()})
    return {name: _rows(report, labels) for name, report in reports.items()}


def _within_scale(rows: Sequence[doc.ResultRow], question: AnalysedQuestion) -> tuple[doc.ResultRow, ...]:
    """A mean's interval (normal approximation) cut at the answers' possible range (a 1–5
    scale, a number question's min and max): 4.82 (4.54–5.10) on a 1–5 scale is 4.82
    (4.54–5.00). Shares' intervals stay within 0–100 % by their method."""
    low, high = question.scale_min, question.scale_max
    if question.kind != "numeric" or (low is None and high is None):
        return tuple(rows)
    out = []
    for row in rows:
        ci_low = float(low) if row.ci_low is not None and low is not None and row.ci_low < low else row.ci_low
        ci_high = float(high) if row.ci_high is not None and high is not None and row.ci_high > high else row.ci_high
        out.append(row if (ci_low, ci_high) == (row.ci_low, row.ci_high) else replace(row, ci_low=ci_low,
                                                                                      ci_high=ci_high))
    return tuple(out)


def _crosstab(data: pd.DataFrame, design: SurveyDesign, row: AnalysedQuestion,
              column: AnalysedQuestion | str, labels: Mapping[str, Mapping[str, doc.Texts]]) -> doc.CrossTabResult:
    if isinstance(column, str):
        column_key, column_title, column_values = column, dict(VARIABLE_TITLES[column]), data[column]
        column_categories = [doc.Category(v, _label_of(labels, column, v)) for v in labels.get(column, {})]
    else:
        column_key, column_title, column_values = column.key, column.item_text or column.text, data[column.columns[0]]
        column_categories = list(column.categories)
    base = doc.CrossTabResult(row.key, column_key, row.item_text or row.text, column_title)
    try:
        table = weighted_crosstab(data[row.columns[0]], column_values, design)
    except ValueError as error:
        return replace(base, reason=f"Korstabellen kan inte beräknas: {error}")
    f = doc.finite
    rows_by_value = {c.value: c for c in row.categories}
    cols_by_value = {c.value: c for c in column_categories}

    def in_order(levels, by_value: dict) -> list[tuple[int, str]]:
        """(position in the table, value), in the question's (or variable's) order, as its other tables."""
        rank = {value: i for i, value in enumerate(by_value)}
        values = [str(v) for v in levels]
        return sorted(enumerate(values), key=lambda iv: rank.get(iv[1], len(rank)))  # stable: others keep theirs

    row_order, col_order = in_order(table.counts.index, rows_by_value), in_order(table.counts.columns, cols_by_value)
    row_levels, col_levels = [v for _i, v in row_order], [v for _j, v in col_order]
    cells = []
    for i, r in row_order:
        for j, c in col_order:
            cells.append(doc.CrossTabCell(
                r, c, f(table.counts.iat[i, j]), f(table.proportions.iat[i, j]),
                f(table.column_shares.iat[i, j]), int(table.unweighted.iat[i, j])))
    test = table.test
    return replace(
        base,
        rows=tuple(rows_by_value.get(v, doc.Category(v, {"sv": v})) for v in row_levels),
        columns=tuple(cols_by_value.get(v, doc.Category(v, {"sv": v})) for v in col_levels),
        cells=tuple(cells),
        test=doc.RaoScott(f(test.statistic), f(test.ndf), f(test.ddf), f(test.p_value), f(test.pearson),
                          f(test.mean_design_effect), test.reason or ""),
    )


def _crosstab_pairs(settings: ReportSettings, questions: list[AnalysedQuestion]) -> list[tuple[str, str]]:
    if settings.crosstabs:
        return list(settings.crosstabs)
    closed = [q for q in questions if q.kind == "single"][:DEFAULT_CROSSTAB_QUESTIONS]
    return [(q.key, column) for q in closed for column in DEFAULT_CROSSTAB_COLUMNS]


# --------------------------------------------------------------------------- representativeness


def _representativeness(session: Session, survey: Survey, labels: Mapping[str, Mapping[str, doc.Texts]],
                        design: Mapping[tuple[Any, Any, Any], float] | None = None) -> doc.Representativeness:
    """Response rates and the R-indicator, kept per process while the invitations stay the same.

    ``design`` maps the strata at invitation time to their design weights 1/π, when the
    sample gave them different inclusion probabilities: the R-indicator is then computed
    with them (the invited stand for the eligible panel members).
    """
    design = dict(design or {})
    counts = session.execute(
        select(func.count(Invitation.id), func.count(Invitation.completed_at), func.count(Invitation.revoked_at),
               func.max(Invitation.id), func.max(Invitation.completed_at))
        .where(Invitation.survey_id == survey.id)).one()
    key = (str(session.get_bind().url), survey.id, *(str(c) for c in counts), repr(sorted(
        (k, sorted((c, tuple(sorted(t.items()))) for c, t in v.items())) for k, v in labels.items())),
        repr(sorted(design.items(), key=repr)))
    found = _REPRESENTATIVENESS.get(key)
    if found is None:
        with bulk_objects():
            found = _compute_representativeness(session, survey, labels, design)
        _REPRESENTATIVENESS.put(key, found)
    return found


def _compute_representativeness(session: Session, survey: Survey, labels: Mapping[str, Mapping[str, doc.Texts]],
                                design: Mapping[tuple[Any, Any, Any], float]) -> doc.Representativeness:
    # One row per (gender, age band, district, status) with its count, expanded to one row per
    # invitation below: the database counts 100,000s of invitations far faster than Python reads
    # them. Groups come in the order of their first invitation, so every category first appears
    # in the same order as when the invitations were read one by one.
    status = case((Invitation.completed_at.is_not(None), "complete"),
                  (Invitation.revoked_at.is_not(None), "ineligible"), else_="no_response")
    groups = session.execute(
        select(Invitation.gender, Invitation.age_group, Invitation.district_code, status,
               func.count(Invitation.id), func.min(Invitation.id))
        .where(Invitation.survey_id == survey.id)
        .group_by(Invitation.gender, Invitation.age_group, Invitation.district_code, status)
    ).all()
    if not groups:
        return doc.Representativeness(reason="Ingen har bjudits in till enkäten, så det finns inga svarsfrekvenser.")
    groups = sorted(groups, key=lambda g: g[5])
    sizes = np.fromiter((g[4] for g in groups), dtype=np.int64, count=len(groups))

    def column(values: list[Any]) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    # one row per group with its count: the same figures as one row per invitation
    invited = pd.DataFrame({
        "gender": column([g[0] for g in groups]),
        "age_group": column([None if g[1] in (None, "", "-") else g[1] for g in groups]),
        "district": column([g[2] for g in groups]),
        "status": column([g[3] for g in groups]),
        "count": sizes,
    })
    f = doc.finite
    rates = response_rates(invited, by=list(VARIABLES), count="count")
    rate_rows = []
    for r in rates.table.itertuples(index=False):
        variable = str(r.variable)
        label = (dict(VARIABLE_TITLES["total"]) if variable == "total"
                 else _label_of(labels, variable, str(r.category)))
        rate_rows.append(doc.ResponseRateRow(variable, str(r.category), label, int(r.eligible), int(r.complete),
                                             f(r.rr1), f(r.rr1_low), f(r.rr1_high)))
    eligible = invited[invited["status"] != "ineligible"].reset_index(drop=True)
    variables = [v for v in VARIABLES if eligible[v].nunique(dropna=True) >= 2]
    responded = (eligible["status"] == "complete").to_numpy()
    indicator = None
    reason = ""
    if not variables:
        reason = "R-indikatorn kräver minst en variabel med två eller fler grupper bland de inbjudna."
    elif responded.all() or not responded.any():
        reason = ("Alla inbjudna har svarat, så svaren är fullständiga." if responded.all() and len(responded)
                  else "Ingen har svarat ännu, så R-indikatorn kan inte beräknas.")
    else:
        frame = eligible[variables].fillna("saknas").astype(str)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if design:
                    # Design weights by the stratum at invitation time; analysis.r_indicator takes
                    # them one row per invitation (not with counts).
                    d = np.array([design.get(_stratum_key(g, a, dc), np.nan) for g, a, dc in zip(
                        eligible["gender"], eligible["age_group"], eligible["district"], strict=True)])
                    if not np.isfinite(d).all():
                        raise ValueError("en inbjudans grupp saknas i urvalsdesignen")
                    rows = np.repeat(np.arange(len(eligible)), eligible["count"].to_numpy())
                    ri = r_indicator(frame.iloc[rows].reset_index(drop=True).assign(
                                         responded=responded[rows].astype(int)),
                                     "responded", variables=variables, weights=d[rows])
                else:
                    ri = r_indicator(frame.assign(responded=responded.astype(int)), "responded",
                                     variables=variables, counts=eligible["count"].to_numpy())
        except ValueError as error:
            reason = f"R-indikatorn kan inte beräknas: {error}"
        else:
            partial = tuple(doc.PartialIndicator(str(row["variable"]), f(row["unconditional"]), f(row["conditional"]))
                            for _i, row in ri.partial_variables.iterrows())
            indicator = doc.RIndicatorSummary(
                r=f(ri.r), r_adjusted=f(ri.r_adjusted), se=f(ri.se), ci_low=f(ri.ci_low), ci_high=f(ri.ci_high),
                cv=f(ri.cv), mean_propensity=f(ri.mean_propensity), n_invited=int(ri.n_invited),
                n_responded=int(ri.n_responded), variables=tuple(ri.variables), partial=partial,
                notes=_r_indicator_notes(ri.notes, caught))
    return doc.Representativeness(tuple(rate_rows), indicator, reason)


def _r_indicator_notes(notes: Sequence[str], caught: Sequence[warnings.WarningMessage]) -> tuple[doc.Note, ...]:
    """The R-indicator's notes and any other warning raised while computing it, each once:
    ``rindicator.<code>`` with the note's data (analysis.rindicator.RIndicatorNote), so that
    pages say it in the reader's words; a warning not from analysis (numpy, statsmodels)
    as ``rindicator.technical`` with its text as ``message``."""
    found: dict[str, doc.Note] = {}
    for note in (*notes, *(getattr(w.message, "note", w.message) for w in caught)):
        code = getattr(note, "code", "")
        found.setdefault(str(note), doc.Note(str(note), f"rindicator.{code or 'technical'}",
                                             getattr(note, "params", {}) if code else {"message": str(note)}))
    return tuple(found.values())


def _fielding(session: Session, survey: Survey, responses: int) -> doc.Fielding:
    settings = session.get(SurveyFielding, survey.id)
    invited, completed = session.execute(
        select(func.count(Invitation.id), func.count(Invitation.completed_at))
        .where(Invitation.survey_id == survey.id, Invitation.revoked_at.is_(None))).one()
    sources = dict(session.execute(
        select(Member.source, func.count(Invitation.id)).join(Member, Member.id == Invitation.member_id)
        .where(Invitation.survey_id == survey.id, Invitation.completed_at.is_not(None))
        .group_by(Member.source)).all())
    self_recruited = int(sources.get("open", 0))
    letter = int(sources.get("wave", 0))
    known = self_recruited + letter
    return doc.Fielding(
        invited=int(invited), completed=int(completed), responses=responses,
        response_rate=(completed / invited) if invited else None,
        target_mode=settings.mode if settings else "all",
        target_filter=dict(settings.target or {}) if settings else {},
        sample_size=settings.sample_size if settings else None,
        sample_seed=settings.seed if settings else None,
        allocation=settings.allocation if settings and settings.mode == "sample" else None,
        self_recruited=self_recruited, letter_recruited=letter,
        share_self_recruited=(self_recruited / known) if known else None,
    )


def _weighting_summary(weighting: Weighting, settings: ReportSettings, data: pd.DataFrame,
                       labels: Mapping[str, Mapping[str, doc.Texts]],
                       base: DesignWeights | None = None) -> doc.WeightingSummary:
    f = doc.finite
    targets = None
    if weighting.dataset is not None:
        ds = weighting.dataset
        targets = doc.TargetsInfo(
            dataset_id=ds.id, name=ds.name, source=ds.source_title or ds.source_name or ds.source_format,
            source_table_id=ds.source_table_id, reference_date=ds.reference_date or "", period=ds.period or "",
            total=int(weighting.table.total) if weighting.table is not None else int(ds.total),
            cell_key_noise=bool(ds.cell_key_noise),
            warnings=tuple(weighting.table.warnings) if weighting.table is not None else ())
    common = dict(targets=targets, method=settings.method, variables=tuple(" × ".join(m) for m in weighting.margins),
                  trim_lower=settings.trim_lower, trim_upper=settings.trim_upper,
                  collapse={k: [list(g) for g in v] for k, v in settings.collapse.items()}, n=len(data),
                  warnings=weighting.warnings, design_weights=base is not None and base.applied)
    result = weighting.result
    if result is None and base is not None and base.applied and len(data):
        d = base.weights  # 1/π as they are (Kish: deff = n Σd² / (Σd)²)
        deff = float(len(d) * np.sum(d ** 2) / np.sum(d) ** 2)
        return doc.WeightingSummary(status="design_weighted", reason=weighting.reason, n_weighted=len(d),
                                    design_effect=f(deff), effective_n=f(len(d) / deff), weight_min=f(d.min()),
                                    weight_max=f(d.max()), weight_mean=f(d.mean()), **common)
    if result is None:
        return doc.WeightingSummary(status="unweighted", reason=weighting.reason, **common)
    weights = result.weights
    kept = weights[weights > 0]
    margins = []
    for fit in result.margins:
        variables = fit.variables
        if len(variables) == 1:
            counts = data[variables[0]].value_counts(dropna=True)
        else:
            counts = data.groupby(list(variables), dropna=True, observed=True).size()
        cells = []
        for key in fit.targets.index:
            parts = key if isinstance(key, tuple) else (key,)
            label_parts = [_label_of(labels, v, str(p)) for v, p in zip(variables, parts, strict=True)]
            label = {lang: " × ".join(lp.get(lang, lp["sv"]) for lp in label_parts) for lang in ("sv", "en")}
            cells.append(doc.MarginCell(" × ".join(str(p) for p in parts), label, f(fit.targets.get(key)),
                                        f(fit.achieved.get(key)), int(counts.get(key, 0))))
        margins.append(doc.MarginSummary(" × ".join(variables), tuple(variables), f(fit.max_relative_error),
                                         tuple(cells)))
    uncovered = {str(k): {str(c): int(n) for c, n in v.items()} for k, v in result.uncovered_counts.items()}
    trimming = result.trimming
    return doc.WeightingSummary(
        status="weighted", margins=tuple(margins), converged=bool(result.converged), iterations=int(result.iterations),
        max_relative_error=f(result.max_relative_error), tolerance=f(result.tolerance),
        n_weighted=int(kept.size), design_effect=f(result.design_effect), effective_n=f(result.effective_sample_size),
        weight_min=f(kept.min()), weight_max=f(kept.max()), weight_mean=f(kept.mean()),
        population_total=f(kept.sum()), uncovered=uncovered,
        n_trimmed=int(trimming.n_trimmed) if trimming else 0,
        trimming_within_bounds=bool(trimming.within_bounds) if trimming else None,
        **common,
    )


# --------------------------------------------------------------------------- code version


@lru_cache(maxsize=1)
def code_version() -> doc.CodeVersion:
    """The installed package version and the git commit of the checkout (if any)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package_version = version("medborgarpanel")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        package_version = "unknown"
    return doc.CodeVersion("medborgarpanel", package_version, _git_commit(Path(__file__).resolve().parents[2]))


def _git_commit(root: Path) -> str | None:
    git = root / ".git"
    if git.is_file():  # a worktree: "gitdir: <path>"
        text = git.read_text().strip()
        if text.startswith("gitdir:"):
            git = (root / text.split(":", 1)[1].strip()).resolve()
    head = git / "HEAD"
    if not head.exists():
        return None
    ref = head.read_text().strip()
    if not ref.startswith("ref:"):
        return ref or None
    name = ref.split(":", 1)[1].strip()
    for base in (git, git.parent.parent if git.parent.name == "worktrees" else git):
        path = base / name
        if path.exists():
            return path.read_text().strip() or None
    commondir = git / "commondir"
    common = (git / commondir.read_text().strip()).resolve() if commondir.exists() else git
    if (common / name).exists():
        return (common / name).read_text().strip() or None
    packed = common / "packed-refs"
    if packed.exists():
        for line in packed.read_text().splitlines():
            if line.endswith(" " + name):
                return line.split(" ", 1)[0]
    return None


# --------------------------------------------------------------------------- the report


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_report(session: Session, survey: Survey, *, settings: ReportSettings | None = None,
                 now: datetime | None = None, today: datetime | None = None) -> doc.ReportDocument:
    """Compute the whole report of ``survey`` with ``settings`` (default: the saved ones).

    ``now`` (or ``today``) is the time recorded as ``generated_at`` (default: now).
    Never raises for bad data: what cannot be computed is None with a reason.
    """
    from surveys.results.methods import write_methods

    settings = settings or settings_for(session, survey)
    moment = now or today or datetime.now(UTC)
    defn = definition_of(survey)
    frame = cached_response_frame(session, survey, defn=defn)
    data = frame.data
    labels = domain_labels(session, data)
    base = design_weights(session, survey, data)
    weighting = weight_responses(session, survey, settings, frame=frame, design=base)
    # "Unweighted" is the distribution among the respondents, whatever the sample's design:
    # design weights 1/π are where the weighting to the population starts (weight_responses),
    # and without it the estimates ("Designviktat") use them alone.
    unweighted_design = SurveyDesign(weights=np.ones(len(data))) if len(data) else None
    design, status = estimation_design(weighting, base, len(data))
    by = [v for v in doc.BREAKDOWNS if len(data) and data[v].notna().any()]
    report_warnings: list[str] = list(weighting.warnings)
    if base.note:
        report_warnings.insert(0, base.note)
    if status == "design_weighted":
        report_warnings.insert(0, f"Rapporten är inte viktad till befolkningen: {weighting.reason} Resultaten är "
                                  "därför bara designviktade (”Designviktat”): varje svar väger som 1/sannolikheten "
                                  "att komma med i urvalet, vilket rättar för urvalets lika fördelning per grupp men "
                                  "inte för vilka som svarade. Kolumnen ”Oviktat” är fördelningen bland de svarande.")
    elif weighting.result is None and len(data):
        report_warnings.insert(0, f"Rapporten är oviktad: {weighting.reason} "
                                  "Alla resultat är därför oviktade, alltså fördelningen bland de svarande och inte "
                                  "skattningar för befolkningen.")

    estimable = frame.questions
    weighted_rows: dict[str, list[doc.ResultRow]] = {}
    unweighted_rows: dict[str, list[doc.ResultRow]] = {}
    if len(data) and estimable:
        coded = frame.coded
        designs = {"unweighted": (unweighted_design, False)}
        if status != "unweighted":
            designs["weighted"] = (design, True)
        rows = _estimates(coded, designs, estimable, by, labels)
        unweighted_rows = rows["unweighted"]
        weighted_rows = rows.get("weighted", unweighted_rows)
    questions = []
    for aq in estimable:
        answered = frame.answered(aq)
        dk_key = f"{aq.key}__{DONT_KNOW}"
        questions.append(doc.QuestionResult(
            key=aq.key, stable_key=aq.stable_key, question_type=aq.question_type, kind=aq.kind, text=aq.text,
            categories=aq.categories if aq.kind != "numeric" else (), item_text=aq.item_text,
            scale_min=aq.scale_min, scale_max=aq.scale_max,
            weighted=_within_scale(weighted_rows.get(aq.key, ()), aq),
            unweighted=_within_scale(unweighted_rows.get(aq.key, ()), aq),
            dont_know=tuple(weighted_rows.get(dk_key, ())), answered=answered, shown=frame.shown.get(aq.key, 0),
            reason="" if len(data) else "Enkäten har inga svar ännu.",
        ))

    crosstabs = []
    if len(data):
        by_key = {q.key: q for q in estimable}
        for row_key, column_key in _crosstab_pairs(settings, estimable):
            row_q = by_key.get(row_key)
            column: AnalysedQuestion | str | None = (column_key if column_key in VARIABLES
                                                     else by_key.get(column_key))
            if row_q is None or row_q.kind != "single" or column is None or (
                    not isinstance(column, str) and column.kind != "single"):
                report_warnings.append(f"Korstabellen {row_key} × {_margin_sv(column_key)} hoppas över: båda "
                                       "måste vara envalsfrågor eller bakgrundsvariabler i den här enkäten.")
                continue
            crosstabs.append(_crosstab(frame.coded, design, row_q, column, labels))

    meta = doc.SurveyMeta(
        id=survey.id, title=document_texts(defn.title, defn.languages), languages=tuple(defn.languages),
        anonymous=bool(survey.anonymous), status=str(survey.status), opens_at=_iso(survey.opens_at),
        closes_at=_iso(survey.closes_at), sent_at=_iso(survey.sent_at))
    document = doc.ReportDocument(
        schema_version=doc.SCHEMA_VERSION, survey=meta, generated_at=_iso(moment) or "",
        code_version=code_version(), fielding=_fielding(session, survey, len(data)),
        representativeness=_representativeness(session, survey, labels, base.invitation),
        weighting=_weighting_summary(weighting, settings, data, labels, base), questions=tuple(questions),
        crosstabs=tuple(crosstabs), free_text=tuple(frame.free_text), methods=doc.Methods(),
        settings=settings.to_dict(), breakdowns=tuple(by) if by else doc.BREAKDOWNS,
        domain_labels={k: {c: dict(t) for c, t in v.items()} for k, v in labels.items()},
        warnings=tuple(report_warnings),
    )
    return replace(document, methods=write_methods(document))


def surveys_with_stable_key(session: Session, stable_key: str) -> list[Survey]:
    """Surveys (sent, oldest first) that ask a question with this stable key (the trend)."""
    found = []
    for survey in session.scalars(select(Survey).where(Survey.sent_at.is_not(None)).order_by(Survey.sent_at,
                                                                                             Survey.id)):
        defn = definition_of(survey)
        if any(q.key == stable_key for q in analysed_questions(defn)):
            found.append(survey)
    return found
