"""How a group of people compares with the population, and who answered.

Two questions an analyst asks before trusting a panel survey:

* Does the group (the panel, the invited sample, the respondents) look like the
  population on gender, age band and district, before and after weighting?
  :func:`compare_to_population` answers with counts, shares, differences in
  percentage points, the index of dissimilarity (Duncan & Duncan 1955) and a
  chi-square goodness-of-fit test.
* Who answered the survey? :func:`response_rates` gives AAPOR response rates
  RR1 and RR2 per stratum (AAPOR Standard Definitions, 2023).

The R-indicator of the response (Schouten, Cobben & Bethlehem 2009) lives in
:mod:`analysis.rindicator`, the recruitment planner in :mod:`analysis.recruitment`.

Population ``targets`` are a mapping from a variable name, or a tuple of names
for a cross, to a :class:`pandas.Series` of population counts indexed by
category (a :class:`pandas.MultiIndex` for a cross), exactly as the SCB
importer yields them. Category labels are strings: district codes keep their
leading zeros (``"0180"``).

Example:
    >>> import pandas as pd
    >>> group = pd.DataFrame({"gender": ["kvinna", "kvinna", "man", "annan"]})
    >>> targets = {"gender": pd.Series({"kvinna": 500.0, "man": 500.0})}
    >>> import warnings
    >>> with warnings.catch_warnings():  # 3 people: expected counts are below 5
    ...     warnings.simplefilter("ignore")
    ...     result = compare_to_population(group, targets)
    >>> round(result.summary("gender").dissimilarity, 4)
    0.1667
    >>> dict(result.summary("gender").excluded)
    {'annan': 1}
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TypeAlias

import numpy as np
import pandas as pd

# scipy.stats and statsmodels are imported where they are used, so that
# ``import analysis`` stays quick for the web application.

__all__ = [
    "ComparisonSummary",
    "DISPOSITIONS",
    "GENDERS_WITHOUT_POPULATION",
    "PopulationComparison",
    "ResponseRates",
    "compare_to_population",
    "response_rates",
]

TargetKey: TypeAlias = str | tuple[str, ...]
Targets: TypeAlias = Mapping[TargetKey, pd.Series]
Weights: TypeAlias = str | Sequence[float] | np.ndarray | pd.Series | None

#: Gender categories a panel records but SCB does not publish population
#: figures for. Rows with these are left out of comparisons that involve
#: gender, and counted in :attr:`ComparisonSummary.excluded` without a warning.
GENDERS_WITHOUT_POPULATION: frozenset[str] = frozenset({"annan", "uppger_ej"})

#: Label used for a missing value when it is counted or tabulated.
MISSING = "missing"

#: Separator between the levels of a cross, in labels such as "kvinna × 16-24".
CROSS = " × "

_KEY_SEPARATOR = "\x1f"
_SMALL_EXPECTED = 5.0

#: Final dispositions :func:`response_rates` understands, with their AAPOR
#: codes (Standard Definitions, internet surveys of specifically named persons).
DISPOSITIONS: Mapping[str, str] = {
    "complete": "I (complete interview, 1.1)",
    "partial": "P (partial interview, 1.2)",
    "break_off": "R (break-off, 2.12): started, answered too little to count as partial",
    "refusal": "R (explicit refusal, 2.11): declined or opted out of this survey",
    "non_contact": "NC (2.2x): invitation bounced or could not be delivered",
    "no_response": "R/NC/O (2.x): invited, delivered, nothing came back",
    "ineligible": "not eligible (4.x): left the panel, moved out or died before fielding",
}


# --------------------------------------------------------------------------------------
# Shared validation helpers (also used by analysis.rindicator and analysis.recruitment)
# --------------------------------------------------------------------------------------


def _key_variables(key: Hashable) -> tuple[str, ...]:
    """The variable names of a targets key: ``"gender"`` or ``("gender", "age_group")``."""
    if isinstance(key, str):
        return (key,)
    if isinstance(key, tuple) and key and all(isinstance(v, str) for v in key):
        if len(set(key)) != len(key):
            raise ValueError(f"targets key {key!r} names a variable twice")
        return key
    raise ValueError(
        f"targets key {key!r} must be a variable name or a tuple of variable names, "
        "for example 'gender' or ('gender', 'age_group')"
    )


def _label(variables: Sequence[str]) -> str:
    return CROSS.join(variables)


def _require_frame(frame: object, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    return frame


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} has no column {', '.join(map(repr, missing))}; "
            f"its columns are {', '.join(map(str, frame.columns))}"
        )


def _is_numeric_labels(values: pd.Series | pd.Index) -> bool:
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return bool(pd.api.types.is_numeric_dtype(dtype))


def _string_labels(frame: pd.DataFrame, variable: str, name: str) -> pd.Series:
    """The column as pandas ``string`` dtype (missing values stay ``<NA>``)."""
    column = frame[variable]
    if _is_numeric_labels(column):
        raise ValueError(
            f"{name}[{variable!r}] holds numbers; category labels must be strings "
            "(district codes keep their leading zeros, for example '0180')"
        )
    return column.astype("string")


def _category_order(column: pd.Series) -> list[str]:
    """Observed categories: in categorical order when the column is categorical, else sorted."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        used = np.unique(codes[codes >= 0])
        return [str(c) for c in column.cat.categories[used]]
    return sorted({str(v) for v in column.dropna().unique()})


