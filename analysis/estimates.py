"""Weighted estimates with calibration-aware standard errors.

Means, proportions and totals, overall and for domains (district, gender, age
band), as R's ``svymean``, ``svytotal``, ``svyciprop`` and ``svyby`` compute them
for a single-stage with-replacement design ``svydesign(ids = ~1, weights = ~w)``
and its ``postStratify`` / ``rake`` / ``calibrate`` descendants (Lumley 2010,
ch. 2-3 and 7).

How an estimate is computed (for column ``y``, domain indicator ``d`` and
answered indicator ``m``; ``w`` are the final weights)::

    W      = sum_i w_i d_i m_i                       (weighted_n)
    mean   = sum_i w_i d_i m_i y_i / W
    z_i    = w_i d_i m_i (y_i - mean) / W            (influence, mean)
    z_i    = w_i d_i m_i y_i                         (influence, total)
    r      = design.residualize(z)                   (calibration-aware)
    var    = n / (n - 1) * sum_i (r_i - rbar)^2      (with replacement; n = all rows)

For a design made by :mod:`analysis.weighting` the same ``r`` is never formed
row by row: the residuals are ``z - b T[cell]`` with ``T`` a linear function of
the cell sums of ``z`` (``SurveyDesign.cell_form``), and ``z`` is constant up
to ``b`` within each (weighting cell, domain level, answer) group, so ``sum r``
and ``sum r^2`` are sums over those groups (numeric answers: one pass over the
rows of the domain level itself).

Missing answers (NaN) and rows outside the domain keep their place in the
design with zero influence: this is what R does with ``na.rm = TRUE`` and with
``subset()``/``svyby``, which never drop respondents from a calibrated design
(and pad with zeros up to the full number of PSUs for an uncalibrated one).

Design effect (R's ``deff = TRUE``; ``"replace"`` for ``deff = "replace"``), with
``n_d`` the unweighted respondents with an answer in the domain::

    s2        = n_d / (n_d - 1) * sum_i w_i d_i m_i (y_i - mean)^2 / W
    v_srs     = s2 * (W - n_d) / (W * n_d)           ("srs", R's default)
    v_srs     = s2 / n_d                             ("replace")
    deff      = var / v_srs                          (totals: v_srs * W^2)

Confidence intervals at level ``1 - alpha``:

* ``"wald"``: ``estimate -/+ z * se`` with the normal quantile, as
  ``confint(svymean(...))``.
* ``"logit"``: ``expit(logit(p) -/+ t_df * se / (p (1 - p)))``, as
  ``svyciprop(method = "logit")`` (its ``svyglm`` fit converges to this).
* ``"beta"`` (Korn & Graubard 1998): ``n_eff = p (1 - p) / var *
  (t_{nrow-1} / t_df)^2``, then the Clopper-Pearson limits
  ``qbeta(alpha/2, n_eff p, n_eff (1 - p) + 1)`` and
  ``qbeta(1 - alpha/2, n_eff p + 1, n_eff (1 - p))``, as
  ``svyciprop(method = "beta")``.

A share of exactly 0 or 1 (``boundary_share``) has ``se = 0``, so every method
above degenerates (logit and beta divide 0 by 0: R's ``svyciprop`` returns NaN;
Wald gives ``[p, p]``). Its interval is then Korn & Graubard's with the
effective sample size taken from the weights instead of the variance: Kish's
``n_kish = (sum w)^2 / sum w^2 = n_d / deff_Kish`` over the domain's answers
(the design effect of unequal weighting, 1 + cv^2 of the weights; it is what
the weights alone say about the precision, and equals ``n_d`` without
weights, where the interval is exactly Clopper-Pearson's, ``binom.test``),
with the same ``(t_{nrow-1} / t_df)^2`` factor::

    n_eff = n_kish * (t_{nrow-1} / t_df)^2
    p = 0:  [0, qbeta(1 - alpha/2, 1, n_eff)] = [0, 1 - (alpha/2)^(1/n_eff)]
    p = 1:  [qbeta(alpha/2, n_eff, 1), 1]     = [(alpha/2)^(1/n_eff), 1]

whatever ``ci_method`` was asked for (the row's ``ci_method`` says ``"beta"``).
This holds for the categories of a choice question and for a 0/1 variable
asked with ``"logit"``/``"beta"``; the mean of a numeric variable whose answers
all agree keeps ``zero_variance`` and no interval, and one answer
(``single_answer``) gives no interval for a share either.

``df`` is R's ``degf`` of the (domain) design: respondents in the domain with a
non-zero weight, *whether or not they answered*, minus one. ``nrow`` in the
Korn-Graubard ratio is R's ``nrow(design)``: the rows of the domain for a
design without adjustments, but all rows of the design once it has been
calibrated (R's ``subset`` keeps every row of a calibrated design). We copy
that so that the numbers match R; for domains of 30 or more respondents the
ratio changes the interval by well under one percent of its width.

Nothing is NaN without a reason: every estimate carries ``flag`` (short codes,
``""`` when all is well, several joined by ``";"``) and ``reason`` (a sentence).

=====================  ==================================================  =======================
flag                   when                                                what is NaN
=====================  ==================================================  =======================
``empty_domain``       no respondents in the domain                        everything
``no_answers``         respondents, but none answered (or all weight 0)    everything
``nonpositive_weight`` the answering weights sum to zero or less           everything
``single_answer``      one answer: no variance can be estimated            se, ci, deff
                       (R reports se = 0 here; we do not)
``zero_variance``      every answer to a numeric question is the same      ci, deff (se is 0)
``boundary_share``     a share of exactly 0 % or 100 %                     deff (se is 0; the interval
                                                                           is Korn-Graubard with the
                                                                           Kish n_eff, see above)
``calibrated``         the weighting fixes the estimate (a calibration     nothing: se and deff are
                       target, e.g. a post-stratum share): its variance    set to 0, the interval
                       is rounding noise (< 1e-12 of the SRS variance;     to [estimate, estimate]
                       R reports the noise)
``deff_undefined``     weights sum to at most n_d (not population-scaled)  deff
                       and ``deff_method="srs"``; R gives NA or Inf
``too_few_rows``       the whole design has fewer than two rows            se, ci, deff
=====================  ==================================================  =======================

References: Lumley (2010) *Complex Surveys*, Wiley; Korn & Graubard (1998)
"Confidence intervals for proportions with small expected number of positive
counts", *Survey Methodology* 24:193-201; Kish (1965) *Survey Sampling*.

Example:
    >>> import numpy as np
    >>> from analysis.design import SurveyDesign
    >>> design = SurveyDesign(weights=np.array([1.0, 2.0, 1.0, 4.0]))
    >>> round(survey_mean([1.0, 0.0, 1.0, np.nan], design).estimate, 3)
    0.5
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse, special, stats

from analysis.design import CellForm, SurveyDesign

CIMethod = Literal["wald", "logit", "beta"]
DeffMethod = Literal["srs", "replace"]
QuestionKind = Literal["single", "multiple", "numeric"]

OVERALL = "(all)"
"""``domain_variable`` and ``domain_value`` of the whole-sample estimates."""

MEAN_LABEL = "(mean)"
"""``category`` of the estimate of a numeric question."""

REPORT_COLUMNS: tuple[str, ...] = (
    "question",
    "kind",
    "category",
    "domain_variable",
    "domain_value",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "ci_method",
    "df",
    "deff",
    "n",
    "count",
    "weighted_n",
    "flag",
    "reason",
)

_REASONS: dict[str, str] = {
    "empty_domain": "no respondents in this domain",
    "no_answers": "nobody in this domain answered (with a non-zero weight)",
    "nonpositive_weight": "the weights of those who answered sum to zero or less",
    "single_answer": "only one answer: no standard error can be estimated",
    "zero_variance": "every answer is the same: the standard error is 0 and there is no interval",
    "boundary_share": (
        "every answer is the same (a share of 0 % or 100 %): the standard error is 0 and the design "
        "effect undefined, so the interval is Korn and Graubard's Clopper-Pearson interval with the "
        "effective sample size of the weights (Kish)"
    ),
    "deff_undefined": (
        "the weights sum to no more than the number of answers, so the SRS variance "
        "without replacement is undefined: scale weights to the population or use "
        "deff_method='replace'"
    ),
    "too_few_rows": "the design has fewer than two respondents: no variance can be estimated",
    "calibrated": (
        "the weighting fixes this estimate (it is a calibration target): its sampling "
        "variance is zero up to rounding, so se = 0 and the interval is a point"
    ),
}

# A variance below this fraction of the SRS variance (with replacement) is
# rounding noise left by calibration residuals, not sampling variance.
_CALIBRATED_RATIO = 1e-12

# Influence columns (or their sums over weighting cells x domains) are formed in
# blocks of about this many numbers, so that memory stays bounded (64 MB per
# block of float64) however many estimates a report asks for.
_BLOCK_CELLS = 1 << 23
# Numeric columns are summed and residualized this many at a time.
_VALUES_CHUNK = 16
# Level indicators up to this many cells are a dense matrix (sums by BLAS);
# beyond it a sparse one.
_DENSE_SUMMER_CELLS = 1 << 23


@dataclass(frozen=True)
class Estimate:
    """One weighted estimate with its uncertainty.

    ``n`` is the unweighted number of respondents with an answer (and a non-zero
    weight) behind the estimate; ``count`` the unweighted number of them in the
    numerator (choosing the category; equal to ``n`` for means and totals);
    ``weighted_n`` the sum of their weights. ``df`` is the design's degrees of
    freedom for the domain (R's ``degf``). See the module docstring for
    ``flag``/``reason``.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    ci_method: str
    df: float
    deff: float
    n: int
    count: int
    weighted_n: float
    flag: str = ""
    reason: str = ""


@dataclass(frozen=True)
class DomainDifference:
    """The difference ``estimate_first - estimate_second`` between two domains.

    ``se`` uses the covariance of the two domains' joint (residualized)
    influence functions; ``statistic`` is ``difference / se``, referred to a t
    distribution with ``df`` degrees of freedom for ``p_value`` and the interval.
    """

    first: Hashable
    second: Hashable
    estimate_first: float
    estimate_second: float
    difference: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    df: float
    p_value: float
    n_first: int
    n_second: int
    flag: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Question:
    """How one survey question is laid out in the respondents' data frame.

    * ``single``: one column of answers (strings, numbers or a Categorical);
      every category gets a weighted share. ``categories`` fixes their order
      and lets categories nobody chose appear with a 0 share.
    * ``multiple``: one 0/1 column per option (NaN when the question was not
      answered); ``categories`` are the option labels, ``columns`` the columns.
    * ``numeric``: one numeric column (a rating scale, a number); the weighted
      mean is estimated.

    Build them with :meth:`single_choice`, :meth:`multiple_choice` and
    :meth:`numeric`.
    """

    name: str
    kind: QuestionKind
    columns: tuple[str, ...]
    categories: tuple[Hashable, ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a question needs a name")
        if self.kind not in ("single", "multiple", "numeric"):
            raise ValueError(f"question kind must be single, multiple or numeric, not {self.kind!r}")
        if not self.columns:
            raise ValueError(f"question {self.name!r} names no column")
        if self.kind in ("single", "numeric") and len(self.columns) != 1:
            raise ValueError(f"a {self.kind} question ({self.name!r}) reads exactly one column")
        if self.kind == "multiple" and len(self.categories) != len(self.columns):
            raise ValueError(f"question {self.name!r}: give one option label per column")

    @classmethod
    def single_choice(
        cls, name: str, column: str | None = None, categories: Sequence[Hashable] | None = None
    ) -> Question:
        """A single-choice question read from ``column`` (default: ``name``)."""
        return cls(name, "single", (column or name,), tuple(categories or ()))

    @classmethod
    def multiple_choice(cls, name: str, options: Mapping[Hashable, str] | Sequence[str]) -> Question:
        """A multiple-choice question: ``options`` maps option label to its 0/1 column."""
        if isinstance(options, Mapping):
            labels, columns = tuple(options.keys()), tuple(options.values())
        else:
            labels, columns = tuple(options), tuple(options)
        return cls(name, "multiple", tuple(columns), tuple(labels))

    @classmethod
    def numeric(cls, name: str, column: str | None = None) -> Question:
        """A numeric question (rating scale): the weighted mean of ``column``."""
        return cls(name, "numeric", (column or name,))


# --------------------------------------------------------------------------- inputs


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (0.05 for 95 % intervals), not {alpha}")
    return alpha


def _check_deff_method(deff_method: str) -> None:
    if deff_method not in ("srs", "replace"):
        raise ValueError(f"deff_method must be 'srs' or 'replace', not {deff_method!r}")


def _check_ci_method(ci_method: str, *, proportion: bool) -> None:
    allowed = ("wald", "logit", "beta") if proportion else ("wald",)
    if ci_method not in allowed:
        raise ValueError(f"ci_method must be one of {', '.join(allowed)} here, not {ci_method!r}")


def _as_values(values: ArrayLike, design: SurveyDesign, what: str) -> np.ndarray:
    """A float vector of length design.n (NaN = missing)."""
    bad = f"{what} must be numeric (NaN for a missing answer)"
    if isinstance(values, pd.Series):
        if not (pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)):
            raise ValueError(bad)
        y = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        arr = np.asarray(values)
        if arr.dtype.kind in "fiub":
            y = arr.astype(float)
        else:
            try:
                y = np.asarray(pd.to_numeric(pd.Series(arr.ravel(), dtype=object), errors="raise"), dtype=float)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{bad}: {exc}") from None
            y = y.reshape(arr.shape)
    if y.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    if y.size != design.n:
        raise ValueError(f"{what} has {y.size} values but the design has {design.n} respondents")
    if np.isinf(y).any():
        raise ValueError(f"{what} contains infinite values")
    return y


def _as_mask(domain: ArrayLike | None, design: SurveyDesign) -> np.ndarray:
    if domain is None:
        return np.ones(design.n, dtype=bool)
    mask = np.asarray(domain)
    if mask.ndim != 1 or mask.size != design.n:
        raise ValueError(f"domain must be a boolean vector with one entry per respondent ({design.n})")
    if mask.dtype != bool:
        if pd.isna(pd.Series(mask, dtype=object)).any():
            raise ValueError("domain contains missing values: say True or False for every respondent")
        if not np.isin(mask, [0, 1]).all():
            raise ValueError("domain must be boolean (True inside the domain)")
        mask = mask.astype(bool)
    return mask


def _sorted(values: list[Hashable]) -> list[Hashable]:
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:
        return sorted(values, key=str)


def _levels(column: pd.Series, declared: Sequence[Hashable] = ()) -> list[Hashable]:
    """Levels of a categorical-ish column, in a stable order (R's factor order)."""
    if declared:
        return list(declared)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    return _sorted(column.dropna().unique().tolist())


def _label(level: Hashable) -> str:
    """A category as report text: whole-number floats (1.0 from a column with NaN) as 1."""
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    return str(level)


def _codes(values: pd.Series, levels: Sequence[Hashable]) -> np.ndarray:
    """Position of every value among ``levels`` (-1: missing or not a level)."""
    index = pd.Index(list(levels), dtype=object)
    if isinstance(values.dtype, pd.CategoricalDtype):
        # map the few categories, then one gather: the rows are never made objects
        lookup = index.get_indexer(pd.Index(list(values.cat.categories), dtype=object))
        return np.append(lookup, -1).astype(np.int64)[values.cat.codes.to_numpy()]
    return index.get_indexer(values.astype(object)).astype(np.int64)


def _answers(answers: pd.Series, declared: Sequence[Hashable], what: str) -> tuple[list[Hashable], np.ndarray]:
    """The levels of a single-choice answer (as :func:`_levels`) and every
    answer's position among them (-1: missing), with one pass over the rows."""
    if isinstance(answers.dtype, pd.CategoricalDtype):
        levels = _levels(answers, declared)
        raw = answers.cat.codes.to_numpy()
        present = pd.Index(list(answers.cat.categories), dtype=object)
        used = np.zeros(present.size + 1, dtype=bool)
        used[raw] = True
        used = used[:-1]
    else:
        raw, uniques = pd.factorize(answers, use_na_sentinel=True)
        present = pd.Index(list(uniques), dtype=object)
        used = np.ones(present.size, dtype=bool)
        levels = list(declared) if declared else _sorted(present.tolist())
    lookup = pd.Index(list(levels), dtype=object).get_indexer(present)
    unknown = (lookup < 0) & used
    if unknown.any():
        extra = sorted(str(v) for v in present[unknown])
        raise ValueError(f"{what} has answers that are not among its categories: {', '.join(extra[:5])}")
    return levels, np.append(lookup, -1).astype(np.int64)[raw]


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class _Partition:
    """A domain variable: each row's level (``-1``: in none), ``size`` levels."""

    codes: np.ndarray
    size: int

    def summer(self, rows: slice | np.ndarray = slice(None)) -> _LevelSums:
        """Sums of (the given) rows within levels."""
        if isinstance(rows, slice) and rows == slice(None):
            return self._every_row
        return _LevelSums(self.codes[rows], self.size)

    @cached_property
    def _every_row(self) -> _LevelSums:
        return _LevelSums(self.codes, self.size)

    @cached_property
    def slots(self) -> np.ndarray:
        """Each row's level, with ``size`` (one slot past the levels) for none."""
        return np.where(self.codes >= 0, self.codes, self.size)


class _LevelSums:
    """``sums(x)``: the (L x k) sums of the rows of x (n x k) within each level.

    A dense n x L indicator matrix when small (one BLAS product, ``x' D``),
    else a sparse L x n one; rows with code -1 are in no level.
    """

    def __init__(self, codes: np.ndarray, size: int) -> None:
        self.dense: np.ndarray | None = None
        self.sparse: sparse.csr_matrix | None = None
        if size * codes.size <= _DENSE_SUMMER_CELLS:
            self.dense = (codes[:, None] == np.arange(size)[None, :]).astype(float)
        else:
            inside = np.flatnonzero(codes >= 0)
            self.sparse = sparse.csr_matrix(
                (np.ones(inside.size), (codes[inside], inside)), shape=(size, codes.size)
            )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.dense is not None:
            return (x.T @ self.dense).T
        assert self.sparse is not None
        return np.asarray(self.sparse @ x)


def _whole(n: int) -> _Partition:
    return _Partition(np.zeros(n, dtype=np.int64), 1)


def _mask_partition(mask: np.ndarray) -> _Partition:
    return _Partition(np.where(mask, 0, -1).astype(np.int64), 1)


@dataclass(frozen=True)
class _Stats:
    """Arrays of shape (g, k): g domains (all partitions' levels) by k columns."""

    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    df: np.ndarray
    deff: np.ndarray
    n: np.ndarray
    count: np.ndarray
    weighted_n: np.ndarray
    flags: list[list[str]]
    boundary: np.ndarray  # (g, k) bool: a 0 % / 100 % share with the Korn-Graubard interval

    def method(self, gi: int, ci: int, asked: str) -> str:
        """The interval method of one estimate: ``"beta"`` for a boundary share."""
        return "beta" if self.boundary[gi, ci] else asked


def _variance_blocks(
    design: SurveyDesign,
    part: _Partition,
    y0: np.ndarray,
    answered: np.ndarray,
    mean: np.ndarray,
    weighted_n: np.ndarray,
    *,
    statistic: Literal["mean", "total"],
) -> tuple[np.ndarray, np.ndarray]:
    """Linearization variance and ``ss = sum w d m (y - mean)^2`` for one partition.

    ``mean`` and ``weighted_n`` are (L, k). The influence of column ``c`` in
    level ``l`` is ``z_i = [code_i = l] w_i m_ic (y_ic - mean_lc) / W_lc`` (for a
    total, ``[code_i = l] w_i m_ic y_ic``). For a design with adjustments the
    n x (L * b) influence matrix of a block of b columns is residualized in one
    call; without adjustments the sums of z and z^2 per level are enough.
    """
    n = design.n
    size, k = mean.shape
    var = np.full((size, k), np.nan)
    ss = np.full((size, k), np.nan)
    codes = part.codes
    inside = codes >= 0
    everyone = bool(inside.all())
    rows: slice | np.ndarray = slice(None) if everyone else np.flatnonzero(inside)
    level = codes[rows]
    w_in = design.weights[rows]
    summer = part.summer(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_w = np.where(weighted_n != 0, 1.0 / weighted_n, 0.0)

    def per_row(table: np.ndarray, cs: slice) -> np.ndarray:
        # each row's own level's value (a broadcast row when there is one level)
        return table[0:1, cs] if size == 1 else table[level, cs]

    adjusted = bool(design.adjustments)
    per_block = max(1, _BLOCK_CELLS // (n * (size if adjusted else 1)))
    for start in range(0, k, per_block):
        cs = slice(start, min(k, start + per_block))
        dev = y0[rows, cs] - per_row(mean, cs)
        dev *= answered[rows, cs]
        wdev = dev * w_in[:, None]
        ss[:, cs] = summer(wdev * dev)
        if statistic == "mean":
            v = wdev
            v *= per_row(inv_w, cs)
        else:
            v = (y0[rows, cs] * answered[rows, cs]) * w_in[:, None]
        b = v.shape[1]
        if not adjusted and statistic == "mean":
            # sum over all n rows of (z - zbar)^2 = sum z^2 - (sum z)^2 / n
            s1 = summer(v)
            s2 = summer(v * v)
            var[:, cs] = (s2 - s1 * s1 / n) * (n / (n - 1))
            continue
        if everyone and size == 1:
            z = v
        else:
            z = np.zeros((n, size, b))
            z[np.arange(n) if everyone else rows, level, :] = v
            z = z.reshape(n, size * b)
        r = design.residualize(z) if adjusted else z
        if r.shape != z.shape:
            raise ValueError("an adjustment's residualize changed the shape of the influence matrix")
        if statistic == "mean":
            # mean influences sum to ~0, so no cancellation: skip the centred copy
            s1 = r.sum(axis=0)
            sq = np.einsum("ij,ij->j", r, r) - s1 * s1 / n
        else:
            r = r - r.mean(axis=0)
            sq = np.einsum("ij,ij->j", r, r)
        var[:, cs] = (sq * (n / (n - 1))).reshape(size, b)
    return var, ss


def _proportion_ci(
    p: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    nrow: np.ndarray,
    alpha: float,
    method: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval for proportions as R's ``svyciprop`` (method logit or beta)."""
    lo = np.full(p.shape, np.nan)
    hi = np.full(p.shape, np.nan)
    ok = np.isfinite(p) & np.isfinite(se) & (se > 0) & (p > 0) & (p < 1) & (df > 0)
    if not ok.any():
        return lo, hi
    pp, ss, dd = p[ok], se[ok], df[ok]
    if method == "logit":
        t = stats.t.ppf(1 - alpha / 2, dd)
        centre = special.logit(pp)
        half = t * ss / (pp * (1 - pp))
        lo[ok] = special.expit(centre - half)
        hi[ok] = special.expit(centre + half)
    elif method == "beta":
        nr = nrow[ok]
        with np.errstate(invalid="ignore"):
            ratio = stats.t.ppf(alpha / 2, np.where(nr > 1, nr - 1, np.nan)) / stats.t.ppf(alpha / 2, dd)
        n_eff = pp * (1 - pp) / ss**2 * ratio**2
        lo[ok] = special.betaincinv(n_eff * pp, n_eff * (1 - pp) + 1, alpha / 2)
        hi[ok] = special.betaincinv(n_eff * pp + 1, n_eff * (1 - pp), 1 - alpha / 2)
    else:  # pragma: no cover - checked by callers
        raise ValueError(f"unknown interval method {method!r}")
    return lo, hi


def _boundary_ci(
    full: np.ndarray, n_kish: np.ndarray, df: np.ndarray, nrow: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Korn-Graubard interval of a share of exactly 0 (``full`` False) or 1 (True).

    ``svyciprop(method = "beta")``'s formula with Kish's effective sample size
    ``n_kish`` for the undefined ``p (1 - p) / var``: ``n_eff = n_kish * (t_{nrow-1}
    / t_df)^2``, then ``qbeta(1 - alpha/2, 1, n_eff) = 1 - (alpha/2)^(1/n_eff)`` is
    the upper limit of a 0 share and ``qbeta(alpha/2, n_eff, 1) = (alpha/2)^(1/n_eff)``
    the lower limit of a 1 share (the other limit is 0 or 1 itself).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = stats.t.ppf(alpha / 2, np.where(nrow > 1, nrow - 1, np.nan)) / stats.t.ppf(
            alpha / 2, np.where(df > 0, df, np.nan))
        n_eff = np.where(np.isfinite(n_kish) & (n_kish > 0), n_kish, np.nan) * ratio**2
        log_tail = np.log(alpha / 2) / n_eff
    lo = np.where(full, np.exp(log_tail), 0.0)
    hi = np.where(full, 1.0, -np.expm1(log_tail))
    bad = ~np.isfinite(n_eff)
    lo[bad] = np.nan
    hi[bad] = np.nan
    return lo, hi


def _constant_numeric(
    y: np.ndarray, cols: np.ndarray, part: _Partition, live: np.ndarray
) -> np.ndarray:
    """(L, len(cols)): do all answers of a numeric column within a level agree?

    Rows are put in level order once; per level, the smallest and largest
    answer (NaN and zero-weight rows left out) come from one ``reduceat``.
    """
    inside = part.codes >= 0
    if part.size == 1:
        out = np.zeros((1, cols.size), dtype=bool)
        rows = slice(None) if inside.all() else np.flatnonzero(inside)
        for j, c in enumerate(cols):
            values = y[rows, c][live[rows] & ~np.isnan(y[rows, c])]
            out[0, j] = values.size > 0 and values.min() == values.max()
        return out
    order = np.flatnonzero(inside)[np.argsort(part.codes[inside], kind="stable")]
    levels = part.codes[order]
    starts = np.searchsorted(levels, np.arange(part.size))
    present = np.bincount(levels, minlength=part.size) > 0
    values = y[np.ix_(order, cols)]
    ok = ~np.isnan(values) & live[order, None]
    out = np.zeros((part.size, cols.size), dtype=bool)
    if not order.size:
        return out
    segments = starts[present]  # increasing, one per level with rows
    lo = np.minimum.reduceat(np.where(ok, values, np.inf), segments, axis=0)
    hi = np.maximum.reduceat(np.where(ok, values, -np.inf), segments, axis=0)
    out[present] = lo == hi
    return out


@dataclass(frozen=True)
class _Choice:
    """The answers to one single-choice question (or one 0/1 option) as codes.

    ``codes`` are 0..``size``-1 (-1: missing); the question's columns are the
    0/1 indicators of the categories in ``report``. The indicators are never
    built: every sum the estimates need is a sum of weights over (domain
    level, answer) or (weighting cell, domain level, answer) groups.
    """

    codes: np.ndarray
    size: int
    report: np.ndarray

    @property
    def width(self) -> int:
        """Number of columns (reported categories)."""
        return int(self.report.size)

    @cached_property
    def slots(self) -> np.ndarray:
        """Each answer's code, with ``size`` (one past the categories) for missing."""
        return np.where(self.codes >= 0, self.codes, self.size)

    def indicators(self) -> np.ndarray:
        """The n x width 0/1 columns, NaN where the answer is missing."""
        out = (self.codes[:, None] == self.report[None, :]).astype(float)
        out[self.codes < 0] = np.nan
        return out


@dataclass(frozen=True)
class _Values:
    """Numeric columns, n x m (NaN: missing); ``binary`` marks 0/1 columns."""

    y: np.ndarray
    binary: np.ndarray

    @property
    def width(self) -> int:
        """Number of columns."""
        return int(self.y.shape[1])

    @cached_property
    def answered_mask(self) -> np.ndarray:
        """n x m: True where answered (formed once, shared by every partition and design)."""
        return ~np.isnan(self.y)

    @cached_property
    def filled(self) -> np.ndarray:
        """The answers with 0 where missing."""
        return np.where(self.answered_mask, self.y, 0.0)

    @cached_property
    def answered(self) -> np.ndarray:
        """The answered mask as 0.0/1.0."""
        return self.answered_mask.astype(float)


_Block = _Choice | _Values


@dataclass
class _Part:
    """Per-level results of one block in one partition: (L, width) arrays."""

    weighted_n: np.ndarray
    total: np.ndarray
    n_answers: np.ndarray
    count: np.ndarray
    ss: np.ndarray
    var: np.ndarray
    constant: np.ndarray
    # sum of squared weights of the answers (Kish's effective n); NaN where not needed
    w2: np.ndarray


def _inverse(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values != 0, 1.0 / np.where(values != 0, values, 1.0), 0.0)


def _choice_stats(
    design: SurveyDesign, form: CellForm | None, part: _Partition, choices: Sequence[_Choice]
) -> list[_Part]:
    """Shares of the reported categories of every question in one partition.

    For each question one ``bincount`` gives the weight (and, for the variance,
    the count and base-weight moments) of every (level, answer) group, or of
    every (weighting cell, level, answer) group when the design has a cell
    form. With ``p`` the share and ``W`` the weighted answers of level ``l``,
    the influence of a row of level ``l`` is ``w (1 - p) / W`` when it chose the
    category, ``-w p / W`` when it chose another and 0 otherwise, so that:

    * without adjustments, ``sum z`` and ``sum z^2`` follow from the sums of
      ``w`` and ``w^2`` per group (as before residualizing);
    * with a cell form (weights ``b kappa[cell]``), the cell sums of ``z`` (and
      ``z / b``) give the shift ``T`` of the residuals ``r = z - b T[cell]``,
      and ``sum r^2`` is a sum over groups of ``sum b^2`` times a square:
      ``(kappa a - T)^2`` with ``a`` the group's ``z / (b kappa)``. No n x
      columns matrix is formed;
    * otherwise the 0/1 columns of one question at a time are residualized by
      :func:`_variance_blocks`.
    """
    n = design.n
    w = design.weights
    size = part.size
    slots = part.slots
    live = w != 0
    all_live = bool(live.all())
    adjusted = bool(design.adjustments)
    results: list[_Part] = []
    pending: list[tuple[int, dict[str, np.ndarray]]] = []  # cell-form variances still to solve
    pending_width = 0
    n_cells = form.n_cells + 1 if form is not None else 1
    budget = max(1, _BLOCK_CELLS // 8)

    def flush() -> None:
        nonlocal pending, pending_width
        if not pending:
            return
        assert form is not None
        s = np.concatenate([p["s"] for _, p in pending], axis=2)
        ratio = np.concatenate([p["ratio"] for _, p in pending], axis=2) if form.ratio_sums else None
        width = s.shape[2]
        shift = form.shift(
            s.reshape(n_cells, size * width), None if ratio is None else ratio.reshape(n_cells, size * width)
        ).reshape(n_cells, size, width)
        start = 0
        for index, p in pending:
            cols = slice(start, start + p["s"].shape[2])
            start = cols.stop
            t = shift[:, :, cols]
            b2_cat, b2_ans = p["b2_cat"], p["b2_ans"][:, :, None]
            square = (
                b2_cat * (p["a1"] - t) ** 2
                + (b2_ans - b2_cat) * (p["a0"] - t) ** 2
                + t * t * (form.base_square[:, None, None] - b2_ans)
            ).sum(axis=0)
            s1 = (p["s"] - t * form.base_sum[:, None, None]).sum(axis=0)
            results[index].var = (square - s1 * s1 / n) * (n / (n - 1))
        pending = []
        pending_width = 0

    cell_form = adjusted and form is not None and n >= 2
    groups = slots
    if cell_form:
        assert form is not None
        groups = form.cells * (size + 1) + slots
    # per-row weights of the group sums, formed once for all questions
    live_weights = None if all_live else live.astype(float)
    square_weights = w * w if n >= 2 and not adjusted else None
    # every weight 1 (the unweighted figures): the sums of w and w^2 are the counts
    unit = not adjusted and all_live and bool(np.all(w == 1.0))
    base_square = None if not cell_form or form is None or form.base is None else form.base * form.base
    square = w * w if adjusted and n >= 2 else square_weights  # for the Kish n of 0 % / 100 % shares
    for choice in choices:
        k = choice.size
        report = choice.report
        index = groups * (k + 1)
        index += choice.slots
        if cell_form:
            shape: tuple[int, ...] = (n_cells, size + 1, k + 1)
        else:
            shape = (size + 1, k + 1)
        length = int(np.prod(shape))

        def group_sums(weights: np.ndarray | None, index: np.ndarray = index, shape: tuple[int, ...] = shape,
                       length: int = length) -> np.ndarray:
            return np.bincount(index, weights=weights, minlength=length).reshape(shape).astype(float, copy=False)

        count_full = group_sums(None) if (cell_form or all_live) else None
        w1_full = count_full if unit and count_full is not None else group_sums(w)
        live_full = count_full if live_weights is None else group_sums(live_weights)
        assert live_full is not None
        w1 = w1_full.sum(axis=0) if cell_form else w1_full
        lives = live_full.sum(axis=0) if cell_form else live_full
        weighted_n = w1[:size, :k].sum(axis=1)
        total = w1[:size, report]
        n_answers = np.rint(lives[:size, :k].sum(axis=1)).astype(np.int64)
        count = np.rint(lives[:size, report]).astype(np.int64)
        inv = _inverse(weighted_n)
        p = total * inv[:, None]
        ss = (1 - p) ** 2 * total + p**2 * (weighted_n[:, None] - total)
        width = report.size
        var = np.full((size, width), np.nan)
        constant = (count == 0) | (count == n_answers[:, None])
        w2_answers = np.full(size, np.nan)
        if n >= 2 and not adjusted:
            w2 = w1_full if unit else group_sums(square_weights)
            w2_cat = w2[:size, report]
            w2_ans = w2[:size, :k].sum(axis=1)[:, None]
            w2_answers = w2_ans[:, 0]
            s1 = ((1 - p) * total - p * (weighted_n[:, None] - total)) * inv[:, None]
            s2 = ((1 - p) ** 2 * w2_cat + p**2 * (w2_ans - w2_cat)) * (inv**2)[:, None]
            var = (s2 - s1 * s1 / n) * (n / (n - 1))
        elif n >= 2 and not cell_form:
            indicators = choice.indicators()
            answered = ~np.isnan(indicators)
            var, _ = _variance_blocks(design, part, np.where(answered, indicators, 0.0), answered.astype(float),
                                      p, np.repeat(weighted_n[:, None], width, axis=1), statistic="mean")
        if n >= 2 and adjusted and constant.any():
            # a 0 % / 100 % share takes its interval's effective n from the weights
            w2_full = group_sums(square)
            w2_answers = (w2_full.sum(axis=0) if cell_form else w2_full)[:size, :k].sum(axis=1)
        results.append(_Part(
            weighted_n=np.repeat(weighted_n[:, None], width, axis=1), total=total,
            n_answers=np.repeat(n_answers[:, None], width, axis=1), count=count, ss=ss, var=var,
            constant=constant, w2=np.repeat(w2_answers[:, None], width, axis=1),
        ))
        if not cell_form:
            continue
        assert form is not None and count_full is not None
        kappa = form.kappa[:, None, None]
        if form.base is None:
            b1_full = b2_full = count_full
        else:
            b1_full = group_sums(form.base)
            b2_full = group_sums(base_square)
        scale = kappa * inv[None, :, None]  # z / b of a row is kappa a / W
        s = (b1_full[:, :size, report] - p[None] * b1_full[:, :size, :k].sum(axis=2)[:, :, None]) * scale
        ratio = s
        if form.ratio_sums:
            ratio = (count_full[:, :size, report] - p[None] * count_full[:, :size, :k].sum(axis=2)[:, :, None]) * scale
        pending.append((len(results) - 1, {
            "s": s, "ratio": ratio, "a1": (1 - p)[None] * scale, "a0": -p[None] * scale,
            "b2_cat": b2_full[:, :size, report], "b2_ans": b2_full[:, :size, :k].sum(axis=2),
        }))
        pending_width += width
        if n_cells * size * pending_width >= budget:
            flush()
    flush()
    return results


def _values_cell_variance(
    design: SurveyDesign,
    form: CellForm,
    part: _Partition,
    y0: np.ndarray,
    answered: np.ndarray,
    mean: np.ndarray,
    weighted_n: np.ndarray,
    *,
    statistic: Literal["mean", "total"],
) -> tuple[np.ndarray, np.ndarray]:
    """Variance and ``ss`` of numeric columns from the design's cell form.

    ``e_i = m_i (y_i - mean_l)`` for a mean (``m_i y_i`` for a total) is formed
    once per row; the influence of level ``l`` is ``z_i = w_i e_i / W_l`` on its
    rows and 0 elsewhere, so the cell sums of ``z`` come from one ``bincount``
    per column over (cell, level) and give the shift ``T``. Then ``sum r^2`` is
    the sum over the level's own rows of ``(z_i - b_i T[cell_i, l])^2`` (one
    gather, no n x levels matrix) plus ``T^2`` times the ``sum b^2`` of the other
    rows of each cell.
    """
    n = design.n
    w = design.weights
    size = part.size
    n_cells = form.n_cells + 1
    codes = part.codes
    inside = codes >= 0
    rows: slice | np.ndarray = slice(None) if inside.all() else np.flatnonzero(inside)
    level = codes[rows]
    cells_in = form.cells[rows]
    atom = form.cells * (size + 1) + part.slots

    def per_row(table: np.ndarray, cs: slice) -> np.ndarray:
        # each row's own level's value (a broadcast row when there is one level)
        return table[0:1, cs] if size == 1 else table[level, cs]
    base = form.base
    base_in = None if base is None else base[rows]
    kappa_in = form.kappa[cells_in]
    b2_cell_level = np.bincount(atom, weights=None if base is None else base * base,
                                minlength=n_cells * (size + 1)).reshape(n_cells, size + 1)[:, :size]
    inv = _inverse(weighted_n) if statistic == "mean" else np.ones_like(weighted_n)
    summer = part.summer(rows)
    k = y0.shape[1]
    var = np.full((size, k), np.nan)
    ss = np.full((size, k), np.nan)
    per_block = max(1, _BLOCK_CELLS // max(n, n_cells * size))
    for start in range(0, k, per_block):
        cs = slice(start, min(k, start + per_block))
        dev = y0[rows, cs] - per_row(mean, cs)
        dev *= answered[rows, cs]
        ss[:, cs] = summer(dev * dev * w[rows, None])
        e = dev if statistic == "mean" else y0[rows, cs] * answered[rows, cs]
        atom_in = atom[rows]
        b = cs.stop - cs.start
        weighted = e if base_in is None else e * base_in[:, None]
        scale = form.kappa[:, None, None] * inv[None, :, cs]
        sums = np.stack([np.bincount(atom_in, weights=weighted[:, j], minlength=n_cells * (size + 1))
                         for j in range(b)], axis=1).reshape(n_cells, size + 1, b)[:, :size, :] * scale
        ratio = None
        if form.ratio_sums:
            ratio = np.stack([np.bincount(atom_in, weights=e[:, j], minlength=n_cells * (size + 1))
                              for j in range(b)], axis=1).reshape(n_cells, size + 1, b)[:, :size, :] * scale
            ratio = ratio.reshape(n_cells, size * b)
        shift = form.shift(sums.reshape(n_cells, size * b), ratio).reshape(n_cells, size, b)
        own = kappa_in[:, None] * e
        own *= per_row(inv, cs)
        own -= shift[:, 0, :][cells_in] if size == 1 else shift[cells_in, level, :]
        if base_in is not None:
            own *= base_in[:, None]
        square = summer(own * own) + (shift * shift * (form.base_square[:, None, None]
                                                        - b2_cell_level[:, :, None])).sum(axis=0)
        s1 = (sums - shift * form.base_sum[:, None, None]).sum(axis=0)
        var[:, cs] = (square - s1 * s1 / n) * (n / (n - 1))
    return var, ss


def _values_stats(
    design: SurveyDesign, form: CellForm | None, part: _Partition, block: _Values,
    *, statistic: Literal["mean", "total"], constants: dict[tuple[int, int], np.ndarray] | None = None,
) -> _Part:
    """Means (or totals) of numeric columns in one partition.

    ``constants`` keeps :func:`_constant_numeric` per (partition, block) for designs
    in which every weight is non-zero (then it does not depend on the weights).
    """
    n_rows = design.n
    w = design.weights
    y, binary = block.y, block.binary
    y0 = block.filled
    answered = block.answered
    live = w != 0
    summer = part.summer()
    wm = answered * w[:, None]
    wy = y0 * w[:, None]
    wn = summer(wm)
    tot = summer(wy)
    n_ans = np.rint(summer(answered * live[:, None])).astype(np.int64)
    cnt = n_ans.copy()
    if binary.any():
        cnt[:, binary] = np.rint(summer(((y0[:, binary] != 0) & live[:, None]).astype(float))).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(wn != 0, tot / np.where(wn != 0, wn, 1.0), 0.0)
    var = np.full(wn.shape, np.nan)
    ss = np.full(wn.shape, np.nan)
    adjusted = bool(design.adjustments)
    k = y.shape[1]
    if adjusted and form is not None and n_rows >= 2:
        var, ss = _values_cell_variance(design, form, part, y0, answered, mean, wn, statistic=statistic)
    else:
        # 0/1 columns of a mean: every sum the variance needs is a sum of
        # positive terms over the 1s and the 0s (exact, and no n x k work)
        closed = binary & (statistic == "mean")
        blockwise = np.flatnonzero(~closed | adjusted)
        if n_rows >= 2 and blockwise.size == k:
            var, ss = _variance_blocks(design, part, y0, answered, mean, wn, statistic=statistic)
        elif n_rows >= 2 and blockwise.size:
            var[:, blockwise], ss[:, blockwise] = _variance_blocks(
                design, part, y0[:, blockwise], answered[:, blockwise], mean[:, blockwise],
                wn[:, blockwise], statistic=statistic,
            )
        if closed.any():
            w_one = wy[:, closed]
            w_zero = wm[:, closed] - w_one
            p, a1, a0 = mean[:, closed], summer(w_one), summer(w_zero)
            ss[:, closed] = (1 - p) ** 2 * a1 + p**2 * a0
            if not adjusted and n_rows >= 2:
                inv = _inverse(wn[:, closed])
                s1 = ((1 - p) * a1 - p * a0) * inv
                s2 = ((1 - p) ** 2 * summer(w_one * w[:, None]) + p**2 * summer(w_zero * w[:, None])) * inv**2
                var[:, closed] = (s2 - s1 * s1 / n_rows) * (n_rows / (n_rows - 1))
    constant = np.zeros(wn.shape, dtype=bool)
    constant[:, binary] = (cnt[:, binary] == 0) | (cnt[:, binary] == n_ans[:, binary])
    numeric = np.flatnonzero(~binary)
    if numeric.size:
        key = (id(part), id(block))
        everyone = constants is not None and bool(live.all())
        found = constants.get(key) if everyone and constants is not None else None
        if found is None:
            found = _constant_numeric(y, numeric, part, live)
            if everyone and constants is not None:
                constants[key] = found
        constant[:, numeric] = found
    w2 = np.full(wn.shape, np.nan)
    edge = np.flatnonzero(binary & constant.any(axis=0))
    if edge.size:  # a 0/1 column at 0 % or 100 %: Kish's effective n needs sum w^2
        w2[:, edge] = summer(answered[:, edge] * (w * w)[:, None])
    return _Part(weighted_n=wn, total=tot, n_answers=n_ans, count=cnt, ss=ss, var=var, constant=constant, w2=w2)


def _estimate_matrix(
    design: SurveyDesign,
    blocks: Sequence[_Block],
    partitions: Sequence[_Partition],
    *,
    statistic: Literal["mean", "total"] = "mean",
    ci_methods: Sequence[str],
    alpha: float = 0.05,
    deff_method: str = "srs",
    shared: dict[str, object] | None = None,
) -> _Stats:
    """Estimates for every (domain, column) pair at once.

    ``shared``: state kept between calls with the same ``blocks`` and ``partitions``
    for other designs (the merged numeric columns and what does not depend on the
    weights), so that the weighted and unweighted estimates prepare them once.

    The columns are those of ``blocks`` in order (a :class:`_Choice` gives the
    0/1 columns of its reported categories, a :class:`_Values` its numeric
    columns; NaN = missing); the domains are the levels of every partition,
    stacked in order; ``ci_methods`` gives one interval method per column.
    """
    n_rows = design.n
    w = design.weights
    live = w != 0
    form = design.cell_form if design.adjustments else None
    choice_at = [i for i, b in enumerate(blocks) if isinstance(b, _Choice)]
    choices = [b for b in blocks if isinstance(b, _Choice)]
    if statistic == "total" and choices:
        raise ValueError("totals are estimated from numeric columns")  # pragma: no cover - internal
    shared = {} if shared is None else shared
    merged_chunks = shared.get("chunks")
    if merged_chunks is None:
        # numeric questions are summed together, a few columns at a time
        chunks: list[list[tuple[int, _Values]]] = []
        for i, block in enumerate(blocks):
            if isinstance(block, _Values):
                if not chunks or sum(b.width for _, b in chunks[-1]) + block.width > _VALUES_CHUNK:
                    chunks.append([])
                chunks[-1].append((i, block))
        merged_chunks = shared["chunks"] = [
            (chunk, chunk[0][1] if len(chunk) == 1 else _Values(
                np.hstack([b.y for _, b in chunk]), np.concatenate([b.binary for _, b in chunk])))
            for chunk in chunks
        ]
    constants = shared.setdefault("constants", {})
    assert isinstance(merged_chunks, list) and isinstance(constants, dict)

    parts: list[list[_Part]] = []
    n_domain_l, rows_domain_l = [], []
    for part in partitions:
        results: dict[int, _Part] = dict(zip(choice_at, _choice_stats(design, form, part, choices), strict=True))
        for chunk, merged in merged_chunks:
            stats_ = _values_stats(design, form, part, merged, statistic=statistic, constants=constants)
            at = 0
            for i, block in chunk:
                cols = slice(at, at + block.width)
                at = cols.stop
                results[i] = _Part(**{name: getattr(stats_, name)[:, cols] for name in _Part.__dataclass_fields__})
        parts.append([results[i] for i in range(len(blocks))])
        inside = part.codes >= 0
        n_domain_l.append(np.bincount(part.codes[inside & live], minlength=part.size).astype(np.int64))
        rows_domain_l.append(np.bincount(part.codes[inside], minlength=part.size).astype(np.int64))

    def stack(name: str) -> np.ndarray:
        return np.vstack([np.hstack([getattr(r, name) for r in results]) for results in parts])

    weighted_n = stack("weighted_n")
    total = stack("total")
    n_ans = stack("n_answers")
    count = stack("count")
    var = stack("var")
    ss = stack("ss")
    constant = stack("constant")
    w2 = stack("w2")
    n_domain = np.concatenate(n_domain_l)
    # which columns are shares: a choice's categories, and 0/1 columns asked as proportions
    is_choice = np.concatenate([np.full(b.width, isinstance(b, _Choice)) for b in blocks])
    binary_column = np.concatenate([np.full(b.width, True) if isinstance(b, _Choice) else b.binary.astype(bool)
                                    for b in blocks])
    share = is_choice | (binary_column & np.isin(np.asarray(list(ci_methods), dtype=object), ["logit", "beta"]))
    rows_domain = np.concatenate(rows_domain_l)

    g, k = weighted_n.shape
    flags: list[list[str]] = [[""] * k for _ in range(g)]

    def add(mask: np.ndarray, code: str) -> None:
        for gi, ci in np.argwhere(mask):
            flags[gi][ci] = f"{flags[gi][ci]};{code}" if flags[gi][ci] else code

    empty = np.broadcast_to((rows_domain == 0)[:, None], (g, k))
    no_answers = ~empty & (n_ans == 0)
    nonpos = ~empty & ~no_answers & (weighted_n <= 0)
    add(empty, "empty_domain")
    add(no_answers, "no_answers")
    add(nonpos, "nonpositive_weight")
    valid = ~(empty | no_answers | nonpos)

    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / weighted_n
    estimate = np.where(valid, mean if statistic == "mean" else total, np.nan)

    single = valid & (n_ans == 1)
    add(single, "single_answer")
    too_few = n_rows < 2
    if too_few:
        add(valid & ~single, "too_few_rows")
    usable = valid & ~single & (not too_few)
    zero_var = usable & constant & (statistic == "mean")
    boundary = zero_var & share[None, :]
    add(zero_var & ~boundary, "zero_variance")
    add(boundary, "boundary_share")

    var = np.where(usable, var, np.nan)
    var[zero_var] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = n_ans / (n_ans - 1.0) * ss / weighted_n
        vsrs_replace = s2 / n_ans
        if deff_method == "replace":
            vsrs = vsrs_replace
        else:
            vsrs = s2 * (weighted_n - n_ans) / (weighted_n * n_ans)
        if statistic == "total":
            vsrs = vsrs * weighted_n**2
            vsrs_replace = vsrs_replace * weighted_n**2
        calibrated = usable & ~zero_var & (var <= _CALIBRATED_RATIO * vsrs_replace)
        var[calibrated] = 0.0
        se = np.sqrt(var)
        deff = var / vsrs
    add(calibrated, "calibrated")
    deff[calibrated] = 0.0
    deff_bad = usable & ~zero_var & ~calibrated & (deff_method == "srs") & (weighted_n <= n_ans)
    add(deff_bad, "deff_undefined")
    deff[~usable | zero_var | deff_bad] = np.nan

    df = np.broadcast_to((n_domain - 1).astype(float)[:, None], (g, k)).copy()
    df[df < 1] = np.nan
    nrow = np.broadcast_to(
        (np.full(g, n_rows) if design.adjustments else rows_domain).astype(float)[:, None], (g, k)
    )

    ci_low = np.full((g, k), np.nan)
    ci_high = np.full((g, k), np.nan)
    zq = stats.norm.ppf(1 - alpha / 2)
    methods = np.asarray(list(ci_methods), dtype=object)
    for method in set(methods.tolist()):
        cols = np.flatnonzero(methods == method)
        if method == "wald":
            ci_low[:, cols] = estimate[:, cols] - zq * se[:, cols]
            ci_high[:, cols] = estimate[:, cols] + zq * se[:, cols]
        else:
            lo, hi = _proportion_ci(estimate[:, cols], se[:, cols], df[:, cols], nrow[:, cols], alpha, method)
            ci_low[:, cols], ci_high[:, cols] = lo, hi
    no_ci = ~usable | zero_var
    ci_low[no_ci] = np.nan
    ci_high[no_ci] = np.nan
    ci_low[calibrated] = estimate[calibrated]
    ci_high[calibrated] = estimate[calibrated]
    if boundary.any():
        full = count[boundary] > 0
        estimate[boundary] = full.astype(float)  # exactly 0 or 1
        ci_low[boundary], ci_high[boundary] = _boundary_ci(
            full, weighted_n[boundary] ** 2 / w2[boundary], df[boundary], nrow[boundary], alpha)
    return _Stats(estimate, se, ci_low, ci_high, df, deff, n_ans, count, weighted_n, flags, boundary)


def _reason(flag: str) -> str:
    return "; ".join(_REASONS[code] for code in flag.split(";")) if flag else ""


def _one(stats_: _Stats, gi: int, ci: int, ci_method: str) -> Estimate:
    flag = stats_.flags[gi][ci]
    return Estimate(
        estimate=float(stats_.estimate[gi, ci]),
        se=float(stats_.se[gi, ci]),
        ci_low=float(stats_.ci_low[gi, ci]),
        ci_high=float(stats_.ci_high[gi, ci]),
        ci_method=stats_.method(gi, ci, ci_method),
        df=float(stats_.df[gi, ci]),
        deff=float(stats_.deff[gi, ci]),
        n=int(stats_.n[gi, ci]),
        count=int(stats_.count[gi, ci]),
        weighted_n=float(stats_.weighted_n[gi, ci]),
        flag=flag,
        reason=_reason(flag),
    )


# --------------------------------------------------------------------------- public: one variable


def survey_mean(
    values: ArrayLike,
    design: SurveyDesign,
    *,
    domain: ArrayLike | None = None,
    alpha: float = 0.05,
    ci_method: CIMethod = "wald",
    deff_method: DeffMethod = "srs",
) -> Estimate:
    """Weighted mean (or proportion, for a 0/1 variable) with a calibration-aware SE.

    ``mean = sum w d m y / sum w d m``; variance by Taylor linearization of the
    influence ``z_i = w_i d_i m_i (y_i - mean) / W`` after ``design.residualize``,
    with replacement: ``n/(n-1) sum (r_i - rbar)^2`` (Lumley 2010, sec. 2.3, 7.4).
    NaN in ``values`` is a missing answer (R's ``na.rm = TRUE``); ``domain`` is a
    boolean mask (R's ``svymean(~y, subset(design, domain))``): both keep every
    row in the design, with zero influence. ``ci_method`` ``"logit"``/``"beta"``
    need a 0/1 variable (R's ``svyciprop``, Korn & Graubard 1998). See the module
    docstring for the design effect, degrees of freedom and flags.

    Example:
        >>> import numpy as np
        >>> from analysis.design import SurveyDesign
        >>> design = SurveyDesign(np.array([1.0, 3.0, 2.0, 2.0]))
        >>> survey_mean([2.0, 4.0, 3.0, np.nan], design).estimate
        3.3333333333333335
    """
    alpha = _check_alpha(alpha)
    _check_deff_method(deff_method)
    y = _as_values(values, design, "values")
    binary = bool(np.isin(y[~np.isnan(y)], [0.0, 1.0]).all())
    _check_ci_method(ci_method, proportion=True)
    if ci_method != "wald" and not binary:
        raise ValueError(f"ci_method={ci_method!r} is for proportions: values must be 0, 1 or NaN")
    mask = _as_mask(domain, design)
    st = _estimate_matrix(
        design, [_Values(y[:, None], np.array([binary]))], [_mask_partition(mask)],
        ci_methods=[ci_method], alpha=alpha, deff_method=deff_method,
    )
    return _one(st, 0, 0, ci_method)


def survey_total(
    values: ArrayLike,
    design: SurveyDesign,
    *,
    domain: ArrayLike | None = None,
    alpha: float = 0.05,
    deff_method: DeffMethod = "srs",
) -> Estimate:
    """Weighted (population) total with a calibration-aware SE, as R's ``svytotal``.

    ``total = sum_i w_i d_i m_i y_i``; influence ``z_i = w_i d_i m_i y_i``,
    residualized, with-replacement variance ``n/(n-1) sum (r_i - rbar)^2``
    (Lumley 2010, sec. 2.3). Design effect against SRS of the same size,
    ``s2 W^2 (W - n_d)/(W n_d)`` (``deff_method="replace"``: ``s2 W^2 / n_d``).
    The interval is Wald with the normal quantile (``confint(svytotal(...))``).

    Example:
        >>> import numpy as np
        >>> from analysis.design import SurveyDesign
        >>> survey_total([1.0, 0.0, 1.0], SurveyDesign(np.array([10.0, 20.0, 30.0]))).estimate
        40.0
    """
    alpha = _check_alpha(alpha)
    _check_deff_method(deff_method)
    y = _as_values(values, design, "values")
    mask = _as_mask(domain, design)
    st = _estimate_matrix(
        design, [_Values(y[:, None], np.array([False]))], [_mask_partition(mask)], statistic="total",
        ci_methods=["wald"], alpha=alpha, deff_method=deff_method,
    )
    return _one(st, 0, 0, "wald")


def survey_proportions(
    answers: ArrayLike,
    design: SurveyDesign,
    *,
    categories: Sequence[Hashable] | None = None,
    domain: ArrayLike | None = None,
    alpha: float = 0.05,
    ci_method: CIMethod = "logit",
    deff_method: DeffMethod = "srs",
) -> pd.DataFrame:
    """Weighted share of every category of a single-choice answer.

    Each category ``c`` is the mean of the indicator ``[answer == c]`` over the
    respondents who answered (R's ``svymean(~factor, design, na.rm = TRUE)``);
    the shares sum to 1. Intervals as ``svyciprop`` (``"logit"`` by default,
    ``"beta"`` for Korn & Graubard 1998) or ``"wald"``. Missing answers (NaN/None)
    stay in the design with zero influence (Lumley 2010, sec. 2.3).

    Returns one row per category with the columns ``category``, ``estimate``,
    ``se``, ``ci_low``, ``ci_high``, ``ci_method``, ``df``, ``deff``, ``n``,
    ``count``, ``weighted_n``, ``flag``, ``reason``.

    Example:
        >>> import numpy as np
        >>> from analysis.design import SurveyDesign
        >>> table = survey_proportions(["ja", "nej", "ja", None], SurveyDesign(np.ones(4)))
        >>> table["estimate"].round(3).tolist()
        [0.667, 0.333]
    """
    alpha = _check_alpha(alpha)
    _check_deff_method(deff_method)
    _check_ci_method(ci_method, proportion=True)
    series = pd.Series(answers) if not isinstance(answers, pd.Series) else answers.reset_index(drop=True)
    if series.size != design.n:
        raise ValueError(f"answers has {series.size} values but the design has {design.n} respondents")
    levels, codes = _answers(series, categories or (), "answers")
    if not levels:
        raise ValueError("answers has no categories: every answer is missing and no categories were given")
    choice = _Choice(codes, len(levels), np.arange(len(levels)))
    mask = _as_mask(domain, design)
    st = _estimate_matrix(
        design, [choice], [_mask_partition(mask)],
        ci_methods=[ci_method] * len(levels), alpha=alpha, deff_method=deff_method,
    )
    rows = [{"category": level, **_one(st, 0, i, ci_method).__dict__} for i, level in enumerate(levels)]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- public: the report


def _domain_partitions(
    data: pd.DataFrame, by: Sequence[str]
) -> tuple[list[_Partition], list[tuple[str, str]]]:
    """The whole sample first, then every ``by`` variable as a partition."""
    parts = [_whole(len(data))]
    labels: list[tuple[str, str]] = [(OVERALL, OVERALL)]
    for var in by:
        if var not in data.columns:
            raise ValueError(f"domain variable {var!r} is not a column of the data")
        column = data[var]
        levels = _levels(column)
        codes = _codes(column, levels)
        parts.append(_Partition(codes, len(levels)))
        labels.extend((var, _label(level)) for level in levels)
    return parts, labels


def estimate_report(
    data: pd.DataFrame,
    design: SurveyDesign,
    questions: Sequence[Question],
    *,
    by: Sequence[str] = (),
    alpha: float = 0.05,
    proportion_ci: CIMethod = "logit",
    mean_ci: Literal["wald"] = "wald",
    deff_method: DeffMethod = "srs",
) -> pd.DataFrame:
    """Every question, overall and for every level of every ``by`` variable, at once.

    Each category of a single-choice question and each option of a
    multiple-choice question is a weighted proportion; a numeric question is a
    weighted mean. Domains are estimated by the domain method (R's
    ``svyby(~y, ~district, design, svymean)``: zero influence outside the domain,
    never re-analysing a subset; Lumley 2010, sec. 2.3.1). No n x estimates
    matrix is formed: a single-choice question (and a 0/1 option) is read as
    one code per respondent, and every sum its estimates and variances need is
    a sum over (domain level x answer) groups, or, for a design weighted by
    :mod:`analysis.weighting`, over (weighting cell x domain level x answer)
    groups, from which the calibration residuals follow exactly
    (``SurveyDesign.cell_form``). Other designs are residualized row by row,
    in blocks of columns.

    Respondents with a missing ``by`` value count in the overall estimates
    only. A Categorical ``by`` column reports its unused levels as
    ``empty_domain`` rows; otherwise the observed levels are reported, sorted.

    Returns a tidy frame with the columns in ``REPORT_COLUMNS``: ``question``,
    ``kind``, ``category`` (category, option label, or ``"(mean)"``),
    ``domain_variable`` and ``domain_value`` (``"(all)"`` for the whole sample),
    ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``ci_method`` (``proportion_ci`` or
    ``mean_ci``; ``"beta"`` for a share of exactly 0 or 1), ``df``, ``deff``,
    ``n`` (unweighted answers in the domain), ``count`` (unweighted respondents
    choosing the category; ``n`` for means), ``weighted_n``, ``flag`` and
    ``reason`` (see the module docstring).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from analysis.design import SurveyDesign
        >>> df = pd.DataFrame({"q1": ["ja", "nej", "ja", "ja"], "kon": ["K", "M", "M", "K"]})
        >>> out = estimate_report(df, SurveyDesign(np.ones(4)), [Question.single_choice("q1")], by=["kon"])
        >>> out[["category", "domain_value", "estimate"]].head(2).to_dict("records")
        [{'category': 'ja', 'domain_value': '(all)', 'estimate': 0.75}, {'category': 'nej', 'domain_value': '(all)', 'estimate': 0.25}]
    """
    return estimate_reports(data, {"": design}, questions, by=by, alpha=alpha, proportion_ci=proportion_ci,
                            mean_ci=mean_ci, deff_method=deff_method)[""]


def estimate_reports(
    data: pd.DataFrame,
    designs: Mapping[str, SurveyDesign],
    questions: Sequence[Question],
    *,
    by: Sequence[str] = (),
    alpha: float = 0.05,
    proportion_ci: CIMethod = "logit",
    mean_ci: Literal["wald"] = "wald",
    deff_method: DeffMethod | Mapping[str, DeffMethod] = "srs",
) -> dict[str, pd.DataFrame]:
    """:func:`estimate_report` for several designs of the same respondents at once.

    A report usually shows the weighted and the unweighted figures (the
    unweighted design is ``SurveyDesign(np.ones(n))``). Each design's frame
    equals ``estimate_report(data, design, questions, ...)``; what does not
    depend on the weights is done once: the answers coded, the domains
    partitioned, the numeric answers prepared, the check for constant answers
    within a domain (shared while every weight is non-zero) and the row labels.
    ``deff_method`` is one method for all designs or one per design name.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from analysis.design import SurveyDesign
        >>> df = pd.DataFrame({"q1": ["ja", "nej", "ja", "ja"]})
        >>> out = estimate_reports(df, {"weighted": SurveyDesign(np.array([1.0, 3.0, 1.0, 1.0])),
        ...                             "unweighted": SurveyDesign(np.ones(4))}, [Question.single_choice("q1")])
        >>> [float(out[name]["estimate"].iloc[0]) for name in ("weighted", "unweighted")]
        [0.5, 0.75]
    """
    alpha = _check_alpha(alpha)
    if not designs:
        raise ValueError("give at least one design")
    methods = {name: (deff_method if isinstance(deff_method, str) else deff_method.get(name, "srs"))
               for name in designs}
    for method in methods.values():
        _check_deff_method(method)
    _check_ci_method(proportion_ci, proportion=True)
    _check_ci_method(mean_ci, proportion=False)
    design = next(iter(designs.values()))
    for other in designs.values():
        if len(data) != other.n:
            raise ValueError(f"data has {len(data)} rows but the design has {other.n} respondents")
    if not questions:
        raise ValueError("give at least one Question")
    names = [q.name for q in questions]
    if len(set(names)) != len(names):
        raise ValueError("question names must be unique")
    data = data.reset_index(drop=True)

    blocks: list[_Block] = []
    meta: list[tuple[str, str, str]] = []  # question, kind, category label
    binary: list[bool] = []
    for q in questions:
        for col in q.columns:
            if col not in data.columns:
                raise ValueError(f"question {q.name!r}: column {col!r} is not in the data")
        if q.kind == "single":
            series = data[q.columns[0]]
            levels, codes = _answers(series, q.categories, f"question {q.name!r}")
            if not levels:
                raise ValueError(f"question {q.name!r} has no answers and no declared categories")
            blocks.append(_Choice(codes, len(levels), np.arange(len(levels))))
            meta.extend((q.name, q.kind, _label(level)) for level in levels)
            binary.extend([True] * len(levels))
        elif q.kind == "multiple":
            for c in q.columns:
                option = _as_values(data[c], design, f"question {q.name!r} column {c!r}")
                answered = ~np.isnan(option)
                if not np.isin(option[answered], [0.0, 1.0]).all():
                    raise ValueError(f"question {q.name!r}: option columns must hold 0, 1 or NaN")
                # a 0/1 option is a two-category answer whose share of 1 is reported
                blocks.append(_Choice(np.where(answered, option, -1).astype(np.int64), 2, np.array([1])))
            meta.extend((q.name, q.kind, _label(label)) for label in q.categories)
            binary.extend([True] * len(q.columns))
        else:
            values = _as_values(data[q.columns[0]], design, f"question {q.name!r}")
            blocks.append(_Values(values[:, None], np.array([False])))
            meta.append((q.name, q.kind, MEAN_LABEL))
            binary.append(False)
    ci_methods = [proportion_ci if b else mean_ci for b in binary]
    parts, labels = _domain_partitions(data, by)
    shared: dict[str, object] = {}
    stats_by_design = {
        name: _estimate_matrix(other, blocks, parts, ci_methods=ci_methods, alpha=alpha, deff_method=methods[name],
                               shared=shared)
        for name, other in designs.items()
    }

    g, k = next(iter(stats_by_design.values())).estimate.shape
    # rows ordered question-major: for each column, overall then domains; then sorted
    # question-major, then domain variable blocks, then category: a readable order
    col_idx = np.repeat(np.arange(k), g)
    dom_idx = np.tile(np.arange(g), k)
    order = np.lexsort((col_idx, dom_idx, np.array([names.index(meta[c][0]) for c in col_idx])))
    col_idx, dom_idx = col_idx[order], dom_idx[order]
    columns = col_idx.tolist()
    domains = dom_idx.tolist()
    fixed = {
        "question": [meta[c][0] for c in columns],
        "kind": [meta[c][1] for c in columns],
        "category": [meta[c][2] for c in columns],
        "domain_variable": [labels[d][0] for d in domains],
        "domain_value": [labels[d][1] for d in domains],
    }
    methods_column = np.asarray([ci_methods[c] for c in columns], dtype=object)
    reasons: dict[str, str] = {}
    out: dict[str, pd.DataFrame] = {}
    for name, st in stats_by_design.items():
        flags = [st.flags[gi][ci] for ci, gi in zip(columns, domains, strict=True)]
        methods_here = np.where(st.boundary[dom_idx, col_idx], "beta", methods_column).tolist()
        out[name] = pd.DataFrame(
            {
                **fixed,
                "estimate": st.estimate[dom_idx, col_idx],
                "se": st.se[dom_idx, col_idx],
                "ci_low": st.ci_low[dom_idx, col_idx],
                "ci_high": st.ci_high[dom_idx, col_idx],
                "ci_method": methods_here,
                "df": st.df[dom_idx, col_idx],
                "deff": st.deff[dom_idx, col_idx],
                "n": st.n[dom_idx, col_idx],
                "count": st.count[dom_idx, col_idx],
                "weighted_n": st.weighted_n[dom_idx, col_idx],
                "flag": flags,
                "reason": [reasons[f] if f in reasons else reasons.setdefault(f, _reason(f)) for f in flags],
            }
        )
    return out


# --------------------------------------------------------------------------- public: differences


def domain_difference(
    values: ArrayLike,
    by: ArrayLike,
    design: SurveyDesign,
    first: Hashable,
    second: Hashable,
    *,
    category: Hashable | None = None,
    alpha: float = 0.05,
) -> DomainDifference:
    """Difference of a mean (or share) between two domains, with SE and a t-test.

    ``difference = mean_first - mean_second``; with ``z1``, ``z2`` the two
    domains' influence columns residualized together,
    ``var = V11 + V22 - 2 V12`` where ``V = n/(n-1) (R - Rbar)'(R - Rbar)`` -
    as R's ``svycontrast(svyby(~y, ~by, design, svymean, covmat = TRUE),
    c(1, -1))`` (Lumley 2010, sec. 3.3). ``statistic = difference / se`` with
    ``df = n_first + n_second - 2`` (answers in the two domains), as
    ``svyttest(y ~ by, subset(design, by %in% c(first, second)))``; the interval
    uses the same t quantile.

    ``values`` are numeric (NaN missing); with ``category`` they are answers to
    a single-choice question and the share choosing ``category`` is compared.

    Example:
        >>> import numpy as np
        >>> from analysis.design import SurveyDesign
        >>> d = domain_difference([1, 0, 1, 1, 0, 0], list("AAABBB"), SurveyDesign(np.ones(6)), "A", "B")
        >>> round(d.difference, 4)
        0.3333
    """
    alpha = _check_alpha(alpha)
    if category is not None:
        series = pd.Series(values) if not isinstance(values, pd.Series) else values.reset_index(drop=True)
        if series.size != design.n:
            raise ValueError(f"values has {series.size} answers but the design has {design.n} respondents")
        y = np.where(series.isna().to_numpy(), np.nan, (series == category).to_numpy(dtype=bool).astype(float))
    else:
        y = _as_values(values, design, "values")
    groups = pd.Series(by) if not isinstance(by, pd.Series) else by.reset_index(drop=True)
    if groups.size != design.n:
        raise ValueError(f"by has {groups.size} values but the design has {design.n} respondents")
    if first == second:
        raise ValueError("first and second must be two different domains")
    dom = np.column_stack([(groups == first).to_numpy(dtype=bool), (groups == second).to_numpy(dtype=bool)])
    for j, label in enumerate((first, second)):
        if not dom[:, j].any():
            raise ValueError(f"domain {label!r} has no respondents in by")
    w = design.weights
    answered = ~np.isnan(y)
    y0 = np.where(answered, y, 0.0)
    wdm = dom * (w * answered)[:, None]
    wn = wdm.sum(axis=0)
    n_ans = (dom & (answered & (w != 0))[:, None]).sum(axis=0)
    flag = ""
    if (n_ans == 0).any() or (wn <= 0).any():
        flag = "no_answers"
    elif (n_ans < 2).any() or design.n < 2:
        flag = "single_answer"
    if flag:
        means = np.where(wn > 0, (wdm * y0[:, None]).sum(axis=0) / np.where(wn > 0, wn, 1), np.nan)
        return DomainDifference(
            first, second, float(means[0]), float(means[1]), float(means[0] - means[1]),
            np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, int(n_ans[0]), int(n_ans[1]),
            flag, _reason(flag),
        )
    means = (wdm * y0[:, None]).sum(axis=0) / wn
    dev = (y0[:, None] - means) * (wdm != 0)
    z = wdm * dev / wn
    r = design.residualize(z)
    r = r - r.mean(axis=0)
    n = design.n
    cov = (r.T @ r) * (n / (n - 1))
    diff = float(means[0] - means[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    # SRS (with replacement) variance of the difference, the yardstick for noise
    s2 = n_ans / (n_ans - 1.0) * (wdm * dev**2).sum(axis=0) / wn
    v_srs = float((s2 / n_ans).sum())
    df = float(n_ans.sum() - 2)
    if var <= _CALIBRATED_RATIO * v_srs:
        flag = "zero_variance" if v_srs == 0 else "calibrated"
        reason = (
            "every answer in both domains is the same: no test"
            if v_srs == 0
            else "the weighting fixes both domain estimates (calibration targets): the "
            "difference is known without sampling error, so se = 0 and there is no test"
        )
        return DomainDifference(
            first, second, float(means[0]), float(means[1]), diff, 0.0, diff, diff,
            np.nan, df, np.nan, int(n_ans[0]), int(n_ans[1]), flag, reason,
        )
    se = float(np.sqrt(var))
    t = diff / se
    q = float(stats.t.ppf(1 - alpha / 2, df))
    return DomainDifference(
        first=first,
        second=second,
        estimate_first=float(means[0]),
        estimate_second=float(means[1]),
        difference=diff,
        se=se,
        ci_low=diff - q * se,
        ci_high=diff + q * se,
        statistic=t,
        df=df,
        p_value=float(2 * stats.t.sf(abs(t), df)),
        n_first=int(n_ans[0]),
        n_second=int(n_ans[1]),
    )
