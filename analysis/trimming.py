"""Trimming (capping) of final weights, with the redistribution rule stated.

Trimming clips weights to ``[lower, upper]`` and gives the trimmed amount back
to the units that were not clipped, so that the total weight is unchanged.
Two redistribution rules are in use and they give different weights for the
same input:

``"equal"``
    R ``survey::trimWeights`` (Lumley 2010, section 7.5): every untrimmed unit
    gets the same additive share, ``w_j + T / m`` with ``T`` the trimmed
    amount and ``m`` the number of untrimmed units.
``"proportional"``
    as the Python ``svy`` package: untrimmed units get shares in proportion to
    their weights, ``w_j (1 + T / sum(untrimmed w))``.

The shares may push other weights past a bound again; ``strict=True`` repeats
the step until no weight is outside (R's ``strict=TRUE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Redistribution = Literal["equal", "proportional"]
REDISTRIBUTIONS: tuple[str, ...] = ("equal", "proportional")

#: A strict trimming loop that has not settled after this many passes is
#: stopped with an error (R's recursion would run out of stack).
MAX_TRIM_PASSES = 10_000


@dataclass(frozen=True)
class TrimmedWeights:
    """Weights after trimming.

    ``n_trimmed`` counts the units outside ``[lower, upper]`` in the first
    pass, ``passes`` the trimming passes made (1 unless ``strict``), and
    ``trimmed_total`` the weight moved in the first pass.
    """

    weights: np.ndarray
    lower: float
    upper: float
    redistribution: str
    strict: bool
    n_trimmed: int
    passes: int
    trimmed_total: float


def _check_bounds(lower: float, upper: float, redistribution: str) -> None:
    if np.isnan(lower) or np.isnan(upper):
        raise ValueError("trimming bounds must be numbers (use -inf / inf for no bound), not NaN")
    if lower > upper:
        raise ValueError(f"trimming bounds are reversed: lower={lower} > upper={upper}")
    if redistribution not in REDISTRIBUTIONS:
        raise ValueError(
            f"redistribution must be one of {REDISTRIBUTIONS}, got {redistribution!r}"
        )


def trim_counted(
    values: np.ndarray,
    counts: np.ndarray,
    *,
    lower: float,
    upper: float,
    strict: bool,
    redistribution: str,
) -> tuple[np.ndarray, int, int, float]:
    """Trim ``values`` each held by ``counts`` units (cells of equal weights).

    Returns the new values, the number of units outside in the first pass, the
    number of passes and the amount moved in the first pass. Exactly R's
    ``trimWeights`` when every count is 1.
    """
    _check_bounds(lower, upper, redistribution)
    values = np.asarray(values, dtype=float).copy()
    counts = np.asarray(counts, dtype=float)
    held = counts > 0
    total = float(np.dot(counts, values))
    n_units = float(counts.sum())
    if strict and (n_units * upper < total * (1 - 1e-12) or n_units * lower > total * (1 + 1e-12)):
        raise ValueError(
            f"strict trimming to [{lower:g}, {upper:g}] cannot keep the total {total:g} over "
            f"{n_units:g} units: the mean weight {total / n_units:g} is outside the bounds; "
            "widen the bounds"
        )
    first_outside = 0
    first_moved = 0.0
    passes = 0
    while True:
        outside = held & ((values < lower) | (values > upper))
        if not outside.any():
            break
        passes += 1
        if passes > MAX_TRIM_PASSES:
            raise ValueError(
                f"strict trimming to [{lower:g}, {upper:g}] did not settle after {MAX_TRIM_PASSES} passes"
            )
        clipped = np.clip(values, lower, upper)
        moved = float(np.dot(counts[outside], values[outside] - clipped[outside]))
        inside = held & ~outside
        if not inside.any():
            raise ValueError(
                f"every weight is outside [{lower:g}, {upper:g}]: nothing is left to take the trimmed amount"
            )
        if passes == 1:
            first_outside = int(counts[outside].sum())
            first_moved = moved
        if redistribution == "equal":
            clipped[inside] += moved / counts[inside].sum()
        else:
            clipped[inside] *= 1.0 + moved / float(np.dot(counts[inside], clipped[inside]))
        values = clipped
        if not strict:
            break
    return values, first_outside, passes, first_moved


def trim_weights(
    weights: np.ndarray,
    *,
    upper: float = np.inf,
    lower: float = -np.inf,
    strict: bool = False,
    redistribution: Redistribution = "equal",
) -> TrimmedWeights:
    """Clip weights to ``[lower, upper]`` and redistribute what was cut.

    Formula (``redistribution="equal"``, R ``trimWeights``)::

        w'_i = min(max(w_i, lower), upper)
        T    = sum_i (w_i - w'_i)                  (signed: raised weights count negative)
        w'_j = w'_j + T / #{j not clipped}         for every unit not clipped

    ``"proportional"`` replaces the last line by ``w'_j (1 + T / sum w'_j)``.
    ``strict=True`` repeats until no weight is outside. The total weight is
    kept, so the weights still stand for the same population; they no longer
    reproduce the calibration margins exactly (re-rake with
    ``analysis.weighting.Trim(reweight=True)`` if they must).

    References: Lumley (2010), *Complex Surveys*, section 7.5; Kish (1965) on
    the variance cost of unequal weights that trimming reduces.

    Example:
        >>> trim_weights(np.array([1.0, 1.0, 1.0, 5.0]), upper=3.0).weights
        array([1.66666667, 1.66666667, 1.66666667, 3.        ])
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty one-dimensional array")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or infinite values")
    values, n_trimmed, passes, moved = trim_counted(
        w, np.ones(w.size), lower=float(lower), upper=float(upper), strict=strict,
        redistribution=redistribution,
    )
    return TrimmedWeights(
        weights=values,
        lower=float(lower),
        upper=float(upper),
        redistribution=redistribution,
        strict=strict,
        n_trimmed=n_trimmed,
        passes=passes,
        trimmed_total=moved,
    )