def _row_keys(frame: pd.DataFrame, variables: Sequence[str], name: str) -> pd.Series:
    """One string key per row joining the row's labels; ``<NA>`` when any is missing."""
    keys = _string_labels(frame, variables[0], name)
    for variable in variables[1:]:
        keys = keys + _KEY_SEPARATOR + _string_labels(frame, variable, name)
    return keys


def _row_labels(frame: pd.DataFrame, variables: Sequence[str], name: str) -> pd.Series:
    """Readable per-row labels ("kvinna × 16-24"), with ``missing`` for missing values."""
    labels = _string_labels(frame, variables[0], name).fillna(MISSING)
    for variable in variables[1:]:
        labels = labels + CROSS + _string_labels(frame, variable, name).fillna(MISSING)
    return labels


def _validate_target(key: TargetKey, series: object) -> tuple[tuple[str, ...], pd.Series]:
    """Check one population target; return its variables and counts indexed by tuples of str."""
    variables = _key_variables(key)
    label = _label(variables)
    if not isinstance(series, pd.Series):
        raise ValueError(f"targets[{key!r}] must be a pandas Series of population counts")
    if series.empty:
        raise ValueError(f"targets[{key!r}] is empty")
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise ValueError(f"targets[{key!r}] must hold numbers (population counts)")
    values = series.to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"targets[{key!r}] has missing or infinite population counts")
    if np.any(values < 0):
        raise ValueError(f"targets[{key!r}] has negative population counts")
    if values.sum() <= 0:
        raise ValueError(f"targets[{key!r}] sums to zero: no population to compare with")
    index = series.index
    if len(variables) > 1:
        if not isinstance(index, pd.MultiIndex) or index.nlevels != len(variables):
            raise ValueError(
                f"targets[{key!r}] must be indexed by a MultiIndex with {len(variables)} "
                f"levels ({label})"
            )
        names = list(index.names)
        if all(n is not None for n in names):
            if set(names) != set(variables):
                raise ValueError(
                    f"targets[{key!r}] has index levels {names}, expected {list(variables)}"
                )
            index = index.reorder_levels(list(variables))
        levels = [index.get_level_values(i) for i in range(len(variables))]
    else:
        if isinstance(index, pd.MultiIndex):
            if index.nlevels != 1:
                raise ValueError(f"targets[{key!r}] must be indexed by {label} categories only")
            levels = [index.get_level_values(0)]
        else:
            levels = [index]
    for variable, level in zip(variables, levels, strict=True):
        if _is_numeric_labels(level):
            raise ValueError(
                f"targets[{key!r}] is indexed by numbers for {variable!r}; use string codes "
                "(district codes keep their leading zeros, for example '0180')"
            )
        if level.hasnans:
            raise ValueError(f"targets[{key!r}] has a missing category label for {variable!r}")
    tuples = list(zip(*[level.astype(str) for level in levels], strict=True))
    clean = pd.Series(values, index=pd.Index(tuples, tupleize_cols=False), dtype=float)
    if clean.index.has_duplicates:
        duplicated = clean.index[clean.index.duplicated()].tolist()
        raise ValueError(f"targets[{key!r}] lists categories twice: {duplicated[:5]}")
    return variables, clean


