"""SCB's JSON responses: PxWebApi 2.0 JSON-stat2 and the old API v1 JSON.

**JSON-stat2** (PxWebApi 2.0, ``…/tables/TAB6471/data?outputFormat=json-stat2``):
``id`` lists the dimensions, ``size`` their lengths, ``dimension[id].category``
their ``index`` and ``label``; ``value`` holds the figures in row-major order
(the last dimension varies fastest), ``null`` for a missing figure with its
symbol in ``status``. ``role.time`` and ``role.metric`` mark the period and the
table contents. The table's metadata response (``…/tables/TAB6471/metadata``,
same shape with no values) may be given as well: the importer then checks that
data and metadata are for the same table and takes missing labels and notes
from it.

**API v1** (``api.scb.se/OV0104/v1/doris/…``, POST with ``"format": "json"``):
``columns`` lists the variables (``type`` ``d`` dimension, ``t`` time, ``c``
contents), ``data`` holds one ``key`` (codes, in column order) and ``values``
(strings, one per contents column) per row.

References: JSON-stat 2.0 format, https://json-stat.org/format/; SCB,
*PxWebApi 2.0* and *API för Statistikdatabasen* (v1) documentation.

Example:
    >>> doc = {"version": "2.0", "class": "dataset", "id": ["Kon"], "size": [2],
    ...        "dimension": {"Kon": {"label": "kön", "category": {"index": {"1": 0, "2": 1},
    ...                      "label": {"1": "män", "2": "kvinnor"}}}}, "value": [29972, 30152]}
    >>> read_jsonstat_document(doc).margin("gender").to_dict()
    {'kvinna': 30152, 'man': 29972}
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from .assemble import RawDimension, RawTable, assemble
from .sniff import json_kind
from .table import DEFAULT_TOLERANCE, PopulationTable, Source, Tolerance
from .vocabulary import DimKind, dimension_kind

__all__ = ["read_jsonstat_document", "read_api_v1_document", "load_json"]

_CKM = re.compile(r"cell key|ckm|slumpmässig osäkerhet|kontrollerad slumpmässig", re.I)


def load_json(data: bytes, filename: str) -> Any:
    """Parse JSON bytes (UTF-8, BOM allowed); a syntax error names line and column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(f"{filename}, line {line}: JSON must be UTF-8, and this is not") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{filename}, line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})."
            " Download the response again; it may be cut short"
        ) from None


