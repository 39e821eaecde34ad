"""Publication as stored: frozen report versions, approved free text, decisions, feedback mail.

``PublishedReport`` is one immutable version of a survey's report as committee members
and the public read it: the report document (``surveys.results.document``) *after*
small-cell suppression, with the free-text answers an analyst approved and nothing
else, plus what it was computed with (weighting settings, the suppression threshold,
the fixed breakdowns, the code version) and who published it when. There is no update
path: the ORM refuses to UPDATE or DELETE a row, the database refuses UPDATE (a
trigger), and publishing again adds version n+1. (A survey's deletion still cascades
to its versions at the database level.)

``FreeTextApproval`` marks one free-text answer (a response and a question key) as
approved for publication by an analyst. Only approved answers are copied into the
next version.

``ReportDecision`` is the committee's decision or the municipality's planned actions,
added later to a survey's published report, with time and author (limited Markdown).

``FeedbackDelivery`` records that a feedback email of one kind (results published,
or decision n) was queued for a member, so a second press of a button never queues it
again: the unique key is (survey, member, kind, decision).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, Boolean, ForeignKey, Integer, String, Table, Text, UniqueConstraint, Uuid, event
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class ImmutableReportError(RuntimeError):
    """A published report version was about to be changed or deleted."""


class PublishedReport(Base):
    """One frozen, suppressed version of a survey's report."""

    __tablename__ = "published_report"
    __table_args__ = (UniqueConstraint("survey_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per survey
    # The report document as JSON after suppression (ReportDocument.to_json()).
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the figures were computed and suppressed with: the weighting settings and
    # summary, the threshold k, the breakdowns, how many values were hidden.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    suppression_min_n: Mapped[int] = mapped_column(Integer)
    code_version: Mapped[str] = mapped_column(String(80))
    # Whether the feedback email went to every active member, not only the respondents.
    notify_all_members: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    published_by_name: Mapped[str] = mapped_column(String(200), default="")


# Database-side guard as well: UPDATE is refused by a trigger (created right after the table,
# by create_all and by an Alembic migration alike, as for the audit log). DELETE is left to
# the survey's ON DELETE CASCADE; the ORM listener below refuses a direct delete.
_PG_FUNCTION = DDL(
    "CREATE OR REPLACE FUNCTION published_report_immutable() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'published_report rows never change: publish a new version'; END; "
    "$$ LANGUAGE plpgsql"
)
_PG_TRIGGER = DDL(
    "CREATE TRIGGER published_report_immutable BEFORE UPDATE ON published_report "
    "FOR EACH ROW EXECUTE FUNCTION published_report_immutable()"
)
_SQLITE_TRIGGER = DDL(
    "CREATE TRIGGER published_report_no_update BEFORE UPDATE ON published_report "
    "BEGIN SELECT RAISE(ABORT, 'published_report rows never change: publish a new version'); END"
)


def install_immutable_guard(target: Table, connection, **_kw) -> None:  # noqa: ANN001
    """Create the trigger that refuses UPDATE on ``published_report``."""
    if target.name != PublishedReport.__tablename__:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_FUNCTION)
        connection.execute(_PG_TRIGGER)
    elif connection.dialect.name == "sqlite":
        connection.execute(_SQLITE_TRIGGER)


if not event.contains(Table, "after_create", install_immutable_guard):
    event.listen(Table, "after_create", install_immutable_guard)


@event.listens_for(PublishedReport, "before_update")
def _refuse_update(mapper, connection, target) -> None:  # noqa: ANN001
    raise ImmutableReportError("a published report version never changes: publish a new version instead")


@event.listens_for(PublishedReport, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:  # noqa: ANN001
    raise ImmutableReportError("a published report version is kept: publish a new version instead")


class FreeTextApproval(Base):
    """An analyst's approval to publish one free-text answer."""

    __tablename__ = "free_text_approval"
    __table_args__ = (UniqueConstraint("response_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("survey_response.id", ondelete="CASCADE"))
    # The question key as in the answers mapping (``q`` or ``q-other`` for "annat").
    question_key: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))


class ReportDecision(Base):
    """A decision or planned actions added to a survey's published report."""

    __tablename__ = "report_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    # The version that was the latest when the decision was added.
    published_report_id: Mapped[int] = mapped_column(ForeignKey("published_report.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)  # limited Markdown (surveys.markdown)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_by_name: Mapped[str] = mapped_column(String(200), default="")


class FeedbackKind:
    PUBLISHED = "report_published"
    DECISION = "report_decision"


class FeedbackDelivery(Base):
    """A feedback email queued for a member: at most one per (survey, member, kind, decision)."""

    __tablename__ = "feedback_delivery"
    __table_args__ = (UniqueConstraint("survey_id", "member_id", "kind", "decision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    # A member who leaves takes their rows along (nothing is kept about them).
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    decision_id: Mapped[int] = mapped_column(Integer, default=0)  # 0 for the publication email
    outbox_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
