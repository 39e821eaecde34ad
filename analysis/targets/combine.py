"""Stack separate one-way margins (``variable,category,population``) into one table.

Each variable is imported and checked on its own; the margins must then
describe the same population: their totals may differ only within the
tolerance (SCB's cell-key noise), and each difference is reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .table import PopulationTable, Source, Tolerance

__all__ = ["combine_one_way"]


def combine_one_way(
    tables: list[tuple[str, int, PopulationTable]],
    *,
    source: Source,
    tolerance: Tolerance,
    filename: str,
) -> PopulationTable:
    """One :class:`PopulationTable` with ``one_way=True`` from ``(variable, line, table)`` items."""
    seen: dict[str, str] = {}
    warnings: list[str] = []
    notes: list[str] = []
    names: dict[str, str] = {}
    region_level = None
    open_age = None
    order = ("region", "district", "gender", "age", "age_group")
    for variable, line, table in tables:
        if len(table.dims) != 1:
            raise ValueError(
                f"{filename}, line {line}: variable {variable!r} has only a total; give its"
                " categories (for example kvinna and man)"
            )
    tables = sorted(tables, key=lambda item: order.index(item[2].dims[0]))
    first_variable, _, first = tables[0]
    first_total = first.total
    for variable, line, table in tables:
        column = table.dims[0]
        if column in seen:
            raise ValueError(
                f"{filename}, line {line}: variable {variable!r} is the same as {seen[column]!r};"
                " give each variable once"
            )
        seen[column] = variable
        if table is not first:
            difference = table.total - first_total
            parts = len(table.data) + len(first.data)
            allowed = tolerance.allowed(first_total, parts)
            message = (
                f"the {variable} margin sums to {table.total} but the {first_variable} margin to"
                f" {first_total} (difference {difference:+d}, tolerance {allowed:.1f})"
            )
            if abs(difference) > allowed:
                raise ValueError(
                    f"{filename}, line {line}: {message}. The margins must describe the same"
                    " population; check that they come from the same table and date"
                )
            if difference:
                warnings.append(message)
        names.update(table.region_names)
        region_level = table.region_level or region_level
        open_age = table.open_age if table.open_age is not None else open_age
        notes.extend(table.notes)
        warnings.extend(table.warnings)
    frames = []
    for _, _, table in tables:
        frames.append(table.data)
    data = pd.concat(frames, ignore_index=True)
    data = data[[c for c in order if c in data.columns] + ["population"]]
    if "age" in data.columns:
        data["age"] = data["age"].astype("Int64")
    data["population"] = data["population"].astype(np.int64)
    notes.insert(0, f"one-way margins for {', '.join(seen.values())}; total {first_total}"
                    f" (from {first_variable})")
    return PopulationTable(
        data=data,
        source=source,
        region_level=region_level,
        notes=tuple(notes),
        cell_key_noise=False,
        open_age=open_age,
        region_names=names,
        totals=None,
        one_way=True,
        other_warnings=tuple(warnings),
    )
