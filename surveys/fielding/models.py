"""Fielding as stored: who was invited to a survey, and how the sample was drawn.

``Invitation`` is the contract shared with the answering side (surveys.answering):
one row per invited member and survey, holding the SHA-256 digest of the personal
link's token (the token itself is never stored; reminders re-derive the same link
from ``token_secret`` and the app's secret key), the language of the emails and of
the answering page, the member's stratum at invitation time, and the life cycle
timestamps invited → opened → started → completed. Its emails are found through
their send-out (``panel.models.outbox.OutboxBody.send_out``), not by ids stored here,
so a send-out never has to fetch 50,000 outbox ids in advance. ``member_id`` becomes NULL when
the member leaves the panel; the row stays for the survey's statistics.

``SurveyFielding`` is the survey's targeting and reminder settings (one row per
survey), including the seed the sample was drawn with, so a draw can be repeated, and
the design the send drew (eligible and expected invitees per stratum), so results can
weight each respondent by the inverse of their inclusion probability.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.db import Base, UTCDateTime, utcnow
from surveys.models import Survey


class TargetMode(StrEnum):
    ALL = "all"  # everyone in the (filtered) active panel
    SAMPLE = "sample"  # a stratified random sample of size n from the filtered panel


class Allocation(StrEnum):
    PROPORTIONAL = "proportional"  # n spread over strata in proportion to their size
    EQUAL = "equal"  # the same number per stratum (capped at the stratum's size)


class Invitation(Base):
    """One member invited to one survey (the personal link is ``/s/<token>``)."""

    __tablename__ = "survey_invitation"
    # Each index costs every one of 50,000 inserts, so there are no single-column indexes
    # on survey_id and member_id: these two lead the indexes below and serve as theirs.
    __table_args__ = (
        UniqueConstraint("survey_id", "member_id"),  # one invitation per member per survey
        # Contact fatigue ("how many invitations did this member get in the last 30 days"),
        # and the member's rows when the member leaves (ON DELETE SET NULL).
        Index("ix_survey_invitation_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    # NULL after the member has left the panel.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    # sha256 hex digest of the token in the link; the token itself is never stored.
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    # 256 random bits (hex) from which the token is derived with a key from the app's
    # SECRET_KEY (HMAC-SHA256), so a reminder can carry the same link as the invitation
    # while the database alone never reveals a working link. See surveys.fielding.links.
    # NULL for rows made some other way (tests); their reminders get a new link. Named
    # "secret" so the member's data export leaves it out, as it does digests.
    token_secret: Mapped[str | None] = mapped_column(String(64))
    # Language of the emails and of the answering page: the member's, if the survey
    # has it, else "sv".
    language: Mapped[str] = mapped_column(String(8), default="sv")
    # The stratum at invitation time (age band label as in analysis.targets, e.g. "16-24").
    gender: Mapped[str] = mapped_column(String(16))
    age_group: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str] = mapped_column(String(32))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # invitation email queued in the outbox
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first GET of the landing page
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first POST "start"
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # response stored
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A revoked link shows the same "link not valid" page as an unknown one.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    survey: Mapped[Survey] = relationship()


class SurveyFielding(Base):
    """How a survey is fielded: the target, the sample's seed, contact limit, reminders."""

    __tablename__ = "survey_fielding"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    # The filter: {"age_min": 16, "age_max": 25, "genders": [...], "districts": [codes],
    # "sources": ["open", "wave"]}; a missing or empty key means "no restriction".
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mode: Mapped[str] = mapped_column(String(16), default=TargetMode.ALL)
    allocation: Mapped[str] = mapped_column(String(16), default=Allocation.PROPORTIONAL)
    sample_size: Mapped[int | None] = mapped_column(Integer)
    # The seed the sample was drawn with (recorded so the draw can be repeated).
    seed: Mapped[int | None] = mapped_column(Integer)
    # Contact fatigue: at most ``contact_limit`` invitations per member within
    # ``contact_window_days`` days (NULL limit = no rule).
    contact_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    contact_window_days: Mapped[int] = mapped_column(Integer, default=30)
    reminder_after_days: Mapped[int] = mapped_column(Integer, default=7)
    max_reminders: Mapped[int] = mapped_column(Integer, default=1)
    # Counts of the send-out: who was left out and why ({"paused": 3, ...}).
    excluded: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The sampling design as drawn at send time (surveys.fielding.sampling.design_record):
    # per stratum the eligible members N_h, the invited n_h and the expected allocation
    # E[n_h], from which each invitee's inclusion probability E[n_h] / N_h follows. NULL
    # for surveys sent before it was recorded (their reports assume equal probabilities).
    design: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    survey: Mapped[Survey] = relationship()
