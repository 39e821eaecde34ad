"""The audit log of staff actions: ``record`` one, ``events`` lists them.

Services (take a Session, never commit): the view or command that did the action records
it in the same transaction, so an action and its audit row are stored together or not at
all. Detail is for identifiers, counts and settings — never residents' personal data
(no names, emails, answers). Rows are append-only (see panel.models.audit).

Actions in use (dotted, ``area.verb``): ``auth.login``, ``auth.login_failed``,
``auth.logout``, ``staff.create``, ``staff.role_change``, ``population.import``,
``privacy.register_extract``, ``retention.purge``, and whatever other modules record
(exports, publication).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.models.audit import AuditEvent
from panel.models.staff import StaffUser

PAGE_SIZE = 50


def record(
    session: Session,
    *,
    actor: StaffUser | None,
    action: str,
    target: Any = None,
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
    actor_email: str | None = None,
) -> AuditEvent:
    """Add one audit event to the session (the caller commits).

    ``target`` is a model instance (its table name and primary key are stored), a
    ``(type, id)`` pair, or None. ``actor_email`` is only for events without a known
    account, such as a failed login with an unknown address.
    """
    if not action or len(action) > 64:
        raise ValueError("an audit action is 1–64 characters")
    target_type, target_id = _target(target)
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_email=(actor.email if actor is not None else actor_email or None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=_jsonable(detail) if detail else None,
        remote_addr=(remote_addr or None) and remote_addr[:64],
    )
    if event.actor_email:
        event.actor_email = event.actor_email[:254]
    session.add(event)
    return event


def _target(target: Any) -> tuple[str | None, str | None]:
    if target is None:
        return None, None
    if isinstance(target, tuple):
        kind, ident = target
        return str(kind)[:64], (None if ident is None else str(ident)[:64])
    table = getattr(target, "__tablename__", None)
    if table is None:
        raise TypeError(f"cannot audit a target of type {type(target).__name__}")
    return table, str(getattr(target, "id", None))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    total: int
    page: int
    pages: int


def actions(session: Session) -> list[str]:
    """Every action that occurs in the log, for the filter's choices."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def events(
    session: Session,
    *,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """The log, newest first, filtered by action and by UTC dates (both inclusive)."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if since:
        query = query.where(AuditEvent.at >= datetime.combine(since, time.min, timezone.utc))
    if until:
        query = query.where(AuditEvent.at < datetime.combine(until + timedelta(days=1), time.min, timezone.utc))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = session.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return AuditPage(events=list(rows), total=total, page=page, pages=pages)