def _target_keys(index: pd.Index) -> pd.Index:
    return pd.Index([_KEY_SEPARATOR.join(t) for t in index], dtype=object)


def _match_rows(
    frame: pd.DataFrame, variables: Sequence[str], target_index: pd.Index, name: str
) -> np.ndarray:
    """Position of each row's category in ``target_index`` (tuples of str); -1 when absent."""
    keys = _row_keys(frame, variables, name)
    sentinel = "\x00"  # never a target key: labels are joined with \x1f
    positions = _target_keys(target_index).get_indexer(keys.fillna(sentinel).to_numpy(dtype=object))
    return np.asarray(positions, dtype=np.intp)


def _weights_array(frame: pd.DataFrame, weights: Weights, name: str) -> np.ndarray | None:
    """Weights as a float array aligned with ``frame`` (a column name or an array)."""
    if weights is None:
        return None
    if isinstance(weights, str):
        _require_columns(frame, [weights], name)
        values = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
    else:
        if isinstance(weights, pd.Series) and not weights.index.equals(frame.index):
            raise ValueError(f"weights are indexed differently from {name}; pass weights.to_numpy()")
        values = np.asarray(weights, dtype=float)
    if values.ndim != 1 or values.size != len(frame):
        raise ValueError(f"weights must have one value per row of {name} ({len(frame)} rows)")
    if not np.all(np.isfinite(values)):
        raise ValueError("weights contain missing or infinite values")
    if np.any(values < 0):
        raise ValueError("weights must not be negative")
    return values


# --------------------------------------------------------------------------------------
# Composition against the population
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonSummary:
    """Summary of one comparison (one margin or cross) of a group with the population.

    ``dissimilarity`` is Duncan & Duncan's index ½ Σ|p_c − π_c| (0 = same shares,
    1 = no overlap): the share of the group that would have to change category to
    match the population. The chi-square test compares the unweighted counts
    with π_c · n, the population shares scaled to the group's compared total.
    """

    variable: str
    variables: tuple[str, ...]
    n_compared: int
    excluded: Mapping[str, int]
    dissimilarity: float
    weighted_dissimilarity: float
    chi_square: float
    dof: int
    p_value: float
    min_expected: float
    small_expected_cells: int
    cells: int
    note: str

    @property
    def n_excluded(self) -> int:
        """Rows left out of this comparison (no population figure or missing)."""
        return int(sum(self.excluded.values()))


@dataclass(frozen=True, eq=False)
class PopulationComparison:
    """A group compared with the population: a tidy table and one summary per target.

    ``table`` has one row per population category of every target, with columns
    ``variable`` (e.g. ``"gender × age_group"``), ``category`` (``"kvinna × 16-24"``),
    one column per variable holding that variable's level (``<NA>`` when the
    variable is not part of the row's target), ``count``, ``share``,
    ``population``, ``population_share``, ``difference_pp``, ``expected``,
    ``weighted_count``, ``weighted_share``, ``weighted_difference_pp`` (the
    weighted columns are NaN when no weights were given).
    """

    table: pd.DataFrame
    summaries: tuple[ComparisonSummary, ...]

    def summary(self, variable: TargetKey) -> ComparisonSummary:
        """The summary for ``"gender"``, ``("gender", "age_group")`` or ``"gender × age_group"``."""
        label = variable if isinstance(variable, str) else _label(variable)
        for summary in self.summaries:
            if summary.variable == label:
                return summary
        known = ", ".join(s.variable for s in self.summaries)
        raise ValueError(f"no comparison for {variable!r}; compared: {known}")

    def summary_frame(self) -> pd.DataFrame:
        """All summaries as a data frame, one row per target."""
        rows = [
            {
                "variable": s.variable,
                "n_compared": s.n_compared,
                "n_excluded": s.n_excluded,
                "dissimilarity": s.dissimilarity,
                "weighted_dissimilarity": s.weighted_dissimilarity,
                "chi_square": s.chi_square,
                "dof": s.dof,
                "p_value": s.p_value,
                "min_expected": s.min_expected,
                "small_expected_cells": s.small_expected_cells,
                "note": s.note,
            }
            for s in self.summaries
        ]
        return pd.DataFrame(rows)


