"""Looking after the outbox: how much is waiting, what failed, trying failures again.

Services take a Session and never commit; the view or CLI command owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.mail.outbox import delete_unused_bodies
from panel.models import OutboxMessage
from panel.models.outbox import OutboxStatus


@dataclass(frozen=True)
class OutboxOverview:
    counts: dict[str, int]  # every status, zero included
    oldest_due: datetime | None  # the longest-waiting queued row that is due: is a dispatcher running?

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def overview(session: Session, *, now: datetime | None = None) -> OutboxOverview:
    now = now or utcnow()
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update({status: count for status, count in rows})
    oldest = session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now)
    )
    return OutboxOverview(counts=counts, oldest_due=oldest)


def failed_messages(session: Session, *, limit: int = 200) -> list[OutboxMessage]:
    """Failed rows, newest first."""
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
        .order_by(OutboxMessage.id.desc()).limit(limit)
    ))


def retry(session: Session, message_ids: list[int] | None = None, *, now: datetime | None = None) -> int:
    """Queue failed rows again (all of them when ``message_ids`` is None), with a fresh
    set of attempts. Rows that are not failed are left alone. Returns how many."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=now or utcnow(),
                claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if message_ids is not None:
        statement = statement.where(OutboxMessage.id.in_(message_ids))
    return session.execute(statement).rowcount


def purge_sent(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete sent rows older than ``older_than``: they hold addresses and links
    that should not be kept longer than needed. Returns how many."""
    cutoff = (now or utcnow()) - older_than
    deleted = session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount
    delete_unused_bodies(session)  # bulk mail's shared bodies, once their last row is gone
    return deleted


def mask_address(address: str) -> str:
    """'anna.svensson@example.se' -> 'a…n@example.se': enough to recognise, not to copy."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "…"
    if len(local) <= 2:
        return f"{local[:1]}…@{domain}"
    return f"{local[0]}…{local[-1]}@{domain}"