def _categories(dim: dict[str, Any], dim_id: str, filename: str) -> tuple[list[str], list[str | None]]:
    category = dim.get("category")
    if not isinstance(category, dict) or "index" not in category and "label" not in category:
        raise ValueError(f"{filename}: dimension {dim_id!r} has no category index")
    index = category.get("index")
    labels = category.get("label") or {}
    if isinstance(index, list):
        codes = [str(c) for c in index]
    elif isinstance(index, dict):
        codes = [str(c) for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
        if sorted(index.values()) != list(range(len(index))):
            raise ValueError(f"{filename}: dimension {dim_id!r} has a broken category index")
    else:  # only labels: a single category
        codes = [str(c) for c in labels]
    return codes, [labels.get(c) if isinstance(labels, dict) else None for c in codes]


def read_jsonstat_document(
    document: Any,
    *,
    filename: str | None = None,
    metadata: Any | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a parsed JSON-stat2 dataset (PxWebApi 2.0), optionally with its metadata response."""
    name = filename or "the file"
    if json_kind(document) != "json-stat2":
        raise ValueError(f"{name}: not a JSON-stat2 dataset (no 'dimension' and 'value')")
    ids = document.get("id")
    sizes = document.get("size")
    dimensions = document.get("dimension")
    if not isinstance(ids, list) or not isinstance(sizes, list) or len(ids) != len(sizes) \
            or not isinstance(dimensions, dict):
        raise ValueError(f"{name}: JSON-stat2 needs 'id' and 'size' lists of equal length")
    values = document.get("value")
    if values is None or (isinstance(values, list) and not values):
        if metadata is None and all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(
                f"{name}: this response has no values: it is the table's metadata. Import the data"
                " response (…/data?outputFormat=json-stat2), and give this file as metadata="
            )
        raise ValueError(f"{name}: the dataset has no values")
    meta_dims: dict[str, Any] = {}
    notes_text = " ".join(_notes(document))
    if metadata is not None:
        if json_kind(metadata) != "json-stat2":
            raise ValueError("metadata: not a PxWebApi 2.0 JSON-stat2 metadata response")
        data_table = _table_id(document)
        meta_table = _table_id(metadata)
        if data_table and meta_table and data_table != meta_table:
            raise ValueError(
                f"metadata is for table {meta_table}, but {name} is table {data_table};"
                " give the metadata of the same table"
            )
        meta_dims = metadata.get("dimension") or {}
        notes_text += " " + " ".join(_notes(metadata))
    roles = document.get("role") or {}
    time_ids = set(roles.get("time") or [])
    metric_ids = set(roles.get("metric") or [])
    dims: list[RawDimension] = []
    extra_notes: list[str] = []
    for dim_id, size in zip(ids, sizes):
        dim = dimensions.get(dim_id)
        if not isinstance(dim, dict):
            raise ValueError(f"{name}: dimension {dim_id!r} is listed in 'id' but not described")
        codes, labels = _categories(dim, dim_id, name)
        if len(codes) != size:
            raise ValueError(f"{name}: dimension {dim_id!r} has {len(codes)} categories but size"
                             f" says {size}")
        if dim_id in meta_dims:
            meta_codes, meta_labels = _categories(meta_dims[dim_id], dim_id, "metadata")
            lookup = dict(zip(meta_codes, meta_labels))
            unknown = [c for c in codes if c not in lookup]
            if unknown:
                raise ValueError(
                    f"{name}: {dim_id} category {unknown[0]!r} is not in the metadata's codelist;"
                    " data and metadata do not belong together"
                )
            labels = [label if label is not None else lookup[c] for c, label in zip(codes, labels)]
        elif meta_dims:
            raise ValueError(f"{name}: dimension {dim_id!r} is not in the metadata")
        kind: DimKind | None
        if dim_id in time_ids:
            kind = "period"
        elif dim_id in metric_ids:
            kind = "content"
        else:
            kind = dimension_kind(dim_id) or dimension_kind(str(dim.get("label", "")))
        label = str(dim.get("label") or dim_id)
        if kind == "age":
            for note in dim.get("note") or []:
                extra_notes.append(f"{label}: {note}")
        dims.append(RawDimension(name=label, codes=list(codes), labels=list(labels), kind=kind,
                                 where=[f"dimension {dim_id!r}, category {c!r}" for c in codes]))
    total = int(np.prod(sizes)) if sizes else 1
    cells = _values(values, total, name)
    status = document.get("status")
    if isinstance(status, (dict, list)):
        for position, token in enumerate(cells):
            if token is None:
                symbol = status.get(str(position)) if isinstance(status, dict) else (
                    status[position] if position < len(status) else None)
                if isinstance(symbol, str):
                    cells[position] = symbol
    index = np.column_stack(np.unravel_index(np.arange(total), sizes)).astype(np.int64) \
        if sizes else np.zeros((1, 0), dtype=np.int64)
    raw = RawTable(
        source=Source(filename, "json-stat2", _table_id(document), document.get("label")),
        dims=dims,
        index=index,
        values=cells,
        lines=np.arange(total, dtype=np.int64),
        where_format="value[{}]",
        notes=extra_notes,
        cell_key_noise=bool(_CKM.search(notes_text)),
    )
    return assemble(raw, tolerance=tolerance, content=content, region_level=region_level)


def _values(values: Any, total: int, filename: str) -> list[object]:
    if isinstance(values, dict):
        cells: list[object] = [None] * total
        for key, value in values.items():
            if not str(key).isdigit() or int(key) >= total:
                raise ValueError(f"{filename}: value key {key!r} is outside the {total} cells")
            cells[int(key)] = value
        return cells
    if not isinstance(values, list):
        raise ValueError(f"{filename}: 'value' must be a list")
    if len(values) != total:
        raise ValueError(
            f"{filename}: 'value' has {len(values)} figures, but the sizes give {total} cells;"
            " the response is cut short or damaged"
        )
    return list(values)


def _notes(document: Any) -> list[str]:
    notes = document.get("note") or []
    if isinstance(notes, str):
        return [notes]
    return [str(n) for n in notes] if isinstance(notes, list) else []


def _table_id(document: Any) -> str | None:
    extension = document.get("extension") or {}
    px = extension.get("px") if isinstance(extension, dict) else None
    if isinstance(px, dict):
        found = px.get("tableid") or px.get("matrix")
        return str(found) if found else None
    return None


def read_api_v1_document(
    document: Any,
    *,
    filename: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a parsed response of SCB's old API v1 (``columns``/``data``/``key``/``values``).

    The response holds codes only (``"00"`` riket, ``"1"`` män, ``"0"`` år),
    which the importer understands without labels.
    """
    name = filename or "the file"
    columns = document.get("columns")
    rows = document.get("data")
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise ValueError(f"{name}: an API v1 response needs 'columns' and 'data' lists")
    key_columns = [c for c in columns if isinstance(c, dict) and c.get("type") in ("d", "t")]
    value_columns = [c for c in columns if isinstance(c, dict) and c.get("type") == "c"]
    if not value_columns:
        raise ValueError(f"{name}: no contents column (type 'c') in 'columns'")
    if not rows:
        raise ValueError(f"{name}: 'data' is empty: the query matched no figures")
    category_lists: list[dict[str, int]] = [{} for _ in key_columns]
    index_rows: list[list[int]] = []
    values: list[object] = []
    positions: list[int] = []
    for number, row in enumerate(rows):
        key = row.get("key") if isinstance(row, dict) else None
        row_values = row.get("values") if isinstance(row, dict) else None
        if not isinstance(key, list) or len(key) != len(key_columns):
            raise ValueError(f"{name}, data[{number}]: 'key' must list {len(key_columns)} codes")
        if not isinstance(row_values, list) or len(row_values) != len(value_columns):
            raise ValueError(f"{name}, data[{number}]: 'values' must hold {len(value_columns)} figures")
        codes = []
        for j, code in enumerate(key):
            codes.append(category_lists[j].setdefault(str(code), len(category_lists[j])))
        for k, value in enumerate(row_values):
            index_rows.append(codes + ([k] if len(value_columns) > 1 else []))
            values.append(value)
            positions.append(number)
    dims = []
    for column, categories in zip(key_columns, category_lists):
        code_list = list(categories)
        kind: DimKind | None = "period" if column.get("type") == "t" else (
            dimension_kind(str(column.get("code", ""))) or dimension_kind(str(column.get("text", "")))
        )
        dims.append(RawDimension(name=str(column.get("text") or column.get("code")),
                                 codes=list(code_list), labels=[None] * len(code_list), kind=kind))
    if len(value_columns) > 1:
        dims.append(RawDimension(
            name="contents",
            codes=[str(c.get("code")) for c in value_columns],
            labels=[str(c.get("text")) for c in value_columns],
            kind="content",
        ))
    metadata = document.get("metadata") or []
    title = metadata[0].get("label") if metadata and isinstance(metadata[0], dict) else None
    if title is None and len(value_columns) == 1:
        title = value_columns[0].get("text")
    raw = RawTable(
        source=Source(filename, "pxweb-v1-json", None, title),
        dims=dims,
        index=np.asarray(index_rows, dtype=np.int64).reshape(len(values), len(dims)),
        values=values,
        lines=np.asarray(positions, dtype=np.int64),
        where_format="data[{}]",
    )
    return assemble(raw, tolerance=tolerance, content=content, region_level=region_level)
