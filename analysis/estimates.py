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
``zero_variance``      every answer is the same (a 0 % or 100 % share)     ci, deff (se is 0)
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
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse, special, stats

from analysis.design import SurveyDesign

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

# Influence columns are residualized in blocks of about this many cells, so that
# memory stays bounded (64 MB per block of float64) however many estimates a
# report asks for.
_BLOCK_CELLS = 1 << 23
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


def _levels(column: pd.Series, declared: Sequence[Hashable] = ()) -> list[Hashable]:
    """Levels of a categorical-ish column, in a stable order (R's factor order)."""
    if declared:
        return list(declared)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    present = column.dropna().unique()
    try:
        return sorted(present.tolist())
    except TypeError:
        return sorted(present.tolist(), key=str)


def _label(level: Hashable) -> str:
    """A category as report text: whole-number floats (1.0 from a column with NaN) as 1."""
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    return str(level)


def _codes(values: pd.Series, levels: Sequence[Hashable]) -> np.ndarray:
    """Position of every value among ``levels`` (-1: missing or not a level)."""
    return pd.Index(list(levels), dtype=object).get_indexer(values.astype(object)).astype(np.int64)


def _indicators(answers: pd.Series, levels: Sequence[Hashable], what: str) -> np.ndarray:
    """n x len(levels) 0/1 matrix, NaN rows where the answer is missing."""
    missing = answers.isna().to_numpy()
    codes = _codes(answers, levels)
    unknown = (codes < 0) & ~missing
    if unknown.any():
        extra = sorted({str(v) for v in answers[unknown].unique()})
        raise ValueError(f"{what} has answers that are not among its categories: {', '.join(extra[:5])}")
    out = np.zeros((answers.size, len(levels)), dtype=float)
    rows = np.flatnonzero(codes >= 0)
    out[rows, codes[rows]] = 1.0
    out[missing, :] = np.nan
    return out


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class _Partition:
    """A domain variable: each row's level (``-1``: in none), ``size`` levels."""

    codes: np.ndarray
    size: int

    def summer(self, rows: slice | np.ndarray = slice(None)) -> _LevelSums:
        """Sums of (the given) rows within levels."""
        return _LevelSums(self.codes[rows], self.size)


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


def _constant_numeric(
    y: np.ndarray, cols: np.ndarray, part: _Partition, live: np.ndarray
) -> np.ndarray:
    """(L, len(cols)): do all answers of a numeric column within a level agree?"""
    out = np.zeros((part.size, cols.size), dtype=bool)
    for j, c in enumerate(cols):
        ok = (part.codes >= 0) & live & ~np.isnan(y[:, c])
        if part.size == 1:
            values = y[ok, c]
            if values.size:
                out[0, j] = values.min() == values.max()
            continue
        lo = np.full(part.size, np.inf)
        hi = np.full(part.size, -np.inf)
        np.minimum.at(lo, part.codes[ok], y[ok, c])
        np.maximum.at(hi, part.codes[ok], y[ok, c])
        out[:, j] = lo == hi
    return out


