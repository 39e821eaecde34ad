"""Surveys as stored: the definition (plain JSON) and its life cycle.

The definition is the file format of :mod:`surveys.definition` as JSON; it is always
valid when stored (services parse it before saving). Once a survey has been sent its
structure is frozen: ``structure_fingerprint`` is set, and later edits may change
texts only (same fingerprint). A copy starts a new draft.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.db import Base, UTCDateTime, utcnow
from panel.models import StaffUser


class SurveyStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # invitations prepared, opens at opens_at
    OPEN = "open"
    CLOSED = "closed"


class Survey(Base):
    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))  # internal name, for staff only
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=SurveyStatus.DRAFT, index=True)
    # Bumped on every change of the definition: an editor posting an older revision is
    # told that someone else changed the survey in between.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # Set when the survey is first sent; from then on only texts may change.
    structure_fingerprint: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    copied_from_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    created_by: Mapped[StaffUser | None] = relationship()
    copied_from: Mapped[Survey | None] = relationship(remote_side=[id])

    @property
    def is_frozen(self) -> bool:
        """True once the survey has been sent: its structure may no longer change."""
        return self.structure_fingerprint is not None

import surveys.fielding.models  # noqa: E402,F401  (fielding tables on the metadata)
import surveys.answering.models  # noqa: E402,F401  (answering tables on the metadata)
import surveys.publication.models  # noqa: E402,F401  (published reports, decisions, feedback)
import surveys.results.models  # noqa: E402,F401  (weighting settings)
