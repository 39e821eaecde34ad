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


class OutboxBody(Base):
    """An email body shared by many outbox rows: one send-out's letter in one language.

    Invitations and reminders go to tens of thousands of residents with the same text
    except two links. Their rows point here (``OutboxMessage.body_id``) instead of each
    holding a copy (3 kB a row, 150 MB for 50,000 invitations); the text has
    placeholders (``panel.mail.outbox.LINK_PLACEHOLDER`` and ``UNSUBSCRIBE_PLACEHOLDER``)
    where the dispatcher puts the row's own ``link`` and ``unsubscribe_link`` when it
    sends. The headers every row shares (List-Unsubscribe with the placeholder for the
    row's own link) are stored here too, so a row holds only what differs. A shared body
    holds nothing about any one resident; it is deleted once no row points at it
    (``panel.mail.outbox.delete_unused_bodies``).

    ``send_out`` names the send-out the body belongs to (e.g. ``survey_invitation:12``):
    the rows of a send-out are found through their bodies, so the rows need no id known
    in advance and nothing has to point at them (see ``surveys.fielding.services``).
    """

    __tablename__ = "outbox_body"

    id: Mapped[int] = mapped_column(primary_key=True)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Extra headers of every row, "Name: value" lines, with the placeholders (may be "").
    headers: Mapped[str] = mapped_column(Text, default="")
    send_out: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """An email written in the same transaction as the change that caused it.

    A dispatcher claims rows, sends them and marks them sent; a row is never sent
    twice except the one in flight when a dispatcher dies (see panel.mail).

    A row has its own ``body_text``/``body_html``, or (bulk mail) empty ones and a
    shared :class:`OutboxBody` filled with the row's ``link`` and ``unsubscribe_link``
    at sending time (its headers too: the body's come first, then the row's own).
    Those two are what identifies the recipient's links; they go with the row when
    sent mail is purged.
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
    # A shared body. Not a foreign key: the check would cost each of 50,000 bulk-inserted
    # rows a lookup and a row lock in outbox_body (about 0.2 s of the database's 1.4 s for
    # a send-out), while the body is written in the same transaction as its rows, before
    # them, and deleted only once no row points at it (panel.mail.outbox.delete_unused_bodies);
    # a row whose body is missing anyway is marked failed by the dispatcher. Indexed: a
    # send-out's rows are found through their bodies (panel.mail.outbox.send_out_rows: the
    # fielding progress page, closing a survey), and without the index that reads the whole
    # outbox, sent mail of the last 30 days included.
    body_id: Mapped[int | None] = mapped_column(Integer, index=True)
    link: Mapped[str | None] = mapped_column(String(500))
    unsubscribe_link: Mapped[str | None] = mapped_column(String(500))