def _estimate_matrix(
    design: SurveyDesign,
    y: np.ndarray,
    partitions: Sequence[_Partition],
    *,
    binary: np.ndarray,
    statistic: Literal["mean", "total"] = "mean",
    ci_methods: Sequence[str],
    alpha: float = 0.05,
    deff_method: str = "srs",
) -> _Stats:
    """Estimates for every (domain, column) pair at once.

    ``y`` is n x k (NaN = missing); the domains are the levels of every
    partition, stacked in order; ``binary`` marks the 0/1 indicator columns
    (proportions); ``ci_methods`` gives one interval method per column.
    """
    n_rows = design.n
    w = design.weights
    answered_b = ~np.isnan(y)
    y0 = np.where(answered_b, y, 0.0)
    answered = answered_b.astype(float)
    live = w != 0
    wm = answered * w[:, None]
    wy = y0 * w[:, None]
    ones = ((y0[:, binary] != 0) & live[:, None]).astype(float) if binary.any() else None

    weighted_n_l, total_l, n_ans_l, count_l, var_l, ss_l = [], [], [], [], [], []
    n_domain_l, rows_domain_l, constant_l = [], [], []
    numeric_cols = np.flatnonzero(~binary)
    adjusted = bool(design.adjustments)
    # 0/1 columns of a mean: every sum the variance needs is a sum of
    # positive terms over the 1s and the 0s (exact, and no n x k work)
    closed = binary & (statistic == "mean")
    if closed.any():
        w_one = wy if closed.all() else wy[:, closed]
        w_zero = (wm if closed.all() else wm[:, closed]) - w_one
        if not adjusted:
            w2_one = w_one * w[:, None]
            w2_zero = w_zero * w[:, None]
    blockwise = np.flatnonzero(~closed | adjusted)
    k = y.shape[1]
    for part in partitions:
        summer = part.summer()
        wn = summer(wm)
        tot = summer(wy)
        n_ans = np.rint(summer(answered * live[:, None])).astype(np.int64)
        cnt = n_ans.copy()
        if binary.any():
            cnt[:, binary] = np.rint(summer(ones)).astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(wn != 0, tot / np.where(wn != 0, wn, 1.0), 0.0)
        var = np.full(wn.shape, np.nan)
        ss = np.full(wn.shape, np.nan)
        if n_rows >= 2 and blockwise.size == k:
            var, ss = _variance_blocks(design, part, y0, answered, mean, wn, statistic=statistic)
        elif n_rows >= 2 and blockwise.size:
            var[:, blockwise], ss[:, blockwise] = _variance_blocks(
                design, part, y0[:, blockwise], answered[:, blockwise], mean[:, blockwise],
                wn[:, blockwise], statistic=statistic,
            )
        if closed.any():
            p, a1, a0 = mean[:, closed], summer(w_one), summer(w_zero)
            ss[:, closed] = (1 - p) ** 2 * a1 + p**2 * a0
            if not adjusted and n_rows >= 2:
                with np.errstate(divide="ignore", invalid="ignore"):
                    inv = np.where(wn[:, closed] != 0, 1.0 / wn[:, closed], 0.0)
                s1 = ((1 - p) * a1 - p * a0) * inv
                s2 = ((1 - p) ** 2 * summer(w2_one) + p**2 * summer(w2_zero)) * inv**2
                var[:, closed] = (s2 - s1 * s1 / n_rows) * (n_rows / (n_rows - 1))
        constant = np.zeros(wn.shape, dtype=bool)
        if binary.any():
            constant[:, binary] = (cnt[:, binary] == 0) | (cnt[:, binary] == n_ans[:, binary])
        if numeric_cols.size:
            constant[:, numeric_cols] = _constant_numeric(y, numeric_cols, part, live)
        weighted_n_l.append(wn)
        total_l.append(tot)
        n_ans_l.append(n_ans)
        count_l.append(cnt)
        var_l.append(var)
        ss_l.append(ss)
        constant_l.append(constant)
        n_domain_l.append(np.rint(summer(live.astype(float))).astype(np.int64))
        rows_domain_l.append(np.rint(summer(np.ones(n_rows))).astype(np.int64))

    weighted_n = np.vstack(weighted_n_l)
    total = np.vstack(total_l)
    n_ans = np.vstack(n_ans_l)
    count = np.vstack(count_l)
    var = np.vstack(var_l)
    ss = np.vstack(ss_l)
    constant = np.vstack(constant_l)
    n_domain = np.concatenate(n_domain_l)
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
    add(zero_var, "zero_variance")

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
    return _Stats(estimate, se, ci_low, ci_high, df, deff, n_ans, count, weighted_n, flags)


def _reason(flag: str) -> str:
    return "; ".join(_REASONS[code] for code in flag.split(";")) if flag else ""


