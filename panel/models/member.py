from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.db import Base, UTCDateTime, utcnow
from panel.models.district import District


class Gender(StrEnum):
    KVINNA = "kvinna"
    MAN = "man"
    ANNAN = "annan"  # annan / icke-binär
    UPPGER_EJ = "uppger_ej"  # vill inte uppge


class MemberStatus(StrEnum):
    PENDING = "pending"  # signed up, not yet confirmed
    ACTIVE = "active"
    PAUSED = "paused"  # until paused_until
    UNSUBSCRIBED = "unsubscribed"  # no mail (one-click unsubscribe); still a member


class TokenPurpose(StrEnum):
    CONFIRM = "confirm"  # confirm a sign-up (double opt-in)
    MANAGE = "manage"  # log in to "my membership" (magic link)
    EMAIL = "email"  # confirm a new email address (MemberToken.email holds it)


class LeaveReason(StrEnum):
    TOO_MANY = "too_many"  # too many surveys
    NOT_INTERESTED = "not_interested"
    PRIVACY = "privacy"
    MOVING = "moving"  # moving away from the municipality
    OTHER = "other"


class MemberSource(StrEnum):
    OPEN = "open"  # self sign-up
    WAVE = "wave"  # joined with a code from a recruitment wave


class Member(Base):
    """A resident in the panel. Holds identity (email) and the weighting variables.

    Birth year, never age: age bands are derived when needed.
    """

    __tablename__ = "member"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    birth_year: Mapped[int] = mapped_column(Integer)
    gender: Mapped[str] = mapped_column(String(16))
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    postcode: Mapped[str | None] = mapped_column(String(5))
    language: Mapped[str] = mapped_column(String(8), default="sv")
    status: Mapped[str] = mapped_column(String(16), default=MemberStatus.PENDING, index=True)
    paused_until: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(8), default=MemberSource.OPEN)
    recruitment_wave_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    district: Mapped[District] = relationship()
    consents: Mapped[list[Consent]] = relationship(
        back_populates="member", cascade="all, delete-orphan", passive_deletes=True
    )


class MemberToken(Base):
    """A single-use emailed link (confirm sign-up, manage my membership).

    Only the SHA-256 digest of the token is stored.
    """

    __tablename__ = "member_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # TokenPurpose
    # The new address, for an EMAIL token only: it becomes the member's once confirmed.
    email: Mapped[str | None] = mapped_column(String(254))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Consent(Base):
    """Consent to the panel's terms: which version, when and through which channel."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    terms_version: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # "web", "code" (recruitment letter)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped[Member] = relationship(back_populates="consents")


class PanelExit(Base):
    """What is kept when a member leaves: statistics with no link to the person.

    Coarse on purpose: month of leaving, how they came in, age band at leaving,
    gender and district, and how many whole months they were members.
    """

    __tablename__ = "panel_exit"

    id: Mapped[int] = mapped_column(primary_key=True)
    left_month: Mapped[str] = mapped_column(String(7))  # "2026-11"
    source: Mapped[str] = mapped_column(String(8))
    recruitment_wave_id: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str] = mapped_column(String(16))
    age_group: Mapped[str] = mapped_column(String(16))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id", ondelete="SET NULL"))
    months_in_panel: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(32))  # LeaveReason, if the member gave one


class RequestKind(StrEnum):
    """What a RequestRecord counts; each kind has a throttle of its own (panel.members.throttle)."""

    SIGNUP = "signup"  # sign-up forms sent (/panel/join, /join/details)
    LINK_REQUEST = "link_request"  # magic links asked for (/panel/me)
    BAD_LINK = "bad_link"  # unknown links from email opened (confirm, my page, new address, unsubscribe)


class RequestRecord(Base):
    """One request from one address, kept (a day at most) for per-address rate limits.

    No email address or token is stored: only the kind, the client's address and the time.
    """

    __tablename__ = "request_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    remote_addr: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (Index("ix_request_record_kind_addr_at", "kind", "remote_addr", "at"),)
