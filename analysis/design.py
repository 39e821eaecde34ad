"""The survey design that weighting produces and estimation consumes.

A panel survey is treated as a single-stage, with-replacement design (no strata,
no clusters, no finite population correction), as R's
``svydesign(ids = ~1, weights = ~w)``. Weighting adds *adjustments*: each one
remembers what it calibrated on, so that variance estimation can replace the
influence functions by their residuals from the calibration projection, exactly
as R's ``svyrecvar`` does for ``postStratify``, ``rake`` and ``calibrate``
designs (Lumley 2010, ch. 7; Deville & Särndal 1992).

The adjustments made by :mod:`analysis.weighting` work on weighting *cells*:
each one's residuals are ``x - base * shift[cell]``, where ``shift`` (cells x
columns) is a linear function of the cell sums of ``x`` (and of ``x / base``).
:meth:`SurveyDesign.cell_form` exposes this, so that estimation can
residualize from cell sums alone instead of n x columns matrices.

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
from functools import cached_property
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

    @cached_property
    def cell_form(self) -> CellForm | None:
        """The adjustments as one cell-level projection, when they allow it.

        Available when every adjustment is one of this module's
        (:class:`PostStratification`, :class:`Raking`, :class:`Calibration`),
        all share the same cells and base weights, the cells are few compared
        with the respondents, and the final weights are ``base * kappa[cell]``
        (constant within a cell up to the base weights), which is what
        weighting produces. ``None`` otherwise: use :meth:`residualize`.
        """
        if not self.adjustments or not all(isinstance(a, _CellAdjustment) for a in self.adjustments):
            return None
        first = self.adjustments[0]
        assert isinstance(first, _CellAdjustment)
        cells, base = first.cells, first.base
        for adjustment in self.adjustments[1:]:
            assert isinstance(adjustment, _CellAdjustment)
            if adjustment.cells is not cells and not np.array_equal(adjustment.cells, cells):
                return None
            if (adjustment.base is None) != (base is None) or (
                base is not None and adjustment.base is not base and not np.array_equal(adjustment.base, base)
            ):
                return None
        n_cells = first.n_cells
        if cells.shape != (self.n,) or (n_cells > 4096 and 4 * n_cells > self.n):
            return None
        return CellForm.build(self, cells, n_cells, base)


# ---------------------------------------------------------------------------
# Adjustments made by analysis.weighting. Each one stores what it calibrated on
# at the level of cells (a few hundred numbers) plus the respondents' cell ids,
# and reproduces the residuals of R's survey:::svyrecvar (survey 4.1-1) for the
# corresponding postStrata entry. Respondents outside every cell (dropped before
# weighting, weight 0) carry cell id ``n_cells`` and are left unchanged.
#
# Every one has the form  residual = x - base * shift[cell]  with
# shift = cell_shift(sums of x per cell, sums of x / base per cell), linear in
# the sums; ``residualize`` forms the sums from the rows, CellForm from cell
# moments.
# ---------------------------------------------------------------------------


def _cell_sums(cells: np.ndarray, x: np.ndarray, n_cells: int) -> np.ndarray:
    """Column sums of ``x`` (n × k) within cells: an (n_cells × k) array."""
    return np.stack(
        [np.bincount(cells, weights=x[:, j], minlength=n_cells + 1)[:n_cells] for j in range(x.shape[1])],
        axis=1,
    ).reshape(n_cells, x.shape[1])


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


class _CellAdjustment:
    """Shared by the adjustments below: ``residual = x - base * shift[cell]``.

    Subclasses hold ``cells`` (one cell id per respondent, ``n_cells`` for
    none) and ``base`` (per-respondent weights the shift is scaled by; ``None``
    stands for ones) and implement :meth:`cell_shift`. ``ratio_sums`` says
    whether the shift needs the cell sums of ``x / base`` (R's raking
    residuals work on ``x / psw``) besides those of ``x``.
    """

    cells: np.ndarray
    base: np.ndarray | None
    ratio_sums: bool = False

    @property
    def n_cells(self) -> int:
        """Number of cells (respondents outside every cell carry this id)."""
        raise NotImplementedError

    def cell_shift(self, sums: np.ndarray, ratio_sums: np.ndarray | None) -> np.ndarray:
        """``shift`` (n_cells × k) from the cell sums of ``x`` and of ``x / base``."""
        raise NotImplementedError

    def residualize(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        n_cells = self.n_cells
        sums = _cell_sums(self.cells, x, n_cells)
        ratio = None
        if self.ratio_sums:
            ratio = sums if self.base is None else _cell_sums(self.cells, _safe_divide(x, self.base[:, None]), n_cells)
        return _subtract(x, self.cells, self.cell_shift(sums, ratio), self.base)


@dataclass(frozen=True, eq=False)
class PostStratification(_CellAdjustment):
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

    @property
    def n_cells(self) -> int:
        return int(self.groups.size)

    @cached_property
    def _member(self) -> tuple[_Groups, np.ndarray]:
        member = _Groups(self.groups)
        return member, member.sum(self.base_total)

    def cell_shift(self, sums: np.ndarray, ratio_sums: np.ndarray | None) -> np.ndarray:
        member, base_g = self._member
        mean_g = _safe_divide(member.sum(sums), base_g[:, None])
        shift = member.spread(mean_g)
        if self.start is not None:
            shift *= self.start[:, None]
        return shift


@dataclass(frozen=True, eq=False)
class RakingMargin:
    """One margin of a raking step: cell → margin group (-1: none), and the
    factor ``psw / base`` of every cell just after this margin was
    post-stratified in the final sweep."""

    groups: np.ndarray
    factor: np.ndarray


@dataclass(frozen=True, eq=False)
class Raking(_CellAdjustment):
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
    ratio_sums = True

    @property
    def n_cells(self) -> int:
        return int(self.count.size)

    @cached_property
    def _prepared(self) -> list[tuple[_Groups, np.ndarray, np.ndarray, np.ndarray]]:
        prepared = []
        for margin in self.margins:
            groups = np.where(margin.factor > 0, margin.groups, -1)
            member = _Groups(groups)
            n_g = member.sum(self.count)
            factor = np.where(groups >= 0, margin.factor, 0.0)
            inverse = _safe_divide(np.ones(self.n_cells), factor)
            prepared.append((member, n_g, inverse, factor))
        return prepared

    def cell_shift(self, sums: np.ndarray, ratio_sums: np.ndarray | None) -> np.ndarray:
        assert ratio_sums is not None
        total_u = ratio_sums.copy()
        shift = np.zeros_like(total_u)
        for _ in range(self.passes):
            for member, n_g, inverse, factor in self._prepared:
                mean_g = _safe_divide(member.sum(total_u * inverse[:, None]), n_g[:, None])
                step = factor[:, None] * member.spread(mean_g)
                total_u -= self.count[:, None] * step
                shift += step
        return shift


@dataclass(frozen=True, eq=False)
class Calibration(_CellAdjustment):
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

    @property
    def n_cells(self) -> int:
        return int(self.g.size)

    @cached_property
    def _solver(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows used, ``sqrt(d)`` on them and the pseudo-inverse of ``X sqrt(d)``."""
        used = self.base_total > 0
        root = np.sqrt(self.base_total[used])
        design = self.model[used] * root[:, None]
        # the cut-off of numpy's lstsq(rcond=None): redundant columns drop out as in R's pivoted QR
        return used, root, np.linalg.pinv(design, rcond=max(design.shape) * np.finfo(float).eps)

    def cell_shift(self, sums: np.ndarray, ratio_sums: np.ndarray | None) -> np.ndarray:
        used, root, pinv = self._solver
        rhs = _safe_divide(sums[used], self.g[used, None]) / root[:, None]
        coef = pinv @ rhs
        shift = np.zeros((self.n_cells, sums.shape[1]))
        shift[used] = (self.model[used] @ coef) * self.g[used, None]
        if self.start is not None:
            shift *= self.start[:, None]
        return shift


