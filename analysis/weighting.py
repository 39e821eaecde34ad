"""Weighting respondents to population targets: post-stratification, raking,
calibration and trimming, with one signature and R-compatible variances.

Every method takes the respondents as a data frame whose weighting variables
are categoricals (or strings, factorised once) and ``targets``, a mapping from
a variable name, or a tuple of names for a cross-classified margin, to a
``pandas.Series`` of population counts indexed by category (a ``MultiIndex``
for a cross). Calibration methods also accept a number as the population total
of a numeric column. ::

    targets = {
        "gender": pd.Series({"kvinna": 51_000, "man": 49_000}),
        "age_group": scb_age_series,                  # "16-24" … "75+"
        ("district", "gender"): scb_district_by_gender,  # MultiIndex
    }
    result = rake(respondents, targets)
    result.weights          # one weight per respondent, in population units
    result.design           # SurveyDesign for calibration-aware variances

The weights are *sampling* weights: respondent ``i`` stands for
``weights[i]`` residents. They are not frequency weights.

How it is fast: the rows are collapsed once into the cells of the weighting
variables (:mod:`analysis._cells`), the method is solved on the cell table,
and the weights are mapped back with one gather.

Methods (the registry :data:`METHODS`):

``poststratify``   one (cross-classified) margin, ``w = d T_g / D_g``; R ``postStratify``
``rake``           iterative proportional fitting on any set of margins; R ``rake``
``linear``         linear calibration (GREG, chi-square distance); R ``calibrate()``
``truncated_linear`` linear calibration with ``g`` clipped to ``bounds``; R ``calibrate(bounds=)``
``logit``          logit calibration, ``g`` strictly inside ``bounds``; R ``calfun="logit"``
``raking_ratio``   multiplicative calibration (exponential distance); R ``calfun="raking"``

Before weighting, the input is checked (:func:`check_targets`); problems raise
``ValueError`` with an explanation unless an explicit alternative is chosen
(``collapse``, ``partial``, ``drop_unmatched``, ``align_totals``,
``uncovered``), and every choice is recorded in the result.

References: Deming & Stephan (1940); Kish (1965); Deville & Särndal (1992);
Lumley (2010), *Complex Surveys*, ch. 7.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

import numpy as np
import pandas as pd

from analysis import _cells
from analysis.calibration import Margin, ipf, newton
from analysis.design import (
    Adjustment,
    Calibration,
    PostStratification,
    Raking,
    RakingMargin,
    SurveyDesign,
)
from analysis.trimming import REDISTRIBUTIONS, trim_counted

TargetKey = str | tuple[str, ...]
Targets = Mapping[TargetKey, "pd.Series | float"]
Collapse = Mapping[str, Sequence[Sequence[Hashable]]]

#: Categories without population figures that are weighted by the rule of
#: :data:`UNCOVERED_RULE` unless the caller says otherwise: SCB publishes
#: population by legal sex ("kvinna", "man") only, while the panel also
#: records "annan" (other) and "uppger_ej" (prefers not to say).
DEFAULT_UNCOVERED: Mapping[str, tuple[str, ...]] = {"gender": ("annan", "uppger_ej")}

UNCOVERED_RULE = (
    "respondents in a category without population figures (uncovered) are matched on every margin "
    "with that variable left out: they count towards the totals of the other variables, and within "
    "each cell of the other variables the covered categories keep their population shares; the "
    "uncovered respondents' share of a cell is estimated from the sample, with a standard error "
    "(rake and poststratify give them the population-share-weighted geometric mean of the covered "
    "categories' adjustments in their cell, as R's calibrate(calfun='raking') on these constraints; "
    "the other calibration methods solve the same constraints with their own distance)"
)


class ConvergenceError(ValueError):
    """Weighting did not reach the tolerance (``on_nonconvergence="error"``).

    ``method``, ``max_error`` (the largest relative margin error reached),
    ``tolerance`` and ``iterations`` say how far it got, for callers that explain
    the failure in their own words (None when raised without them).
    """

    def __init__(self, message: str, *, method: str | None = None, max_error: float | None = None,
                 tolerance: float | None = None, iterations: int | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.max_error = max_error
        self.tolerance = tolerance
        self.iterations = iterations


class WeightingInputError(ValueError):
    """The respondents and targets cannot be weighted as they are.

    A ``ValueError`` (callers that catch that keep working) whose message is the
    readable report; ``report`` holds the findings (:class:`ValidationReport`: each
    issue's ``kind``, ``margin``, ``variable``, ``categories`` and ``count``) and
    ``kind`` says which check stopped weighting: ``"invalid"`` (the report has
    errors), ``"nobody_left"`` (every respondent was dropped for lack of targets)
    or ``"zero_population"`` (the first margin's population total is 0).
    """

    def __init__(self, message: str, *, kind: str, report: ValidationReport) -> None:
        super().__init__(message)
        self.kind = kind
        self.report = report


class ConvergenceWarning(RuntimeWarning):
    """Weighting did not reach the tolerance (``on_nonconvergence="warn"``)."""


@dataclass(frozen=True)
class MethodSpec:
    """An entry of the method registry."""

    name: str
    kind: Literal["poststratify", "rake", "calibrate"]
    calfun: str | None
    bounds: Literal["forbidden", "optional", "required"]
    description: str


METHODS: Mapping[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("poststratify", "poststratify", None, "forbidden",
                   "post-stratification on one (cross-classified) margin; R postStratify"),
        MethodSpec("rake", "rake", None, "forbidden",
                   "raking by iterative proportional fitting; R rake"),
        MethodSpec("linear", "calibrate", "linear", "forbidden",
                   "linear calibration (GREG); R calibrate(calfun='linear')"),
        MethodSpec("truncated_linear", "calibrate", "linear", "required",
                   "linear calibration with the factor g clipped to bounds; R calibrate(bounds=)"),
        MethodSpec("logit", "calibrate", "logit", "required",
                   "logit calibration, g inside bounds; R calibrate(calfun='logit', bounds=)"),
        MethodSpec("raking_ratio", "calibrate", "raking", "optional",
                   "multiplicative calibration; R calibrate(calfun='raking')"),
    )
}


@dataclass(frozen=True)
class Trim:
    """Trimming of the final weights (see :func:`analysis.trimming.trim_weights`).

    ``upper``/``lower`` are weights (``relative_to="absolute"``, in the units
    of the returned weights) or multiples of the mean weight
    (``relative_to="mean"``). ``redistribution`` is ``"equal"`` (R
    ``trimWeights``: equal additive shares) or ``"proportional"`` (svy).
    With ``reweight=True`` the method is applied again to the trimmed weights,
    and trimming and re-weighting alternate until the margins hold to the
    tolerance *and* every weight is within the bounds up to the relative
    ``slack``, for at most ``max_rounds`` rounds. Without it, the margins no
    longer hold exactly after trimming.
    """

    upper: float = math.inf
    lower: float = -math.inf
    relative_to: Literal["absolute", "mean"] = "absolute"
    redistribution: Literal["equal", "proportional"] = "equal"
    strict: bool = False
    reweight: bool = False
    max_rounds: int = 100
    slack: float = 1e-6


@dataclass(frozen=True)
class ValidationIssue:
    """One finding of the input check.

    ``severity`` is ``"error"`` (weighting refuses), ``"resolved"`` (an option
    chosen by the caller handled it; ``resolution`` says how) or
    ``"warning"`` (weighting goes on). ``count`` is the number of respondents
    concerned (0 for target-only findings).

    ``message`` and ``resolution`` are English; callers that explain a finding in
    their own words use ``kind`` and the data: ``margin`` (a name such as
    ``"gender × age_group"``), ``variable``, ``categories``, ``count`` and
    ``params``, what else the message says, per kind: ``collapsed``: ``label``
    (the merged category); ``untargeted``: ``target_categories`` (per variable)
    or ``cells`` (per margin); ``uncovered``: ``counts`` (category → respondents);
    ``empty_target``: ``population``; ``tiny_cell``: ``min_cell_size`` and
    ``sizes`` (cell → respondents); ``totals_disagree``: ``other`` (the margin
    compared with), ``total``, ``reference``, ``difference`` (relative);
    ``implied_margin``: ``through`` (the finer margin); ``infeasible_bounds``:
    ``lower``, ``upper``. Findings about one margin's cells (``untargeted`` per
    margin, ``empty_target``, ``tiny_cell``) also give its ``variables``, in the
    order of the cells' labels.
    """

    kind: str
    severity: Literal["error", "resolved", "warning"]
    message: str
    margin: str | None = None
    variable: str | None = None
    categories: tuple[Hashable, ...] = ()
    count: int = 0
    resolution: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class ValidationReport:
    """All findings of the input check, in the order they were made."""

    issues: tuple[ValidationIssue, ...]

    @property
    def errors(self) -> tuple[ValidationIssue, ...]:
        """Findings that stop weighting."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def ok(self) -> bool:
        """True when nothing stops weighting."""
        return not self.errors

    def explain(self) -> str:
        """A readable list of the findings, errors first."""
        lines = []
        for issue in sorted(self.issues, key=lambda i: ("error", "resolved", "warning").index(i.severity)):
            line = f"- [{issue.severity}] {issue.message}"
            if issue.resolution:
                line += f" -> {issue.resolution}"
            lines.append(line)
        return "\n".join(lines)


@dataclass(frozen=True)
class MarginFit:
    """How one margin was met.

    ``targets`` are the population totals used (after collapsing, ``partial``
    and ``align_totals``), ``achieved`` the weighted totals of the final
    weights (in population units, before any scaling to ``n``), ``ignored``
    the target categories left out by ``partial``, ``uncovered_total`` the
    weight of uncovered respondents in this margin, and ``metadata`` the
    target Series' ``attrs`` (source, reference date), passed through.
    ``implied_by`` names the finer margin whose totals imply this one when it
    was not fitted on its own (see :data:`UNCOVERED_RULE`); its error is then
    reported but does not decide convergence.
    """

    key: TargetKey
    variables: tuple[str, ...]
    targets: pd.Series
    achieved: pd.Series
    max_relative_error: float
    ignored: tuple[Hashable, ...] = ()
    uncovered_total: float = 0.0
    metadata: Mapping[str, Any] = field(default_factory=dict)
    implied_by: TargetKey | None = None


@dataclass(frozen=True)
class TrimmingRecord:
    """What trimming did: absolute bounds used, rule, rounds of
    trim-and-reweight, respondents outside the bounds before the first trim,
    and whether the bounds held at the end."""

    lower: float
    upper: float
    redistribution: str
    strict: bool
    reweight: bool
    rounds: int
    n_trimmed: int
    within_bounds: bool


@dataclass(frozen=True, eq=False)
class WeightingResult:
    """Weights and everything needed to report and reproduce them.

    ``weights`` has one entry per input row (0 for dropped rows); ``design``
    carries them with the adjustments for calibration-aware variances.
    ``converged`` is True only when the largest relative margin error is at
    most ``tolerance`` (and, with trimming and reweighting, the bounds hold);
    ``iterations`` are those of the last solve. After trimming *without*
    reweighting, ``converged`` refers to the weighting before trimming while
    ``max_relative_error`` and ``margins`` describe the trimmed weights, whose
    margins no longer hold exactly.
    ``summary`` is :func:`weight_summary` of the kept rows, overall and per
    ``summary_by`` group.
    """

    weights: np.ndarray
    design: SurveyDesign
    method: str
    margins: tuple[MarginFit, ...]
    tolerance: float
    iterations: int
    max_relative_error: float
    converged: bool
    options: Mapping[str, Any]
    report: ValidationReport
    dropped_rows: np.ndarray
    uncovered_counts: Mapping[str, Mapping[Hashable, int]]
    trimming: TrimmingRecord | None
    summary: pd.DataFrame
    metadata: Mapping[str, Any]

    @property
    def design_effect(self) -> float:
        """Kish's design effect of unequal weighting, ``1 + CV^2``."""
        return float(self.summary.loc["all", "deff"])

    @property
    def effective_sample_size(self) -> float:
        """Kish's effective sample size ``n / deff = (sum w)^2 / sum w^2``."""
        return float(self.summary.loc["all", "effective_n"])


class WeightingOptions(TypedDict, total=False):
    """Keyword options shared by every method (see :func:`weight`)."""

    weights: str | np.ndarray | pd.Series | None
    scale: Literal["population", "sample"]
    collapse: Collapse | None
    partial: bool
    uncovered: Mapping[str, Sequence[Hashable]] | None
    drop_unmatched: bool
    align_totals: bool
    bounds: tuple[float, float] | None
    trim: Trim | None
    tolerance: float
    max_iterations: int
    on_nonconvergence: Literal["error", "warn"]
    min_cell_size: int
    summary_by: str | None
    metadata: Mapping[str, Any] | None


# ---------------------------------------------------------------------------
# Input preparation and checks
# ---------------------------------------------------------------------------


@dataclass
class _MarginInput:
    key: TargetKey
    variables: tuple[str, ...]
    series: pd.Series | None  # categorical margin (collapsed labels)
    total: float | None  # numeric (continuous) margin
    metadata: dict[str, Any]


@dataclass
class _Problem:
    """Everything the solvers need, after the checks."""

    table: _cells.CellTable
    base: np.ndarray | None
    keep_cell: np.ndarray
    margins: list[Margin]
    margin_inputs: list[_MarginInput]  # categorical ones, aligned with margins
    margin_labels: list[list[Hashable]]  # label of every target group
    margin_ignored: list[tuple[Hashable, ...]]
    implied_by: list[TargetKey | None]
    continuous: list[tuple[str, np.ndarray, float, dict[str, Any]]]
    reference_total: float
    report: ValidationReport
    dropped_rows: np.ndarray
    uncovered_counts: dict[str, dict[Hashable, int]]
    n: int


def _margin_name(key: TargetKey) -> str:
    return key if isinstance(key, str) else " × ".join(key)


def _parse_targets(
    respondents: pd.DataFrame, targets: Targets, allow_numeric: bool
) -> list[_MarginInput]:
    if not isinstance(targets, Mapping) or not targets:
        raise ValueError("targets must be a non-empty mapping {variable or tuple of variables: Series of counts}")
    inputs: list[_MarginInput] = []
    for key, value in targets.items():
        if isinstance(key, str):
            variables: tuple[str, ...] = (key,)
        elif isinstance(key, tuple) and key and all(isinstance(k, str) for k in key) and len(set(key)) == len(key):
            variables = key
        else:
            raise ValueError(
                f"target key {key!r} must be a column name or a tuple of distinct column names"
            )
        for variable in variables:
            if variable not in respondents.columns:
                raise ValueError(
                    f"targets name {variable!r} but the respondents have no such column "
                    f"(columns: {list(respondents.columns)})"
                )
        name = _margin_name(key)
        if isinstance(value, pd.Series):
            if len(variables) == 1 and isinstance(value.index, pd.MultiIndex) and value.index.nlevels != 1:
                raise ValueError(f"targets[{name!r}] has a MultiIndex but names one variable")
            if len(variables) > 1 and (
                not isinstance(value.index, pd.MultiIndex) or value.index.nlevels != len(variables)
            ):
                raise ValueError(
                    f"targets[{name!r}] must be indexed by a MultiIndex with {len(variables)} levels, "
                    f"one per variable {variables}"
                )
            if value.empty:
                raise ValueError(f"targets[{name!r}] is empty")
            if value.index.has_duplicates:
                raise ValueError(f"targets[{name!r}] lists a category more than once")
            numbers_ = pd.to_numeric(value, errors="coerce").astype(float)
            if numbers_.isna().any() or not np.all(np.isfinite(numbers_.to_numpy())):
                bad = list(numbers_.index[~np.isfinite(numbers_.to_numpy())])
                raise ValueError(f"targets[{name!r}] has missing or non-numeric counts for {bad}")
            if (numbers_ < 0).any():
                raise ValueError(f"targets[{name!r}] has negative counts for {list(numbers_.index[numbers_ < 0])}")
            inputs.append(_MarginInput(key, variables, numbers_, None, dict(value.attrs)))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            if not allow_numeric:
                raise ValueError(
                    f"targets[{name!r}] is a number: a total of a numeric variable can only be used by "
                    "calibration methods (linear, truncated_linear, logit, raking_ratio)"
                )
            if len(variables) != 1:
                raise ValueError(f"a numeric total needs one numeric column, not {variables}")
            if not math.isfinite(float(value)):
                raise ValueError(f"targets[{name!r}] must be a finite number")
            inputs.append(_MarginInput(key, variables, None, float(value), {}))
        else:
            raise ValueError(
                f"targets[{name!r}] must be a pandas Series of population counts by category "
                f"(or a number for calibration on a numeric column), got {type(value).__name__}"
            )
    return inputs


def _apply_collapse(
    respondents: pd.DataFrame, inputs: list[_MarginInput], collapse: Collapse | None
) -> dict[str, dict[Hashable, Hashable]]:
    maps: dict[str, dict[Hashable, Hashable]] = {}
    if not collapse:
        return maps
    categorical_vars = {v for m in inputs if m.series is not None for v in m.variables}
    for variable, groups in collapse.items():
        if variable not in categorical_vars:
            raise ValueError(f"collapse names {variable!r}, which no categorical target uses")
        column = respondents[variable]
        order = None
        if isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.ordered:
            order = list(column.cat.categories)
        maps[variable] = _cells.collapse_map(variable, groups, order)  # type: ignore[arg-type]
    for margin in inputs:
        if margin.series is None:
            continue
        series = margin.series
        index = series.index
        if len(margin.variables) == 1:
            mapping = maps.get(margin.variables[0])
            if mapping:
                labels = [mapping.get(x, x) for x in index]
                series = series.groupby(pd.Index(labels, dtype=object), sort=False).sum()
        else:
            arrays = []
            changed = False
            for level, variable in enumerate(margin.variables):
                values = list(index.get_level_values(level))
                mapping = maps.get(variable)
                if mapping:
                    values = [mapping.get(x, x) for x in values]
                    changed = True
                arrays.append(pd.Index(values, dtype=object))
            if changed:
                series = series.groupby(arrays, sort=False).sum()
                series.index = pd.MultiIndex.from_tuples(list(series.index))
        margin.series = series
    for variable, mapping in maps.items():
        known = set()
        for margin in inputs:
            if margin.series is not None and variable in margin.variables:
                level = margin.variables.index(variable)
                idx = margin.series.index
                known |= set(idx if len(margin.variables) == 1 else idx.get_level_values(level))
        missing = [label for label in set(mapping.values()) if label not in known]
        if missing:
            raise ValueError(
                f"collapse[{variable!r}]: the merged categories {missing} are in no target; "
                "name categories that the targets list"
            )
    return maps


def _level_tuples(series: pd.Series, n_vars: int) -> list[tuple[Hashable, ...]]:
    if n_vars == 1:
        return [(x,) for x in series.index]
    return [tuple(x) for x in series.index]


def _base_weights(respondents: pd.DataFrame, weights: Any) -> np.ndarray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in respondents.columns:
            raise ValueError(f"weights names column {weights!r}, which the respondents do not have")
        values = pd.to_numeric(respondents[weights], errors="coerce").to_numpy(dtype=float)
    else:
        if isinstance(weights, pd.Series) and not weights.index.equals(respondents.index):
            raise ValueError("the weights Series must have the same index as the respondents")
        values = np.asarray(weights, dtype=float)
    if values.shape != (len(respondents),):
        raise ValueError(f"weights must have one value per respondent ({len(respondents)}), got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError("base weights must be positive finite numbers for every respondent")
    return values


def _prepare(
    respondents: pd.DataFrame,
    targets: Targets,
    spec: MethodSpec,
    *,
    weights: Any,
    collapse: Collapse | None,
    partial: bool,
    uncovered: Mapping[str, Sequence[Hashable]] | None,
    drop_unmatched: bool,
    align_totals: bool,
    bounds: tuple[float, float] | None,
    trim: Trim | None,
    tolerance: float,
    min_cell_size: int,
    scale: str,
) -> _Problem:
    if not isinstance(respondents, pd.DataFrame):
        raise ValueError("respondents must be a pandas DataFrame, one row per respondent")
    if len(respondents) == 0:
        raise ValueError("there are no respondents to weight")
    inputs = _parse_targets(respondents, targets, allow_numeric=spec.kind == "calibrate")
    categorical = [m for m in inputs if m.series is not None]
    if not categorical:
        raise ValueError("targets need at least one categorical margin (a Series of counts by category)")
    if spec.kind == "poststratify" and len(inputs) != 1:
        raise ValueError(
            "post-stratification uses one margin: give the full cross as one target, e.g. "
            "{('gender', 'age_group', 'district'): counts}, or use method='rake' for several margins"
        )
    collapse_maps = _apply_collapse(respondents, inputs, collapse)
    base = _base_weights(respondents, weights)

    uncovered_map = {v: tuple(c) for v, c in (uncovered or {}).items()}
    issues: list[ValidationIssue] = []
    for variable, mapping in collapse_maps.items():
        merged: dict[Hashable, list[Hashable]] = {}
        for original, label in mapping.items():
            merged.setdefault(label, []).append(original)
        for label, originals in merged.items():
            issues.append(ValidationIssue(
                kind="collapsed", severity="resolved",
                message=f"categories {originals} of {variable!r} are merged into {label!r} in data and targets",
                variable=variable, categories=tuple(originals), resolution="collapse= chosen by the caller",
                params={"label": label},
            ))

    # Target levels of every variable, in first-seen order.
    target_levels: dict[str, list[Hashable]] = {}
    for margin in categorical:
        assert margin.series is not None
        for level, variable in enumerate(margin.variables):
            labels = target_levels.setdefault(variable, [])
            seen = set(labels)
            idx = margin.series.index
            for label in idx if len(margin.variables) == 1 else idx.get_level_values(level):
                if label not in seen:
                    labels.append(label)
                    seen.add(label)
    for variable, categories in uncovered_map.items():
        clash = [c for c in categories if c in target_levels.get(variable, [])]
        if clash:
            raise ValueError(
                f"uncovered[{variable!r}] lists {clash}, which have population figures; "
                "list only categories without targets"
            )

    table = _cells.encode(respondents, target_levels, collapse_maps, base)
    n_cells = table.n_cells
    count = table.count
    present = count > 0

    # Per variable: which levels are target, uncovered, other, missing.
    level_kind: dict[str, np.ndarray] = {}  # per level: 0 target, 1 uncovered, 2 unknown, 3 missing
    uncovered_counts: dict[str, dict[Hashable, int]] = {}
    bad_cell = np.zeros(n_cells, dtype=bool)
    for position, variable in enumerate(table.variables):
        kinds = np.full(variable.radix, 2, dtype=np.int8)
        kinds[: variable.n_target] = 0
        kinds[-1] = 3
        for level in range(variable.n_target, len(variable.levels)):
            if variable.levels[level] in uncovered_map.get(variable.name, ()):
                kinds[level] = 1
        level_kind[variable.name] = kinds
        levels_here = table.levels_of_cell[position]
        per_level = np.bincount(levels_here, weights=count, minlength=variable.radix)
        n_missing = int(per_level[-1])
        if n_missing:
            issues.append(ValidationIssue(
                kind="missing", severity="resolved" if drop_unmatched else "error",
                message=f"{n_missing} respondents have no value for {variable.name!r}",
                variable=variable.name, count=n_missing,
                resolution="dropped (drop_unmatched=True)" if drop_unmatched else
                "fill in the values or pass drop_unmatched=True to drop these respondents and renormalise",
            ))
        unknown = [(variable.levels[lv], int(per_level[lv])) for lv in range(variable.n_target, len(variable.levels))
                   if kinds[lv] == 2 and per_level[lv] > 0]
        if unknown:
            labels = tuple(label for label, _ in unknown)
            total = sum(c for _, c in unknown)
            issues.append(ValidationIssue(
                kind="untargeted", severity="resolved" if drop_unmatched else "error",
                message=(f"{total} respondents are in categories of {variable.name!r} without targets: "
                         f"{dict(unknown)} (targets list {target_levels[variable.name]})"),
                variable=variable.name, categories=labels, count=total,
                resolution="dropped (drop_unmatched=True)" if drop_unmatched else
                "add targets, merge categories with collapse=, declare them uncovered= "
                "or pass drop_unmatched=True",
                params={"counts": dict(unknown), "target_categories": tuple(target_levels[variable.name])},
            ))
        covered = [(variable.levels[lv], int(per_level[lv])) for lv in range(variable.n_target, len(variable.levels))
                   if kinds[lv] == 1 and per_level[lv] > 0]
        if covered:
            uncovered_counts[variable.name] = dict(covered)
            issues.append(ValidationIssue(
                kind="uncovered", severity="resolved",
                message=(f"{sum(c for _, c in covered)} respondents are in categories of {variable.name!r} "
                         f"without population figures: {dict(covered)}"),
                variable=variable.name, categories=tuple(k for k, _ in covered),
                count=sum(c for _, c in covered), resolution=UNCOVERED_RULE,
                params={"counts": dict(covered)},
            ))
        bad_cell |= kinds[levels_here] >= 2

    # Build the margins' cell → group maps.
    margins_raw: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, int, list[Hashable]]] = []
    margin_sizes: list[list[int]] = []
    for margin in categorical:
        assert margin.series is not None
        positions = [table.variable(v)[0] for v in margin.variables]
        sizes = [table.variables[p].n_target for p in positions]
        n_target = int(np.prod(sizes))
        target = np.full(n_target, np.nan)
        level_index = [{label: i for i, label in enumerate(target_levels[v])} for v in margin.variables]
        for labels, value in zip(_level_tuples(margin.series, len(margin.variables)), margin.series.to_numpy(), strict=True):
            flat = np.ravel_multi_index(tuple(level_index[k][label] for k, label in enumerate(labels)), sizes)
            target[flat] = value
        group_labels = [
            tuple(target_levels[v][i] for v, i in zip(margin.variables, combo, strict=True))
            if len(margin.variables) > 1 else target_levels[margin.variables[0]][combo[0]]
            for combo in np.ndindex(*sizes)
        ]
        levels = [table.levels_of_cell[p] for p in positions]
        kinds = [level_kind[v][lv] for v, lv in zip(margin.variables, levels, strict=True)]
        all_target = np.all([k == 0 for k in kinds], axis=0)
        groups = np.full(n_cells, -1, dtype=np.int64)
        if all_target.any():
            flat = np.ravel_multi_index(tuple(np.where(all_target, lv, 0) for lv in levels), sizes)
            has_target = all_target & ~np.isnan(target[flat])
            groups[has_target] = flat[has_target]
        unc_positions = [k for k, v in enumerate(margin.variables) if np.any((kinds[k] == 1) & present)]
        collapsed = None
        n_collapsed = 0
        if len(unc_positions) > 1:
            raise ValueError(
                f"margin {_margin_name(margin.key)!r}: more than one of its variables has uncovered "
                "categories; the uncovered rule handles one variable per margin"
            )
        if unc_positions:
            k = unc_positions[0]
            other = [j for j in range(len(margin.variables)) if j != k]
            other_sizes = [sizes[j] for j in other]
            n_collapsed = int(np.prod(other_sizes)) if other else 1
            combos = np.array(list(np.ndindex(*sizes))).reshape(-1, len(sizes))
            collapsed = (np.ravel_multi_index(tuple(combos[:, j] for j in other), other_sizes)
                         if other else np.zeros(n_target, dtype=np.int64))
            is_unc = (kinds[k] == 1) & np.all([kinds[j] == 0 for j in other], axis=0) if other else (kinds[k] == 1)
            if other:
                ckey = np.ravel_multi_index(tuple(np.where(is_unc, levels[j], 0) for j in other), other_sizes)
            else:
                ckey = np.zeros(n_cells, dtype=np.int64)
            groups[is_unc] = n_target + ckey[is_unc]
        # Respondents in valid categories but in no target cell of this margin.
        orphan = present & (groups < 0) & ~bad_cell
        if orphan.any():
            n_orphan = int(count[orphan].sum())
            examples = [
                tuple(table.variables[p].levels[table.levels_of_cell[p][c]] for p in positions)
                for c in np.flatnonzero(orphan)[:5]
            ]
            issues.append(ValidationIssue(
                kind="untargeted", severity="resolved" if drop_unmatched else "error",
                message=(f"margin {_margin_name(margin.key)!r} has no target for {n_orphan} respondents "
                         f"in cells such as {examples}"),
                margin=_margin_name(margin.key), categories=tuple(examples), count=n_orphan,
                resolution="dropped (drop_unmatched=True)" if drop_unmatched else
                "complete the target table or pass drop_unmatched=True",
                params={"cells": tuple(examples), "variables": tuple(margin.variables)},
            ))
            bad_cell |= orphan
        margins_raw.append((groups, target, collapsed, n_collapsed, group_labels))
        margin_sizes.append(sizes)

    # Respondents in target cells whose population is zero.
    for margin, (groups, target, collapsed, n_collapsed, labels) in zip(categorical, margins_raw, strict=True):
        n_target = target.size
        zero_groups = np.flatnonzero(target == 0)
        in_zero = present & ~bad_cell & np.isin(groups, zero_groups)
        if collapsed is not None:
            active = ~np.isnan(target)
            target_c = np.bincount(collapsed[active], weights=target[active], minlength=n_collapsed)
            in_zero |= present & ~bad_cell & (groups >= n_target) & (
                target_c[np.clip(groups - n_target, 0, n_collapsed - 1)] == 0)
        if in_zero.any():
            n_zero = int(count[in_zero].sum())
            issues.append(ValidationIssue(
                kind="zero_target", severity="resolved" if drop_unmatched else "error",
                message=(f"margin {_margin_name(margin.key)!r}: {n_zero} respondents are in cells whose "
                         "population count is 0"),
                margin=_margin_name(margin.key), count=n_zero,
                resolution="dropped (drop_unmatched=True)" if drop_unmatched else
                "check the targets (a population of 0 cannot have respondents) or pass drop_unmatched=True",
            ))
            bad_cell |= in_zero

    keep_cell = present & ~bad_cell
    base_total = np.where(keep_cell, table.base_total, 0.0)
    kept_count = np.where(keep_cell, count, 0.0)
    if not keep_cell.any():
        found = ValidationReport(tuple(issues))
        raise WeightingInputError("no respondent is left to weight after dropping rows without targets:\n"
                                  + found.explain(), kind="nobody_left", report=found)

    # Empty target cells, partial, tiny cells.
    margins: list[Margin] = []
    ignored_all: list[tuple[Hashable, ...]] = []
    for margin, (groups, target, collapsed, n_collapsed, labels) in zip(categorical, margins_raw, strict=True):
        groups = np.where(keep_cell, groups, -1)
        n_target = target.size
        sizes_g = np.bincount(np.where(groups >= 0, groups, n_target + n_collapsed),
                              weights=kept_count, minlength=n_target + n_collapsed + 1)
        empty = np.flatnonzero((target > 0) & (sizes_g[:n_target] == 0))
        ignored: tuple[Hashable, ...] = ()
        name = _margin_name(margin.key)
        if empty.size:
            empty_labels = tuple(labels[g] for g in empty)
            mass = float(target[empty].sum())
            issues.append(ValidationIssue(
                kind="empty_target", severity="resolved" if partial else "error",
                message=(f"margin {name!r}: no respondents in {empty.size} target cells "
                         f"{list(empty_labels)[:10]} (population {mass:g})"),
                margin=name, categories=empty_labels,
                resolution="ignored (partial=True): their population is not represented" if partial else
                "merge neighbouring categories with collapse=, or pass partial=True to ignore these cells",
                params={"population": mass, "variables": tuple(margin.variables)},
            ))
            if partial:
                target = target.copy()
                target[empty] = np.nan
                ignored = empty_labels
        if len(margin.variables) > 1 and min_cell_size > 0:
            tiny = np.flatnonzero((sizes_g[:n_target] > 0) & (sizes_g[:n_target] < min_cell_size))
            if tiny.size:
                issues.append(ValidationIssue(
                    kind="tiny_cell", severity="warning",
                    message=(f"margin {name!r}: {tiny.size} cells have fewer than {min_cell_size} respondents: "
                             f"{[(labels[g], int(sizes_g[g])) for g in tiny[:10]]}"),
                    margin=name, categories=tuple(labels[g] for g in tiny),
                    resolution="weights in these cells rest on few respondents; consider collapse=",
                    params={"min_cell_size": min_cell_size, "sizes": {labels[g]: int(sizes_g[g]) for g in tiny},
                            "variables": tuple(margin.variables)},
                ))
        margins.append(Margin(groups=groups, target=target, collapsed=collapsed, n_collapsed=n_collapsed))
        ignored_all.append(ignored)

    # Totals that disagree between margins.
    totals = [float(np.nansum(m.target)) for m in margins]
    reference = totals[0]
    for i, (margin, total) in enumerate(zip(categorical, totals, strict=True)):
        if i == 0 or reference <= 0:
            continue
        gap = abs(total - reference) / reference
        if gap > tolerance:
            name = _margin_name(margin.key)
            first = _margin_name(categorical[0].key)
            issues.append(ValidationIssue(
                kind="totals_disagree", severity="resolved" if align_totals else "error",
                message=(f"margin {name!r} totals {total:.10g} but {first!r} totals {reference:.10g} "
                         f"(relative difference {gap:.3g}); raking cannot meet both"),
                margin=name,
                params={"other": first, "total": total, "reference": reference, "difference": gap},
                resolution=f"scaled to {reference:.10g} (align_totals=True)" if align_totals else
                "use figures for the same population and date, or pass align_totals=True to scale every "
                "margin to the first one's total",
            ))
            if align_totals:
                margins[i] = Margin(groups=margins[i].groups, target=margins[i].target * (reference / total),
                                    collapsed=margins[i].collapsed, n_collapsed=margins[i].n_collapsed)
    if reference <= 0:
        raise WeightingInputError("the first margin's population total is 0", kind="zero_population",
                                  report=ValidationReport(tuple(issues)))

    # Margins nested in finer ones (gender in district x gender) must agree with
    # them; with uncovered respondents the coarse one is implied and not fitted.
    implied_by: list[TargetKey | None] = [None] * len(margins)
    for a, coarse in enumerate(categorical):
        for b, fine in enumerate(categorical):
            if a == b or not set(coarse.variables) < set(fine.variables) or implied_by[a] is not None:
                continue
            fine_target = margins[b].target
            active = np.flatnonzero(~np.isnan(fine_target))
            combos = np.unravel_index(active, margin_sizes[b])
            picks = tuple(combos[fine.variables.index(v)] for v in coarse.variables)
            coarse_group = np.ravel_multi_index(picks, margin_sizes[a])
            implied = np.bincount(coarse_group, weights=fine_target[active], minlength=margins[a].target.size)
            own = margins[a].target
            check = ~np.isnan(own)
            gap = np.abs(implied[check] - own[check]) / np.maximum(own[check], 1e-300)
            coarse_name, fine_name = _margin_name(coarse.key), _margin_name(fine.key)
            if gap.size and gap.max() > tolerance:
                issues.append(ValidationIssue(
                    kind="totals_disagree", severity="error", margin=coarse_name,
                    message=(f"margin {coarse_name!r} disagrees with {fine_name!r} summed over the other "
                             f"variables (largest relative difference {gap.max():.3g}); no weights meet both"),
                    resolution=f"give only one of them, or make {coarse_name!r} the sum of {fine_name!r}",
                    params={"other": fine_name, "difference": float(gap.max())},
                ))
            elif margins[a].collapsed is not None:
                implied_by[a] = fine.key
                issues.append(ValidationIssue(
                    kind="implied_margin", severity="resolved", margin=coarse_name,
                    message=(f"margin {coarse_name!r} is the sum of {fine_name!r}; with uncovered respondents "
                             "the two would ask for slightly different shares"),
                    resolution=f"{coarse_name!r} is met through {fine_name!r} and not fitted on its own",
                    params={"through": fine_name},
                ))

    # Bounds on the calibration factor.
    kept_base = float(base_total.sum())
    if bounds is not None:
        lower, upper = (float(bounds[0]), float(bounds[1]))
        scale_base = reference / kept_base if base is None else 1.0
        infeasible: list[str] = []
        for margin, m in zip(categorical, margins, strict=True):
            n_t = m.target.size
            reach = np.bincount(np.where(m.groups >= 0, m.groups, m.n_groups), weights=base_total * scale_base,
                                minlength=m.n_groups + 1)[:n_t]
            active = ~np.isnan(m.target) & (m.target > 0)
            labels = margins_raw[categorical.index(margin)][4]
            for g in np.flatnonzero(active & ((reach * upper < m.target * (1 - 1e-12)) |
                                              (reach * lower > m.target * (1 + 1e-12)))):
                infeasible.append(f"{_margin_name(margin.key)} {labels[g]!r}: target {m.target[g]:g} outside "
                                  f"[{reach[g] * lower:g}, {reach[g] * upper:g}]")
        if infeasible:
            issues.append(ValidationIssue(
                kind="infeasible_bounds", severity="error",
                message=("bounds " + str((lower, upper)) + " on g = w / d cannot reach "
                         + "; ".join(infeasible[:10])
                         + ("" if base is None else f" (the base weights sum to {kept_base:g}, "
                            f"the population to {reference:g})")),
                resolution="widen the bounds or collapse small categories",
                params={"lower": lower, "upper": upper},
            ))
    if trim is not None and trim.reweight:
        n_kept = float(kept_count.sum())
        factor = 1.0 if scale == "population" else n_kept / reference
        lo, hi = trim.lower, trim.upper
        if trim.relative_to == "mean":
            lo, hi = lo * reference / n_kept, hi * reference / n_kept
        else:
            lo, hi = lo / factor, hi / factor
        infeasible = []
        for margin, m in zip(categorical, margins, strict=True):
            n_t = m.target.size
            size = np.bincount(np.where(m.groups >= 0, m.groups, m.n_groups), weights=kept_count,
                               minlength=m.n_groups + 1)[:n_t]
            active = ~np.isnan(m.target) & (m.target > 0)
            labels = margins_raw[categorical.index(margin)][4]
            for g in np.flatnonzero(active & ((size * hi < m.target * (1 - 1e-12)) | (size * lo > m.target * (1 + 1e-12)))):
                infeasible.append(f"{_margin_name(margin.key)} {labels[g]!r}: {int(size[g])} respondents "
                                  f"cannot carry {m.target[g]:g}")
        if infeasible:
            issues.append(ValidationIssue(
                kind="infeasible_bounds", severity="error",
                message="trimming bounds with reweight=True cannot meet the targets: " + "; ".join(infeasible[:10]),
                resolution="widen the trimming bounds or drop reweight",
                params={"lower": trim.lower, "upper": trim.upper},
            ))

    # Numeric (continuous) totals.
    continuous = []
    for margin in inputs:
        if margin.series is None:
            column = pd.to_numeric(respondents[margin.variables[0]], errors="coerce").to_numpy(dtype=float)
            if not np.all(np.isfinite(column)):
                raise ValueError(f"numeric calibration variable {margin.variables[0]!r} has missing values")
            assert margin.total is not None
            continuous.append((margin.variables[0], column, margin.total, margin.metadata))

    report = ValidationReport(tuple(issues))
    if (present & ~keep_cell).any():
        dropped_rows = np.flatnonzero(~keep_cell[table.cell])
    else:
        dropped_rows = np.empty(0, dtype=np.intp)
    return _Problem(
        table=table, base=base, keep_cell=keep_cell, margins=margins, margin_inputs=categorical,
        margin_labels=[raw[4] for raw in margins_raw], margin_ignored=ignored_all, implied_by=implied_by,
        continuous=continuous,
        reference_total=reference, report=report, dropped_rows=dropped_rows,
        uncovered_counts=uncovered_counts, n=len(respondents),
    )


