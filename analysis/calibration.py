"""Numerical solvers on the cell table: IPF and generalised calibration.

These functions know nothing about data frames or labels. A *margin* is a map
from cells to groups with one population total per group; the solvers return
cell (or row) totals that reproduce the margins. :mod:`analysis.weighting`
builds the margins, validates the input and turns the solution into weights.

* :func:`ipf` — iterative proportional fitting (Deming & Stephan 1940), one
  margin at a time, exactly as R's ``survey::rake`` applies ``postStratify``
  margin by margin. Convergence is the largest relative error of any margin
  cell, ``max |W_g - T_g| / T_g``, checked after every sweep; the loop never
  stops because the error stopped changing.
* :func:`newton` — generalised calibration (Deville & Särndal 1992) with the
  linear, raking-ratio and logit distance functions and bounds on the
  adjustment factor, by Newton's method with a pseudo-inverse, as R's
  ``survey:::grake``.

Margins with *uncovered* categories (respondents in a category that has no
population figure, e.g. gender "annan") follow one rule everywhere: such a
respondent is matched on the margin with that variable left out (the
*collapsed* cell). The collapsed totals ``T_c = sum_g T_gc`` are met by all
respondents of the collapsed cell, and among the covered respondents the
categories keep their population shares ``s_g = T_gc / T_c``. Equivalently,
an uncovered respondent of cell ``c`` counts as ``s_g`` of a member of every
covered category ``g``: the margin's constraints are the known totals
``sum_i w_i x_ig = T_gc`` of ``x_ig = [i in g] + s_g [i uncovered in c]``.

These constraints leave one degree of freedom per collapsed cell (how the
cell's total is split between covered and uncovered respondents). IPF settles
it by the raking (minimum discrimination information) criterion, as for
ordinary margins: each margin step is the I-projection of the current weights
on that margin's constraints (Ireland & Kullback 1968), so the sweeps converge
to the unique solution of R's ``calibrate(calfun = "raking")`` with the model
matrix ``x`` (Csiszár 1975), whatever the order of the margins. In that
solution an uncovered respondent's adjustment is the population-share-weighted
geometric mean of the covered categories' adjustments in its cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True, eq=False)
class Margin:
    """One margin on the cell table.

    ``groups`` maps cells to groups: ``0..G-1`` are the target cells of the
    margin (flat index over its categories), ``G + c`` the uncovered
    respondents of collapsed cell ``c``, ``-1`` no group (dropped). ``target``
    holds ``T_g`` (NaN: ignored, as with ``partial``). When the margin has
    uncovered respondents, ``collapsed[g]`` is the collapsed cell of target
    cell ``g`` and ``n_collapsed`` their number; otherwise ``collapsed`` is
    ``None``.
    """

    groups: np.ndarray
    target: np.ndarray
    collapsed: np.ndarray | None = None
    n_collapsed: int = 0

    def __post_init__(self) -> None:
        n_groups = self.target.size + self.n_collapsed
        object.__setattr__(self, "_safe", np.where(self.groups >= 0, self.groups, n_groups))

    @property
    def n_groups(self) -> int:
        """Target cells plus uncovered groups."""
        return int(self.target.size + self.n_collapsed)

    @property
    def safe_groups(self) -> np.ndarray:
        """``groups`` with -1 replaced by a trash group ``n_groups``."""
        return self._safe  # type: ignore[attr-defined,no-any-return]

    def totals(self, table: np.ndarray) -> np.ndarray:
        """Weighted total of every group (length ``n_groups``)."""
        return np.bincount(self.safe_groups, weights=table, minlength=self.n_groups + 1)[: self.n_groups]

    def _collapsed_totals(self, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per collapsed cell: all respondents' total, uncovered total, target."""
        assert self.collapsed is not None
        n_target = self.target.size
        active = ~np.isnan(self.target)
        covered = np.bincount(self.collapsed, weights=totals[:n_target], minlength=self.n_collapsed)
        uncovered = totals[n_target:]
        target_c = np.bincount(
            self.collapsed[active], weights=self.target[active], minlength=self.n_collapsed
        )
        return covered + uncovered, uncovered, target_c

    def factors(self, totals: np.ndarray) -> np.ndarray:
        """Factor of every group for one IPF step, plus 1 for the trash group.

        Without uncovered respondents this is post-stratification,
        ``T_g / W_g``. With them it is the I-projection of the current weights
        on the margin's constraints: in collapsed cell ``c``, with ``U`` the
        uncovered total, ``W_g`` the covered totals and ``G = prod_g (W_g /
        s_g)^(s_g)`` their share-weighted geometric mean, the uncovered
        respondents get ``r = T_c / (G + U)`` and covered category ``g`` gets
        ``s_g G r / W_g`` (so that ``W'_g = s_g G r`` and ``W'_c = T_c``).
        """
        n_target = self.target.size
        out = np.ones(self.n_groups + 1)
        observed = totals[:n_target]
        active = ~np.isnan(self.target) & (observed > 0)
        if self.collapsed is None:
            out[:n_target][active] = self.target[active] / observed[active]
            return out
        _all_c, uncovered_c, target_c = self._collapsed_totals(totals)
        c_of = self.collapsed
        share = np.zeros(n_target)
        known = ~np.isnan(self.target)
        share[known] = self.target[known] / np.where(target_c[c_of[known]] > 0, target_c[c_of[known]], 1.0)
        # log G_c = sum_g s_g log(W_g / s_g) over the categories that can be reached
        # (every one with s_g > 0 when the margin is feasible)
        reach = active & (share > 0)
        terms = np.zeros(n_target)
        terms[reach] = share[reach] * np.log(observed[reach] / share[reach])
        share_c = np.bincount(c_of[reach], weights=share[reach], minlength=self.n_collapsed)
        log_g = np.bincount(c_of, weights=terms, minlength=self.n_collapsed)
        with np.errstate(divide="ignore", invalid="ignore"):
            covered_c = np.where(share_c > 0, np.exp(log_g / np.where(share_c > 0, share_c, 1.0)), 0.0)
        denominator = covered_c + uncovered_c
        has = denominator > 0
        ratio_c = np.where(has, target_c / np.where(has, denominator, 1.0), 1.0)
        out[n_target : self.n_groups] = ratio_c
        c = c_of[reach]
        out[:n_target][reach] = share[reach] * covered_c[c] * ratio_c[c] / observed[reach]
        out[:n_target][active & ~reach] = 0.0  # a population of 0
        return out

    def relative_errors(self, totals: np.ndarray) -> np.ndarray:
        """Relative error of every constraint of the margin.

        Without uncovered respondents: ``|W_g - T_g| / T_g`` per target cell.
        With them: ``|W_c - T_c| / T_c`` per collapsed cell and, per target
        cell, ``|W_g / (T_g S_c / T_c) - 1|`` with ``S_c`` the covered
        respondents' total in ``c``.
        """
        n_target = self.target.size
        active = ~np.isnan(self.target) & (self.target > 0)
        if self.collapsed is None:
            return np.abs(totals[:n_target][active] - self.target[active]) / self.target[active]
        all_c, uncovered_c, target_c = self._collapsed_totals(totals)
        has = target_c > 0
        err_c = np.abs(all_c[has] - target_c[has]) / target_c[has]
        c = self.collapsed[active]
        expected = self.target[active] * (all_c[c] - uncovered_c[c]) / np.where(target_c[c] > 0, target_c[c], 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            err_g = np.where(
                expected > 0, np.abs(totals[:n_target][active] - expected) / expected, np.abs(totals[:n_target][active])
            )
        return np.concatenate([err_c, err_g])

    def max_error(self, table: np.ndarray) -> float:
        """Largest relative error of the margin for cell totals ``table``."""
        errors = self.relative_errors(self.totals(table))
        return float(errors.max(initial=0.0))


@dataclass(frozen=True)
class IpfOutcome:
    """Result of :func:`ipf`: the fitted cell table, sweeps made, largest
    relative margin error, and the cell table just after each margin step of
    the final sweep (R's ``psw`` for the variance)."""

    table: np.ndarray
    iterations: int
    max_error: float
    converged: bool
    step_tables: tuple[np.ndarray, ...]


def ipf(table: np.ndarray, margins: tuple[Margin, ...], tolerance: float, max_iterations: int) -> IpfOutcome:
    """Iterative proportional fitting of ``table`` to ``margins``.

    Each sweep post-stratifies on every margin in turn,
    ``t_c <- t_c * T_g(c) / W_g(c)``; the loop stops when
    ``max_m max_g |W_g - T_g| / T_g <= tolerance`` after a sweep, or after
    ``max_iterations`` sweeps (``converged=False``). At least one sweep is made.
    """
    current = np.asarray(table, dtype=float).copy()
    steps: list[np.ndarray] = []
    error = np.inf
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        steps = []
        for margin in margins:
            factors = margin.factors(margin.totals(current))
            current *= factors[margin.safe_groups]
            steps.append(current.copy())
        error = max(margin.max_error(current) for margin in margins)
        if error <= tolerance:
            break
    return IpfOutcome(
        table=current,
        iterations=iterations,
        max_error=float(error),
        converged=bool(error <= tolerance),
        step_tables=tuple(steps),
    )


# Distance functions as (F - 1, derivative) of u = x'lambda, R's calfun objects.
CalFun = Callable[[np.ndarray, float, float], tuple[np.ndarray, np.ndarray]]


def _linear(u: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
    g = np.clip(1.0 + u, lower, upper)
    return g, ((u < upper - 1) & (u > lower - 1)).astype(float)


def _raking(u: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        e = np.exp(u)
    return np.clip(e, lower, upper), np.where((u < upper - 1) & (u > lower - 1), e, 0.0)


def _logit(u: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
    # R's cal.logit, F(u) = (L(U-1) + U(1-L)e^{Au}) / (U-1 + (1-L)e^{Au}), written
    # as L + (U-L) expit(Au + log((1-L)/(U-1))) so that it cannot overflow.
    a = (upper - lower) / ((upper - 1.0) * (1.0 - lower))
    s = special.expit(a * u + np.log((1.0 - lower) / (upper - 1.0)))
    return lower + (upper - lower) * s, (upper - lower) * a * s * (1.0 - s)


CALFUNS: dict[str, CalFun] = {"linear": _linear, "raking": _raking, "logit": _logit}


@dataclass(frozen=True)
class NewtonOutcome:
    """Result of :func:`newton`: adjustment ``g`` per row, iterations, largest
    relative margin error and whether it met the tolerance."""

    g: np.ndarray
    iterations: int
    max_error: float
    converged: bool


def newton(
    model: np.ndarray,
    base: np.ndarray,
    totals: np.ndarray,
    calfun: str,
    lower: float,
    upper: float,
    max_error: Callable[[np.ndarray], float],
    tolerance: float,
    max_iterations: int,
) -> NewtonOutcome:
    """Solve ``sum_r d_r g_r x_r = T`` with ``g_r = F(x_r' lambda)``.

    Newton steps ``lambda += ginv(X' diag(d F'(X lambda)) X) (T - X'(d g))``
    from ``lambda = 0``, halving a step that gives non-finite values, as R's
    ``grake`` (Deville & Särndal 1992, section 3). ``max_error`` maps row
    weights ``d g`` to the largest relative margin error, which decides
    convergence.
    """
    fun = CALFUNS[calfun]
    eta = np.zeros(model.shape[1])
    g, deriv = fun(model @ eta, lower, upper)
    iterations = 0
    error = max_error(base * g)
    while error > tolerance and iterations < max_iterations:
        iterations += 1
        tmat = (model * (base * deriv)[:, None]).T @ model
        misfit = totals - model.T @ (base * g)
        step = np.linalg.pinv(tmat, rcond=256 * np.finfo(float).eps) @ misfit
        eta = eta + step
        g, deriv = fun(model @ eta, lower, upper)
        halvings = 0
        while not (np.all(np.isfinite(g)) and np.all(np.isfinite(deriv))) and halvings < 60:
            halvings += 1
            step = step / 2
            eta = eta - step
            g, deriv = fun(model @ eta, lower, upper)
        error = max_error(base * g)
    return NewtonOutcome(g=g, iterations=iterations, max_error=float(error), converged=bool(error <= tolerance))
