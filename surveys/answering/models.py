"""What answering stores: answers in progress, the final response, and link guesses.

``AnswerDraft`` holds a resident's answers while they answer, page by page, linked to
the invitation so that the same link resumes where they stopped; it is deleted when
the response is stored.

``SurveyResponse`` is the stored response. In anonymous mode (the default) it has no
link to the member or the invitation: it keeps the survey, the language, the day it
was submitted, and the snapshot of gender, age band and district taken from the
member's profile at answer time (the age band for the year the invitation was sent;
what weighting uses). Its primary key is random, so
the order of the rows says nothing about who answered when. In identified mode it
also names the invitation and the member.

``Completion`` is the database's guarantee of one response per invitation: its primary
key is the invitation, and a row is inserted in the same transaction as the response.
It holds nothing else, so it cannot be used to find the response.

``LinkFailure`` records a well-formed but unknown link token per address, for
throttling guesses.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class AnswerDraft(Base):
    """Answers in progress for one invitation; deleted when the response is stored."""

    __tablename__ = "survey_answer_draft"

    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("survey_invitation.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8), default="sv")
    # Answers so far, keyed by question key (the shapes of surveys.definition).
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Page key -> the keys of the questions that page showed when it was saved. A page
    # counts as done while it still shows exactly those questions.
    pages_done: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The page to resume at.
    page_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # One more with every write: a page read without locking this row is saved only if
    # nothing wrote it meanwhile (surveys.answering.services.store_draft).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SurveyResponse(Base):
    """One resident's answers to a survey, as analysed."""

    __tablename__ = "survey_response"

    # Random, not a sequence: in anonymous mode the order of ids must not follow the
    # order in which invitations were completed.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    # Anonymous mode: the start of the UTC day (cannot be matched with the exact
    # Invitation.completed_at). Identified mode: the exact time.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Snapshot of the member's profile at answer time (the age band is that of the age
    # attained in the year the invitation was sent, as SCB's population tables count
    # ages and as the invitation's stratum), used for weighting.
    gender: Mapped[str] = mapped_column(String(16))
    age_group: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str] = mapped_column(String(32))
    # Question key -> answer, for every question the resident was shown (None when
    # skipped); questions hidden by conditions are absent.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Identified mode only; always NULL in anonymous mode.
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitation.id", ondelete="SET NULL"), unique=True
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)


class Completion(Base):
    """One row per invitation whose response is stored: the one-response guarantee."""

    __tablename__ = "survey_completion"

    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("survey_invitation.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class LinkFailure(Base):
    """A well-formed survey link token that matched no invitation, kept for throttling."""

    __tablename__ = "survey_link_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
