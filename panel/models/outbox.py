from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    QUEUED = "queued"  # waiting, or waiting for a retry at next_attempt_at
    SENDING = "sending"  # claimed by a dispatcher (claimed_by, claimed_at)
    SENT = "sent"
    FAILED = "failed"  # permanent failure (5xx, bad address) or retries exhausted


class OutboxMessage(Base):
    """An email written in the same transaction as the change that caused it.

    A dispatcher claims rows, sends them and marks them sent; a row is never sent
    twice except the one in flight when a dispatcher dies (see panel.mail).
    """

    __tablename__ = "outbox_message"
    # The dispatcher claims queued rows in (priority, next_attempt_at) order.
    __table_args__ = (Index("ix_outbox_message_due", "status", "priority", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "confirm", "magic_link", "invitation", ...
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Extra headers as "Name: value" lines (List-Unsubscribe, ...).
    headers: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.QUEUED)
    # 0 = a direct answer to the resident's own action (confirmation, magic link), sent
    # first; 1 = bulk (invitations, reminders), so a sign-up during a 50,000-invitation
    # send-out is not stuck behind it.
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
