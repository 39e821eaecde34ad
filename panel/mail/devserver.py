"""A mail catcher for the demo and for development: an SMTP server that delivers
nothing, but keeps every message in a Maildir folder (PANEL_DEV_MAILBOX), which
the dev-only pages at /dev/mail show.

Never point a production panel at it: whoever can open /dev/mail can read every
confirmation and login link.
"""

from __future__ import annotations

import email.parser
import email.policy
import mailbox
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

_KEY = re.compile(r"[A-Za-z0-9._,:-]{1,200}")
_KEY_TIME = re.compile(r"(\d+)(?:\.M(\d+))?")


class MaildirHandler:
    """aiosmtpd handler: every message that arrives is added to a Maildir."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.maildir = mailbox.Maildir(self.path, create=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        recipients = ", ".join(envelope.rcpt_tos)
        head = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {recipients}\r\n".encode("utf-8", "replace")
        self.maildir.add(head + envelope.original_content)
        return "250 OK: caught by the development mailbox"


class DevSMTPServer:
    """The catcher, listening on ``host``:``port`` (a free port when 0) in a background thread."""

    def __init__(self, maildir: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = MaildirHandler(maildir)
        self.host = host
        self.port = port or _free_port(host)
        self.controller = Controller(self.handler, hostname=host, port=self.port)

    def start(self) -> DevSMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> DevSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class CaughtMail:
    key: str
    received: datetime
    subject: str
    to: str
    sender: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None
    html: str | None = None


def _parse(data: bytes, *, headers_only: bool = False) -> EmailMessage:
    parser = email.parser.BytesParser(policy=email.policy.default)
    return parser.parsebytes(data, headersonly=headers_only)  # type: ignore[return-value]


def _received(key: str) -> datetime:
    """Maildir keys made by Python start with the delivery time: "<seconds>.M<microseconds>..."."""
    match = _KEY_TIME.match(key)
    if not match:
        return datetime.fromtimestamp(0, timezone.utc)
    seconds, micro = match.groups()
    return datetime.fromtimestamp(int(seconds) + int(micro or 0) / 1e6, timezone.utc)


def _summary(key: str, message: EmailMessage) -> CaughtMail:
    return CaughtMail(key=key, received=_received(key), subject=str(message.get("Subject", "")),
                      to=str(message.get("To", "")), sender=str(message.get("From", "")))


def list_mail(path: str | Path, *, limit: int = 200) -> list[CaughtMail]:
    """The newest ``limit`` messages in the Maildir, newest first (headers only)."""
    maildir = mailbox.Maildir(path, create=True)
    keys = sorted(maildir.keys(), key=lambda key: (_received(key), key), reverse=True)[:limit]
    found = []
    for key in keys:
        try:
            data = maildir.get_bytes(key)
        except (KeyError, FileNotFoundError):  # deleted meanwhile
            continue
        found.append(_summary(key, _parse(data, headers_only=True)))
    return found


def read_mail(path: str | Path, key: str) -> CaughtMail | None:
    """One message with its headers and text and HTML parts, or None if there is no such key."""
    if not _KEY.fullmatch(key):
        return None
    maildir = mailbox.Maildir(path, create=True)
    try:
        message = _parse(maildir.get_bytes(key))
    except (KeyError, FileNotFoundError):
        return None
    summary = _summary(key, message)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return CaughtMail(
        key=key, received=summary.received, subject=summary.subject, to=summary.to, sender=summary.sender,
        headers=[(name, str(value)) for name, value in message.items()],
        text=text.get_content() if text is not None else None,
        html=html.get_content() if html is not None else None,
    )
