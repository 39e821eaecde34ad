"""PX files (PC-Axis), as Statistikdatabasen and PxWeb serve them.

A PX file is a list of ``KEYWORD("variable")=value;`` entries followed by
``DATA=`` and the numbers. The importer reads:

* ``CODEPAGE`` (``iso-8859-1``, ``utf-8``, ``windows-1252``); without it the
  encoding is detected as for CSV files;
* ``STUB`` and ``HEADING``: the data are in the order of the STUB variables
  then the HEADING variables, the last one varying fastest;
* ``VALUES`` and ``CODES`` for each variable (values may continue over several
  lines; adjacent quoted strings are joined), ``VARIABLECODE``,
  ``CONTVARIABLE`` (table contents), ``TIMEVAL`` (the period variable);
* ``TITLE``, ``TABLEID``/``MATRIX``, ``NOTE``/``NOTEX`` (cell-key noise),
  ``DATASYMBOL1``…``DATASYMBOL6``, ``DATASYMBOLNIL``;
* ``HIERARCHIES`` is parsed but not needed: region parts are told from the
  codes (see :mod:`analysis.targets.regions`).

Keywords with a language suffix (``VALUES[en]``) belong to other languages
and are ignored. The sparse ``KEYS`` layout is refused with a message.

Reference: Statistics Sweden, *PX file format specification* (2013).

Example:
    >>> text = '''CHARSET="ANSI";
    ... STUB="kön";
    ... HEADING="år";
    ... VALUES("kön")="män","kvinnor";
    ... VALUES("år")="2020";
    ... DATA=
    ... 29972 30152;'''
    >>> read_px_text(text).margin("gender").to_dict()
    {'kvinna': 30152, 'man': 29972}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .assemble import RawDimension, RawTable, assemble
from .sniff import decode_text
from .table import DEFAULT_TOLERANCE, PopulationTable, Source, Tolerance
from .vocabulary import DimKind, dimension_kind

__all__ = ["read_px_bytes", "read_px_text", "parse_px_header"]

_CODEPAGE = re.compile(rb'^\s*CODEPAGE\s*=\s*"([^"]+)"', re.MULTILINE)
_KEYWORD = re.compile(r"([A-Za-z][A-Za-z0-9-]*)\s*(?:\[([A-Za-z_-]+)\])?\s*")
_CKM = re.compile(r"cell key|cellkey|ckm|slumpmässig osäkerhet|kontrollerad slumpmässig", re.I)


@dataclass(frozen=True)
class PxEntry:
    """One ``KEYWORD[lang]("sub", ...)=value;`` entry; ``line`` is where it starts."""

    keyword: str
    language: str | None
    subkeys: tuple[str, ...]
    items: tuple[str, ...]  # the value split into list items (quotes removed)
    raw: str
    line: int


def read_px_bytes(
    data: bytes,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a PX file's bytes, decoding them by its ``CODEPAGE`` unless ``encoding`` is given."""
    name = filename or "the file"
    if encoding is None:
        match = _CODEPAGE.search(data[:200000])
        if match:
            encoding = match.group(1).decode("ascii", "replace").strip()
            if encoding.lower() in ("iso-8859-1", "iso8859-1", "latin-1", "latin1"):
                encoding = "iso-8859-1"
    text = decode_text(data, filename=name, encoding=encoding)
    return read_px_text(text, filename=filename, tolerance=tolerance, content=content,
                        region_level=region_level)