def compare_to_population(
    group: pd.DataFrame,
    targets: Targets,
    *,
    weights: Weights = None,
) -> PopulationComparison:
    """Compare a group's composition with the population, per margin and cross.

    For every target (a margin such as ``"district"`` or a cross such as
    ``("gender", "age_group")``) and population category c::

        p_c   = n_c / n                     share of the group (unweighted)
        p^w_c = Σ_{i∈c} w_i / Σ_i w_i       share after weighting
        π_c   = N_c / N                     population share
        difference_pp = 100 · (p_c − π_c)
        D     = ½ Σ_c |p_c − π_c|           index of dissimilarity (Duncan & Duncan 1955)
        X²    = Σ_c (n_c − e_c)² / e_c,     e_c = π_c · n,  df = (cells with π_c > 0) − 1

    The expected counts e_c are the population shares scaled to the group's
    compared total n, so they sum to the observed total as
    :func:`scipy.stats.chisquare` requires. The test treats the group as a
    simple random sample from the population; it is computed on the unweighted
    counts only (after weighting to these margins the weighted shares match by
    construction, and a test on weighted counts would need a Rao–Scott
    correction). A :class:`UserWarning` is issued, and ``small_expected_cells``
    counts them, when expected counts fall below 5: the chi-square approximation
    is then unreliable (merge categories). A group member in a category with a
    population count of zero makes X² infinite (p = 0), also with a warning.

    **Which rows are compared.** A row takes part in a target's comparison when
    its label on every variable of that target appears in the target's index.
    The others — gender ``"annan"`` and ``"uppger_ej"``, for which SCB publishes
    no population figures, missing values, and codes the targets do not know —
    are counted in ``summary.excluded`` and shares are computed among the
    compared rows only. So the age comparison includes members who gave gender
    ``"annan"``, while the gender comparison does not. Excluded labels other than
    those two genders also raise a :class:`UserWarning`, as they usually signal a
    data error (a district code without a leading zero, a misspelled band).

    Args:
        group: one row per person (panel member, invited, respondent) with the
            categorical columns named in the targets' keys; labels are strings.
        targets: population counts per category, ``{"gender": Series,
            ("gender", "age_group"): Series with a MultiIndex, ...}``. Each
            target uses its own total, so SCB figures whose parts do not add up
            to the totals (cell-key noise) are fine.
        weights: optional survey weights, as weighting produces them (each
            person stands for w_i residents; only their ratios matter here),
            a column name or one value per row; adds the weighted columns and
            ``weighted_dissimilarity``.

    Returns:
        :class:`PopulationComparison` with a tidy ``table`` and ``summaries``.

    References:
        Duncan, O. D. & Duncan, B. (1955). A methodological analysis of
        segregation indexes. American Sociological Review 20(2), 210–217.
        Schouten, B., Cobben, F. & Bethlehem, J. (2009). Indicators for the
        representativeness of survey response. Survey Methodology 35(1), 101–113.

    Example:
        >>> import pandas as pd
        >>> group = pd.DataFrame({"age_group": ["16-24"] * 3 + ["25-34"] * 7})
        >>> targets = {"age_group": pd.Series({"16-24": 50.0, "25-34": 50.0})}
        >>> table = compare_to_population(group, targets).table
        >>> table[["category", "count", "expected", "difference_pp"]].to_string(index=False)
        'category  count  expected  difference_pp\\n   16-24      3       5.0          -20.0\\n   25-34      7       5.0           20.0'
    """
    group = _require_frame(group, "group")
    if len(group) == 0:
        raise ValueError("group has no rows")
    if not isinstance(targets, Mapping) or not targets:
        raise ValueError("targets must be a non-empty mapping {variable or tuple: Series}")
    w = _weights_array(group, weights, "group")
    if w is not None and w.sum() <= 0:
        raise ValueError("weights sum to zero")

    all_variables: list[str] = []
    validated: list[tuple[tuple[str, ...], pd.Series]] = []
    for key, series in targets.items():
        variables, target = _validate_target(key, series)
        _require_columns(group, variables, "group")
        validated.append((variables, target))
        all_variables.extend(v for v in variables if v not in all_variables)

    frames: list[pd.DataFrame] = []
    summaries: list[ComparisonSummary] = []
    for variables, target in validated:
        frame, summary = _compare_one(group, variables, target, w)
        frames.append(frame)
        summaries.append(summary)

    table = pd.concat(frames, ignore_index=True)
    for variable in all_variables:
        table[variable] = table[variable].astype("string")
    rest = [c for c in table.columns if c not in ("variable", "category", *all_variables)]
    table = table[["variable", "category", *all_variables, *rest]]
    return PopulationComparison(table=table, summaries=tuple(summaries))


