"""Delimited text: SCB's CSV exports and the long CSV files municipalities compile.

SCB CSV from Statistikdatabasen (PxWeb), as downloaded:

* a quoted title line, an empty line, then a ``;``-separated header
  (``"region";"civilstånd";"ålder";"kön";"2020"``); or the older export with
  no title line and ``,`` separators;
* one column per period (``"2020"``, ``"2026M01"``, also ``"Folkmängd 2020"``
  when the table has several contents), or the period as a column of its own
  followed by the count (``"år";"Folkmängd"``);
* labels as written in the chosen language: ``"0 år"``/``"0 years"``,
  ``"100+ år"``, ``"män"``/``"men"``, ``"0980 Gotland"``, ``"SE214 Gotlands län"``.

Long CSV, one row per cell, any subset of the dimensions::

    district,gender,age_group,population
    Norra,kvinna,16-24,812

and one-way margins, one row per category of each variable::

    variable,category,population
    gender,kvinna,30152
    district,Norra,5120

``,``, ``;`` and tab separators are recognised from the header line.

Example:
    >>> table = read_delimited_text("district,population\\nNorra,5000\\nSödra,7000\\n")
    >>> table.margin("district").to_dict()
    {'Norra': 5000, 'Södra': 7000}
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .assemble import RawDimension, RawTable, assemble
from .table import DEFAULT_TOLERANCE, PopulationTable, Source, Tolerance
from .vocabulary import dimension_kind, is_value_column, period_of

__all__ = ["read_delimited_text", "table_from_frame"]

_TITLE = re.compile(r'^\ufeff?\s*"(?:[^"]|"")*"\s*[;,\t]?\s*$')
_PREFIXED_PERIOD = re.compile(r"^(.*\S)\s+(\d{4}(?:M\d{2}|[KQ][1-4]|H[12])?)$")
_ONE_WAY = {
    "variable": "variable",
    "variabel": "variable",
    "category": "category",
    "kategori": "category",
}


@dataclass
class _Line:
    number: int
    fields: list[str]


def _split(line: str, delimiter: str) -> list[str]:
    return [f.strip() for f in next(csv.reader([line], delimiter=delimiter))]


def _delimiter(header: str, filename: str, number: int) -> str:
    counts = {}
    for candidate in (";", ",", "\t"):
        try:
            counts[candidate] = len(next(csv.reader([header], delimiter=candidate))) - 1
        except csv.Error:  # pragma: no cover - csv.reader on one line rarely fails
            counts[candidate] = 0
    best = max(counts, key=lambda c: counts[c])
    if counts[best] == 0:
        raise ValueError(
            f"{filename}, line {number}: the header {header[:80]!r} has only one column. A population"
            " file has columns separated by ';' or ',' (for example 'district,population')"
        )
    return best


def read_delimited_text(
    text: str,
    *,
    filename: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read an SCB CSV export or a long/one-way CSV that is already decoded to text.

    Line numbers in messages count from 1 at the top of the file, title
    line included. See the module docstring for the layouts.

    Example:
        >>> text = '"Folkmängd"\\n\\n"region";"kön";"2020"\\n"0980 Gotland";"män";29972\\n'
        >>> read_delimited_text(text).data.to_dict("records")
        [{'region': '0980', 'gender': 'man', 'period': '2020', 'population': 29972}]
    """
    name = filename or "the file"
    lines = text.splitlines()
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    position = 0
    while position < len(lines) and not lines[position].strip():
        position += 1
    if position == len(lines):
        raise ValueError(f"{name}: the file is empty. Export the table again from Statistikdatabasen")
    title: str | None = None
    first = lines[position]
    if _TITLE.match(first) and (position + 1 == len(lines) or not lines[position + 1].strip()):
        title = _split(first, ";")[0]
        position += 1
        while position < len(lines) and not lines[position].strip():
            position += 1
        if position == len(lines):
            raise ValueError(
                f"{name}: the file has a title line ({title!r}) but no header and no figures"
            )
    header_number = position + 1
    delimiter = _delimiter(lines[position], name, header_number)
    header = _split(lines[position], delimiter)
    rows: list[_Line] = []
    blank_at: int | None = None
    first_line = position + 1  # 0-based index of the first line after the header
    reader = csv.reader(iter(lines[first_line:]), delimiter=delimiter)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise ValueError(f"{name}, line {first_line + reader.line_num}: {error}") from None
        number = first_line + reader.line_num  # 1-based line of the record's last line
        fields = [f.strip() for f in record]
        if not any(fields):
            if blank_at is None:
                blank_at = number
            continue
        if blank_at is not None:
            if len(fields) == len(header):
                raise ValueError(
                    f"{name}, line {blank_at}: an empty line inside the figures. Remove it, or"
                    " remove the rows after it if they do not belong to the table"
                )
            break  # footnotes after the table
        if len(fields) != len(header):
            raise ValueError(
                f"{name}, line {number}: {len(fields)} fields, but the header on line"
                f" {header_number} has {len(header)}. Check the separator and the quoting"
            )
        rows.append(_Line(number, fields))
    lowered = [" ".join(h.lower().split()) for h in header]
    if {_ONE_WAY.get(h, h) for h in lowered if not is_value_column(h)} == {"variable", "category"} \
            and len(header) == 3:
        return _one_way(header, header_number, rows, name, filename, tolerance)
    raw = _wide_or_long(header, header_number, rows, name, filename, title)
    if not rows:
        raise ValueError(f"{name}: the header is on line {header_number}, but no figures follow it")
    return assemble(raw, tolerance=tolerance, content=content, region_level=region_level)


