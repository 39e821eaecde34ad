"""One SMTP connection, reused for a whole batch, and what the server's answers mean.

The settings are flask-mail's (MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL,
MAIL_USERNAME, MAIL_PASSWORD, MAIL_DEFAULT_SENDER, MAIL_MAX_EMAILS) plus
MAIL_TIMEOUT. The connection is opened here with smtplib rather than through
``flask_mail.Connection`` because the dispatcher needs three things flask-mail
does not give: a socket timeout (a hung server must not hang the dispatcher),
sending regardless of TESTING (flask-mail suppresses all mail when TESTING is
set, and the tests talk to a real SMTP server), and a pause inside the DATA
command, so the final "." that makes the server accept a message is only sent
once the previous message is recorded as sent (see ``deliver``).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class MailSettings:
    """Where and as whom to send. Plain data, so a dispatcher thread or process needs no app."""

    host: str
    port: int
    sender: str  # the From header, e.g. 'Medborgarpanelen <noreply@kommun.se>'
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    max_per_connection: int | None = None  # reconnect after this many messages
    # Whether the dispatcher's "sent" records wait for the database's disk (see
    # panel.mail.dispatcher, "What a crash of the database server can duplicate"). Either
    # way they survive a crash of the dispatcher, and no email is ever lost; without the
    # wait, a crash of the database server sends up to about 0.6 s of email twice.
    durable_outcomes: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        sender = config.get("MAIL_DEFAULT_SENDER") or ""
        if isinstance(sender, tuple):
            sender = formataddr(sender)
        return cls(
            host=config.get("MAIL_SERVER") or "127.0.0.1",
            port=int(config.get("MAIL_PORT") or 25),
            sender=sender,
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            timeout=float(config.get("MAIL_TIMEOUT") or 10),
            max_per_connection=config.get("MAIL_MAX_EMAILS") or None,
            durable_outcomes=_flag(config.get("MAIL_DURABLE_OUTCOMES", False)),
        )

    @property
    def envelope_from(self) -> str:
        """The bare address of the sender (SMTP MAIL FROM, where bounces go)."""
        address = parseaddr(self.sender)[1]
        if "@" not in address:
            raise ValueError(f"MAIL_DEFAULT_SENDER has no address: {self.sender!r}")
        return address

    @property
    def domain(self) -> str:
        """The sender's domain, used on the right of Message-IDs."""
        return self.envelope_from.rpartition("@")[2].lower()


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