def _compare_one(
    group: pd.DataFrame,
    variables: tuple[str, ...],
    target: pd.Series,
    w: np.ndarray | None,
) -> tuple[pd.DataFrame, ComparisonSummary]:
    label = _label(variables)
    position = _match_rows(group, variables, target.index, "group")
    compared = position >= 0
    k = len(target)
    counts = np.bincount(position[compared], minlength=k).astype(np.int64)
    n = int(counts.sum())
    if n == 0:
        raise ValueError(
            f"no row of group has a {label} category with a population figure; "
            f"the targets know {', '.join(_label(t) for t in target.index[:5])}..."
        )

    excluded: dict[str, int] = {}
    if not compared.all():
        labels = _row_labels(group, variables, "group")[~compared]
        excluded = {str(c): int(v) for c, v in labels.value_counts(sort=False).sort_index().items()}
        unexpected = {c: v for c, v in excluded.items() if not _expected_exclusion(c, variables)}
        if unexpected:
            shown = ", ".join(f"{c!r} ({v})" for c, v in list(unexpected.items())[:5])
            warnings.warn(
                f"{label}: rows whose category has no population figure were left out of the "
                f"comparison: {shown}. Check the codes (leading zeros, spelling).",
                UserWarning,
                stacklevel=3,
            )

    population = target.to_numpy(dtype=float)
    pi = population / population.sum()
    share = counts / n
    expected = pi * n
    dissimilarity = 0.5 * float(np.abs(share - pi).sum())

    weighted_count = np.full(k, np.nan)
    weighted_share = np.full(k, np.nan)
    weighted_dissimilarity = float("nan")
    if w is not None:
        weighted_count = np.bincount(position[compared], weights=w[compared], minlength=k)
        total = weighted_count.sum()
        if total > 0:
            weighted_share = weighted_count / total
            weighted_dissimilarity = 0.5 * float(np.abs(weighted_share - pi).sum())

    chi_square, dof, p_value, min_expected, small, note = _goodness_of_fit(
        counts, pi, n, label
    )
    frame = pd.DataFrame(
        {
            "variable": label,
            "category": [_label(t) for t in target.index],
            "count": counts,
            "share": share,
            "population": population,
            "population_share": pi,
            "difference_pp": 100.0 * (share - pi),
            "expected": expected,
            "weighted_count": weighted_count,
            "weighted_share": weighted_share,
            "weighted_difference_pp": 100.0 * (weighted_share - pi),
        }
    )
    for j, variable in enumerate(variables):
        frame[variable] = [t[j] for t in target.index]
    summary = ComparisonSummary(
        variable=label,
        variables=variables,
        n_compared=n,
        excluded=excluded,
        dissimilarity=dissimilarity,
        weighted_dissimilarity=weighted_dissimilarity,
        chi_square=chi_square,
        dof=dof,
        p_value=p_value,
        min_expected=min_expected,
        small_expected_cells=small,
        cells=k,
        note=note,
    )
    return frame, summary


def _expected_exclusion(label: str, variables: Sequence[str]) -> bool:
    """True when every excluded part of the label is a gender without population figures."""
    parts = label.split(CROSS)
    if "gender" not in variables or len(parts) != len(variables):
        return False
    return parts[list(variables).index("gender")] in GENDERS_WITHOUT_POPULATION