def _wide_or_long(
    header: list[str],
    header_number: int,
    rows: list[_Line],
    name: str,
    filename: str | None,
    title: str | None,
) -> RawTable:
    period_columns: list[tuple[int, str, str | None]] = []  # (column, period, content prefix)
    value_columns: list[int] = []
    dim_columns: list[int] = []
    for i, label in enumerate(header):
        if not label:
            raise ValueError(f"{name}, line {header_number}: column {i + 1} has no name in the header")
        if period_of(None, label) is not None:
            period_columns.append((i, label, None))
            continue
        match = _PREFIXED_PERIOD.match(label)
        if match and period_of(None, match.group(2)) is not None and dimension_kind(label) is None:
            period_columns.append((i, match.group(2), match.group(1)))
            continue
        if dimension_kind(label) is not None:
            dim_columns.append(i)
        elif is_value_column(label):
            value_columns.append(i)
        else:
            dim_columns.append(i)
    scb_style = title is not None or bool(period_columns)
    if not scb_style:
        unknown = [header[i] for i in dim_columns if dimension_kind(header[i]) is None]
        if unknown:
            raise ValueError(
                f"{name}, line {header_number}: unknown column {unknown[0]!r}. A long population"
                " file has columns among district (or region), gender, age_group (or age), period"
                " and population"
            )
    if period_columns and value_columns:
        raise ValueError(
            f"{name}, line {header_number}: both period columns ({period_columns[0][1]!r}) and a"
            f" count column ({header[value_columns[0]]!r}); keep one layout"
        )
    if not period_columns and not value_columns:
        raise ValueError(
            f"{name}, line {header_number}: no column with the counts. Name it 'population'"
            " (or export from Statistikdatabasen with the years as columns)"
        )
    if not dim_columns and not rows:
        raise ValueError(f"{name}, line {header_number}: the file has a header but no figures")
    dims: list[RawDimension] = []
    n_rows = len(rows)
    fields = np.array([r.fields for r in rows], dtype=object).reshape(n_rows, len(header))
    numbers = np.array([r.number for r in rows], dtype=np.int64)
    row_index: list[np.ndarray] = []
    for i in dim_columns:
        column = fields[:, i]
        codes, uniques = pd.factorize(pd.Series(column, dtype=object), sort=False)
        labels = [str(u) for u in uniques]
        dims.append(RawDimension(name=header[i], codes=[None] * len(labels), labels=labels))
        row_index.append(codes.astype(np.int64))
    # value columns become cells: rows x value columns
    if period_columns:
        value_idx = [c for c, _, _ in period_columns]
        periods = list(dict.fromkeys(p for _, p, _ in period_columns))
        prefixes = list(dict.fromkeys(pre for _, _, pre in period_columns))
        column_period = [periods.index(p) for _, p, _ in period_columns]
        column_prefix = [prefixes.index(pre) for _, _, pre in period_columns]
        where = [f"line {header_number}, column {header[c]!r}" for c, _, _ in period_columns]
        first_where = {periods.index(p): w for (_, p, _), w in zip(period_columns, where)}
        dims.append(RawDimension(
            name="period", codes=[None] * len(periods), labels=periods, kind="period",
            where=[first_where[k] for k in range(len(periods))],
        ))
        extra = [np.array(column_period, dtype=np.int64)]
        if len(prefixes) > 1 or prefixes[0] is not None:
            dims.append(RawDimension(
                name="contents", codes=[None] * len(prefixes),
                labels=[p or "" for p in prefixes], kind="content",
                where=[f"line {header_number}"] * len(prefixes),
            ))
            extra.append(np.array(column_prefix, dtype=np.int64))
    else:
        value_idx = value_columns
        extra = []
        if len(value_columns) > 1:
            dims.append(RawDimension(
                name="contents", codes=[None] * len(value_columns),
                labels=[header[c] for c in value_columns], kind="content",
                where=[f"line {header_number}"] * len(value_columns),
            ))
            extra.append(np.arange(len(value_columns), dtype=np.int64))
    n_values = len(value_idx)
    blocks = [np.repeat(codes, n_values) for codes in row_index]
    blocks += [np.tile(e, n_rows) for e in extra]
    index = np.column_stack(blocks) if blocks else np.zeros((n_rows * n_values, 0), dtype=np.int64)
    values = fields[:, value_idx].ravel() if n_rows else np.array([], dtype=object)
    lines = np.repeat(numbers, n_values)
    fmt = "scb-csv" if scb_style else "long-csv"
    return RawTable(
        source=Source(filename, fmt, None, title),
        dims=dims,
        index=index,
        values=list(values),
        lines=lines,
    )


