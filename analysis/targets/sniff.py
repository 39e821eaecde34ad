"""Bytes in, text and format out: encodings, binary files and format detection.

SCB's files come as ISO-8859-1 (CSV export, PX ``CODEPAGE="iso-8859-1"``) or
UTF-8, with or without a byte order mark; files saved again by Excel on
Swedish Windows are Windows-1252. Without an explicit ``encoding`` the text is
read as UTF-8 when it is valid UTF-8, else as Windows-1252/ISO-8859-1.
Spreadsheets, PDFs and other binary files, text that was damaged by an earlier
conversion (``"Ã¤"`` for ``"ä"``, ``"�"``) and text that cannot be decoded are
refused with the line where the problem is.

The format is told from the content, not the file name: ``{`` starts JSON
(JSON-stat2 when it has ``dimension`` and ``value``, the old API v1 when it has
``columns`` and ``data``), PX files start with ``KEYWORD=`` lines and have a
``DATA=`` keyword, anything else is read as delimited text (CSV).

Example:
    >>> detect_format(b'CHARSET="ANSI";\\nDATA=\\n1 2;')
    'px'
    >>> decode_text("kön;år".encode("latin-1"), filename="x.csv")
    'kön;år'
"""

from __future__ import annotations

import codecs
import io
import json
import re
from pathlib import Path
from typing import BinaryIO

__all__ = ["load_bytes", "decode_text", "detect_format", "check_not_binary"]

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx or .ods workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|Ã¥|Ã¤|Ã¶|Ã\u2026|Ã\u201e|Ã\u2013")
_PX_KEYWORD = re.compile(r'^[A-Z][A-Z0-9-]*(\[[A-Za-z-]+\])?(\([^)]*\))?\s*=')
_PX_DATA = re.compile(r"^\s*DATA\s*=", re.MULTILINE)


def load_bytes(source: str | Path | bytes | bytearray | BinaryIO,
               filename: str | None = None) -> tuple[bytes, str | None]:
    """The raw bytes of ``source`` and a file name for messages.

    ``str`` and ``Path`` are file paths; ``bytes`` are the file's content; a
    binary file object is read to the end.

    Example:
        >>> load_bytes(b"a;b", "x.csv")
        (b'a;b', 'x.csv')
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        return path.read_bytes(), filename or path.name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), filename
    if isinstance(source, io.TextIOBase):
        raise ValueError(
            "open the file in binary mode (open(path, 'rb')): the importer detects the encoding itself"
        )
    read = getattr(source, "read", None)
    if read is None:
        raise ValueError(
            f"cannot read population figures from {type(source).__name__}; give a path, bytes or"
            " a binary file object"
        )
    data = read()
    if isinstance(data, str):
        raise ValueError(
            "open the file in binary mode (open(path, 'rb')): the importer detects the encoding itself"
        )
    name = filename or getattr(source, "name", None) or getattr(source, "filename", None)
    return bytes(data), (Path(str(name)).name if name else None)


def check_not_binary(data: bytes, filename: str) -> None:
    """Refuse empty files, spreadsheets, PDFs and other binary content with a clear message."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise ValueError(f"{filename}: the file is empty. Export the table again from Statistikdatabasen")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise ValueError(
                f"{filename}: this is {what}, not a population file. Save it as CSV (or download"
                " the table as CSV or PX from Statistikdatabasen)"
            )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise ValueError(
            f"{filename}, line {line}: the file contains binary data (a NUL byte), so it is not"
            " a text file. Export the table as CSV or PX"
        )


def decode_text(data: bytes, *, filename: str, encoding: str | None = None) -> str:
    """Decode ``data`` with ``encoding``, or detect UTF-8 (with/without BOM) vs Windows-1252.

    Raises ``ValueError`` naming the line when the bytes do not fit the
    encoding, or when the text shows signs of an earlier wrong conversion.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}; use for example 'utf-8' or"
                             " 'iso-8859-1'") from None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise ValueError(
                f"{filename}, line {line}: the bytes are not valid {encoding} ({error.reason});"
                " leave encoding out to detect it"
            ) from None
        if text.startswith("\ufeff"):
            text = text[1:]
    elif data.startswith(codecs.BOM_UTF8):
        text = _decode_utf8(data[3:], filename, offset=3, data=data)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError(f"{filename}: the file starts like UTF-16 but is not valid UTF-16;"
                             " save it as UTF-8") from None
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("iso-8859-1")
    _check_text(text, filename, encoding)
    return text


def _decode_utf8(body: bytes, filename: str, *, offset: int, data: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start + offset].count(b"\n") + 1
        raise ValueError(
            f"{filename}, line {line}: the file starts with a UTF-8 byte order mark but is not"
            " valid UTF-8 here (mixed encodings?). Save the whole file again as UTF-8"
        ) from None


def _check_text(text: str, filename: str, encoding: str | None) -> None:
    for pattern, problem in (
        (_MOJIBAKE, "looks like UTF-8 read as ISO-8859-1 (for example 'Ã¤' for 'ä')"),
        (re.compile("\ufffd"), "contains '\ufffd' where a letter was lost in an earlier conversion"),
        (re.compile("[\u0080-\u009f]"), "contains control characters, so the encoding is wrong"),
    ):
        found = pattern.search(text)
        if found:
            line = text.count("\n", 0, found.start()) + 1
            fix = ("leave encoding out or pass encoding='utf-8'" if encoding
                   else "export the file again from Statistikdatabasen, or save it as UTF-8")
            raise ValueError(f"{filename}, line {line}: the text {problem}; {fix}")


def detect_format(data: bytes) -> str:
    """``"px"``, ``"json-stat2"``, ``"pxweb-v1-json"``, ``"json"`` (other JSON) or ``"csv"``.

    Only the content is looked at. ``data`` must not be binary (see
    :func:`check_not_binary`).

    Example:
        >>> detect_format(b'{"columns": [], "data": []}'), detect_format(b"district,population")
        ('pxweb-v1-json', 'csv')
    """
    head = data[:65536]
    for bom in (codecs.BOM_UTF8,):
        if head.startswith(bom):
            head = head[len(bom):]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"
    stripped = head.lstrip()
    if stripped.startswith((b"{", b"[")):
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "json"
        return json_kind(document)
    first = stripped.split(b"\n", 1)[0].decode("iso-8859-1").strip()
    if _PX_KEYWORD.match(first) and _PX_DATA.search(data.decode("iso-8859-1")):
        return "px"
    return "csv"


def json_kind(document: object) -> str:
    """Tell a JSON-stat2 dataset from an API v1 response; ``"json"`` for anything else."""
    if isinstance(document, dict):
        if "dimension" in document and ("value" in document or "id" in document):
            return "json-stat2"
        if "columns" in document and "data" in document:
            return "pxweb-v1-json"
    return "json"
