"""Links in members' email: single-use tokens, and the signed unsubscribe token.

A single-use link carries ``secrets.token_urlsafe(32)``; only its SHA-256 digest is
stored (``MemberToken``). Looking a link up (:func:`check`) changes nothing, so a GET
can show a page about it; using it (:func:`use`) marks it used in one conditional
UPDATE, so two simultaneous POSTs cannot both use it.

The unsubscribe token is different on purpose: it sits in every panel email's
List-Unsubscribe header and must keep working, so it is signed (itsdangerous) and
never expires. It names the member by id and creation time, so an id that the
database hands out again after a member left does not unsubscribe someone else.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from panel.models import Member, MemberToken

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_UNSUBSCRIBE_SALT = "panel.members.unsubscribe"


class LinkError(Exception):
    """A link from an email that cannot be used.

    ``link``: the stored link when there is one (expired or used), so the page explaining
    the problem can speak its member's language; None for a link that does not exist.
    """

    def __init__(self, link: MemberToken | None = None) -> None:
        super().__init__()
        self.link = link


class LinkInvalid(LinkError):
    """No such link (mistyped, cut off, or never issued)."""


class LinkExpired(LinkError):
    """The link was real but is too old."""


class LinkUsed(LinkError):
    """The link has already been used once."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(session: Session, member: Member, purpose: str, lifetime: timedelta, *, now: datetime,
          email: str | None = None) -> str:
    """Store a new single-use link for ``member`` and return the token for the URL."""
    token = secrets.token_urlsafe(32)
    session.add(MemberToken(member_id=member.id, purpose=purpose, digest=digest(token), email=email,
                            created_at=now, expires_at=now + lifetime))
    return token


def check(session: Session, token: str, purpose: str, *, now: datetime) -> MemberToken:
    """The stored link for ``token``; raises a LinkError if it cannot be used. Changes nothing."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.match(token):
        raise LinkInvalid()
    row = session.scalar(select(MemberToken).where(MemberToken.digest == digest(token),
                                                   MemberToken.purpose == purpose))
    if row is None:
        raise LinkInvalid()
    if row.used_at is not None:
        raise LinkUsed(row)
    if row.expires_at <= now:
        raise LinkExpired(row)
    return row


def use(session: Session, token: str, purpose: str, *, now: datetime) -> MemberToken:
    """Mark the link used (once, even under concurrent requests) and return it."""
    row = check(session, token, purpose, now=now)
    result = session.execute(
        update(MemberToken)
        .where(MemberToken.id == row.id, MemberToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LinkUsed(row)
    row.used_at = now
    return row


def issued_since(session: Session, member: Member, purpose: str, since: datetime) -> int:
    """How many links of ``purpose`` were issued to ``member`` since ``since`` (rate limits)."""
    return session.scalar(
        select(func.count(MemberToken.id)).where(MemberToken.member_id == member.id,
                                                 MemberToken.purpose == purpose,
                                                 MemberToken.created_at >= since)
    ) or 0


def created_stamp(member: Member) -> int:
    """The member's creation time in microseconds: with the id, names one membership for good."""
    return round(member.created_at.timestamp() * 1_000_000)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token(member: Member) -> str:
    """A signed, non-expiring token naming ``member`` (flush the member first)."""
    if member.id is None or member.created_at is None:
        raise ValueError("flush the member before making an unsubscribe link")
    return _serializer().dumps([member.id, created_stamp(member)])


def member_for_unsubscribe_token(session: Session, token: str) -> Member | None:
    """The member an unsubscribe token names, or None if that member has left.

    Raises LinkInvalid when the token was not signed by us.
    """
    try:
        member_id, created = _serializer().loads(token)
        member_id, created = int(member_id), int(created)
    except (BadSignature, ValueError, TypeError):
        raise LinkInvalid() from None
    member = session.get(Member, member_id)
    if member is None or created_stamp(member) != created:
        return None
    return member