def parse_px_header(text: str, filename: str = "the file") -> tuple[list[PxEntry], int]:
    """The keyword entries before ``DATA=`` and the offset where the data start.

    Example:
        >>> entries, _ = parse_px_header('VALUES("år")="2020",\\n"2021";\\nDATA=\\n1 2;')
        >>> entries[0].subkeys, entries[0].items
        (('år',), ('2020', '2021'))
    """
    entries: list[PxEntry] = []
    position = 0
    length = len(text)
    while True:
        while position < length and text[position] in " \t\r\n;":
            position += 1
        if position >= length:
            raise ValueError(f"{filename}: the PX file has no DATA= keyword, so it holds no figures")
        line = text.count("\n", 0, position) + 1
        match = _KEYWORD.match(text, position)
        if match is None:
            raise ValueError(
                f"{filename}, line {line}: expected a PX keyword such as VALUES(\"kön\")=…;"
                f" found {text[position:position + 30]!r}"
            )
        keyword, language = match.group(1).upper(), match.group(2)
        position = match.end()
        subkeys: tuple[str, ...] = ()
        if position < length and text[position] == "(":
            close = _find_outside_quotes(text, position, ")")
            if close < 0:
                raise ValueError(f"{filename}, line {line}: {keyword}( is never closed")
            subkeys = tuple(_split_items(text[position + 1:close]))
            position = close + 1
        while position < length and text[position] in " \t":
            position += 1
        if position >= length or text[position] != "=":
            raise ValueError(f"{filename}, line {line}: {keyword} has no '='")
        position += 1
        if keyword == "DATA":
            return entries, position
        end = _find_outside_quotes(text, position, ";")
        if end < 0:
            raise ValueError(f"{filename}, line {line}: the value of {keyword} has no closing ';'")
        raw = text[position:end]
        entries.append(PxEntry(keyword, language, subkeys, tuple(_split_items(raw)), raw, line))
        position = end + 1


def _find_outside_quotes(text: str, start: int, char: str) -> int:
    quoted = False
    for index in range(start, len(text)):
        c = text[index]
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            return index
    return -1


def _split_items(raw: str) -> list[str]:
    """Split a PX value on commas; adjacent quoted strings are joined (continued lines)."""
    items: list[str] = []
    current: list[str] = []
    index = 0
    started = False
    while index < len(raw):
        c = raw[index]
        if c == '"':
            close = raw.find('"', index + 1)
            if close < 0:
                close = len(raw)
            current.append(raw[index + 1:close])
            started = True
            index = close + 1
        elif c in ",:":
            items.append("".join(current).strip() if started else "")
            current, started = [], False
            index += 1
        elif c in " \t\r\n":
            index += 1
        else:
            end = index
            while end < len(raw) and raw[end] not in ',:"':
                end += 1
            current.append(raw[index:end].strip())
            started = True
            index = end
    if started or current:
        items.append("".join(current).strip())
    return items


def _first(entries: list[PxEntry], keyword: str, *subkeys: str) -> PxEntry | None:
    for entry in entries:
        if entry.keyword == keyword and entry.language is None and entry.subkeys == subkeys:
            return entry
    return None


