"""Weighted cross-tabulation with the Rao-Scott corrected chi-squared test.

The test is R's ``svychisq(~rows + columns, design)`` (``statistic = "F"``, the
default, or ``"Chisq"``) for a single-stage with-replacement design and its
calibrated descendants (Rao & Scott 1984; Lumley 2010, sec. 6.1)::

    p      = svymean of the r*c cell indicators (rows fastest), NaN rows dropped
    V      = their linearization covariance (calibration-aware, n/(n-1))
    C      = interaction contrasts of the r x c table, orthogonalised to the
             row and column main effects (model matrix of ~rows*cols)
    Delta  = (C' D^-1 C / N)^-1 (C' D^-1 V D^-1 C),   D = diag(p)
    X2     = Pearson's statistic on the weighted table scaled to N rows
    F      = X2 / tr(Delta) on d0 and d0 * nu degrees of freedom,
             d0 = tr(Delta)^2 / tr(Delta^2),  nu = N - 1          ("F")
    p      = P(chi2_{(r-1)(c-1)} > X2 / mean(diag(Delta)))      ("Chisq")

``N`` counts every row of the design, answered or not (as R's ``nrow`` of the
model matrix), and the levels are those present in the data, as R's
``unique()`` of each variable.

References: Rao, J.N.K. & Scott, A.J. (1984) "On chi-squared tests for
multiway contingency tables with cell proportions estimated from survey
data", *Annals of Statistics* 12:46-60; Lumley (2010) *Complex Surveys*.

Example:
    >>> import numpy as np
    >>> from analysis.design import SurveyDesign
    >>> rows = ["ja", "nej", "ja", "ja", "nej", "ja"]
    >>> cols = ["K", "K", "M", "M", "M", "K"]
    >>> table = weighted_crosstab(rows, cols, SurveyDesign(np.ones(6)))
    >>> float(table.counts.loc["ja", "K"])
    2.0
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from analysis.design import SurveyDesign
from analysis.estimates import _codes, _levels

ChisqStatistic = Literal["F", "Chisq"]

# Below this mean generalised design effect the table's variance is rounding
# noise left by calibration on the table's own variables.
_CALIBRATED_DEFF = 1e-10


@dataclass(frozen=True)
class RaoScottTest:
    """The Rao-Scott corrected test of independence.

    ``statistic`` is the F statistic (``"F"``) or Pearson's X2 (``"Chisq"``, whose
    p-value refers ``X2 / mean(diag(Delta))`` to chi-squared on ``ndf``);
    ``ddf`` is ``None`` for ``"Chisq"``. ``pearson`` is the uncorrected X2 on the
    table scaled to ``N`` rows; ``mean_design_effect`` is ``mean(diag(Delta))``.
    NaN values come with a ``reason``.
    """

    statistic_type: str
    statistic: float
    ndf: float
    ddf: float | None
    p_value: float
    pearson: float
    mean_design_effect: float
    reason: str = ""


@dataclass(frozen=True)
class CrossTab:
    """A weighted two-way table and its Rao-Scott test.

    ``counts`` are weighted totals (population estimates, R's ``svytable``),
    ``proportions`` the cells' shares of the answered total, ``column_shares``
    each column's distribution over the rows, ``unweighted`` the respondents per
    cell (the bases for disclosure control). Rows and columns are the levels of
    ``rows`` and ``columns`` present in the data.
    """

    counts: pd.DataFrame
    proportions: pd.DataFrame
    column_shares: pd.DataFrame
    unweighted: pd.DataFrame
    test: RaoScottTest


def _series(values: ArrayLike, design: SurveyDesign, what: str) -> pd.Series:
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    if series.size != design.n:
        raise ValueError(f"{what} has {series.size} values but the design has {design.n} respondents")
    return series


def _interaction_contrasts(nr: int, nc: int) -> np.ndarray:
    """R's ``qr.resid(qr(X1), X12[, -(1:(nr+nc-1))])`` for the r x c grid."""
    rows = np.tile(np.arange(nr), nc)  # rows vary fastest, as expand.grid
    cols = np.repeat(np.arange(nc), nr)
    x1 = np.column_stack(
        [np.ones(nr * nc)]
        + [(rows == i).astype(float) for i in range(1, nr)]
        + [(cols == j).astype(float) for j in range(1, nc)]
    )
    inter = np.column_stack(
        [((rows == i) & (cols == j)).astype(float) for j in range(1, nc) for i in range(1, nr)]
    )
    q, _ = np.linalg.qr(x1)
    return inter - q @ (q.T @ inter)


def _grouped_covariance(design: SurveyDesign, code: np.ndarray, k: int, p: np.ndarray,
                        total: float) -> np.ndarray | None:
    """The with-replacement covariance of the cell proportions from group sums, or None.

    The influence of respondent i in table cell c is ``z_i = w_i (e_c − p) / W``
    (0 when either answer is missing, ``code`` k). Without adjustments, and for
    a design with a cell form (weights ``b_i kappa[g]`` in weighting cell g,
    residuals ``r_i = z_i − b_i T[g]``), every residual is ``b_i u[g, c]`` for its
    (weighting cell, table cell) group, so ``Σ r r'`` and ``Σ r`` are sums over
    groups of ``Σ b²`` and ``Σ b`` times ``u u'`` and ``u``: no n × k matrix.
    Same numbers as residualizing the rows (up to rounding).
    """
    n = design.n
    if n < 2:
        return None
    w = design.weights
    if not design.adjustments:
        b1 = np.bincount(code, weights=w, minlength=k + 1)[None, :]
        b2 = np.bincount(code, weights=w * w, minlength=k + 1)[None, :]
        scale = np.array([1.0 / total])
        shift = np.zeros((1, k))
    else:
        form = design.cell_form
        if form is None:
            return None
        groups = form.n_cells + 1
        atom = form.cells * (k + 1) + code
        count = np.bincount(atom, minlength=groups * (k + 1)).reshape(groups, k + 1).astype(float)
        if form.base is None:
            b1 = b2 = count
        else:
            b1 = np.bincount(atom, weights=form.base, minlength=groups * (k + 1)).reshape(groups, k + 1)
            b2 = np.bincount(atom, weights=form.base * form.base, minlength=groups * (k + 1)).reshape(groups, k + 1)
        scale = form.kappa / total
        sums = scale[:, None] * (b1[:, :k] - np.outer(b1[:, :k].sum(axis=1), p))
        ratio = (scale[:, None] * (count[:, :k] - np.outer(count[:, :k].sum(axis=1), p))
                 if form.ratio_sums else None)
        shift = form.shift(sums, ratio)
    deviation = np.vstack([np.eye(k) - p[None, :], np.zeros((1, k))])  # e_c − p; 0 when not answered
    u = (scale[:, None, None] * deviation[None, :, :] - shift[:, None, :]).reshape(-1, k)
    first = b1.reshape(-1) @ u
    second = (u * b2.reshape(-1)[:, None]).T @ u
    return (second - np.outer(first, first) / n) * (n / (n - 1))


def weighted_crosstab(
    rows: ArrayLike,
    columns: ArrayLike,
    design: SurveyDesign,
    *,
    statistic: ChisqStatistic = "F",
) -> CrossTab:
    """Weighted cross-tabulation of two categorical variables with the Rao-Scott test.

    Matches R's ``svytable(~rows + columns, design)`` and
    ``svychisq(~rows + columns, design, statistic = statistic)`` for
    ``statistic`` ``"F"`` (default) or ``"Chisq"``; see the module docstring for
    the formulas (Rao & Scott 1984; Lumley 2010, sec. 6.1). Respondents missing
    either variable keep their place in the design with zero influence (R's
    ``na.rm = TRUE``).

    Example:
        >>> import numpy as np
        >>> from analysis.design import SurveyDesign
        >>> t = weighted_crosstab(["a", "b", "a", "b"], ["x", "x", "y", "y"], SurveyDesign(np.ones(4)))
        >>> t.test.statistic_type
        'F'
    """
    if statistic not in ("F", "Chisq"):
        raise ValueError(f"statistic must be 'F' or 'Chisq', not {statistic!r}")
    r_series = _series(rows, design, "rows")
    c_series = _series(columns, design, "columns")
    r_levels: list[Hashable] = [lv for lv in _levels(r_series) if (r_series == lv).any()]
    c_levels: list[Hashable] = [lv for lv in _levels(c_series) if (c_series == lv).any()]
    nr, nc = len(r_levels), len(c_levels)
    if nr < 2 or nc < 2:
        raise ValueError("both variables need at least two observed categories for a cross-tabulation")

    n = design.n
    w = design.weights
    rc = _codes(r_series, r_levels)
    cc = _codes(c_series, c_levels)
    answered = (rc >= 0) & (cc >= 0)
    cell = np.where(answered, rc + nr * cc, -1)  # rows fastest
    k = nr * nc

    wa = np.where(answered, w, 0.0)
    counts = np.bincount(cell[answered], weights=wa[answered], minlength=k)
    unweighted = np.bincount(cell[answered & (w != 0)], minlength=k)
    total = counts.sum()
    index = pd.Index(r_levels, name="rows")
    cindex = pd.Index(c_levels, name="columns")

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values.reshape(nc, nr).T, index=index, columns=cindex)

    reason = ""
    if total <= 0:
        raise ValueError("the answered respondents' weights sum to zero or less: nothing to tabulate")
    p = counts / total
    colsum = counts.reshape(nc, nr).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = (counts.reshape(nc, nr) / colsum[:, None]).T

    # covariance of the cell proportions: influence, residualize, with replacement
    v = _grouped_covariance(design, np.where(answered, cell, k), k, p, total)
    if v is None:
        mm = np.zeros((n, k))
        mm[np.flatnonzero(answered), cell[answered]] = 1.0
        z = (mm - p) * (wa / total)[:, None]
        r = design.residualize(z)
        r = r - r.mean(axis=0)
        v = (r.T @ r) * (n / (n - 1)) if n > 1 else np.full((k, k), np.nan)

    cmat = _interaction_contrasts(nr, nc)
    inv_p = np.where(p == 0, 0.0, 1.0 / np.where(p == 0, 1.0, p))
    denom = cmat.T @ (inv_p[:, None] / n * cmat)
    numr = (cmat * inv_p[:, None]).T @ v @ (cmat * inv_p[:, None])
    try:
        delta = np.linalg.solve(denom, numr)
    except np.linalg.LinAlgError:
        delta = np.full((cmat.shape[1], cmat.shape[1]), np.nan)
        reason = "an empty row or column makes the design-effect matrix singular"
    tr = float(np.trace(delta))
    d0 = tr**2 / float(np.trace(delta @ delta)) if np.isfinite(tr) else np.nan

    scaled = counts * (n / total)
    table = scaled.reshape(nc, nr).T
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = float(np.sum((table - expected) ** 2 / expected))
    if not np.isfinite(pearson):
        pearson = np.nan
        reason = reason or "a row or column of the weighted table is empty: no test"
    nu = n - 1
    ndf_chisq = float((nr - 1) * (nc - 1))
    mean_deff = float(np.mean(np.diag(delta)))
    if np.isfinite(mean_deff) and abs(mean_deff) < _CALIBRATED_DEFF and np.isfinite(pearson):
        # The weighting fixes the table (both variables are calibration
        # variables): R divides by rounding noise and reports F ~ 1e32.
        reason = (
            "the weighting fixes every cell of this table (design effects ~0): the population "
            "table is known without sampling error and the test is degenerate"
        )
        return CrossTab(
            counts=frame(counts),
            proportions=frame(p),
            column_shares=pd.DataFrame(shares, index=index, columns=cindex),
            unweighted=frame(unweighted.astype(np.int64)),
            test=RaoScottTest(
                statistic, np.inf if statistic == "F" else pearson, d0 if statistic == "F" else ndf_chisq,
                d0 * nu if statistic == "F" else None, 0.0 if pearson > 0 else 1.0,
                pearson, mean_deff, reason,
            ),
        )
    if statistic == "F":
        stat = pearson / tr
        test = RaoScottTest(
            "F", stat, d0, d0 * nu, float(stats.f.sf(stat, d0, d0 * nu)), pearson, mean_deff, reason
        )
    else:
        pv = float(stats.chi2.sf(pearson / mean_deff, ndf_chisq))
        test = RaoScottTest("Chisq", pearson, ndf_chisq, None, pv, pearson, mean_deff, reason)
    return CrossTab(
        counts=frame(counts),
        proportions=frame(p),
        column_shares=pd.DataFrame(shares, index=index, columns=cindex),
        unweighted=frame(unweighted.astype(np.int64)),
        test=test,
    )
