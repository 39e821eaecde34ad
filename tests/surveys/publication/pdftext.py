"""Reading the text back out of the PDFs fpdf2 writes, for the tests (pypdf is not installed).

fpdf2 writes text with an embedded TrueType subset as 2-byte glyph codes in literal
strings (``(...) Tj``, or ``[(...) -12 (...)] TJ`` when justified) after a ``/Fn size Tf``; each font's ``/ToUnicode`` CMap
(``bfchar`` pairs) maps the codes back to characters. Only what fpdf2 produces is
handled: this is a test helper, not a PDF parser.
"""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_LENGTH = re.compile(rb"/Length (\d+)(?! \d+ R)\b")
_FONT_REF = re.compile(rb"/F(\d+) (\d+) 0 R")
_TO_UNICODE = re.compile(rb"/ToUnicode (\d+) 0 R")
_DESCENDANT = re.compile(rb"/DescendantFonts \[\s*(\d+) 0 R")
_BFCHAR = re.compile(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]+)>")
_TOKENS = re.compile(rb"/F(\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj|\[((?:\((?:\\.|[^\\)])*\)|[^\]])*)\] TJ", re.S)
_PIECE = re.compile(rb"\(((?:\\.|[^\\)])*)\)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(raw: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i:i + 1] == b"\\":
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(), 8) & 0xFF)
                i += 1 + len(octal.group())
                continue
            out += _ESCAPES.get(raw[i + 1:i + 2], raw[i + 1:i + 2])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def _stream(body: bytes) -> bytes | None:
    match = _STREAM.search(body)
    if not match:
        return None
    data = match.group(1)
    length = _LENGTH.search(body[:match.start()])
    if length is not None:
        # The dictionary's /Length, not the regex: compressed data may end in a byte 0x0D, which
        # "\r?\nendstream" would take as the line end (1 stream in 256: a page read as empty).
        data = body[match.start(1):match.start(1) + int(length.group(1))]
    if b"/FlateDecode" in body[:match.start()]:
        data = zlib.decompress(data)
    return data


def pdf_text(pdf: bytes) -> str:
    """Every string the PDF shows, one per line, decoded through the fonts' ToUnicode maps."""
    if not pdf.startswith(b"%PDF-") or b"%%EOF" not in pdf[-32:]:
        raise AssertionError("not a complete PDF file")
    objects = {int(num): body for num, body in _OBJECT.findall(pdf)}
    maps: dict[int, dict[int, str]] = {}
    for name, ref in {(int(a), int(b)) for a, b in _FONT_REF.findall(pdf)}:
        body = objects.get(ref, b"")
        unicode_ref = _TO_UNICODE.search(body)
        if unicode_ref is None and _DESCENDANT.search(body):
            unicode_ref = _TO_UNICODE.search(objects.get(int(_DESCENDANT.search(body).group(1)), b""))
        if unicode_ref is None:
            continue
        cmap = _stream(objects[int(unicode_ref.group(1))]) or b""
        maps[name] = {int(code, 16): bytes.fromhex(target.decode()).decode("utf-16-be")
                      for code, target in _BFCHAR.findall(cmap.split(b"beginbfchar", 1)[-1])}
    lines = []
    for body in objects.values():
        if b"/Length" not in body or b"/Subtype /Image" in body or b"CIDInit" in body:
            continue
        try:
            content = _stream(body)
        except zlib.error:
            continue
        if not content or b" Tj" not in content:
            continue
        font: dict[int, str] = {}
        for name, text, array in _TOKENS.findall(content):
            if name:
                font = maps.get(int(name), {})
                continue
            codes = b"".join(_unescape(piece) for piece in _PIECE.findall(array)) if array else _unescape(text)
            lines.append("".join(font.get(int.from_bytes(codes[i:i + 2], "big"), "?")
                                 for i in range(0, len(codes) - 1, 2)))
    return "\n".join(lines)
