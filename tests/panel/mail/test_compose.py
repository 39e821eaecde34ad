"""The hand-written MIME composer, checked against the standard library's parser."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panel.mail.compose import Outgoing, UnsafeMessage, compose, encode_header, envelope_address, sender_header

WHEN = datetime(2026, 11, 22, 18, 30, tzinfo=timezone.utc)


def outgoing(**fields) -> Outgoing:
    values = {"id": 7, "to_address": "anna@example.se", "subject": "Hej", "body_text": "Hej!\n",
              "body_html": "<p>Hej!</p>\n", "headers": "", "attempts": 0, "created_at": WHEN, **fields}
    return Outgoing(**values)


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def body(message, subtype: str) -> str:
    return message.get_body((subtype,)).get_content().replace("\r\n", "\n")


# Text as residents and templates write it: any printable character, line breaks,
# lines starting with "." or "From ", trailing spaces, long lines.
texts = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=120)
                 | st.sampled_from(["\n", "\r\n", ".", "From ", " ", "\t", "=", "=_panel.7", "--", "😀", "x" * 1200]),
                 max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(text=texts, html=texts, subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                                                 max_size=300).filter(str.strip))
def test_every_text_and_subject_survives_the_round_trip(text, html, subject):
    data = compose(outgoing(body_text=text, body_html=html, subject=subject), sender="P <p@example.se>",
                   domain="example.se", date=WHEN)

    assert data.isascii(), "7-bit clean for any relay"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    message = parse(data)
    expected = lambda t: (t.replace("\r\n", "\n").replace("\r", "\n") + ("" if t.endswith(("\n", "\r")) else "\n"))
    assert body(message, "plain") == expected(text)
    assert body(message, "html") == expected(html)
    assert str(message["Subject"]) == subject


def test_headers_and_structure():
    data = compose(outgoing(subject="Välkommen – åäö", headers="List-Unsubscribe: <https://p.se/u/x>\nX-Kampanj: Höst"),
                   sender=sender_header("Medborgarpanelen Gävle <panel@gavle.se>"), domain="gavle.se", date=WHEN)
    message = parse(data)
    assert message["Subject"] == "Välkommen – åäö"
    assert b"Subject: =?utf-8?b?" in data  # encoded, not raw UTF-8
    assert message["From"] == "Medborgarpanelen Gävle <panel@gavle.se>"
    assert message["Message-ID"] == f"<outbox.7.{int(WHEN.timestamp())}@gavle.se>"
    assert message["Date"] == "Sun, 22 Nov 2026 18:30:00 +0000"
    assert message["List-Unsubscribe"] == "<https://p.se/u/x>"
    assert message["X-Kampanj"] == "Höst"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_charset() for p in message.iter_parts()] == ["utf-8", "utf-8"]


@pytest.mark.parametrize("fields", [
    {"subject": "Hej\r\nBcc: x@example.se"},
    {"to_address": "a@example.se\nBcc: x@example.se"},
    {"to_address": "a@example.se, b@example.se"},
    {"to_address": "not an address"},
    {"headers": "X-Ok: ja\nBcc: x@example.se"},  # a reserved header smuggled into a row
    {"headers": "X-Bad: a\rb"},
    {"headers": "Bad Name: value"},
    {"headers": "no colon here"},
])
def test_unsafe_rows_are_refused(fields):
    with pytest.raises(UnsafeMessage):
        compose(outgoing(**fields), sender="P <p@example.se>", domain="example.se", date=WHEN)


def test_encode_header_keeps_ascii_and_encodes_the_rest():
    assert encode_header("Hello") == "Hello"
    encoded = encode_header("å" * 100)
    assert encoded.isascii() and all(len(word) <= 75 for word in encoded.split("\r\n "))
    with pytest.raises(ValueError):
        encode_header("a\nb")


def test_envelope_address_uses_idna_for_the_domain():
    assert envelope_address(" anna@räksmörgås.se ") == "anna@xn--rksmrgs-5wao1o.se"
    assert envelope_address("anna@example.se") == "anna@example.se"
    with pytest.raises(UnsafeMessage):
        envelope_address("anna@")
