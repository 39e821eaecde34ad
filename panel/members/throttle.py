"""Per-address rate limits for residents' public requests, one counter per kind.

Sign-ups, magic-link requests and unknown links from email are counted apart from
each other and from the staff login (LoginFailure), the recruitment codes at /join
(CodeAttempt) and the survey links at /s/ (LinkFailure): running into one limit
never locks anyone out of another page. Each kind has its limit and window in the
configuration (``PANEL_SIGNUP_*``, ``PANEL_LINK_REQUEST_*``, ``PANEL_BAD_LINK_*``).

The per-address limits come on top of the per-member ones in services (at most a few
emails with links to one address per hour): those protect a mailbox, these the
service from one client sending form after form or trying link after link.

Services take a Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from panel.models.member import RequestKind, RequestRecord

KEEP = timedelta(days=1)


class Throttled(Exception):
    """Too many requests of one kind from one address within the window."""

    def __init__(self, kind: str, retry_after: int) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    max_requests: int
    window: timedelta


# kind -> (config key prefix, default maximum, default window in minutes)
SETTINGS = {
    RequestKind.SIGNUP: ("PANEL_SIGNUP", 20, 60),
    RequestKind.LINK_REQUEST: ("PANEL_LINK_REQUEST", 20, 60),
    RequestKind.BAD_LINK: ("PANEL_BAD_LINK", 20, 10),
}


def limit_from(config, kind: str) -> Limit:
    """The limit of ``kind`` from a Flask config mapping (``<PREFIX>_MAX``, ``<PREFIX>_WINDOW_MINUTES``)."""
    prefix, maximum, minutes = SETTINGS[kind]
    return Limit(max_requests=int(config.get(f"{prefix}_MAX", maximum)),
                 window=timedelta(minutes=int(config.get(f"{prefix}_WINDOW_MINUTES", minutes))))


def check(session: Session, kind: str, remote_addr: str, limit: Limit, *, now: datetime) -> None:
    """Raise Throttled when ``remote_addr`` has made ``limit.max_requests`` requests of ``kind`` in the window."""
    count = session.scalar(select(func.count(RequestRecord.id)).where(
        RequestRecord.kind == kind, RequestRecord.remote_addr == remote_addr[:64],
        RequestRecord.at >= now - limit.window))
    if count >= limit.max_requests:
        raise Throttled(kind, retry_after=int(limit.window.total_seconds()))


def record(session: Session, kind: str, remote_addr: str, *, now: datetime) -> None:
    """Count one request of ``kind`` from ``remote_addr`` (and forget records older than a day)."""
    session.execute(delete(RequestRecord).where(RequestRecord.at < now - KEEP))
    session.add(RequestRecord(kind=kind, remote_addr=remote_addr[:64], at=now))


def count(session: Session, kind: str, remote_addr: str, limit: Limit, *, now: datetime) -> None:
    """check() and then record(): for requests that count whether or not they succeed."""
    check(session, kind, remote_addr, limit, now=now)
    record(session, kind, remote_addr, now=now)
