from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    QUEUED = "queued"  # waiting, or waiting for a retry at next_attempt_at
    SENDING = "sending"  # claimed by a dispatcher (claimed_by, claimed_at)
    SENT = "sent"
    FAILED = "failed"  # permanent failure (5xx, bad address) or retries exhausted


class OutboxBody(Base):
    """An email body shared by many outbox rows: one send-out's letter in one language.

    Invitations and reminders go to tens of thousands of residents with the same text
    except two links. Their rows point here (``OutboxMessage.body_id``) instead of each
    holding a copy (3 kB a row, 150 MB for 50,000 invitations); the text has
    placeholders (``panel.mail.outbox.LINK_PLACEHOLDER`` and ``UNSUBSCRIBE_PLACEHOLDER``)
    where the dispatcher puts the row's own ``link`` and ``unsubscribe_link`` when it
    sends. A shared body holds nothing about any one resident; it is deleted once no
    row points at it (``panel.mail.outbox.delete_unused_bodies``).
    """

    __tablename__ = "outbox_body"

    id: Mapped[int] = mapped_column(primary_key=True)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """An email written in the same transaction as the change that caused it.

    A dispatcher claims rows, sends them and marks them sent; a row is never sent
    twice except the one in flight when a dispatcher dies (see panel.mail).

    A row has its own ``body_text``/``body_html``, or (bulk mail) empty ones and a
    shared :class:`OutboxBody` filled with the row's ``link`` and ``unsubscribe_link``
    at sending time. Those two are what identifies the recipient's links; they go
    with the row when sent mail is purged.
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
    # A shared body (no index: bodies are few, and deleted only when nothing points at them).
    body_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_body.id"))
    link: Mapped[str | None] = mapped_column(String(500))
    unsubscribe_link: Mapped[str | None] = mapped_column(String(500))
