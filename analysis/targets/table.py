"""The imported population: a tidy table of counts plus where it came from.

A :class:`PopulationTable` holds one row per cell with columns for the
dimensions present, in the app's vocabulary:

=====================  ==========================================================
column                 values
=====================  ==========================================================
``region``             region code as a string (``"0980"``, ``"09"``, ``"SE214"``)
``district``           instead of ``region`` when the regions are the
                       municipality's own districts (see :meth:`PopulationTable.to_districts`)
``gender``             ``"kvinna"`` or ``"man"``
``age``                completed age, int; the oldest may be open (``open_age``)
``age_group``          instead of ``age``: ordered Categorical (``"16-24"``, ``"75+"``)
``period``             ``"2020"``, ``"2026M01"``
``population``         int64 count, never negative
=====================  ==========================================================

Its margins are what weighting consumes as ``targets``: a mapping from a
variable name (or a tuple of names) to a Series of population counts
(:meth:`PopulationTable.targets`).

**Which level is used.** When a file holds both detailed cells and SCB's
totals (``"totalt"``, ``"TotSa"``, a county next to its municipalities), the
detailed cells are used and the totals are only checked against their sums.
From reference year 2025 SCB perturbs every published cell (the cell key
method), so the two often differ by a few persons; differences within the
:class:`Tolerance` are listed in ``warnings``, larger ones are an error.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"gender": ["kvinna", "man"], "population": [30152, 29972]})
    >>> table = PopulationTable.from_frame(frame)
    >>> table.total, int(table.margin("gender")["man"])
    (60124, 29972)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final, Union

import numpy as np
import pandas as pd

from .agebands import AgeBandMismatch, AgeBands
from .vocabulary import age_label, age_range_of, period_end

__all__ = ["PopulationTable", "Source", "Tolerance", "DEFAULT_TOLERANCE", "Targets"]

Targets = dict[Union[str, tuple[str, ...]], pd.Series]
"""``targets`` as weighting consumes them: ``{"gender": Series, ("district", "gender"): Series}``."""

DIMENSIONS: Final = ("region", "district", "gender", "age", "age_group", "period")
TOTALS_COLUMNS: Final = ("published", "sum_of_parts", "parts", "difference", "allowed", "warning")


@dataclass(frozen=True)
class Source:
    """Where a population table came from: file ``name``, ``format``, SCB ``table_id`` and ``title``.

    ``format`` is one of ``"scb-csv"``, ``"long-csv"``, ``"one-way-csv"``,
    ``"px"``, ``"json-stat2"``, ``"pxweb-v1-json"`` or ``"frame"``.

    Example:
        >>> str(Source("TAB6471_data.json", "json-stat2", "TAB6471", "Folkmängden per månad"))
        'TAB6471_data.json (json-stat2, table TAB6471): Folkmängden per månad'
    """

    name: str | None
    format: str
    table_id: str | None = None
    title: str | None = None

    def __str__(self) -> str:
        text = self.name or "(data)"
        detail = self.format + (f", table {self.table_id}" if self.table_id else "")
        text += f" ({detail})"
        if self.title:
            text += f": {self.title}"
        return text


@dataclass(frozen=True)
class Tolerance:
    """How far SCB's published totals may differ from the sum of their parts.

    The allowed difference for a total made of ``parts`` detailed cells is
    ``max(absolute * sqrt(parts + 1), relative * |total|)``. Under the cell key
    method every published cell, the total included, carries its own small
    noise, so the noise of "sum of parts minus total" grows like the square root
    of the number of cells involved. With the defaults (5 persons, 0.1 %), a
    total of two parts (män + kvinnor) may differ by 8.7 persons, a total over
    101 single years of age by 50 persons or 0.1 %, whichever is larger.
    SCB's TAB6471 (2026) shows differences of up to 8 persons between
    män + kvinnor and totalt. The relative part is kept small on purpose: the
    noise does not grow with the size of a cell, so a county total that is off
    by 0.5 % (1 200 persons in Stockholms län) is an error, not noise.

    ``Tolerance(0, 0)`` demands exact agreement.

    Example:
        >>> round(Tolerance().allowed(4897, parts=2), 1)
        8.7
    """

    absolute: float = 5.0
    relative: float = 0.001

    def __post_init__(self) -> None:
        for name in ("absolute", "relative"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"Tolerance.{name} must be a number >= 0, not {value!r}")

    def allowed(self, total: float, parts: int) -> float:
        """The largest accepted ``|sum of parts - total|`` for a total of ``parts`` cells."""
        return max(self.absolute * math.sqrt(parts + 1), self.relative * abs(total))


DEFAULT_TOLERANCE: Final = Tolerance()


@dataclass(frozen=True, eq=False)
class PopulationTable:
    """Population counts by region/district, gender, age and period, with provenance.

    Attributes:
        data: tidy long DataFrame, one row per cell (see the module docstring).
            Treat it as read-only.
        source: file name, format, SCB table id and title.
        region_level: ``"riket"``, ``"län"``, ``"kommun"``, ``"regso"``,
            ``"deso"``, ``"district"`` (the municipality's districts), or ``None``
            when the file has no region.
        notes: what the importer did that you may want to know (dimensions
            summed over, contents chosen, totals set aside, ages left out).
        cell_key_noise: True when the figures carry SCB's cell-key noise
            (reference year 2025 or later, or the file says so).
        open_age: the oldest single age when it is open-ended (``100`` means
            "100 years or older"), else ``None``.
        region_names: region (or district) code → name as written in the file.
        totals: SCB's published totals that were set aside, with the sum of the
            detailed cells they were checked against (columns ``published``,
            ``sum_of_parts``, ``parts``, ``difference``, ``allowed``,
            ``warning``); dimension columns hold ``None`` where the total spans
            the whole dimension, and dimensions that were summed over (such as
            civilstånd) keep the file's name. ``None`` when the file had no totals.
        one_way: True when the file gave separate one-way margins
            (``variable,category,population``): each row then has exactly one
            dimension filled in, and only one-way margins exist.
        other_warnings: warnings not tied to one published total.
    """

    data: pd.DataFrame
    source: Source = field(default_factory=lambda: Source(None, "frame"))
    region_level: str | None = None
    notes: tuple[str, ...] = ()
    cell_key_noise: bool = False
    open_age: int | None = None
    region_names: Mapping[str, str] = field(default_factory=dict)
    totals: pd.DataFrame | None = None
    one_way: bool = False
    other_warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.data, pd.DataFrame):
            raise ValueError("PopulationTable.data must be a pandas DataFrame")
        columns = list(self.data.columns)
        if "population" not in columns:
            raise ValueError("PopulationTable.data needs a 'population' column")
        unknown = [c for c in columns if c != "population" and c not in DIMENSIONS]
        if unknown:
            raise ValueError(
                f"PopulationTable.data has unknown columns {unknown}; allowed are {list(DIMENSIONS)}"
            )
        if "age" in columns and "age_group" in columns:
            raise ValueError("PopulationTable.data cannot have both 'age' and 'age_group'")
        if "region" in columns and "district" in columns:
            raise ValueError("PopulationTable.data cannot have both 'region' and 'district'")
        population = self.data["population"]
        if population.dtype != np.int64:
            raise ValueError("PopulationTable.data['population'] must be int64 counts")
        if len(population) and int(population.min()) < 0:
            raise ValueError("PopulationTable.data['population'] has negative counts")
        if "age_group" in columns and not isinstance(self.data["age_group"].dtype, pd.CategoricalDtype):
            object.__setattr__(self, "data", _ordered_age_groups(self.data))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "other_warnings", tuple(self.other_warnings))
        object.__setattr__(self, "region_names", MappingProxyType(dict(self.region_names)))

    # ----------------------------------------------------------------- building
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        source: Source | str | None = None,
        tolerance: Tolerance = DEFAULT_TOLERANCE,
    ) -> PopulationTable:
        """Build a table from a long DataFrame, with the same checks as a file import.

        Columns are named as in a municipality's long CSV (``district``,
        ``region``, ``gender``/``kön``, ``age``/``age_group``/``ålder``,
        ``period``/``år``) plus ``population``; labels are normalised
        (``"kvinnor"`` → ``"kvinna"``, ``"100+ år"`` → 100). Messages name rows
        by position, counted from 0 as with ``frame.iloc``.

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"district": ["Norra", "Södra"], "population": [5000, 7000]})
            >>> PopulationTable.from_frame(frame).margin("district").tolist()
            [5000, 7000]
        """
        from .delimited import table_from_frame

        if isinstance(source, str):
            source = Source(source, "frame")
        return table_from_frame(frame, source=source or Source(None, "frame"), tolerance=tolerance)

    # --------------------------------------------------------------- properties
    @property
    def dims(self) -> tuple[str, ...]:
        """The dimension columns present, e.g. ``("region", "gender", "age", "period")``."""
        return tuple(c for c in self.data.columns if c != "population")

    @property
    def region_dim(self) -> str | None:
        """``"region"``, ``"district"`` or ``None``: the name of the geographic column."""
        for name in ("region", "district"):
            if name in self.data.columns:
                return name
        return None

    @property
    def periods(self) -> tuple[str, ...]:
        """The periods in the table, oldest first (empty when the file had none)."""
        if "period" not in self.data.columns:
            return ()
        return tuple(sorted(self.data["period"].dropna().unique().tolist()))

    @property
    def period(self) -> str:
        """The period as text: ``"2020"``, or ``"2026M01, 2026M02"`` for several."""
        return ", ".join(self.periods)

    @property
    def reference_date(self) -> str:
        """The date(s) the counts refer to: ``"2020-12-31"``, comma-separated for several."""
        return ", ".join(period_end(p) for p in self.periods)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every disagreement found: published totals ≠ sum of their parts, and other problems.

        The first line summarises the disagreements and says which level is used.
        """
        out: list[str] = []
        if self.totals is not None and len(self.totals):
            flagged = self.totals["warning"].astype(object)
            messages = [m for m in flagged.tolist() if isinstance(m, str) and m]
            if messages:
                checked = int(self.totals["sum_of_parts"].notna().sum())
                if self.cell_key_noise:
                    reason = " (cell-key noise)"
                elif self.periods:
                    reason = " although these figures predate SCB's cell-key noise"
                else:
                    reason = ""
                out.append(
                    f"{len(messages)} of {checked} published totals differ from the sum of"
                    f" their parts{reason}; the detailed cells are used, not the totals"
                )
                out.extend(messages)
        out.extend(self.other_warnings)
        return tuple(out)

    @property
    def total(self) -> int:
        """The whole population in the table (one period only).

        For a one-way table, the total of its first margin (in the order of
        ``dims``); the others agree with it within the tolerance.

        Example:
            >>> import pandas as pd
            >>> PopulationTable.from_frame(pd.DataFrame({"population": [7]})).total
            7
        """
        self._require_one_period("total")
        if self.one_way and self.dims:
            first = self.dims[0]
            return int(self.data.loc[self.data[first].notna(), "population"].sum())
        return int(self.data["population"].sum())

    def __repr__(self) -> str:
        return (
            f"PopulationTable(source={str(self.source)!r}, dims={self.dims}, rows={len(self.data)},"
            f" period={self.period!r}, region_level={self.region_level!r},"
            f" warnings={len(self.warnings)}, cell_key_noise={self.cell_key_noise})"
        )

    # ------------------------------------------------------------------ margins
    def margin(self, dims: str | Sequence[str]) -> pd.Series:
        """Population counts summed over every dimension not named.

        ``margin("gender")`` is a Series indexed by gender, ``margin(("district",
        "gender"))`` one with a MultiIndex; both are named ``"population"``.
        The table must hold one period unless ``"period"`` is among ``dims``
        (use :meth:`select` first).

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"district": ["N", "N", "S"], "gender": ["kvinna", "man", "man"],
            ...                       "population": [3, 4, 5]})
            >>> PopulationTable.from_frame(frame).margin("gender").to_dict()
            {'kvinna': 3, 'man': 9}
        """
        names = (dims,) if isinstance(dims, str) else tuple(dims)
        if not names:
            raise ValueError("margin: name at least one dimension, e.g. margin('gender')")
        for name in names:
            if name not in self.dims:
                hint = ""
                if name in ("region", "district") and self.region_dim:
                    hint = f"; this table calls its regions {self.region_dim!r}"
                    if self.region_dim == "region":
                        hint += " (use to_districts() when they are the municipality's districts)"
                elif name in ("age", "age_group") and ("age" in self.dims or "age_group" in self.dims):
                    hint = "; use with_age_bands(...) to get 'age_group' from single years"
                raise ValueError(
                    f"margin: the table has no dimension {name!r}{hint}; it has {list(self.dims)}"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"margin: a dimension is named twice in {names}")
        if "period" not in names:
            self._require_one_period(f"margin({names if len(names) > 1 else names[0]!r})")
        frame = self.data
        if self.one_way:
            if len(names) > 1:
                raise ValueError(
                    f"margin: the file gave one-way margins only, so {names} cannot be crossed;"
                    " import a file with one row per combination to get a joint margin"
                )
            frame = frame[frame[names[0]].notna()]
        grouped = frame.groupby(list(names), observed=False, sort=True)["population"].sum()
        grouped = grouped.astype(np.int64)
        grouped.name = "population"
        if len(names) == 1:
            grouped.index.name = names[0]
        return grouped

    def targets(self, *margins: str | Sequence[str]) -> Targets:
        """The margins weighting calibrates to: ``{name or tuple of names: Series}``.

        Without arguments, every one-way margin except ``period``.

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"district": ["N", "N", "S"], "gender": ["kvinna", "man", "man"],
            ...                       "population": [3, 4, 5]})
            >>> sorted(PopulationTable.from_frame(frame).targets("gender", ("district", "gender")), key=str)
            [('district', 'gender'), 'gender']
        """
        chosen = margins or tuple(d for d in self.dims if d != "period")
        out: Targets = {}
        for item in chosen:
            key: str | tuple[str, ...] = item if isinstance(item, str) else tuple(item)
            if isinstance(key, tuple) and len(key) == 1:
                key = key[0]
            out[key] = self.margin(key)
        return out

    # ---------------------------------------------------------------- selecting
    def select(
        self,
        *,
        period: str | Iterable[str] | None = None,
        region: str | Iterable[str] | None = None,
        district: str | Iterable[str] | None = None,
        gender: str | Iterable[str] | None = None,
    ) -> PopulationTable:
        """Keep only the given period(s), region(s)/district(s) or gender(s).

        Each argument is one value or several; an unknown value is an error
        listing the values present.

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"period": ["2004", "2005"], "population": [57661, 57488]})
            >>> PopulationTable.from_frame(frame).select(period="2005").total
            57488
        """
        data = self.data
        totals = self.totals
        for name, wanted in (("period", period), ("region", region), ("district", district),
                             ("gender", gender)):
            if wanted is None:
                continue
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            if name not in data.columns:
                raise ValueError(f"select: the table has no {name!r} column; it has {list(self.dims)}")
            if self.one_way:
                raise ValueError(
                    f"select: the file gave one-way margins only, so selecting a {name} cannot"
                    " restrict the other margins; import a file with one row per combination"
                )
            present = set(data[name].dropna().astype(str).tolist())
            missing = [v for v in values if str(v) not in present]
            if missing:
                shown = ", ".join(sorted(present)[:12]) + (" …" if len(present) > 12 else "")
                raise ValueError(f"select: {name} {missing} not in the table; it has {shown}")
            data = data[data[name].astype(object).isin(values)]
            if totals is not None and name in totals.columns:
                column = totals[name].astype(object)
                totals = totals[column.isin(values) | column.isna()]
        names = dict(self.region_names)
        dim = self.region_dim
        if dim is not None and (region is not None or district is not None):
            kept = set(data[dim].dropna().tolist())
            names = {k: v for k, v in names.items() if k in kept}
        return replace(self, data=data.reset_index(drop=True), totals=totals, region_names=names)

    # ---------------------------------------------------------------- age bands
    def with_age_bands(self, bands: AgeBands | str) -> PopulationTable:
        """Group single years (or finer age groups) into ``bands``: an ``age_group`` column.

        ``age_group`` is an ordered Categorical in band order. People in no band
        (for example under 16) are left out and counted in ``notes``. An age
        group that straddles a band limit (10-19 against 16-24) is an error, as
        is the open-ended top age (100+) inside a closed band.

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"age": [15, 16, 30, 80], "population": [1, 2, 3, 4]})
            >>> PopulationTable.from_frame(frame).with_age_bands("16-24,25-34,35+").margin("age_group").tolist()
            [2, 3, 4]
        """
        if isinstance(bands, str):
            bands = AgeBands.parse(bands)
        if not isinstance(bands, AgeBands):
            raise ValueError("with_age_bands: give AgeBands or a text like '16-24,25-34,35+'")
        column = "age" if "age" in self.data.columns else "age_group"
        if column not in self.data.columns:
            raise ValueError(f"with_age_bands: the table has no age; it has {list(self.dims)}")
        data = self.data
        rows = data[data[column].notna()] if self.one_way else data
        labels: dict[object, str | None] = {}
        for value in pd.unique(rows[column].astype(object)):
            if column == "age":
                lower = int(value)
                upper: int | None = None if lower == self.open_age else lower
            else:
                found = age_range_of(None, str(value))
                if not isinstance(found, tuple):  # pragma: no cover - labels come from the importer
                    raise ValueError(f"with_age_bands: age group {value!r} is not an age range")
                lower, upper = found
            try:
                labels[value] = bands.label_for_range(lower, upper)
            except AgeBandMismatch as error:
                raise AgeBandMismatch(f"with_age_bands({str(bands)!r}): {error}", group=error.group,
                                      bands=error.bands) from None
            except ValueError as error:
                raise ValueError(f"with_age_bands({str(bands)!r}): {error}") from None
        band = rows[column].astype(object).map(labels)
        inside = band.notna()
        left_out = int(rows.loc[~inside, "population"].sum())
        keys = [d for d in self.dims if d != column]
        grouped = rows.loc[inside].drop(columns=[column])
        grouped["age_group"] = pd.Categorical(band[inside], categories=list(bands.labels),
                                              ordered=True)
        if self.one_way:
            summed = grouped.groupby("age_group", observed=False)["population"].sum().reset_index()
            for key in keys:
                summed[key] = pd.Series([None] * len(summed), dtype=data[key].dtype)
            others = data[data[column].isna()].drop(columns=[column])
            others = others.assign(
                age_group=pd.Categorical([None] * len(others), categories=list(bands.labels),
                                         ordered=True)
            )
            new = pd.concat([others, summed[others.columns]], ignore_index=True)
        else:
            new = (
                grouped.groupby(keys + ["age_group"], observed=False, sort=True)["population"]
                .sum()
                .reset_index()
            )
        new["population"] = new["population"].astype(np.int64)
        order = [c for c in ("region", "district", "gender", "age_group", "period") if c in new.columns]
        new = new[order + ["population"]]
        notes = list(self.notes)
        described = "single years of age" if column == "age" else "the age groups"
        note = f"grouped {described} into the bands {bands}"
        if left_out:
            outside = sorted(
                (v for v, label in labels.items() if label is None),
                key=lambda v: (age_range_of(None, str(v)) or (0, 0))[0],  # type: ignore[index]
            )
            shown = [age_label(int(v), None if int(v) == self.open_age else int(v))
                     if column == "age" else str(v) for v in outside]
            note += (
                f"; left out {left_out} persons in no band (ages {_ranges(shown)})"
            )
        notes.append(note)
        return replace(self, data=new, open_age=None, notes=tuple(notes))

    # ---------------------------------------------------------------- districts
    def to_districts(
        self,
        mapping: Mapping[str, str] | pd.Series | None = None,
        *,
        names: Mapping[str, str] | None = None,
    ) -> PopulationTable:
        """Regions → the municipality's districts: rename the column, or aggregate by a mapping.

        Without ``mapping`` the regions already are the districts (for example a
        table by RegSO where each RegSO is a district) and ``region`` is just
        renamed ``district``. With ``mapping`` (region code → district code, for
        example DeSO → district or the SCB key DeSO → RegSO) the counts are
        summed per district; a region code missing from the mapping is an error
        naming it. ``names`` gives district names (code → name).

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"region": ["0980C1120", "0980C1150", "0980A0070"],
            ...                       "population": [1500, 1700, 1100]})
            >>> table = PopulationTable.from_frame(frame)
            >>> table.to_districts({"0980C1120": "0980R001", "0980C1150": "0980R001",
            ...                     "0980A0070": "0980R002"}).margin("district").to_dict()
            {'0980R001': 3200, '0980R002': 1100}
        """
        from .districts import aggregate_to_districts

        return aggregate_to_districts(self, mapping, names=names)

    # ----------------------------------------------------------------- helpers
    def _require_one_period(self, what: str) -> None:
        periods = self.periods
        if len(periods) > 1:
            shown = ", ".join(periods[:6]) + (" …" if len(periods) > 6 else "")
            raise ValueError(
                f"{what}: the table holds {len(periods)} periods ({shown}); summing over them would"
                " count people several times. Use select(period=...) first, or include 'period'"
            )


def _ordered_age_groups(data: pd.DataFrame) -> pd.DataFrame:
    """``age_group`` as text (a table stored and loaded again) → Categorical ordered by age."""
    labels = [v for v in pd.unique(data["age_group"].astype(object)) if isinstance(v, str)]
    starts = {}
    for label in labels:
        found = age_range_of(None, label)
        if not isinstance(found, tuple):
            raise ValueError(f"PopulationTable.data: age_group {label!r} is not an age range")
        starts[label] = found[0]
    order = sorted(labels, key=lambda label: starts[label])
    out = data.copy()
    out["age_group"] = pd.Categorical(data["age_group"].astype(object), categories=order,
                                      ordered=True)
    return out


def _ranges(labels: list[str]) -> str:
    """Compress ``["0", "1", "2", "5"]`` into ``"0-2, 5"`` for messages."""
    out: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run.clear()

    for label in labels:
        if label.isdigit() and (not run or int(label) == run[-1] + 1):
            run.append(int(label))
            continue
        flush()
        if label.isdigit():
            run.append(int(label))
        else:
            out.append(label)
    flush()
    return ", ".join(out)
