"""Flask's signed-cookie sessions, with each verified cookie remembered for a while.

Flask checks the cookie's signature on every request: it builds an itsdangerous
serializer, derives the signing key from ``SECRET_KEY`` and computes an HMAC, then
decodes the payload. On a respondent's question page that was about a quarter of the
application's own work per request. A cookie is an immutable string: once its signature
has been checked, the same string carries the same data, and only its age changes.

So each process keeps the decoded data of the last :data:`REMEMBERED` cookie strings
whose signature it has checked, with the time they were signed. A request bringing one
of them only has its age checked against ``PERMANENT_SESSION_LIFETIME`` -- the same rule
as Flask's -- and gets a copy of the data as its session; anything else is checked as
Flask does. The serializer is made once per secret key (and fallback keys).

Nothing changes in what a session can hold, when a cookie is refused, or what is sent
back: writing a session is Flask's (:meth:`save_session` is not overridden). A session
knows when its cookie was signed (:attr:`SignedSession.signed_at`), so that pages in
use can have it signed again before it expires (:func:`renew_if_older`).
"""

from __future__ import annotations

import threading
import time

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadData, BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import want_bytes

REMEMBERED = 4096  # cookie strings per process (a few MB: a cookie is at most 4 KB, most are 200 bytes)


class SignedSession(SecureCookieSession):
    """A session that knows when its cookie was signed (None for a new one)."""

    signed_at: int | None = None


def renew_if_older(session: SecureCookieSession, seconds: float) -> None:
    """Have the session's cookie signed again (sent with the response) when it was
    signed more than ``seconds`` ago: a session in use does not expire mid-way."""
    signed_at = getattr(session, "signed_at", None)
    if signed_at is not None and time.time() - signed_at > seconds:
        session.modified = True


class RememberingSessionInterface(SecureCookieSessionInterface):
    session_class = SignedSession

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._remembered = remembered
        self._verified: dict[str, tuple[int, dict]] = {}  # cookie -> (signed at, its session's data)
        self._lock = threading.Lock()
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made = self._serializer
        if made is None or made[0] != keys:
            made = self._serializer = (keys, super().get_signing_serializer(app))
            with self._lock:  # cookies checked with other keys do not count any more
                self._verified = {}
        return made[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        verified = self._verified
        found = verified.get(cookie)
        if found is None:
            found = self._verify(serializer, cookie)
            if found is None:
                return self.session_class()
            with self._lock:  # (iterating to forget the oldest while another thread adds one would fail)
                if len(verified) >= self._remembered:
                    verified.pop(next(iter(verified)), None)
                verified[cookie] = found
        signed_at, data = found
        age = int(time.time()) - signed_at
        if age > max_age or age < 0:  # as itsdangerous's TimestampSigner: expired, or signed "in the future"
            return self.session_class()
        session = self.session_class(_copy(data))  # a request may change its session in place
        session.signed_at = signed_at
        return session

    @staticmethod
    def _verify(serializer: URLSafeTimedSerializer, cookie: str) -> tuple[int, dict] | None:
        """The signing time and data of a cookie signed with the current or a fallback key."""
        value = want_bytes(cookie)
        for signer in serializer.iter_unsigners():
            try:
                payload, signed_at = signer.unsign(value, return_timestamp=True)
            except BadSignature:
                continue
            try:
                data = serializer.load_payload(payload)
            except BadData:
                return None
            return (int(signed_at.timestamp()), data) if isinstance(data, dict) else None
        return None


def _copy(value):
    """A copy of session data as far as it can be changed in place (dicts and lists)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, tuple):  # Flask's tagged JSON keeps tuples, which may hold lists
        return tuple(_copy(item) for item in value)
    return value