# ---------------------------------------------------------------------------
# Solving
# ---------------------------------------------------------------------------


@dataclass
class _State:
    """Current weights: ``base[i] * start[cell[i]]`` (``base`` None: ones)."""

    base: np.ndarray | None
    start: np.ndarray
    base_total: np.ndarray  # sum of base per cell, kept cells only


def _cell_weights(problem: _Problem, state: _State) -> np.ndarray:
    return state.start * state.base_total


def _fitted(problem: _Problem) -> list[Margin]:
    return [m for m, implied in zip(problem.margins, problem.implied_by, strict=True) if implied is None]


def _max_margin_error(problem: _Problem, cell_totals: np.ndarray) -> float:
    return max(m.max_error(cell_totals) for m in _fitted(problem))


def _current_error(problem: _Problem, state: _State) -> float:
    """Largest relative error of every fitted margin for the current weights."""
    error = _max_margin_error(problem, _cell_weights(problem, state))
    if problem.continuous:
        w = state.start[problem.table.cell] * (1.0 if state.base is None else state.base)
        for _, values, total, _meta in problem.continuous:
            error = max(error, abs(float(values @ w) - total) / max(abs(total), 1e-300))
    return error


def _has_uncovered(margin: Margin) -> bool:
    """Does the margin weight any uncovered respondent (by the uncovered rule)?"""
    return margin.collapsed is not None and bool((margin.groups >= margin.target.size).any())


