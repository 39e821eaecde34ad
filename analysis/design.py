"""The survey design that weighting produces and estimation consumes.

A panel survey is treated as a single-stage, with-replacement design (no strata,
no clusters, no finite population correction), as R's
``svydesign(ids = ~1, weights = ~w)``. Weighting adds *adjustments*: each one
remembers what it calibrated on, so that variance estimation can replace the
influence functions by their residuals from the calibration projection, exactly
as R's ``svyrecvar`` does for ``postStratify``, ``rake`` and ``calibrate``
designs (Lumley 2010, ch. 7; Deville & Särndal 1992).

Example:
    >>> import numpy as np
    >>> design = SurveyDesign(weights=np.array([2.0, 2.0, 4.0]))
    >>> design.n
    3
    >>> design.residualize(np.ones((3, 1))).shape
    (3, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Adjustment(Protocol):
    """One weighting step, as variance estimation needs to see it.

    ``residualize`` takes the matrix of (weighted) influence values, one row per
    respondent and one column per estimate, and returns the residuals that R's
    ``svyrecvar`` would compute for this kind of adjustment. Adjustments are
    applied in the order the weighting steps were made.
    """

    def residualize(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class SurveyDesign:
    """Final weights plus the adjustments that produced them.

    ``weights`` are sampling weights in population units (each respondent stands
    for ``weights[i]`` residents); they are never frequency weights.
    """

    weights: np.ndarray
    adjustments: tuple[Adjustment, ...] = field(default=())

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=float)
        if w.ndim != 1:
            raise ValueError("weights must be one-dimensional: one weight per respondent")
        if w.size == 0:
            raise ValueError("the design has no respondents")
        if not np.all(np.isfinite(w)):
            raise ValueError("weights contain NaN or infinite values")
        object.__setattr__(self, "weights", w)

    @property
    def n(self) -> int:
        """Number of respondents (unweighted)."""
        return int(self.weights.size)

    def residualize(self, x: np.ndarray) -> np.ndarray:
        """Apply every adjustment's projection to ``x`` (n × k), in order."""
        out = np.asarray(x, dtype=float)
        if out.ndim == 1:
            out = out[:, None]
        for adjustment in self.adjustments:
            out = adjustment.residualize(out)
        return out


# ---------------------------------------------------------------------------
# Adjustments made by analysis.weighting. Each one stores what it calibrated on
# at the level of cells (a few hundred numbers) plus the respondents' cell ids,
# and reproduces the residuals of R's survey:::svyrecvar (survey 4.1-1) for the
# corresponding postStrata entry. Respondents outside every cell (dropped before
# weighting, weight 0) carry cell id ``n_cells`` and are left unchanged.
# ---------------------------------------------------------------------------


def _cell_sums(cells: np.ndarray, x: np.ndarray, n_cells: int) -> np.ndarray:
    """Column sums of ``x`` (n × k) within cells: an (n_cells × k) array."""
    return np.stack(
        [np.bincount(cells, weights=x[:, j], minlength=n_cells + 1)[:n_cells] for j in range(x.shape[1])],
        axis=1,
    )


def _subtract(x: np.ndarray, cells: np.ndarray, shift: np.ndarray, base: np.ndarray | None) -> np.ndarray:
    """``x - base * shift[cell]``, with no shift for respondents outside every cell."""
    moved = np.vstack([shift, np.zeros((1, shift.shape[1]))])[cells]
    if base is not None:
        moved *= base[:, None]
    return x - moved


class _Groups:
    """Sums over and spreading back to groups of cells (cells in group -1
    belong to none); a dense 0/1 matrix for small tables, bincount otherwise."""

    def __init__(self, groups: np.ndarray) -> None:
        self.groups = groups
        self.n_groups = int(groups.max(initial=-1)) + 1
        self.valid = groups >= 0
        self.safe = np.where(self.valid, groups, self.n_groups)
        self.matrix: np.ndarray | None = None
        if groups.size * max(self.n_groups, 1) <= 1 << 20:
            self.matrix = np.zeros((self.n_groups, groups.size))
            self.matrix[groups[self.valid], np.flatnonzero(self.valid)] = 1.0

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-group sums of per-cell ``values`` (1-d or cells × k)."""
        if self.matrix is not None:
            return self.matrix @ values
        if values.ndim == 1:
            return np.bincount(self.safe, weights=values, minlength=self.n_groups + 1)[: self.n_groups]
        return np.stack([self.sum(values[:, j]) for j in range(values.shape[1])], axis=1)

    def spread(self, per_group: np.ndarray) -> np.ndarray:
        """Per-cell values taken from the cell's group (0 outside every group)."""
        if self.matrix is not None:
            return self.matrix.T @ per_group
        padded = np.concatenate([per_group, np.zeros((1,) + per_group.shape[1:])])
        return padded[self.safe]


def _safe_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), 0.0)


