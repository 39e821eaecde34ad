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
