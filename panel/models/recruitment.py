from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.db import Base, UTCDateTime, utcnow
from panel.models.district import District
from panel.models.member import Member


class WaveStatus(StrEnum):
    OPEN = "open"  # codes from the letters are accepted at /join
    CLOSED = "closed"  # the wave is over: codes are refused


class RecruitmentWave(Base):
    """One probability recruitment: a sample from the population register, sent letters with codes."""

    __tablename__ = "recruitment_wave"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    # The letter: an optional text of the wave's own, and the last day to join.
    letter_text: Mapped[str] = mapped_column(Text, default="")
    reply_by: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=WaveStatus.OPEN)

    invites: Mapped[list[RecruitmentInvite]] = relationship(
        back_populates="wave", cascade="all, delete-orphan", passive_deletes=True
    )


class RecruitmentInvite(Base):
    """One sampled person: the sample's demographics, a code, and the letter's address.

    Name and address are for the letters only and are kept in these rows only (a
    retention rule deletes them later). Gender, birth year and district are the
    sampling strata. The person has joined when ``member`` has confirmed (or, after
    that member left the panel, when ``joined_at`` is set).
    """

    __tablename__ = "recruitment_invite"
    __table_args__ = (UniqueConstraint("wave_id", "person_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("recruitment_wave.id", ondelete="CASCADE"), index=True)
    person_ref: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(16))
    birth_year: Mapped[int] = mapped_column(Integer)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(5))
    city: Mapped[str | None] = mapped_column(String(100))
    # Eight characters of an unambiguous alphabet, stored without the dash.
    code: Mapped[str] = mapped_column(String(8), unique=True)
    # When the code was last used to sign up. The person has joined when that member
    # has confirmed; a code that led to a confirmed member cannot be used again.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    # Copied from the member's confirmation when the member leaves the panel (the member
    # row is deleted), so that the wave still counts the person as having joined.
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    wave: Mapped[RecruitmentWave] = relationship(back_populates="invites")
    district: Mapped[District] = relationship()
    member: Mapped[Member | None] = relationship()


class CodeAttempt(Base):
    """A wrong recruitment code typed at /join, kept for throttling guesses per address."""

    __tablename__ = "code_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