def _one(stats_: _Stats, gi: int, ci: int, ci_method: str) -> Estimate:
    flag = stats_.flags[gi][ci]
    return Estimate(
        estimate=float(stats_.estimate[gi, ci]),
        se=float(stats_.se[gi, ci]),
        ci_low=float(stats_.ci_low[gi, ci]),
        ci_high=float(stats_.ci_high[gi, ci]),
        ci_method=ci_method,
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
        design, y[:, None], [_mask_partition(mask)], binary=np.array([binary]),
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
        design, y[:, None], [_mask_partition(mask)], binary=np.array([False]), statistic="total",
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
    levels = _levels(series, categories or ())
    if not levels:
        raise ValueError("answers has no categories: every answer is missing and no categories were given")
    y = _indicators(series, levels, "answers")
    mask = _as_mask(domain, design)
    st = _estimate_matrix(
        design, y, [_mask_partition(mask)], binary=np.ones(len(levels), dtype=bool),
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
    never re-analysing a subset; Lumley 2010, sec. 2.3.1). All influence columns
    (n x estimates) are built as one matrix and residualized blockwise: one
    ``design.residualize`` call per block of columns, no loop over respondents.

    Respondents with a missing ``by`` value count in the overall estimates
    only. A Categorical ``by`` column reports its unused levels as
    ``empty_domain`` rows; otherwise the observed levels are reported, sorted.

    Returns a tidy frame with the columns in ``REPORT_COLUMNS``: ``question``,
    ``kind``, ``category`` (category, option label, or ``"(mean)"``),
    ``domain_variable`` and ``domain_value`` (``"(all)"`` for the whole sample),
    ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``ci_method``, ``df``, ``deff``,
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
    alpha = _check_alpha(alpha)
    _check_deff_method(deff_method)
    _check_ci_method(proportion_ci, proportion=True)
    _check_ci_method(mean_ci, proportion=False)
    if len(data) != design.n:
        raise ValueError(f"data has {len(data)} rows but the design has {design.n} respondents")
    if not questions:
        raise ValueError("give at least one Question")
    names = [q.name for q in questions]
    if len(set(names)) != len(names):
        raise ValueError("question names must be unique")
    data = data.reset_index(drop=True)

    columns: list[np.ndarray] = []
    meta: list[tuple[str, str, str]] = []  # question, kind, category label
    binary: list[bool] = []
    for q in questions:
        for col in q.columns:
            if col not in data.columns:
                raise ValueError(f"question {q.name!r}: column {col!r} is not in the data")
        if q.kind == "single":
            series = data[q.columns[0]]
            levels = _levels(series, q.categories)
            if not levels:
                raise ValueError(f"question {q.name!r} has no answers and no declared categories")
            ind = _indicators(series, levels, f"question {q.name!r}")
            columns.append(ind)
            meta.extend((q.name, q.kind, _label(level)) for level in levels)
            binary.extend([True] * len(levels))
        elif q.kind == "multiple":
            block = np.column_stack(
                [_as_values(data[c], design, f"question {q.name!r} column {c!r}") for c in q.columns]
            )
            seen = block[~np.isnan(block)]
            if not np.isin(seen, [0.0, 1.0]).all():
                raise ValueError(f"question {q.name!r}: option columns must hold 0, 1 or NaN")
            columns.append(block)
            meta.extend((q.name, q.kind, _label(label)) for label in q.categories)
            binary.extend([True] * len(q.columns))
        else:
            columns.append(_as_values(data[q.columns[0]], design, f"question {q.name!r}")[:, None])
            meta.append((q.name, q.kind, MEAN_LABEL))
            binary.append(False)
    y = np.hstack(columns)
    binary_arr = np.asarray(binary, dtype=bool)
    ci_methods = [proportion_ci if b else mean_ci for b in binary]
    parts, labels = _domain_partitions(data, by)
    st = _estimate_matrix(
        design, y, parts, binary=binary_arr, ci_methods=ci_methods, alpha=alpha, deff_method=deff_method
    )

    g, k = st.estimate.shape
    # rows ordered question-major: for each column, overall then domains
    col_idx = np.repeat(np.arange(k), g)
    dom_idx = np.tile(np.arange(g), k)
    flags = [st.flags[gi][ci] for ci, gi in zip(col_idx.tolist(), dom_idx.tolist(), strict=True)]
    out = pd.DataFrame(
        {
            "question": [meta[c][0] for c in col_idx],
            "kind": [meta[c][1] for c in col_idx],
            "category": [meta[c][2] for c in col_idx],
            "domain_variable": [labels[d][0] for d in dom_idx],
            "domain_value": [labels[d][1] for d in dom_idx],
            "estimate": st.estimate[dom_idx, col_idx],
            "se": st.se[dom_idx, col_idx],
            "ci_low": st.ci_low[dom_idx, col_idx],
            "ci_high": st.ci_high[dom_idx, col_idx],
            "ci_method": [ci_methods[c] for c in col_idx],
            "df": st.df[dom_idx, col_idx],
            "deff": st.deff[dom_idx, col_idx],
            "n": st.n[dom_idx, col_idx],
            "count": st.count[dom_idx, col_idx],
            "weighted_n": st.weighted_n[dom_idx, col_idx],
            "flag": flags,
            "reason": [_reason(f) for f in flags],
        }
    )
    # question-major, then domain variable blocks, then category: a readable order
    order = np.lexsort((col_idx, dom_idx, np.array([names.index(meta[c][0]) for c in col_idx])))
    return out.iloc[order].reset_index(drop=True)


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
