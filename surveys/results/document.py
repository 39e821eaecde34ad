"""The report document: everything a computed survey report says, as plain data.

:func:`surveys.results.services.build_report` computes a :class:`ReportDocument`;
the analyst's report page, the published (frozen, suppressed) versions, the PDF and
the exports all read this one structure, never the database or the statistics
again. It round-trips losslessly through JSON (:meth:`ReportDocument.to_json` /
:meth:`ReportDocument.from_json`), so a published version can store it verbatim.

Rules of the contract:

* Plain JSON only: numbers, strings, booleans, lists, objects, ``null``. No NaN or
  Infinity: a figure that cannot be computed is ``None`` and its row says why
  (``flag`` short codes as in :mod:`analysis.estimates`, ``reason`` a sentence).
* Proportions are fractions (0–1); means are in the question's own units.
* Texts shown to readers come in every language the document has, as a mapping
  ``{"sv": ..., "en": ...}`` (:data:`Texts`); Swedish is always present.
* Every estimate exists twice: ``weighted`` (with the survey's weights) and
  ``unweighted`` (equal weights: the respondents as they are), each for the whole
  sample (``domain_variable == OVERALL``) and per breakdown (``district``,
  ``gender``, ``age_group``).
* Free-text answers are kept apart (:attr:`ReportDocument.free_text`) so that a
  publication can leave them out unless each one is approved.
* The document never holds anything that identifies a respondent: no ids, no
  per-respondent weights, no submission times.

``SCHEMA_VERSION`` changes when a field changes meaning or is removed; readers of
older stored documents can check it.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

SCHEMA_VERSION = 1

#: ``domain_variable`` and ``domain_value`` of whole-sample rows (as analysis.estimates).
OVERALL = "(all)"
#: ``category`` of a numeric question's mean (as analysis.estimates).
MEAN = "(mean)"
#: The breakdowns every report has, in this order.
BREAKDOWNS: tuple[str, ...] = ("district", "gender", "age_group")

Texts = dict[str, str]

T = TypeVar("T")


# --------------------------------------------------------------------------- notes


class Note(str):
    """A warning whose text (it is a ``str``) is English or Swedish technical text, with
    what it is about as data, so that pages and exports can say it in the reader's words.

    The pattern of :class:`analysis.targets.assemble.TableWarning`: ``code`` names the
    finding (``"weighting.<kind>"`` for a finding of :func:`analysis.weight`, whose
    kinds :class:`analysis.weighting.ValidationIssue` lists) and ``params`` holds its
    data (plain values: ``variable``, ``margin``, ``categories``, ``count``, ...). A
    document written to JSON keeps the text only; the analyst's pages and the exports
    read a freshly computed document, where the data is still there.
    """

    code: str
    params: dict[str, Any]

    def __new__(cls, text: str, code: str = "", params: Mapping[str, Any] | None = None) -> Note:
        note = super().__new__(cls, text)
        note.code = code
        note.params = dict(params or {})
        return note

    def __reduce__(self) -> tuple[Any, ...]:  # copies (dataclasses.asdict) and pickles keep the data
        return (Note, (str(self), self.code, self.params))


def weighting_note(issue: Any) -> Note:
    """A note of a (non-error) :class:`analysis.weighting.ValidationIssue`: the English message
    as text, its kind and data as code and params."""
    text = "Viktningen (analysis): " + issue.message + (f" → {issue.resolution}" if issue.resolution else "")
    params = {"severity": issue.severity, "margin": issue.margin, "variable": issue.variable,
              "categories": tuple(issue.categories), "count": int(issue.count), **dict(issue.params)}
    return Note(text, f"weighting.{issue.kind}", params)


# --------------------------------------------------------------------------- survey and fielding


@dataclass(frozen=True)
class SurveyMeta:
    """Which survey: ``title`` is the public title per language; times are ISO 8601 UTC."""

    id: int
    title: Texts
    languages: tuple[str, ...]
    anonymous: bool
    status: str
    opens_at: str | None = None
    closes_at: str | None = None
    sent_at: str | None = None


@dataclass(frozen=True)
class CodeVersion:
    """The code that computed the document: package version and git commit (if known)."""

    package: str
    version: str
    git_commit: str | None = None


@dataclass(frozen=True)
class Fielding:
    """Who was invited and who answered.

    ``target_mode`` is ``"all"`` (everyone in the filtered panel) or ``"sample"``
    (a stratified random sample of ``sample_size`` drawn with ``sample_seed``);
    ``target_filter`` is the panel filter (age, genders, districts, sources).
    ``responses`` counts the stored responses (what the estimates use);
    ``completed`` the invitations marked completed (equal unless members left).
    ``share_self_recruited`` is the share of the completed invitations whose member
    joined by open sign-up (opt-in) rather than from a random recruitment letter;
    ``None`` when unknown (no completed invitation with a member left).
    """

    invited: int
    completed: int
    responses: int
    response_rate: float | None
    target_mode: str
    target_filter: dict[str, Any] = field(default_factory=dict)
    sample_size: int | None = None
    sample_seed: int | None = None
    allocation: str | None = None
    self_recruited: int = 0
    letter_recruited: int = 0
    share_self_recruited: float | None = None


# --------------------------------------------------------------------------- representativeness


@dataclass(frozen=True)
class ResponseRateRow:
    """Response rate of one stratum (AAPOR RR1, with a Wilson interval).

    ``variable`` is ``"total"``, ``"gender"``, ``"age_group"``, ``"district"`` or a
    cross such as ``"gender × age_group"``; ``label`` the category as readers see it.
    """

    variable: str
    category: str
    label: Texts
    invited: int
    completed: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class PartialIndicator:
    """A partial R-indicator (Schouten, Shlomo & Skinner 2011): how much one variable
    accounts for the variation in response propensities."""

    variable: str
    unconditional: float | None
    conditional: float | None


@dataclass(frozen=True)
class RIndicatorSummary:
    """The R-indicator of the response (1 = representative response on the model's
    variables, lower = more selective), from :func:`analysis.r_indicator`."""

    r: float | None
    r_adjusted: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    cv: float | None
    mean_propensity: float | None
    n_invited: int
    n_responded: int
    variables: tuple[str, ...]
    partial: tuple[PartialIndicator, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Representativeness:
    """Response rates per stratum and the R-indicator; ``reason`` says why either is missing."""

    response_rates: tuple[ResponseRateRow, ...] = ()
    r_indicator: RIndicatorSummary | None = None
    reason: str = ""


# --------------------------------------------------------------------------- weighting


@dataclass(frozen=True)
class TargetsInfo:
    """The population figures weighted to (a stored panel.models.PopulationDataset)."""

    dataset_id: int
    name: str
    source: str
    source_table_id: str | None
    reference_date: str
    period: str
    total: int
    cell_key_noise: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarginCell:
    """One category of a weighting margin: population target, weighted total achieved,
    respondents in it."""

    category: str
    label: Texts
    target: float | None
    achieved: float | None
    respondents: int


@dataclass(frozen=True)
class MarginSummary:
    """One margin weighted to (``variables`` one name, or two for a cross)."""

    name: str
    variables: tuple[str, ...]
    max_relative_error: float | None
    cells: tuple[MarginCell, ...] = ()


@dataclass(frozen=True)
class WeightingSummary:
    """How the weights were made, or why there are none.

    ``status`` is ``"weighted"`` (to the population figures), ``"design_weighted"``
    (not weighted to the population, ``reason`` says why, but the sample gave the strata
    different inclusion probabilities, so the weighted rows use the design weights
    1/π alone) or ``"unweighted"`` (then ``reason`` says why and the weighted rows of
    every question equal the unweighted ones). ``design_weights`` is True when the
    respondents had design weights 1/π: the starting weights of ``"weighted"``, the only
    weights of ``"design_weighted"``. Weights are in population units (respondent i
    stands for w_i residents), except design weights alone, which are 1/π (members of
    the panel per invited member of the stratum). ``design_effect`` is
    Kish's 1 + CV² of the weights and ``effective_n`` = n / deff. ``trim_lower`` /
    ``trim_upper`` are the trimming bounds as the analyst gave them (multiples of the
    mean weight), ``collapse`` the categories merged before weighting.
    """

    status: str
    reason: str = ""
    targets: TargetsInfo | None = None
    method: str | None = None
    variables: tuple[str, ...] = ()
    margins: tuple[MarginSummary, ...] = ()
    trim_lower: float | None = None
    trim_upper: float | None = None
    n_trimmed: int = 0
    trimming_within_bounds: bool | None = None
    collapse: dict[str, list[list[str]]] = field(default_factory=dict)
    converged: bool | None = None
    iterations: int | None = None
    max_relative_error: float | None = None
    tolerance: float | None = None
    n: int = 0
    n_weighted: int = 0
    design_effect: float | None = None
    effective_n: float | None = None
    weight_min: float | None = None
    weight_max: float | None = None
    weight_mean: float | None = None
    population_total: float | None = None
    uncovered: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    design_weights: bool = False


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Category:
    """An answer category (option value, scale point) and its label per language."""

    value: str
    label: Texts


@dataclass(frozen=True)
class ResultRow:
    """One estimate: a category's share (or a mean) in the whole sample or a domain.

    As :data:`analysis.REPORT_COLUMNS`: ``n`` respondents who answered in the
    domain, ``count`` of them choosing the category, ``weighted_n`` their weight
    total, ``deff`` the design effect, ``ci_low``/``ci_high`` the 95 % interval
    (``ci_method`` logit for shares, wald for means). ``None`` figures come with a
    ``flag`` and ``reason``.
    """

    category: str
    domain_variable: str
    domain_value: str
    domain_label: Texts
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    ci_method: str
    df: float | None
    deff: float | None
    n: int
    count: int
    weighted_n: float | None
    flag: str = ""
    reason: str = ""


@dataclass(frozen=True)
class QuestionResult:
    """Everything about one analysed question (a matrix question gives one per item).

    ``key`` is unique in the survey (``"q5"`` or ``"q5.item2"`` for a matrix item);
    ``stable_key`` is what identifies the same question across surveys (the trend).
    ``kind`` is the estimate kind (``single``: shares of one answer; ``multiple``:
    share choosing each option; ``numeric``: a mean) and ``question_type`` the
    definition's type. ``dont_know`` answers ("vet ej") are left out of a scale's
    mean and reported as their own share in ``dont_know`` rows (whole sample).
    """

    key: str
    stable_key: str
    question_type: str
    kind: str
    text: Texts
    categories: tuple[Category, ...] = ()
    item_text: Texts | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    weighted: tuple[ResultRow, ...] = ()
    unweighted: tuple[ResultRow, ...] = ()
    dont_know: tuple[ResultRow, ...] = ()
    answered: int = 0
    shown: int = 0
    reason: str = ""

    def rows(self, *, weighted: bool = True, domain_variable: str = OVERALL) -> tuple[ResultRow, ...]:
        """The rows of one breakdown (default: the whole sample)."""
        return tuple(r for r in (self.weighted if weighted else self.unweighted)
                     if r.domain_variable == domain_variable)


@dataclass(frozen=True)
class CrossTabCell:
    """One cell of a cross-tab: weighted total, share of the table, share within its
    column, and respondents (the unweighted base for disclosure control)."""

    row: str
    column: str
    weighted_count: float | None
    proportion: float | None
    column_share: float | None
    unweighted: int


@dataclass(frozen=True)
class RaoScott:
    """The Rao–Scott corrected test of independence (F form; R's ``svychisq``)."""

    statistic: float | None
    ndf: float | None
    ddf: float | None
    p_value: float | None
    pearson: float | None
    mean_design_effect: float | None
    reason: str = ""


@dataclass(frozen=True)
class CrossTabResult:
    """A weighted two-way table of a question (rows) by a question or breakdown
    (columns), with the Rao–Scott test; ``reason`` explains a missing table."""

    row_key: str
    column_key: str
    row_title: Texts
    column_title: Texts
    rows: tuple[Category, ...] = ()
    columns: tuple[Category, ...] = ()
    cells: tuple[CrossTabCell, ...] = ()
    test: RaoScott | None = None
    reason: str = ""

    def cell(self, row: str, column: str) -> CrossTabCell | None:
        return next((c for c in self.cells if c.row == row and c.column == column), None)


@dataclass(frozen=True)
class FreeTextAnswers:
    """Free-text answers to one question (``source`` ``"text"``) or to its "annat,
    nämligen" option (``"other"``), sorted alphabetically so their order says
    nothing about who answered when. Analyst only unless approved one by one."""

    question_key: str
    source: str
    text: Texts
    answers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Methods:
    """The methods section, written from the document: paragraphs per language."""

    paragraphs: dict[str, list[str]] = field(default_factory=dict)


# --------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class ReportDocument:
    """A computed survey report. See the module docstring for the rules."""

    schema_version: int
    survey: SurveyMeta
    generated_at: str
    code_version: CodeVersion
    fielding: Fielding
    representativeness: Representativeness
    weighting: WeightingSummary
    questions: tuple[QuestionResult, ...]
    crosstabs: tuple[CrossTabResult, ...]
    free_text: tuple[FreeTextAnswers, ...]
    methods: Methods
    settings: dict[str, Any]
    breakdowns: tuple[str, ...] = BREAKDOWNS
    domain_labels: dict[str, dict[str, Texts]] = field(default_factory=dict)
    alpha: float = 0.05
    warnings: tuple[str, ...] = ()

    def question(self, key: str) -> QuestionResult | None:
        return next((q for q in self.questions if q.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (dicts, lists, numbers, strings, None); NaN/Infinity become None."""
        return _clean(asdict(self))

    def to_json(self, **dumps: Any) -> str:
        """JSON text; raises if anything is not finite (it never is after to_dict)."""
        options = {"ensure_ascii": False, "sort_keys": True, "separators": (",", ":")}
        options.update(dumps)
        return json.dumps(self.to_dict(), allow_nan=False, **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportDocument:
        if not isinstance(data, Mapping):
            raise ValueError("a report document is a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"report document schema {version!r} is not {SCHEMA_VERSION}")
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str | bytes) -> ReportDocument:
        return cls.from_dict(json.loads(text))


# --------------------------------------------------------------------------- (de)serialisation


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    raise TypeError(f"report documents hold plain data only, not {type(value).__name__}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _build(tp: Any, value: Any) -> Any:
    """Rebuild ``value`` (plain JSON data) as the annotated type ``tp``."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(options[0], value) if len(options) == 1 else value
    if is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ValueError(f"{tp.__name__}: expected an object")
        hints = _hints(tp)
        kwargs = {f.name: _build(hints[f.name], value[f.name]) for f in fields(tp) if f.name in value}
        return tp(**kwargs)
    if origin is tuple:
        args = typing.get_args(tp)
        return tuple(_build(args[0], v) for v in value)
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [_build(arg, v) for v in value]
    if origin is dict:
        _key, arg = typing.get_args(tp)
        return {k: _build(arg, v) for k, v in value.items()}
    if tp is float:
        return float(value)
    return value