@dataclass(frozen=True, eq=False)
class PostStratification:
    """Residuals of R's ``postStratify``: ``x - oldw * S_g / D_g``.

    R computes ``psmeans = rowsum(x * oldw / psw, g) / rowsum(oldw, g)`` and
    returns ``x - psmeans[g] * psw``. Post-stratification multiplies every
    weight of post-stratum ``g`` by one factor (``psw = oldw * f_g``), so this
    equals ``x_i - oldw_i * (sum of x over g) / (sum of oldw over g)``, which is
    what is computed here, on cells.

    ``cells`` maps respondents to cells, ``groups`` cells to post-strata (-1:
    none). The weights before the step are ``base[i] * start[cell]``
    (``None`` stands for ones) and ``base_total`` is their sum per cell.
    """

    cells: np.ndarray
    groups: np.ndarray
    base: np.ndarray | None
    base_total: np.ndarray
    start: np.ndarray | None = None

    def residualize(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        n_cells = self.groups.size
        member = _Groups(self.groups)
        base_g = member.sum(self.base_total)
        sums_g = member.sum(_cell_sums(self.cells, x, n_cells))
        mean_g = _safe_divide(sums_g, base_g[:, None])
        shift = member.spread(mean_g)
        if self.start is not None:
            shift *= self.start[:, None]
        return _subtract(x, self.cells, shift, self.base)


@dataclass(frozen=True, eq=False)
class RakingMargin:
    """One margin of a raking step: cell → margin group (-1: none), and the
    factor ``psw / base`` of every cell just after this margin was
    post-stratified in the final sweep."""

    groups: np.ndarray
    factor: np.ndarray


@dataclass(frozen=True, eq=False)
class Raking:
    """Residuals of R's ``rake``: ten back-fitting passes over the margins.

    R (``svyrecvar``, postStrata of class ``"raking"``) runs, ten times over
    the margins ``k`` of the final sweep, ``x <- x - psw_k * ave(x / psw_k,
    margin_k)``: the unweighted mean of ``x / psw_k`` within each margin group,
    with ``psw_k`` the weights just after margin ``k`` was post-stratified.
    With ``psw_k = base * F_k[cell]`` the same passes run exactly on cell sums
    of ``u = x / base``: ``U_c -= n_c F_k[c] a_g`` and, at the end,
    ``x -= base * (sum of F_k[c] a_g)``.
    """

    cells: np.ndarray
    base: np.ndarray | None
    count: np.ndarray
    margins: tuple[RakingMargin, ...]
    passes: int = 10

    def residualize(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        n_cells = self.count.size
        prepared = []
        for margin in self.margins:
            groups = np.where(margin.factor > 0, margin.groups, -1)
            member = _Groups(groups)
            n_g = member.sum(self.count)
            factor = np.where(groups >= 0, margin.factor, 0.0)
            inverse = _safe_divide(np.ones(n_cells), factor)
            prepared.append((member, n_g, inverse, factor))
        u = x if self.base is None else _safe_divide(x, self.base[:, None])
        total_u = _cell_sums(self.cells, u, n_cells)
        shift = np.zeros_like(total_u)
        for _ in range(self.passes):
            for member, n_g, inverse, factor in prepared:
                mean_g = _safe_divide(member.sum(total_u * inverse[:, None]), n_g[:, None])
                step = factor[:, None] * member.spread(mean_g)
                total_u -= self.count[:, None] * step
                shift += step
        return _subtract(x, self.cells, shift, self.base)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Residuals of R's ``calibrate``: ``qr.resid(qr(X sqrt(d)), x / w) * w``.

    With ``w = g sqrt(d)`` this is ``x - g d X B`` where ``B`` solves the
    weighted least-squares problem ``(X' D X) B = X' (x / g)``. ``X`` has one
    row per calibration *row* (a cell, or a respondent when continuous
    auxiliaries are used) since ``X`` and ``g`` are constant within it:
    ``cells`` maps respondents to rows, ``model`` is ``X``, the weights before
    calibration are ``d = base[i] * start[row]`` (``None`` stands for ones),
    ``base_total`` is the sum of ``d`` per row and ``g`` the factor ``w / d``. A
    least-squares solve through the SVD gives the same projection as R's
    pivoted QR when columns are redundant.
    """

    cells: np.ndarray
    model: np.ndarray
    base: np.ndarray | None
    base_total: np.ndarray
    g: np.ndarray
    start: np.ndarray | None = None

    def residualize(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        n_rows = self.g.size
        used = self.base_total > 0
        root = np.sqrt(self.base_total[used])
        design = self.model[used] * root[:, None]
        sums = _cell_sums(self.cells, x, n_rows)
        rhs = _safe_divide(sums[used], self.g[used, None]) / root[:, None]
        coef, *_ = np.linalg.lstsq(design, rhs, rcond=None)
        shift = np.zeros((n_rows, x.shape[1]))
        shift[used] = (self.model[used] @ coef) * self.g[used, None]
        if self.start is not None:
            shift *= self.start[:, None]
        return _subtract(x, self.cells, shift, self.base)