#: Up to this many occupied cells, the adjustments are composed once into
#: matrices acting on cell sums (one product per call instead of ten
#: back-fitting passes per call).
_OPERATOR_CELLS = 1024


@dataclass(frozen=True, eq=False)
class CellForm:
    """A design's adjustments as one linear map of cell sums (see
    :meth:`SurveyDesign.cell_form`).

    Residuals are ``r = x - base * shift[cell]`` with ``shift`` from
    :meth:`shift`, and the weights are ``base * kappa[cell]``. Cells here are
    the adjustments' cells, renumbered ``0..n_cells-1`` to leave out empty
    ones when most are empty (``occupied`` lists their ids in the
    adjustments); ``cells`` maps every respondent to one, and the extra cell
    ``n_cells`` collects respondents outside every cell (shift 0). Per cell:
    ``count`` respondents, and
    ``base_sum`` and ``base_square`` the sums of the base weights and of their
    squares (both equal ``count`` without base weights).
    """

    cells: np.ndarray
    n_cells: int
    base: np.ndarray | None
    kappa: np.ndarray
    count: np.ndarray
    base_sum: np.ndarray
    base_square: np.ndarray
    adjustments: tuple[_CellAdjustment, ...]
    occupied: np.ndarray
    table_size: int

    @property
    def ratio_sums(self) -> bool:
        """Whether :meth:`shift` needs the cell sums of ``x / base`` as well."""
        return self.base is not None and any(a.ratio_sums for a in self.adjustments)

    @classmethod
    def build(cls, design: SurveyDesign, cells: np.ndarray, n_cells: int, base: np.ndarray | None) -> CellForm | None:
        """The cell form of ``design``, or None when the weights are not ``base * kappa[cell]``."""
        counts = np.bincount(cells, minlength=n_cells + 1)
        occupied = np.flatnonzero(counts[:n_cells] > 0)
        if 2 * occupied.size >= n_cells:
            # mostly occupied: keep the numbering (empty cells just carry zeros)
            occupied = np.arange(n_cells)
            compact = cells.astype(np.intp, copy=False)
        else:
            renumber = np.full(n_cells + 1, occupied.size, dtype=np.intp)
            renumber[occupied] = np.arange(occupied.size)
            compact = renumber[cells]
        size = occupied.size + 1
        w = design.weights
        count = counts[np.append(occupied, n_cells)].astype(float)
        if base is None:
            base_sum = base_square = count
            kappa = _safe_divide(np.bincount(compact, weights=w, minlength=size), count)
            fitted = kappa[compact]
        else:
            base_sum = np.bincount(compact, weights=base, minlength=size)
            base_square = np.bincount(compact, weights=base * base, minlength=size)
            kappa = _safe_divide(np.bincount(compact, weights=w * base, minlength=size), base_square)
            fitted = base * kappa[compact]
        scale = float(np.abs(w).max(initial=0.0))
        if not np.all(np.abs(w - fitted) <= 1e-12 * scale):
            return None
        adjustments = tuple(a for a in design.adjustments if isinstance(a, _CellAdjustment))
        return cls(compact, int(occupied.size), base, kappa, count, base_sum, base_square, adjustments,
                   occupied, n_cells)

    def _sequential(self, sums: np.ndarray, ratio_sums: np.ndarray | None) -> np.ndarray:
        """The adjustments in order on the full cell table (occupied rows in, occupied rows out).

        After an adjustment with shift ``S`` the cell sums of the residuals are
        ``sums - S * base_sum`` and those of ``residual / base`` are
        ``ratio_sums - S * count``.
        """
        occupied = self.occupied
        full = self.table_size
        k = sums.shape[1]
        x_sums = np.zeros((full, k))
        x_sums[occupied] = sums
        x_ratio = None
        if ratio_sums is not None:
            x_ratio = np.zeros((full, k))
            x_ratio[occupied] = ratio_sums
        base_sum = np.zeros(full)
        base_sum[occupied] = self.base_sum[:-1]
        count = np.zeros(full)
        count[occupied] = self.count[:-1]
        total = np.zeros((full, k))
        for adjustment in self.adjustments:
            current = x_sums - total * base_sum[:, None]
            ratio = None
            if adjustment.ratio_sums:
                if self.base is None:
                    ratio = current
                else:
                    assert x_ratio is not None
                    ratio = x_ratio - total * count[:, None]
            total += adjustment.cell_shift(current, ratio)
        return total[occupied]

    @cached_property
    def _operator(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(A, B)`` with ``shift = A sums + B ratio_sums`` on the occupied cells."""
        identity = np.eye(self.n_cells)
        if not self.ratio_sums:
            return self._sequential(identity, None), None
        zero = np.zeros_like(identity)
        return self._sequential(identity, zero), self._sequential(zero, identity)

    def shift(self, sums: np.ndarray, ratio_sums: np.ndarray | None = None) -> np.ndarray:
        """Accumulated ``shift`` ((n_cells + 1) × k, last row 0) of all adjustments, in order.

        ``sums`` are the cell sums of ``x`` ((n_cells + 1) × k; the last row,
        outside every cell, is ignored) and ``ratio_sums`` those of ``x /
        base`` (needed only when :attr:`ratio_sums`). Every adjustment's shift
        is linear in the sums, so for a small table the whole chain is
        composed once into matrices.
        """
        n = self.n_cells
        out = np.zeros((n + 1, sums.shape[1]))
        ratio = ratio_sums[:n] if ratio_sums is not None and self.ratio_sums else None
        if n <= _OPERATOR_CELLS:
            a, b = self._operator
            out[:n] = a @ sums[:n]
            if b is not None:
                assert ratio is not None
                out[:n] += b @ ratio
        else:
            out[:n] = self._sequential(sums[:n], ratio)
        return out