class DeliveryFailed(Exception):
    """The server did not take one message.

    ``permanent`` (a 5xx answer about this message or recipient) means retrying is
    pointless; otherwise try again later. ``connection_lost`` means the connection
    can no longer be used and must be opened again.
    """

    def __init__(self, reason: str, *, permanent: bool, connection_lost: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.connection_lost = connection_lost


class DeliveryAborted(Exception):
    """The caller's barrier failed while a message was half-sent; the connection was dropped
    before the final ".", so the server did not accept that message."""


def describe(error: BaseException) -> str:
    """A one-line description of an SMTP or socket error, for last_error."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in error.recipients.items())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    if isinstance(error, socket.timeout | TimeoutError):
        return "timeout talking to the mail server"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused by the mail server"
    return f"{type(error).__name__}: {error}".strip()


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _classify(error: BaseException) -> DeliveryFailed:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code = max(code for code, _ in error.recipients.values())
        return DeliveryFailed(describe(error), permanent=500 <= code < 600, connection_lost=code == 421)
    if isinstance(error, smtplib.SMTPSenderRefused):
        # MAIL FROM refused is about our configuration, not this recipient: retry.
        return DeliveryFailed(describe(error), permanent=False, connection_lost=error.smtp_code == 421)
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        return DeliveryFailed(describe(error), permanent=500 <= code < 600, connection_lost=code == 421)
    if isinstance(error, smtplib.SMTPNotSupportedError | UnicodeEncodeError):
        return DeliveryFailed(f"the mail server cannot take this address: {error}", permanent=True)
    # SMTPServerDisconnected, timeouts, resets, anything else on the socket.
    return DeliveryFailed(describe(error), permanent=False, connection_lost=True)


class SMTPConnection:
    """An SMTP client session that stays open across messages."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0

    @property
    def is_open(self) -> bool:
        return self._smtp is not None

    def open(self) -> None:
        """Connect, say EHLO, STARTTLS and log in as configured. Raises OSError or SMTPException."""
        self.close()
        s = self.settings
        if s.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo_or_helo_if_needed()
            if s.use_tls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username and s.password:
                smtp.login(s.username, s.password)
        except BaseException:
            _drop(smtp)
            raise
        # The final "." goes out as a small write of its own; without TCP_NODELAY, Nagle's
        # algorithm holds it until the server's delayed ACK, 40 ms on Linux, per message.
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._smtp = smtp
        self._sent_on_connection = 0

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            _drop(smtp)

    def deliver(self, envelope_from: str, recipient: str, data: bytes,
                before_accept: Callable[[], None] | None = None) -> None:
        """Send one message (``data`` is the whole message with CRLF line ends).

        MAIL, RCPT and DATA go first; once the server has said 354 (go ahead),
        ``before_accept`` runs (the dispatcher waits there until the previous
        message is recorded as sent), and only then the message and the final "."
        that makes the server accept it, in one write. So a dispatcher killed at
        any moment leaves at most one accepted message that is not yet marked as
        sent. (The wait comes before the message rather than between it and the
        ".": the server answers the "." sooner when both arrive together, and the
        previous message's record is normally committed during the round trips of
        MAIL, RCPT and DATA anyway.)

        Raises DeliveryFailed (the connection stays usable unless
        ``connection_lost``), or DeliveryAborted when ``before_accept`` raised.
        """
        smtp = self._smtp
        if smtp is None:
            raise DeliveryFailed("not connected", permanent=False, connection_lost=True)
        # The addresses are single, checked addresses (compose.envelope_address), so the
        # commands are written directly rather than through smtplib's address parser.
        options = ""
        if not recipient.isascii():  # a non-ASCII local part (the domain is already IDNA)
            if not smtp.has_extn("smtputf8"):
                raise DeliveryFailed("the mail server does not take non-ASCII addresses (no SMTPUTF8)",
                                     permanent=True)
            options = " SMTPUTF8"
            smtp.command_encoding = "utf-8"
        message = _LEADING_DOT.sub(b"..", data)
        message += b".\r\n" if message.endswith(b"\r\n") else b"\r\n.\r\n"
        try:
            code, reply = smtp.docmd("MAIL", f"FROM:<{envelope_from}>{options}")
            if code != 250:
                self._reset()
                raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
            code, reply = smtp.docmd("RCPT", f"TO:<{recipient}>")
            if code not in (250, 251):
                self._reset()
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            code, reply = smtp.docmd("DATA")
            if code != 354:
                self._reset()
                raise smtplib.SMTPDataError(code, reply)
        except (OSError, smtplib.SMTPException, UnicodeEncodeError) as error:
            failure = _classify(error)
            if failure.connection_lost:
                self._lose()
            raise failure from error
        if before_accept is not None:
            try:
                before_accept()
            except BaseException as error:
                # Hang up inside DATA, without the final ".": the server discards the message.
                self._lose()
                raise DeliveryAborted(str(error)) from error
        try:
            smtp.send(message)
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as error:
            self._lose()
            raise _classify(error) from error
        if code != 250:
            failure = _classify(smtplib.SMTPDataError(code, reply))
            if failure.connection_lost:
                self._lose()
            raise failure
        self._sent_on_connection += 1
        limit = self.settings.max_per_connection
        if limit and self._sent_on_connection >= limit:
            self.close()

    def _reset(self) -> None:
        try:
            self._smtp.rset()  # type: ignore[union-attr]
        except (OSError, smtplib.SMTPException):
            self._lose()

    def _lose(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _drop(smtp)

    def __enter__(self) -> SMTPConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop(smtp: smtplib.SMTP) -> None:
    """Close the socket without a QUIT."""
    try:
        smtp.close()
    except OSError:
        pass
