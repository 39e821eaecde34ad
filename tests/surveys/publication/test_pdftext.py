"""The tests' PDF text reader reads a stream whose compressed data ends in a carriage return."""

from __future__ import annotations

import zlib

from tests.surveys.publication.pdftext import _stream


def test_a_stream_ending_in_a_carriage_return_byte_is_read_whole():
    # One compressed stream in 256 ends in 0x0D; "\r?\nendstream" took that byte as the line end,
    # the data no longer decompressed, and the page's text was silently missing.
    content = next(text for text in (f"BT ({n}) Tj ET".encode() for n in range(100_000))
                   if zlib.compress(text)[-1:] == b"\r")
    data = zlib.compress(content)
    body = b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(data) + data + b"\nendstream\n"
    assert _stream(body) == content
