"""The personal links in invitations and reminders, made fast enough for 50,000 at a time.

**Survey links.** Each invitation gets 256 random bits from :mod:`secrets` (its
``token_secret``); the token in the link is ``base64url(HMAC-SHA256(key, those bits))``
with a key derived from the app's ``SECRET_KEY``. The invitation stores those bits and
the SHA-256 digest of the token, never the token: the answering side finds the invitation
by ``sha256(token)``, and a reminder derives the same token again, so the invitation's
link and the reminder's link are the same link. Reading the database alone gives no
working link (that also needs the secret key). Changing ``SECRET_KEY`` leaves every
emailed link working; a reminder sent after such a change carries a new link (and the
old one stops working), because its token can no longer be derived.

**Unsubscribe links.** ``panel.members.services.unsubscribe_headers`` signs each
member's token with itsdangerous, which derives its key on every call (about 0.25 ms,
12 s for 50,000 members). :class:`UnsubscribeLinks` derives it once and produces the
same bytes; it compares its first link with the members' own function and falls back
to that function if they ever differ.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from flask import current_app
from werkzeug.routing import BuildError

from panel.mail.outbox import absolute_url, email_path
from panel.members import tokens as member_tokens
from panel.members.services import unsubscribe_headers

LANDING_ENDPOINT = "answering.landing"  # GET /s/<token>, in surveys.answering
SECRET_BYTES = 32  # 256 random bits per invitation
PLACEHOLDER = "XXTOKENXX"  # URL-safe, so url_for and HTML escaping leave it alone
_KEY_PURPOSE = b"surveys.fielding.invitation-link"


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a link token: what ``Invitation.token_digest`` holds."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


class KeyedHash:
    """HMAC (RFC 2104) with the key's inner and outer states computed once.

    ``KeyedHash(key, "sha256").digest(message) == hmac.digest(key, message, "sha256")``,
    several times faster per message than :func:`hmac.digest`, which sets the key up
    again on every call.
    """

    def __init__(self, key: bytes, algorithm: str) -> None:
        inner, outer = hashlib.new(algorithm), hashlib.new(algorithm)
        if len(key) > inner.block_size:
            key = hashlib.new(algorithm, key).digest()
        key = key.ljust(inner.block_size, b"\0")
        inner.update(bytes(byte ^ 0x36 for byte in key))
        outer.update(bytes(byte ^ 0x5C for byte in key))
        self._inner, self._outer = inner, outer

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _b64(raw: bytes) -> str:
    """base64url without padding (as secrets.token_urlsafe and itsdangerous write it)."""
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=").decode("ascii")


def path_for(endpoint: str, **values: Any) -> str:
    """A URL path for an email, also outside a request (CLI)."""
    return email_path(endpoint, **values)


class SurveyLinks:
    """Makes and re-derives the tokens of survey links (one instance per batch)."""

    def __init__(self) -> None:
        secret = current_app.config["SECRET_KEY"]
        secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        self._hash = KeyedHash(hmac.digest(secret, _KEY_PURPOSE, "sha256"), "sha256")
        try:
            path = path_for(LANDING_ENDPOINT, token=PLACEHOLDER)
        except BuildError:  # an app without the answering blueprint: the agreed URL
            path = f"/s/{PLACEHOLDER}"
        self._url = absolute_url(path)
        self._head, self._tail = self._url.split(PLACEHOLDER)

    def token_for(self, secret: str) -> str:
        """The token of the invitation whose ``token_secret`` is ``secret``."""
        return _b64(self._hash.digest(bytes.fromhex(secret)))

    def new(self, raw: bytes | None = None) -> tuple[str, str, str]:
        """(token_secret, token, token_digest) for a new invitation.

        ``raw``: the invitation's 32 random bytes, when the caller took many at once
        from :func:`random_secrets`; by default new ones from :mod:`secrets`.
        """
        if raw is None:
            raw = secrets.token_bytes(SECRET_BYTES)
        elif len(raw) != SECRET_BYTES:
            raise ValueError(f"a token secret is {SECRET_BYTES} random bytes")
        token = _b64(self._hash.digest(raw))
        return raw.hex(), token, hashlib.sha256(token.encode("ascii")).hexdigest()

    def url(self, token: str) -> str:
        """PANEL_BASE_URL/s/<token>."""
        return self._head + token + self._tail


def random_secrets(count: int) -> Iterator[bytes]:
    """``count`` secrets of 32 bytes from the operating system's CSPRNG, read in one call
    (one system call instead of 50,000 for a large send-out)."""
    pool = secrets.token_bytes(SECRET_BYTES * count)
    return (pool[start:start + SECRET_BYTES] for start in range(0, SECRET_BYTES * count, SECRET_BYTES))


def landing_url(token: str) -> str:
    return SurveyLinks().url(token)


class UnsubscribeLinks:
    """The List-Unsubscribe URL of many members (see the module doc)."""

    def __init__(self) -> None:
        signer = member_tokens._serializer().make_signer()
        self._hash = KeyedHash(signer.derive_key(), signer.digest_method().name)
        self._sep = signer.sep.decode("ascii")
        self._url = absolute_url(path_for("members.unsubscribe", token=PLACEHOLDER))
        self._head, self._tail = self._url.split(PLACEHOLDER)
        self._fast_is_right: bool | None = None

    def _fast(self, member_id: int, created_at: datetime) -> str:
        stamp = round(created_at.timestamp() * 1_000_000)  # as member_tokens.created_stamp
        payload = _b64(f"[{member_id},{stamp}]".encode("ascii"))
        signature = _b64(self._hash.digest(payload.encode("ascii")))
        return self._head + payload + self._sep + signature + self._tail

    @staticmethod
    def _slow(member_id: int, created_at: datetime) -> str:
        member = SimpleNamespace(id=member_id, created_at=created_at)
        return unsubscribe_headers(member)["List-Unsubscribe"][1:-1]  # type: ignore[arg-type]

    def url(self, member_id: int, created_at: datetime) -> str:
        if self._fast_is_right is None:
            self._fast_is_right = self._fast(member_id, created_at) == self._slow(member_id, created_at)
            if not self._fast_is_right:
                current_app.logger.warning("unsubscribe links: fast signing differs, using the slow way")
        if self._fast_is_right:
            return self._fast(member_id, created_at)
        return self._slow(member_id, created_at)
