"""Age bands: single years of age grouped into the bands a panel reports on.

The panel, the survey snapshots and the population targets must agree on one
set of bands, so they all use :class:`AgeBands`. The default bands are
16-24, 25-34, 35-44, 45-54, 55-64, 65-74 and 75+; a youth panel can use its own
(``AgeBands.parse("16-19,20-25")``).

This module imports only the standard library at import time (pandas is
imported inside :meth:`AgeBands.assign`), so code that only needs
:meth:`AgeBands.label_for` stays light.

Example:
    >>> bands = AgeBands.parse("16-24,25-34,35-44,45-54,55-64,65-74,75+")
    >>> bands.label_for(30), bands.label_for(90), bands.label_for(15)
    ('25-34', '75+', None)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

__all__ = ["AgeBand", "AgeBands", "DEFAULT_AGE_BANDS"]

_BAND = re.compile(r"^\s*(\d{1,3})\s*(?:(?:-|–|—)\s*(\d{1,3})|(\+))?\s*$")


class AgeBandMismatch(ValueError):
    """A population age group straddles a band boundary, so it cannot be put in one band.

    A ``ValueError`` with the detail as data: ``group`` (the age group, e.g. ``"10-19"``
    or ``"85+"``) and ``bands`` (the labels of the bands it overlaps).
    """

    def __init__(self, message: str, *, group: str, bands: tuple[str, ...]) -> None:
        super().__init__(message)
        self.group = group
        self.bands = bands


@dataclass(frozen=True)
class AgeBand:
    """One band of completed years of age: ``lower``…``upper`` inclusive.

    ``upper`` is ``None`` for an open band such as ``75+``. ``label`` is how
    the band is written everywhere in the app (``"16-24"``, ``"75+"``).

    Example:
        >>> AgeBand(16, 24).label, AgeBand(75, None).label
        ('16-24', '75+')
    """

    lower: int
    upper: int | None

    def __post_init__(self) -> None:
        if isinstance(self.lower, bool) or not isinstance(self.lower, int) or self.lower < 0:
            raise ValueError(f"age band lower bound {self.lower!r} must be a whole number >= 0")
        if self.upper is not None:
            if isinstance(self.upper, bool) or not isinstance(self.upper, int):
                raise ValueError(f"age band upper bound {self.upper!r} must be a whole number")
            if self.upper < self.lower:
                raise ValueError(
                    f"age band {self.lower}-{self.upper}: the upper bound is below the lower bound;"
                    f" write it as {self.upper}-{self.lower}"
                )

    @property
    def label(self) -> str:
        """The band as text: ``"16-24"``, ``"75+"`` or ``"18"`` for a one-year band."""
        if self.upper is None:
            return f"{self.lower}+"
        if self.upper == self.lower:
            return str(self.lower)
        return f"{self.lower}-{self.upper}"

    def contains(self, age: int) -> bool:
        """True when the completed age ``age`` falls in this band."""
        return age >= self.lower and (self.upper is None or age <= self.upper)

    def covers(self, lower: int, upper: int | None) -> bool:
        """True when the whole age range ``lower``…``upper`` (``None``: open) lies in this band."""
        if lower < self.lower:
            return False
        if self.upper is None:
            return True
        return upper is not None and upper <= self.upper

    def overlaps(self, lower: int, upper: int | None) -> bool:
        """True when the age range ``lower``…``upper`` shares at least one year with this band."""
        below_end = self.upper is None or lower <= self.upper
        above_start = upper is None or upper >= self.lower
        return below_end and above_start


@dataclass(frozen=True)
class AgeBands:
    """An ordered set of non-overlapping age bands.

    Bands must be sorted by age and must not overlap; gaps are allowed (ages
    in a gap, like ages below the first band, belong to no band). Only the
    last band may be open (``75+``).

    Example:
        >>> bands = AgeBands.parse("16-19, 20-25")
        >>> bands.labels
        ('16-19', '20-25')
        >>> str(bands)
        '16-19,20-25'
    """

    bands: tuple[AgeBand, ...]

    def __post_init__(self) -> None:
        bands = tuple(self.bands)
        object.__setattr__(self, "bands", bands)
        if not bands:
            raise ValueError("age bands: give at least one band, for example '16-24,25-34,35+'")
        for i, band in enumerate(bands):
            if not isinstance(band, AgeBand):
                raise ValueError(f"age bands: band {i + 1} is {band!r}, not an AgeBand")
        for i, (before, after) in enumerate(zip(bands, bands[1:]), start=1):
            if before.upper is None:
                raise ValueError(
                    f"age bands: band {i} '{before.label}' is open-ended, so it must be the last band,"
                    f" but '{after.label}' follows it"
                )
            if after.lower <= before.upper:
                if after.lower < before.lower:
                    raise ValueError(
                        f"age bands are not sorted: band {i + 1} '{after.label}' comes after"
                        f" band {i} '{before.label}'; list the bands from youngest to oldest"
                    )
                raise ValueError(
                    f"age bands overlap: band {i} '{before.label}' and band {i + 1} '{after.label}'"
                    f" both contain age {after.lower}; make each age belong to at most one band"
                )

    @classmethod
    def parse(cls, text: str) -> AgeBands:
        """Parse bands written as ``"16-24,25-34,...,75+"``.

        Each comma-separated item is ``lower-upper`` (inclusive), ``lower+``
        (open-ended) or a single age. Spaces and en dashes are accepted.

        Example:
            >>> AgeBands.parse("16–24, 25-34, 35+").labels
            ('16-24', '25-34', '35+')
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("age bands: the text is empty; write bands like '16-24,25-34,35+'")
        bands = []
        for i, item in enumerate(text.split(","), start=1):
            match = _BAND.match(item)
            if match is None:
                raise ValueError(
                    f"age bands: item {i} {item.strip()!r} is not a band; write 'lower-upper',"
                    " 'lower+' or a single age, for example '16-24' or '75+'"
                )
            lower = int(match.group(1))
            if match.group(3):
                upper: int | None = None
            elif match.group(2) is not None:
                upper = int(match.group(2))
            else:
                upper = lower
            try:
                bands.append(AgeBand(lower, upper))
            except ValueError as error:
                raise ValueError(f"age bands: item {i}: {error}") from None
        return cls(tuple(bands))

    @classmethod
    def from_edges(cls, lowers: Iterable[int], *, open_last: bool = True) -> AgeBands:
        """Contiguous bands starting at each of ``lowers``; the last is open unless told otherwise.

        Example:
            >>> AgeBands.from_edges([16, 25, 35]).labels
            ('16-24', '25-34', '35+')
        """
        starts = [int(x) for x in lowers]
        bands = [AgeBand(a, b - 1) for a, b in zip(starts, starts[1:])]
        if starts:
            bands.append(AgeBand(starts[-1], None if open_last else starts[-1]))
        return cls(tuple(bands))

    def __str__(self) -> str:
        return ",".join(self.labels)

    def __len__(self) -> int:
        return len(self.bands)

    @property
    def labels(self) -> tuple[str, ...]:
        """The band labels, youngest first."""
        return tuple(band.label for band in self.bands)

    def label_for(self, age: int | float | None) -> str | None:
        """The label of the band containing completed age ``age``, or ``None`` if none does.

        ``None`` or NaN (an unknown age) also gives ``None``.

        Example:
            >>> DEFAULT_AGE_BANDS.label_for(16), DEFAULT_AGE_BANDS.label_for(74)
            ('16-24', '65-74')
        """
        if age is None or (isinstance(age, float) and math.isnan(age)):
            return None
        whole = _whole_age(age, "age")
        for band in self.bands:
            if band.contains(whole):
                return band.label
        return None

    def label_for_range(self, lower: int, upper: int | None) -> str | None:
        """The band that holds the whole age range ``lower``…``upper`` (``None``: open-ended).

        Returns ``None`` when the range lies outside every band, and raises
        ``ValueError`` when it straddles a band boundary (a population figure
        for ages 10-19 cannot be split between bands 0-15 and 16-24).

        Example:
            >>> AgeBands.parse("0-19,20+").label_for_range(10, 19)
            '0-19'
        """
        for band in self.bands:
            if band.covers(lower, upper):
                return band.label
        touched = [band.label for band in self.bands if band.overlaps(lower, upper)]
        if touched:
            group = f"{lower}+" if upper is None else f"{lower}-{upper}"
            raise AgeBandMismatch(
                f"age group '{group}' does not fit in one age band: it overlaps"
                f" {', '.join(repr(t) for t in touched)}; use a table with single years of age,"
                " or bands whose limits match the table's age groups",
                group=group, bands=tuple(touched),
            )
        return None

    def assign(self, ages: Iterable[int | float | None]) -> pd.Categorical:
        """Vectorised :meth:`label_for`: a pandas Categorical of band labels in band order.

        Ages in no band, and missing ages, become NaN; count them with
        ``result.isna().sum()``.

        Example:
            >>> cats = DEFAULT_AGE_BANDS.assign([15, 16, 80, None])
            >>> list(cats.astype(object)), int(cats.isna().sum())
            ([nan, '16-24', '75+', nan], 2)
        """
        import numpy as np
        import pandas as pd

        values = pd.to_numeric(pd.Series(list(ages), dtype=object), errors="coerce").to_numpy(float)
        known = ~np.isnan(values)
        if np.any(values[known] < 0) or np.any(values[known] != np.floor(values[known])):
            bad = values[known][(values[known] < 0) | (values[known] != np.floor(values[known]))][0]
            raise ValueError(
                f"age {bad:g} is not a completed age in whole years >= 0; compute ages as whole years"
            )
        codes = np.full(values.shape, -1, dtype=np.int64)
        for i, band in enumerate(self.bands):
            inside = known & (values >= band.lower)
            if band.upper is not None:
                inside &= values <= band.upper
            codes[inside] = i
        return pd.Categorical.from_codes(
            codes, categories=pd.Index(self.labels, dtype=object), ordered=True
        )


def _whole_age(age: object, what: str) -> int:
    if isinstance(age, bool):
        raise ValueError(f"{what} {age!r} is not a number of years")
    try:
        number = float(age)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{what} {age!r} is not a number of years") from None
    if number < 0 or number != math.floor(number):
        raise ValueError(f"{what} {age!r} is not a completed age in whole years >= 0")
    return int(number)


DEFAULT_AGE_BANDS = AgeBands.parse("16-24,25-34,35-44,45-54,55-64,65-74,75+")
"""The panel's default bands: 16-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75+."""