def read_px_text(
    text: str,
    *,
    filename: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Read a PX file that is already decoded to text (see the module docstring)."""
    name = filename or "the file"
    if text.startswith("\ufeff"):
        text = text[1:]
    entries, data_start = parse_px_header(text, name)
    if any(e.keyword == "KEYS" for e in entries):
        entry = next(e for e in entries if e.keyword == "KEYS")
        raise ValueError(
            f"{name}, line {entry.line}: the PX file uses the sparse KEYS layout, which the"
            " importer does not read; save the table again as a full PX or CSV file"
        )
    stub = _first(entries, "STUB")
    heading = _first(entries, "HEADING")
    variables = list(stub.items if stub else ()) + list(heading.items if heading else ())
    if not variables:
        raise ValueError(f"{name}: the PX file has neither STUB nor HEADING, so its variables are"
                         " unknown")
    content_entry = _first(entries, "CONTVARIABLE")
    content_variable = content_entry.items[0] if content_entry and content_entry.items else None
    dims: list[RawDimension] = []
    sizes: list[int] = []
    for variable in variables:
        values = _first(entries, "VALUES", variable)
        if values is None or not values.items:
            where = stub if stub and variable in stub.items else heading
            line = where.line if where else 1
            raise ValueError(f"{name}, line {line}: variable {variable!r} has no VALUES(\"{variable}\")")
        codes_entry = _first(entries, "CODES", variable)
        codes: list[str | None] = [None] * len(values.items)
        if codes_entry is not None:
            if len(codes_entry.items) != len(values.items):
                raise ValueError(
                    f"{name}, line {codes_entry.line}: CODES(\"{variable}\") has"
                    f" {len(codes_entry.items)} codes but VALUES on line {values.line} has"
                    f" {len(values.items)} values"
                )
            codes = list(codes_entry.items)
        kind = _kind(entries, variable, content_variable)
        dims.append(RawDimension(
            name=variable,
            codes=codes,
            labels=list(values.items),
            kind=kind,
            where=[f"line {values.line} (VALUES(\"{variable}\"))"] * len(values.items),
        ))
        sizes.append(len(values.items))
    tokens, lines = _data_tokens(text, data_start)
    expected = int(np.prod(sizes))
    if len(tokens) != expected:
        first_line = text.count("\n", 0, data_start) + 1
        shape = " × ".join(str(s) for s in sizes)
        raise ValueError(
            f"{name}, line {first_line}: DATA holds {len(tokens)} figures, but the VALUES of"
            f" {', '.join(variables)} give {shape} = {expected} cells. The file is cut short or"
            " damaged; download it again"
        )
    symbols = _symbols(entries)
    values_out: list[object] = [symbols.get(t, t) for t in tokens]
    index = np.column_stack(np.unravel_index(np.arange(expected), sizes)).astype(np.int64)
    title_entry = _first(entries, "TITLE") or _first(entries, "DESCRIPTION")
    table_entry = _first(entries, "TABLEID") or _first(entries, "MATRIX")
    notes_text = " ".join(" ".join(e.items) for e in entries
                          if e.keyword in ("NOTE", "NOTEX") and e.language is None)
    return assemble(
        RawTable(
            source=Source(
                filename, "px",
                table_entry.items[0] if table_entry and table_entry.items else None,
                title_entry.items[0] if title_entry and title_entry.items else None,
            ),
            dims=dims,
            index=index,
            values=values_out,
            lines=np.asarray(lines, dtype=np.int64),
            cell_key_noise=bool(_CKM.search(notes_text)),
        ),
        tolerance=tolerance,
        content=content,
        region_level=region_level,
    )


def _kind(entries: list[PxEntry], variable: str, content_variable: str | None) -> DimKind | None:
    if variable == content_variable:
        return "content"
    if _first(entries, "TIMEVAL", variable) is not None:
        return "period"
    code = _first(entries, "VARIABLECODE", variable)
    if code is not None and code.items:
        found = dimension_kind(code.items[0])
        if found is not None:
            return found
    return dimension_kind(variable)


def _symbols(entries: list[PxEntry]) -> dict[str, str]:
    """Map the file's own data symbols to SCB's standard ones ('..' missing, '-' nil)."""
    out: dict[str, str] = {}
    for entry in entries:
        if entry.language is not None or not entry.items:
            continue
        if entry.keyword == "DATASYMBOLNIL":
            out[entry.items[0]] = "-"
        elif re.fullmatch(r"DATASYMBOL[1-6]", entry.keyword):
            symbol = entry.items[0]
            if symbol not in ("-",):
                out.setdefault(symbol, symbol if symbol in ("..", ".", "...") else "..")
    return out


def _data_tokens(text: str, start: int) -> tuple[list[str], list[int]]:
    tokens: list[str] = []
    lines: list[int] = []
    line = text.count("\n", 0, start) + 1
    body = text[start:]
    end = _find_outside_quotes(body, 0, ";")
    if end >= 0:
        body = body[:end]
    token = re.compile(r'"[^"]*"|[^\s,"]+')
    for number, chunk in enumerate(body.split("\n"), start=line):
        for found in token.findall(chunk):
            tokens.append(found.strip('"'))
            lines.append(number)
    return tokens, lines