def _constraint_model(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """The calibration constraints of the fitted margins on the cell table.

    Returns ``X`` (cells x constraints) and the totals ``T`` with
    ``sum_cells W_cell X = T`` at the solution. An ordinary margin gives one
    indicator per target cell with its population. A margin with uncovered
    respondents (:data:`UNCOVERED_RULE`) gives, per collapsed cell ``c`` with
    a positive total, the indicator of every respondent in ``c`` (total
    ``T_c``) and, per covered category ``g`` of ``c``, ``[cell in g] - s_g
    [covered cell in c]`` with ``s_g = T_g / T_c`` (total 0: the covered
    categories keep their population shares). These span the same space as
    the fractional memberships ``[cell in g] + s_g [uncovered cell in c]``
    with totals ``T_g``, the form the R reference uses.
    """
    columns: list[np.ndarray] = []
    column_totals: list[float] = []
    for margin in _fitted(problem):
        n_t = margin.target.size
        active = np.flatnonzero(~np.isnan(margin.target))
        if margin.collapsed is None:
            for g in active:
                columns.append((margin.groups == g).astype(float))
                column_totals.append(float(margin.target[g]))
        else:
            unc_c = np.where(margin.groups >= n_t, margin.groups - n_t, -1)
            cov_c = np.where((margin.groups >= 0) & (margin.groups < n_t),
                             margin.collapsed[np.clip(margin.groups, 0, n_t - 1)], -1)
            cell_c = np.where(unc_c >= 0, unc_c, cov_c)
            target_c = np.bincount(margin.collapsed[active], weights=margin.target[active],
                                   minlength=margin.n_collapsed)
            for c in range(margin.n_collapsed):
                if target_c[c] > 0:
                    columns.append((cell_c == c).astype(float))
                    column_totals.append(float(target_c[c]))
            for g in active:
                c = margin.collapsed[g]
                if target_c[c] > 0:
                    columns.append((margin.groups == g) - (margin.target[g] / target_c[c]) * (cov_c == c))
                    column_totals.append(0.0)
    return np.column_stack(columns), np.asarray(column_totals)


def _solve(problem: _Problem, spec: MethodSpec, state: _State, bounds: tuple[float, float] | None,
           tolerance: float, max_iterations: int) -> tuple[_State, Adjustment, int, float, bool]:
    table = problem.table
    table0 = _cell_weights(problem, state)
    keep = problem.keep_cell
    if spec.kind in ("poststratify", "rake"):
        iterations_cap = 1 if spec.kind == "poststratify" else max_iterations
        outcome = ipf(table0, tuple(_fitted(problem)), tolerance, iterations_cap)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(table0 > 0, outcome.table / np.where(table0 > 0, table0, 1.0), 0.0)
        new_state = _State(base=state.base, start=state.start * factor, base_total=state.base_total)
        adjustment: Adjustment
        if any(_has_uncovered(margin) for margin in _fitted(problem)):
            # The uncovered rule's constraints are not margin indicators, so R's
            # raking residuals (back-fitting group means) do not apply: the IPF
            # limit is R's calibrate(calfun="raking") on the constraint model, and
            # its variance is that of calibrate (see _constraint_model).
            with np.errstate(invalid="ignore", divide="ignore"):
                g_cells = np.where(keep & (table0 > 0), factor, 0.0)
            adjustment = Calibration(cells=table.cell, model=_constraint_model(problem)[0], base=state.base,
                                     base_total=table0, g=g_cells, start=state.start)
        elif spec.kind == "poststratify":
            margin = _fitted(problem)[0]
            adjustment = PostStratification(cells=table.cell, groups=np.where(keep, margin.groups, -1),
                                            base=state.base, base_total=table0, start=state.start)
        else:
            raking_margins = []
            for margin, step in zip(_fitted(problem), outcome.step_tables, strict=True):
                with np.errstate(invalid="ignore", divide="ignore"):
                    step_factor = np.where(table0 > 0, step / np.where(table0 > 0, table0, 1.0), 0.0)
                raking_margins.append(RakingMargin(groups=np.where(keep, margin.groups, -1),
                                                   factor=state.start * step_factor))
            adjustment = Raking(cells=table.cell, base=state.base, count=np.where(keep, table.count, 0.0),
                                margins=tuple(raking_margins))
        return new_state, adjustment, outcome.iterations, outcome.max_error, outcome.converged

    # Calibration.
    assert spec.calfun is not None
    lower, upper = bounds if bounds is not None else (-math.inf, math.inf)
    model_cells, totals = _constraint_model(problem)
    # g is relative to the base weights; without base weights, to equal weights N / n.
    scale = problem.reference_total / float(table0.sum()) if problem.base is None else 1.0
    if problem.continuous:
        # Rows are respondents: x varies within cells.
        w0 = state.start[table.cell] * (1.0 if state.base is None else state.base)
        w0 = np.where(keep[table.cell], w0, 0.0)
        model = np.column_stack([model_cells[table.cell]] + [c[1] for c in problem.continuous])
        totals = np.concatenate([totals, [c[2] for c in problem.continuous]])
        cells_of_rows = table.cell
        n_cells = table.n_cells

        def max_error(row_weights: np.ndarray) -> float:
            cell_totals = np.bincount(cells_of_rows, weights=row_weights, minlength=n_cells)
            errors = [_max_margin_error(problem, cell_totals)]
            for _, values, total, _meta in problem.continuous:
                errors.append(abs(float(values @ row_weights) - total) / max(abs(total), 1e-300))
            return max(errors)

        outcome_n = newton(model, w0 * scale, totals, spec.calfun, lower, upper, max_error, tolerance, max_iterations)
        w = w0 * scale * outcome_n.g
        g_full = scale * outcome_n.g
        adjustment = Calibration(cells=np.arange(problem.n), model=model, base=None, base_total=w0, g=g_full,
                                 start=w0)
        new_base_total = np.where(keep, np.bincount(table.cell, weights=w, minlength=table.n_cells), 0.0)
        new_state = _State(base=w, start=keep.astype(float), base_total=new_base_total)
        return new_state, adjustment, outcome_n.iterations, outcome_n.max_error, outcome_n.converged

    outcome_n = newton(model_cells, table0 * scale, totals, spec.calfun, lower, upper,
                       lambda rw: _max_margin_error(problem, rw), tolerance, max_iterations)
    g_full = scale * outcome_n.g
    adjustment = Calibration(cells=table.cell, model=model_cells, base=state.base, base_total=table0,
                             g=np.where(keep, g_full, 0.0), start=state.start)
    new_state = _State(base=state.base, start=state.start * np.where(keep, g_full, 0.0), base_total=state.base_total)
    return new_state, adjustment, outcome_n.iterations, outcome_n.max_error, outcome_n.converged


def _trim_state(problem: _Problem, state: _State, lower: float, upper: float, trim: Trim) -> tuple[_State, int]:
    keep = problem.keep_cell
    if state.base is None:
        values, n_out, _, _ = trim_counted(state.start[keep], problem.table.count[keep], lower=lower, upper=upper,
                                           strict=trim.strict, redistribution=trim.redistribution)
        start = state.start.copy()
        start[keep] = values
        return _State(base=None, start=start, base_total=state.base_total), n_out
    w = state.base * state.start[problem.table.cell]
    keep_row = keep[problem.table.cell]
    values, n_out, _, _ = trim_counted(w[keep_row], np.ones(int(keep_row.sum())), lower=lower, upper=upper,
                                       strict=trim.strict, redistribution=trim.redistribution)
    new_base = np.ones(problem.n)
    new_base[keep_row] = values
    base_total = np.where(keep, np.bincount(problem.table.cell, weights=new_base, minlength=problem.table.n_cells), 0.0)
    return _State(base=new_base, start=keep.astype(float), base_total=base_total), n_out


def _within(problem: _Problem, state: _State, lower: float, upper: float, slack: float) -> bool:
    keep = problem.keep_cell
    if state.base is None:
        values = state.start[keep & (problem.table.count > 0)]
    else:
        values = (state.base * state.start[problem.table.cell])[keep[problem.table.cell]]
    lo_ok = lower == -math.inf or bool(np.all(values >= lower - slack * abs(lower)))
    hi_ok = upper == math.inf or bool(np.all(values <= upper + slack * abs(upper)))
    return lo_ok and hi_ok


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------

SUMMARY_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


def _summary_row(values: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    held = counts > 0
    values, counts = values[held], counts[held]
    n = float(counts.sum())
    if n == 0:
        return {"n": 0.0}
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    ends = np.cumsum(counts)
    total = float(np.dot(values, counts))
    mean = total / n
    second = float(np.dot(values * values, counts))
    variance = max(second / n - mean * mean, 0.0)
    row = {"n": n, "total": total, "min": float(values[0]), "max": float(values[-1]), "mean": mean}
    for q in SUMMARY_QUANTILES:
        h = (n - 1) * q
        k = math.floor(h)
        lo = values[np.searchsorted(ends, k, side="right")]
        hi = values[np.searchsorted(ends, min(k + 1, n - 1), side="right")]
        row[f"q{round(q * 100):02d}"] = float(lo + (h - k) * (hi - lo))
    cv = math.sqrt(variance) / mean if mean != 0 else math.nan
    deff = n * second / (total * total) if total != 0 else math.nan
    row.update({"cv": cv, "deff": deff, "effective_n": n / deff if deff else math.nan})
    return row


def _summary(values: np.ndarray, counts: np.ndarray, groups: np.ndarray | None,
             labels: Sequence[Hashable]) -> pd.DataFrame:
    rows = {"all": _summary_row(values, counts)}
    if groups is not None:
        for g, label in enumerate(labels):
            mask = groups == g
            if counts[mask].sum() > 0:
                rows[label] = _summary_row(values[mask], counts[mask])  # type: ignore[index]
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.Index(list(rows), dtype=object)
    return frame


def weight_summary(weights: np.ndarray | pd.Series, by: np.ndarray | pd.Series | None = None) -> pd.DataFrame:
    """Distribution of the weights and Kish's design effect, overall and by group.

    One row ``"all"`` and, with ``by`` (one label per respondent, e.g. the
    district), one row per group. Columns: ``n``, ``total``, ``min``, ``max``,
    ``mean``, quantiles ``q05 q25 q50 q75 q95`` (linear interpolation, as
    ``numpy.quantile``), ``cv`` (standard deviation with divisor ``n`` over the
    mean), ``deff`` and ``effective_n``::

        deff        = 1 + CV^2 = n sum(w^2) / (sum w)^2        (Kish 1965, eq. 11.7.6)
        effective_n = n / deff = (sum w)^2 / sum(w^2)

    ``deff`` is the variance inflation of a mean from unequal weights alone,
    not R's ``svymean(deff=TRUE)``, which compares a particular estimate's
    variance with simple random sampling. The weights are sampling weights;
    respondents with weight 0 count in ``n``, so pass only the weighted rows.

    Example:
        >>> weight_summary(np.array([1.0, 1.0, 2.0, 4.0])).loc["all", "deff"]
        np.float64(1.375)
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty one-dimensional array")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or infinite values")
    if by is None:
        return _summary(w, np.ones(w.size), None, [])
    labels_in = np.asarray(by, dtype=object) if not isinstance(by, pd.Series) else by.to_numpy(dtype=object)
    if labels_in.shape != w.shape:
        raise ValueError(f"by must have one label per weight ({w.size}), got shape {labels_in.shape}")
    codes, uniques = pd.factorize(pd.Series(labels_in), sort=True)
    if (codes < 0).any():
        raise ValueError("by has missing labels: fill them in or drop those rows")
    return _summary(w, np.ones(w.size), codes, list(uniques))


# ---------------------------------------------------------------------------
# The public entry points
# ---------------------------------------------------------------------------


def _check_options(spec: MethodSpec, bounds: tuple[float, float] | None, trim: Trim | None, tolerance: float,
                   max_iterations: int, on_nonconvergence: str, scale: str) -> tuple[float, float] | None:
    if not (isinstance(tolerance, numbers.Real) and 0 < tolerance < 1):
        raise ValueError(f"tolerance must be a relative error between 0 and 1, got {tolerance!r}")
    if not (isinstance(max_iterations, int) and max_iterations >= 1):
        raise ValueError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    if on_nonconvergence not in ("error", "warn"):
        raise ValueError(f"on_nonconvergence must be 'error' or 'warn', got {on_nonconvergence!r}")
    if scale not in ("population", "sample"):
        raise ValueError(f"scale must be 'population' (weights sum to the population) or 'sample' (to n), got {scale!r}")
    if spec.bounds == "forbidden" and bounds is not None:
        hint = " (use method='truncated_linear' or 'logit')" if spec.name == "linear" else ""
        raise ValueError(f"method {spec.name!r} takes no bounds{hint}; bound the weights with trim=Trim(...)")
    if spec.bounds == "required" and bounds is None:
        raise ValueError(f"method {spec.name!r} needs bounds=(lower, upper) on the factor g")
    if bounds is not None:
        try:
            lower, upper = (float(bounds[0]), float(bounds[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError("bounds must be a pair (lower, upper) of numbers") from exc
        if not lower <= 1 <= upper or lower == upper:
            raise ValueError(f"bounds must satisfy lower <= 1 <= upper with lower < upper, got {bounds}")
        if spec.calfun == "logit" and not (math.isfinite(lower) and math.isfinite(upper) and lower < 1 < upper):
            raise ValueError(f"logit calibration needs finite bounds with lower < 1 < upper, got {bounds}")
        bounds = (lower, upper)
    if trim is not None:
        if not isinstance(trim, Trim):
            raise ValueError("trim must be an analysis.weighting.Trim(...)")
        if trim.redistribution not in REDISTRIBUTIONS:
            raise ValueError(f"Trim.redistribution must be one of {REDISTRIBUTIONS}, got {trim.redistribution!r}")
        if trim.relative_to not in ("absolute", "mean"):
            raise ValueError(f"Trim.relative_to must be 'absolute' or 'mean', got {trim.relative_to!r}")
        if not trim.lower < trim.upper:
            raise ValueError(f"Trim needs lower < upper, got lower={trim.lower}, upper={trim.upper}")
    return bounds


def weight(
    respondents: pd.DataFrame,
    targets: Targets,
    method: str = "rake",
    *,
    weights: str | np.ndarray | pd.Series | None = None,
    scale: Literal["population", "sample"] = "population",
    collapse: Collapse | None = None,
    partial: bool = False,
    uncovered: Mapping[str, Sequence[Hashable]] | None = DEFAULT_UNCOVERED,
    drop_unmatched: bool = False,
    align_totals: bool = False,
    bounds: tuple[float, float] | None = None,
    trim: Trim | None = None,
    tolerance: float = 1e-10,
    max_iterations: int = 1000,
    on_nonconvergence: Literal["error", "warn"] = "error",
    min_cell_size: int = 5,
    summary_by: str | None = "district",
    metadata: Mapping[str, Any] | None = None,
) -> WeightingResult:
    """Weight respondents to population targets with any registered method.

    Let ``d_i`` be the base weights (``weights``; 1 when omitted) and ``T`` the
    targets. The final weights are ``w_i = d_i g_i`` where, with ``D_g`` the
    base-weight total of margin cell ``g``:

    * ``poststratify``: ``g_i = T_g / D_g`` for the single (cross) margin;
    * ``rake``: ``g`` from iterative proportional fitting, margin by margin
      until ``max |W_g - T_g| / T_g <= tolerance`` (Deming & Stephan 1940);
    * calibration: ``g_i = F(x_i' lambda)`` with ``sum_i d_i g_i x_i = T``,
      where ``x_i`` holds the indicators of every margin (and numeric
      columns), ``F`` linear (GREG), clipped linear, logit or exponential
      (Deville & Särndal 1992). ``bounds=(L, U)`` bound ``g = w / d``
      relative to the base weights as given, as R's ``calibrate``; without
      base weights, relative to equal weights ``N / n``. (R also rescales the
      base weights when every population/sample ratio exceeds 20; this does
      not: give base weights in population units.)

    Options (every choice is recorded in ``result.options`` and
    ``result.report``):

    ``collapse``       merge named neighbouring categories in data and targets,
                       e.g. ``{"age_group": [("65-74", "75+")]}``
    ``partial``        ignore target cells without respondents (R ``partial=TRUE``)
    ``uncovered``      categories without population figures, weighted by the
                       rule :data:`UNCOVERED_RULE`; default :data:`DEFAULT_UNCOVERED`
                       (gender "annan", "uppger_ej"); ``{}`` makes them an error
    ``drop_unmatched`` drop respondents with missing values or without targets
                       (weight 0; the rest carry the population)
    ``align_totals``   scale every margin to the first margin's total
    ``trim``           :class:`Trim` of the final weights, optionally re-weighting
    ``scale``          ``"population"`` (sum of weights = population) or ``"sample"`` (= n)

    Non-convergence raises :class:`ConvergenceError` (``on_nonconvergence=
    "error"``) or warns with :class:`ConvergenceWarning` and returns
    ``converged=False``; it is never reported as converged because the error
    stopped changing.

    The weights are sampling weights in population units (or scaled to n):
    respondent ``i`` stands for ``w_i`` residents. Use ``result.design`` for
    standard errors; it reproduces R's calibration-aware variances.

    Example:
        >>> frame = pd.DataFrame({"gender": ["kvinna", "man", "man", "kvinna"],
        ...                       "age_group": ["16-24", "16-24", "25-34", "25-34"]})
        >>> result = weight(frame, {"gender": pd.Series({"kvinna": 60, "man": 40}),
        ...                         "age_group": pd.Series({"16-24": 30, "25-34": 70})})
        >>> np.round(result.weights, 2)
        array([18., 12., 28., 42.])
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    spec = METHODS[method]
    bounds = _check_options(spec, bounds, trim, tolerance, max_iterations, on_nonconvergence, scale)
    problem = _prepare(
        respondents, targets, spec, weights=weights, collapse=collapse, partial=partial, uncovered=uncovered,
        drop_unmatched=drop_unmatched, align_totals=align_totals, bounds=bounds, trim=trim,
        tolerance=tolerance, min_cell_size=min_cell_size, scale=scale,
    )
    if not problem.report.ok:
        raise WeightingInputError("the respondents and targets cannot be weighted as they are:\n"
                                  + problem.report.explain(), kind="invalid", report=problem.report)

    keep = problem.keep_cell
    start = keep.astype(float)
    base_total = np.where(keep, problem.table.base_total, 0.0)
    state = _State(base=problem.base, start=start, base_total=base_total)
    state, adjustment, iterations, error, converged = _solve(problem, spec, state, bounds, tolerance, max_iterations)
    adjustments: list[Adjustment] = [adjustment]

    n_kept = float(np.where(keep, problem.table.count, 0.0).sum())
    trimming: TrimmingRecord | None = None
    if trim is not None:
        population = float(_cell_weights(problem, state).sum())
        factor = 1.0 if scale == "population" else n_kept / population
        if trim.relative_to == "mean":
            lower, upper = trim.lower * population / n_kept, trim.upper * population / n_kept
        else:
            lower, upper = trim.lower / factor, trim.upper / factor
        rounds = 0
        first_trimmed = 0
        within = _within(problem, state, lower, upper, 0.0)
        if not within:
            while True:
                state, n_out = _trim_state(problem, state, lower, upper, trim)
                if rounds == 0:
                    first_trimmed = n_out
                rounds += 1
                if not trim.reweight:
                    within = _within(problem, state, lower, upper, trim.slack)
                    break
                state, adjustment, iterations, error, converged = _solve(
                    problem, spec, state, bounds, tolerance, max_iterations)
                adjustments.append(adjustment)
                within = _within(problem, state, lower, upper, trim.slack)
                if (within and converged) or rounds >= trim.max_rounds:
                    break
            if trim.reweight and not within:
                converged = False
        trimming = TrimmingRecord(
            lower=lower * factor, upper=upper * factor, redistribution=trim.redistribution, strict=trim.strict,
            reweight=trim.reweight, rounds=rounds, n_trimmed=first_trimmed, within_bounds=within,
        )
        if not trim.reweight:
            # Margins after trimming without re-weighting are reported as they are.
            error = _current_error(problem, state)

    if not converged:
        message = (f"{method} did not converge: largest relative margin error {error:.3g} > tolerance "
                   f"{tolerance:g} after {iterations} iterations")
        if trimming is not None and trim is not None and trim.reweight and not trimming.within_bounds:
            message += f"; weights still outside the trimming bounds after {trimming.rounds} rounds"
        if on_nonconvergence == "error":
            raise ConvergenceError(
                message + " (raise max_iterations, loosen the targets, or pass on_nonconvergence='warn')",
                method=method, max_error=float(error), tolerance=float(tolerance), iterations=int(iterations))
        warnings.warn(message, ConvergenceWarning, stacklevel=2)

    # Margin fits, in population units.
    cell_totals = _cell_weights(problem, state)
    fits: list[MarginFit] = []
    for m, margin_input, labels, ignored, implied in zip(problem.margins, problem.margin_inputs,
                                                          problem.margin_labels, problem.margin_ignored,
                                                          problem.implied_by, strict=True):
        totals = m.totals(cell_totals)
        active = ~np.isnan(m.target)
        index = [labels[g] for g in np.flatnonzero(active)]
        pandas_index = (pd.MultiIndex.from_tuples(index, names=list(margin_input.variables))
                        if len(margin_input.variables) > 1 else pd.Index(index, dtype=object, name=margin_input.variables[0]))
        fits.append(MarginFit(
            key=margin_input.key, variables=margin_input.variables,
            targets=pd.Series(m.target[active], index=pandas_index, name="target"),
            achieved=pd.Series(totals[: m.target.size][active], index=pandas_index, name="achieved"),
            max_relative_error=float(m.relative_errors(totals).max(initial=0.0)),
            ignored=ignored, uncovered_total=float(totals[m.target.size:].sum()), implied_by=implied,
            metadata=margin_input.metadata,
        ))
    final_w_unit: np.ndarray | None = None
    for name, values, total, meta in problem.continuous:
        final_w_unit = (state.start[problem.table.cell] if state.base is None
                        else state.base * state.start[problem.table.cell])
        achieved = float(values @ final_w_unit)
        fits.append(MarginFit(
            key=name, variables=(name,), targets=pd.Series([total], index=[name], name="target"),
            achieved=pd.Series([achieved], index=[name], name="achieved"),
            max_relative_error=abs(achieved - total) / max(abs(total), 1e-300), metadata=meta,
        ))

    # Scale and map back to respondents.
    population = float(cell_totals.sum())
    factor = 1.0 if scale == "population" else n_kept / population
    if state.base is None:
        weights_out = (state.start * factor)[problem.table.cell]
    else:
        weights_out = state.base * (state.start * factor)[problem.table.cell]

    # Summary (on cells when the weights are constant within cells).
    summary_position = next((p for p, v in enumerate(problem.table.variables) if v.name == summary_by), None)
    if state.base is None and (summary_by is None or summary_position is not None
                               or summary_by not in respondents.columns):
        counts = np.where(keep, problem.table.count, 0.0)
        if summary_position is None:
            summary = _summary(state.start * factor, counts, None, [])
        else:
            variable = problem.table.variables[summary_position]
            summary = _summary(state.start * factor, counts, problem.table.levels_of_cell[summary_position],
                               list(variable.levels) + [None])
    else:
        keep_row = keep[problem.table.cell]
        by_values = None
        if summary_by is not None and summary_by in respondents.columns:
            by_values = respondents[summary_by].to_numpy(dtype=object)[keep_row]
        summary = weight_summary(weights_out[keep_row], by_values)

    options = {
        "method": method, "scale": scale, "weights": None if weights is None else (
            weights if isinstance(weights, str) else "array"),
        "collapse": {k: [tuple(g) for g in v] for k, v in (collapse or {}).items()},
        "partial": partial, "uncovered": {k: tuple(v) for k, v in (uncovered or {}).items()},
        "uncovered_rule": UNCOVERED_RULE, "drop_unmatched": drop_unmatched, "align_totals": align_totals,
        "bounds": bounds,
        "bounds_relative_to": None if bounds is None else ("N / n" if weights is None else "base weights"),
        "trim": trim, "max_iterations": max_iterations, "on_nonconvergence": on_nonconvergence,
        "min_cell_size": min_cell_size,
    }
    return WeightingResult(
        weights=weights_out,
        design=SurveyDesign(weights=weights_out, adjustments=tuple(adjustments)),
        method=method, margins=tuple(fits), tolerance=tolerance, iterations=iterations,
        max_relative_error=float(error), converged=bool(converged), options=options, report=problem.report,
        dropped_rows=problem.dropped_rows, uncovered_counts=problem.uncovered_counts, trimming=trimming,
        summary=summary, metadata=dict(metadata or {}),
    )


def check_targets(
    respondents: pd.DataFrame, targets: Targets, method: str = "rake", **options: Unpack[WeightingOptions]
) -> ValidationReport:
    """Check respondents against targets without weighting.

    Reports target categories absent from the respondents, respondents in
    categories without targets (or declared uncovered), missing values, empty
    and tiny cells of cross-classified margins, totals that disagree between
    margins and bounds that cannot be met — with what each chosen option does
    about it. ``weight`` runs the same check and raises ``ValueError`` with
    :meth:`ValidationReport.explain` when an error remains.

    Example:
        >>> frame = pd.DataFrame({"gender": ["kvinna", "man", "annan"]})
        >>> report = check_targets(frame, {"gender": pd.Series({"kvinna": 50, "man": 50})})
        >>> [issue.kind for issue in report.issues]
        ['uncovered']
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    spec = METHODS[method]
    bounds = _check_options(spec, options.get("bounds"), options.get("trim"), options.get("tolerance", 1e-10),
                            options.get("max_iterations", 1000), options.get("on_nonconvergence", "error"),
                            options.get("scale", "population"))
    problem = _prepare(
        respondents, targets, spec, weights=options.get("weights"), collapse=options.get("collapse"),
        partial=options.get("partial", False), uncovered=options.get("uncovered", DEFAULT_UNCOVERED),
        drop_unmatched=options.get("drop_unmatched", False), align_totals=options.get("align_totals", False),
        bounds=bounds, trim=options.get("trim"), tolerance=options.get("tolerance", 1e-10),
        min_cell_size=options.get("min_cell_size", 5), scale=options.get("scale", "population"),
    )
    return problem.report


def rake(respondents: pd.DataFrame, targets: Targets, **options: Unpack[WeightingOptions]) -> WeightingResult:
    """Raking (iterative proportional fitting) to one- and two-way margins.

    Each sweep post-stratifies on every margin in turn::

        w_i <- w_i * T_g(i) / sum_{j in g(i)} w_j          for each margin

    until the largest relative margin error ``max |W_g - T_g| / T_g`` is at
    most ``tolerance`` (Deming & Stephan 1940; R ``survey::rake``, Lumley 2010
    section 7.3). The weights are sampling weights reproducing every margin.
    ``result.design`` gives R's raking-aware standard errors; when respondents
    are weighted by :data:`UNCOVERED_RULE`, those of R's ``calibrate(calfun =
    "raking")`` on the rule's constraints, whose solution the sweeps converge
    to. Options as for :func:`weight`.

    Example:
        >>> frame = pd.DataFrame({"gender": ["kvinna", "man", "man"], "district": ["0180", "0180", "0181"]})
        >>> targets = {"gender": pd.Series({"kvinna": 50, "man": 50}),
        ...            "district": pd.Series({"0180": 70, "0181": 30})}
        >>> np.round(rake(frame, targets).weights, 1)
        array([50., 20., 30.])
    """
    return weight(respondents, targets, "rake", **options)


def poststratify(respondents: pd.DataFrame, targets: Targets, **options: Unpack[WeightingOptions]) -> WeightingResult:
    """Post-stratification on one (cross-classified) margin.

    ``w_i = d_i T_g / D_g`` with ``D_g`` the base-weight total of the
    respondents in post-stratum ``g`` (Kish 1965, section 12.2; R
    ``survey::postStratify``). ``partial=True`` ignores post-strata without
    respondents, so the weights then sum to the population of the others.
    Options as for :func:`weight`.

    Example:
        >>> frame = pd.DataFrame({"gender": ["kvinna", "man", "man"]})
        >>> poststratify(frame, {"gender": pd.Series({"kvinna": 50, "man": 50})}).weights
        array([50., 25., 25.])
    """
    return weight(respondents, targets, "poststratify", **options)


def calibrate(
    respondents: pd.DataFrame,
    targets: Targets,
    calfun: Literal["linear", "logit", "raking"] = "linear",
    **options: Unpack[WeightingOptions],
) -> WeightingResult:
    """Generalised calibration (GREG and bounded variants), as R ``calibrate``.

    Finds ``g_i = F(x_i' lambda)`` with ``sum_i d_i g_i x_i = T`` (Deville &
    Särndal 1992): ``calfun="linear"`` is GREG, ``g = 1 + x' lambda`` (weights
    may become negative); with ``bounds=(L, U)`` it is the truncated linear
    method, ``g = min(max(1 + x' lambda, L), U)``; ``"logit"`` keeps ``L < g <
    U`` smoothly; ``"raking"`` is ``g = exp(x' lambda)`` (clipped to bounds if
    given). ``x_i`` holds the indicators of every categorical margin and any
    numeric column whose total is given as a number. Options as for
    :func:`weight`.

    Example:
        >>> frame = pd.DataFrame({"gender": ["kvinna", "man", "man"], "age": [30.0, 40.0, 50.0]})
        >>> result = calibrate(frame, {"gender": pd.Series({"kvinna": 50, "man": 50}), "age": 4000.0})
        >>> round(float(result.weights @ frame["age"]), 6)
        4000.0
    """
    if calfun == "linear":
        method = "linear" if options.get("bounds") is None else "truncated_linear"
    elif calfun == "logit":
        method = "logit"
    elif calfun == "raking":
        method = "raking_ratio"
    else:
        raise ValueError(f"calfun must be 'linear', 'logit' or 'raking', got {calfun!r}")
    return weight(respondents, targets, method, **options)
