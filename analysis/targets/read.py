"""Public readers: :func:`read_population` detects the format, the others read one format.

All readers take a path, the file's bytes or a binary file object, and return
a :class:`~analysis.targets.table.PopulationTable`. They share the keywords:

* ``filename``: the name used in messages and in ``source`` (taken from the
  path or file object when not given);
* ``encoding``: override the detected text encoding (rarely needed);
* ``tolerance``: how far SCB's totals may differ from the sum of their parts
  (:class:`~analysis.targets.table.Tolerance`);
* ``content``: which table contents to use when a table has several
  (``"Folkmängd"`` is chosen by default);
* ``region_level``: which level to keep when a file mixes levels (the finest
  by default).

Bad input raises ``ValueError`` naming the file, the line (or JSON position)
and what to fix; nothing is returned half-read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from .delimited import read_delimited_text
from .jsonstat import load_json, read_api_v1_document, read_jsonstat_document
from .px import read_px_bytes
from .sniff import check_not_binary, decode_text, detect_format, load_bytes
from .table import DEFAULT_TOLERANCE, PopulationTable, Tolerance

__all__ = [
    "read_population",
    "read_population_csv",
    "read_px",
    "read_jsonstat",
    "read_api_v1_json",
]

Readable = str | Path | bytes | BinaryIO


def read_population(
    source: Readable,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
    metadata: Readable | None = None,
) -> PopulationTable:
    """Import population figures from any supported file, detecting the format from its content.

    Formats: Statistikdatabasen CSV (Swedish or English, with or without the
    title line, ``;`` or ``,``), a municipality's long CSV
    (``district,gender,age_group,population``) or one-way CSV
    (``variable,category,population``), PX, PxWebApi 2.0 JSON-stat2 (give the
    table's metadata response as ``metadata`` to have it checked and used) and
    the old API v1 JSON. ``str``/``Path`` are paths, ``bytes`` are content.

    When the file holds SCB's totals as well as the detailed cells, the
    detailed cells are used and the totals checked against them (see
    :class:`~analysis.targets.table.Tolerance`).

    Example:
        >>> table = read_population(b"gender,population\\nkvinna,30152\\nman,29972\\n")
        >>> table.total, table.source.format
        (60124, 'long-csv')
    """
    data, name = load_bytes(source, filename)
    shown = name or "the file"
    check_not_binary(data, shown)
    kind = detect_format(data)
    if kind == "px":
        return read_px_bytes(data, filename=name, encoding=encoding, tolerance=tolerance,
                             content=content, region_level=region_level)
    if kind in ("json-stat2", "pxweb-v1-json", "json"):
        return _read_json(data, name, metadata, tolerance, content, region_level)
    if metadata is not None:
        raise ValueError(f"{shown}: metadata= is only used with JSON-stat2 responses")
    text = decode_text(data, filename=shown, encoding=encoding)
    return read_delimited_text(text, filename=name, tolerance=tolerance, content=content,
                               region_level=region_level)


def read_population_csv(
    source: Readable,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a CSV file: an SCB export, a long CSV or a one-way CSV (see :mod:`.delimited`).

    Example:
        >>> read_population_csv(b'"region";"2020"\\n"0980 Gotland";60124\\n').region_level
        'kommun'
    """
    data, name = load_bytes(source, filename)
    shown = name or "the file"
    check_not_binary(data, shown)
    if detect_format(data) != "csv":
        raise ValueError(f"{shown}: this is a {detect_format(data)} file, not CSV; use read_population")
    text = decode_text(data, filename=shown, encoding=encoding)
    return read_delimited_text(text, filename=name, tolerance=tolerance, content=content,
                               region_level=region_level)


def read_px(
    source: Readable,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a PX (PC-Axis) file, decoded by its ``CODEPAGE`` (see :mod:`.px`).

    Example:
        >>> px = b'STUB="region";\\nHEADING="year";\\nVALUES("region")="0980 Gotland";\\n'
        >>> px += b'VALUES("year")="2020";\\nDATA=\\n60124;'
        >>> read_px(px).total
        60124
    """
    data, name = load_bytes(source, filename)
    shown = name or "the file"
    check_not_binary(data, shown)
    if detect_format(data) != "px":
        raise ValueError(f"{shown}: not a PX file (no KEYWORD= lines and DATA=)")
    return read_px_bytes(data, filename=name, encoding=encoding, tolerance=tolerance,
                         content=content, region_level=region_level)


def read_jsonstat(
    source: Readable,
    *,
    metadata: Readable | None = None,
    filename: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a PxWebApi 2.0 JSON-stat2 data response, optionally checked against its metadata.

    Example:
        >>> doc = b'{"class": "dataset", "id": ["Tid"], "size": [1], "role": {"time": ["Tid"]},'
        >>> doc += b' "dimension": {"Tid": {"category": {"index": {"2026M01": 0}}}}, "value": [60841]}'
        >>> read_jsonstat(doc).period
        '2026M01'
    """
    data, name = load_bytes(source, filename)
    check_not_binary(data, name or "the file")
    return _read_json(data, name, metadata, tolerance, content, region_level,
                      required="json-stat2")


def read_api_v1_json(
    source: Readable,
    *,
    filename: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a response of SCB's old API v1 (``columns``/``data``), see :mod:`.jsonstat`.

    Example:
        >>> doc = b'{"columns": [{"code": "Kon", "text": "sex", "type": "d"},'
        >>> doc += b' {"code": "BE0101N1", "text": "Population", "type": "c"}],'
        >>> doc += b' "data": [{"key": ["1"], "values": ["50937"]}]}'
        >>> read_api_v1_json(doc).margin("gender").to_dict()
        {'man': 50937}
    """
    data, name = load_bytes(source, filename)
    check_not_binary(data, name or "the file")
    return _read_json(data, name, None, tolerance, content, region_level,
                      required="pxweb-v1-json")


def _read_json(
    data: bytes,
    name: str | None,
    metadata: Readable | None,
    tolerance: Tolerance,
    content: str | None,
    region_level: str | None,
    required: str | None = None,
) -> PopulationTable:
    from .sniff import json_kind

    shown = name or "the file"
    document: Any = load_json(data, shown)
    found = json_kind(document)
    if required is not None and found != required:
        raise ValueError(f"{shown}: this JSON is {found}, not {required}; use read_population")
    if found == "json-stat2":
        meta_document = None
        if metadata is not None:
            meta_bytes, meta_name = load_bytes(metadata)
            meta_document = load_json(meta_bytes, meta_name or "metadata")
        return read_jsonstat_document(document, filename=name, metadata=meta_document,
                                      tolerance=tolerance, content=content,
                                      region_level=region_level)
    if metadata is not None:
        raise ValueError(f"{shown}: metadata= is only used with JSON-stat2 responses")
    if found == "pxweb-v1-json":
        return read_api_v1_document(document, filename=name, tolerance=tolerance, content=content,
                                    region_level=region_level)
    raise ValueError(
        f"{shown}: JSON, but neither a JSON-stat2 dataset (PxWebApi 2.0) nor an API v1 response"
        " (columns/data). Download the table as JSON-stat2, PX or CSV"
    )