def _goodness_of_fit(
    counts: np.ndarray, pi: np.ndarray, n: int, label: str
) -> tuple[float, int, float, float, int, str]:
    """Pearson X² of counts against π · n, with the warnings the docstring promises."""
    positive = pi > 0
    expected = pi[positive] * n
    min_expected = float(expected.min())
    small = int(np.sum(expected < _SMALL_EXPECTED))
    dof = int(positive.sum()) - 1
    notes: list[str] = []
    if np.any(counts[~positive] > 0):
        cats = int(np.sum(counts[~positive] > 0))
        message = (
            f"{label}: {cats} categor{'y' if cats == 1 else 'ies'} with a population count of "
            "zero have members in the group; the chi-square statistic is infinite"
        )
        warnings.warn(message, UserWarning, stacklevel=4)
        return float("inf"), dof, 0.0, min_expected, small, message
    if dof < 1:
        return 0.0, 0, float("nan"), min_expected, small, "one category only: nothing to test"
    from scipy.stats import chisquare

    result = chisquare(counts[positive].astype(float), f_exp=expected)
    if small:
        message = (
            f"{label}: {small} of {positive.sum()} cells have expected counts below 5 "
            f"(smallest {min_expected:.2f}); the chi-square p-value is unreliable, "
            "merge small categories before testing"
        )
        warnings.warn(message, UserWarning, stacklevel=4)
        notes.append(message)
    return float(result.statistic), dof, float(result.pvalue), min_expected, small, "; ".join(notes)


# --------------------------------------------------------------------------------------
# Response rates
# --------------------------------------------------------------------------------------

_RATE_COUNTS = ("complete", "partial", "break_off", "refusal", "non_contact", "no_response")


@dataclass(frozen=True, eq=False)
class ResponseRates:
    """AAPOR response rates overall and per stratum.

    ``table`` has one row per (``variable``, ``category``) — the first row is the
    total (``variable == category == "total"``) — with the counts ``invited``,
    ``ineligible``, ``eligible``, ``complete``, ``partial``, ``break_off``,
    ``refusal``, ``non_contact``, ``no_response``, the rates ``rr1`` and ``rr2``
    and their Wilson intervals ``rr1_low``, ``rr1_high``, ``rr2_low``, ``rr2_high``.
    """

    table: pd.DataFrame
    invited: int
    eligible: int
    complete: int
    partial: int
    rr1: float
    rr2: float
    alpha: float


