"""Retention rules for survey data, registered with panel.retention (imported by the app factory)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from panel.retention.services import THROTTLE_TABLES, Rule, register
from surveys.answering.models import LinkFailure, SurveyResponse
from surveys.answering.services import delete_abandoned_drafts
from surveys.models import Survey


def unlink_identified_responses(session: Session, now: datetime, period: timedelta) -> int:
    """Identified surveys closed longer ago than the period: responses lose their link to
    the member and the invitation, and become like anonymous ones. Returns how many."""
    closed = select(Survey.id).where(Survey.closes_at.is_not(None), Survey.closes_at < now - period)
    return session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.survey_id.in_(closed),
               or_(SurveyResponse.member_id.is_not(None), SurveyResponse.invitation_id.is_not(None)))
        .values(member_id=None, invitation_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0


def purge_drafts(session: Session, now: datetime, period: timedelta) -> int:
    return delete_abandoned_drafts(session, now=now, grace=period)


register(Rule("identified_responses", "PANEL_RETAIN_IDENTIFIED_DAYS", "days",
              _l("Kopplingen mellan svar och medlem i enkäter med identifierade svar, räknat från att enkäten stängde"),
              unlink_identified_responses))
register(Rule("answer_drafts", "SURVEY_LINK_GRACE_DAYS", "days",
              _l("Påbörjade svar som aldrig skickades, räknat från att enkäten stängde"), purge_drafts))
THROTTLE_TABLES.append(LinkFailure)  # unknown survey links per address