def _one_way(
    header: list[str],
    header_number: int,
    rows: list[_Line],
    name: str,
    filename: str | None,
    tolerance: Tolerance,
) -> PopulationTable:
    from .combine import combine_one_way

    lowered = [_ONE_WAY.get(" ".join(h.lower().split()), "population") for h in header]
    v, c, p = lowered.index("variable"), lowered.index("category"), lowered.index("population")
    if not rows:
        raise ValueError(f"{name}: the header is on line {header_number}, but no figures follow it")
    groups: dict[str, list[_Line]] = {}
    for row in rows:
        variable = row.fields[v].strip()
        if not variable:
            raise ValueError(f"{name}, line {row.number}: the variable is empty")
        groups.setdefault(variable, []).append(row)
    tables = []
    for variable, members in groups.items():
        kind = dimension_kind(variable)
        if kind is None or kind in ("content", "other", "period"):
            raise ValueError(
                f"{name}, line {members[0].number}: unknown variable {variable!r}. One-way margins"
                " are for district (or region), gender and age_group (or age)"
            )
        labels = list(dict.fromkeys(r.fields[c] for r in members))
        raw = RawTable(
            source=Source(filename, "one-way-csv"),
            dims=[RawDimension(name=variable, codes=[None] * len(labels), labels=labels, kind=kind)],
            index=np.array([[labels.index(r.fields[c])] for r in members], dtype=np.int64),
            values=[r.fields[p] for r in members],
            lines=np.array([r.number for r in members], dtype=np.int64),
        )
        tables.append((variable, members[0].number, assemble(raw, tolerance=tolerance)))
    return combine_one_way(tables, source=Source(filename, "one-way-csv"), tolerance=tolerance,
                           filename=name)


def table_from_frame(
    frame: pd.DataFrame,
    *,
    source: Source,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
) -> PopulationTable:
    """The checks of a long CSV import, on a DataFrame (see ``PopulationTable.from_frame``)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("from_frame: give a pandas DataFrame")
    columns = [str(c) for c in frame.columns]
    values = [c for c in columns if is_value_column(c) and dimension_kind(c) is None]
    if len(values) != 1:
        raise ValueError(
            f"from_frame: need exactly one count column named 'population'; the columns are {columns}"
        )
    unknown = [c for c in columns if c not in values and dimension_kind(c) is None]
    if unknown:
        raise ValueError(
            f"from_frame: unknown column {unknown[0]!r}; use district (or region), gender,"
            " age_group (or age), period and population"
        )
    dims: list[RawDimension] = []
    blocks = []
    for column in columns:
        if column in values:
            continue
        series = frame[column].astype(object).map(lambda v: None if pd.isna(v) else str(v))
        codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise ValueError(f"from_frame: row {row} has no {column!r}; fill it in")
        labels = [str(u) for u in uniques]
        dims.append(RawDimension(name=column, codes=[None] * len(labels), labels=labels))
        blocks.append(codes.astype(np.int64))
    n = len(frame)
    index = np.column_stack(blocks) if blocks else np.zeros((n, 0), dtype=np.int64)
    raw = RawTable(
        source=source,
        dims=dims,
        index=index,
        values=frame[values[0]].astype(object).tolist(),
        lines=np.arange(n, dtype=np.int64),
        where_format="row {}",
    )
    return assemble(raw, tolerance=tolerance)