def response_rates(
    invited: pd.DataFrame,
    *,
    status: str = "status",
    by: Sequence[TargetKey] | None = None,
    alpha: float = 0.05,
    count: str | None = None,
) -> ResponseRates:
    """AAPOR response rates RR1 and RR2 of a panel survey, overall and per stratum.

    Everyone invited is a panel member whose profile we know, so eligibility is
    known for every case and AAPOR's unknown-eligibility terms (UH, UO) are zero::

        eligible = invited − ineligible
        RR1 = I / ((I + P) + (R + NC + O))       = complete / eligible
        RR2 = (I + P) / ((I + P) + (R + NC + O)) = (complete + partial) / eligible

    **What counts as eligible.** Every invited panel member, except those marked
    ``"ineligible"``: people who had left the panel, moved out of the
    municipality or died before the survey opened (AAPOR 4.x). A bounced
    invitation is *not* ineligibility: it is a non-contact (NC) and stays in the
    denominator, as do refusals and break-offs (R) and invitations that were
    delivered but never answered. Whether an interview is ``"partial"`` (AAPOR
    suggests at least half of the applicable questions answered) or a
    ``"break_off"`` is decided by whoever records the status; see
    :data:`DISPOSITIONS` for the codes. Intervals are Wilson score intervals at
    level 1 − ``alpha``, treating the invited as exchangeable given the stratum.

    Args:
        invited: one row per invitation, with a ``status`` column holding a
            final disposition from :data:`DISPOSITIONS` and the columns named
            in ``by``. Missing stratum values are tabulated as ``"missing"``.
        status: name of the disposition column.
        by: strata to tabulate: variable names and tuples for crosses. Default:
            ``gender``, ``age_group`` and ``district`` (those present) and their
            pairwise crosses.
        alpha: 1 − confidence level of the intervals.
        count: name of a column holding how many invitations each row stands
            for (for example one row per stratum and status, counted by the
            database); None: every row is one invitation. Same figures as the
            rows repeated that many times.

    Returns:
        :class:`ResponseRates` with the tidy ``table`` and the overall figures.

    Reference:
        The American Association for Public Opinion Research (2023). Standard
        Definitions: Final Dispositions of Case Codes and Outcome Rates for
        Surveys, 10th edition. AAPOR.

    Example:
        >>> import pandas as pd
        >>> invited = pd.DataFrame({
        ...     "gender": ["kvinna", "kvinna", "man", "man", "man"],
        ...     "status": ["complete", "partial", "complete", "no_response", "ineligible"],
        ... })
        >>> rates = response_rates(invited, by=["gender"])
        >>> rates.rr1, rates.rr2
        (0.5, 0.75)
        >>> row = rates.table.set_index("category").loc["man"]
        >>> int(row["eligible"]), float(row["rr1"])
        (2, 0.5)
    """
    invited = _require_frame(invited, "invited")
    if len(invited) == 0:
        raise ValueError("invited has no rows")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1, for example 0.05")
    _require_columns(invited, [status], "invited")
    codes = invited[status].astype("string")
    if codes.isna().any():
        raise ValueError(
            f"{int(codes.isna().sum())} invitations have no {status!r}; give every invitation a "
            f"final disposition ({', '.join(DISPOSITIONS)})"
        )
    unknown = sorted(set(codes) - set(DISPOSITIONS))
    if unknown:
        raise ValueError(
            f"unknown dispositions {unknown}; use one of {', '.join(DISPOSITIONS)}"
        )
    if by is None:
        present = [v for v in ("gender", "age_group", "district") if v in invited.columns]
        by = [*present, *combinations(present, 2)]
    keys = [_key_variables(key) for key in by]
    for variables in keys:
        _require_columns(invited, variables, "invited")

    from statsmodels.stats.proportion import proportion_confint

    if count is None:
        times = np.ones(len(invited), dtype=np.int64)
    else:
        _require_columns(invited, [count], "invited")
        numbers = pd.to_numeric(invited[count], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(numbers)) or np.any(numbers < 0) or np.any(numbers != np.round(numbers)):
            raise ValueError(f"invited[{count!r}] must hold whole numbers of invitations (0 or more)")
        times = numbers.astype(np.int64)
    indicator = pd.DataFrame(
        {name: (codes == name).to_numpy(dtype=np.int64) * times for name in (*_RATE_COUNTS, "ineligible")}
    )
    rows = [_rate_row("total", "total", indicator)]
    for variables in keys:
        labels = _row_labels(invited, variables, "invited").to_numpy(dtype=object)
        order = _stratum_order(invited, variables)
        sums = indicator.groupby(labels, sort=False).sum()
        for category in [c for c in order if c in sums.index] + sorted(set(sums.index) - set(order)):
            rows.append(_rate_row(_label(variables), str(category), sums.loc[[category]]))
    table = pd.DataFrame(rows)
    for rate, numerator in (("rr1", table["complete"]), ("rr2", table["complete"] + table["partial"])):
        eligible = table["eligible"].to_numpy()
        has = eligible > 0
        low = np.full(len(table), np.nan)
        high = np.full(len(table), np.nan)
        if has.any():
            lo, hi = proportion_confint(
                numerator.to_numpy()[has], eligible[has], alpha=alpha, method="wilson"
            )
            low[has], high[has] = lo, hi
        table[f"{rate}_low"] = low
        table[f"{rate}_high"] = high
    total = table.iloc[0]
    return ResponseRates(
        table=table,
        invited=int(total["invited"]),
        eligible=int(total["eligible"]),
        complete=int(total["complete"]),
        partial=int(total["partial"]),
        rr1=float(total["rr1"]),
        rr2=float(total["rr2"]),
        alpha=alpha,
    )


def _stratum_order(frame: pd.DataFrame, variables: Sequence[str]) -> list[str]:
    """Labels of a cross in the order of its variables' categories."""
    orders = [_category_order(frame[v]) + [MISSING] for v in variables]
    labels = [""]
    for order in orders:
        labels = [f"{prefix}{CROSS if prefix else ''}{level}" for prefix in labels for level in order]
    return labels


def _rate_row(variable: str, category: str, counts: pd.DataFrame) -> dict[str, object]:
    total = {name: int(counts[name].sum()) for name in counts.columns}
    invited = sum(total.values())
    eligible = invited - total["ineligible"]
    complete, partial = total["complete"], total["partial"]
    return {
        "variable": variable,
        "category": category,
        "invited": invited,
        "ineligible": total["ineligible"],
        "eligible": eligible,
        **{name: total[name] for name in _RATE_COUNTS},
        "rr1": complete / eligible if eligible else float("nan"),
        "rr2": (complete + partial) / eligible if eligible else float("nan"),
    }
