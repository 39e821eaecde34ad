"""Reminders: only to those who have not answered, after the chosen days, at most the chosen times."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.models import Member
from surveys.fielding import services
from surveys.fielding.models import Invitation
from surveys.models import Survey
from tests.conftest import ON_POSTGRES, POSTGRES_URL
from tests.surveys.fielding.support import (
    as_cli, send_now, base, configure, deliver, invitations, make_panel, make_survey, page, post, survey_link,
)


def sent_survey(app, session, example_text, count=4, **settings):
    members = make_panel(session, [(count, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey, **settings)
    session.commit()
    send_now(app, survey.id)
    return survey, members


def days_ago(session, survey_id, days, column="sent_at"):
    session.execute(update(Invitation).where(Invitation.survey_id == survey_id)
                    .values({column: utcnow() - timedelta(days=days)}))
    session.commit()


def complete(session, invitation_id):
    """What the answering side does when a response is stored (a conditional UPDATE)."""
    result = session.execute(update(Invitation).where(Invitation.id == invitation_id,
                                                      Invitation.completed_at.is_(None))
                             .values(completed_at=utcnow()))
    session.commit()
    assert result.rowcount == 1


def remind(app, survey_id, **kwargs) -> int:
    with as_cli(app) as db_session:
        count = services.remind_batch(db_session, db_session.get(Survey, survey_id), **kwargs)
        db_session.commit()
        return count


def test_reminders_go_only_to_those_who_have_not_answered_with_the_same_link(
        app, analyst, session, smtp_server, example_text):
    survey, members = sent_survey(app, session, example_text, reminder_after_days=7)
    deliver(app)
    invitation_links = {str(m["To"]): survey_link(m) for m in smtp_server.messages}
    smtp_server.clear()
    rows = invitations(session, survey.id)
    complete(session, rows[0].id)
    session.execute(update(Invitation).where(Invitation.id == rows[1].id).values(started_at=utcnow()))
    session.commit()

    days_ago(session, survey.id, 3)
    assert remind(app, survey.id) == 0  # too early
    days_ago(session, survey.id, 8)
    status, html = page(analyst, f"{base(survey.id)}/")
    assert "<strong>3</strong> ska påminnas nu" in html
    response = post(analyst, f"{base(survey.id)}/reminders", token_from=f"{base(survey.id)}/")
    assert response.status_code == 302
    deliver(app)
    reminded = {str(m["To"]): m for m in smtp_server.messages}
    completer = next(m.email for m in members if m.id == rows[0].member_id)
    assert completer not in reminded and len(reminded) == 3
    for address, message in reminded.items():
        assert message["Subject"].startswith("Påminnelse: ")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert survey_link(message) == invitation_links[address]  # the invitation's link keeps working
    assert analyst.get(survey_link(next(iter(reminded.values())))).status_code == 200
    assert {r.reminders_sent for r in invitations(session, survey.id) if r.completed_at is None} == {1}


def test_at_most_the_chosen_number_of_reminders(app, session, example_text):
    survey, _members = sent_survey(app, session, example_text, count=2, reminder_after_days=5, max_reminders=2)
    days_ago(session, survey.id, 6)
    assert remind(app, survey.id) == 2
    assert remind(app, survey.id) == 0  # the next one is due five days after this one
    days_ago(session, survey.id, 6, "last_reminded_at")
    assert remind(app, survey.id) == 2
    days_ago(session, survey.id, 6, "last_reminded_at")
    assert remind(app, survey.id) == 0
    assert [r.reminders_sent for r in invitations(session, survey.id)] == [2, 2]


def test_no_reminders_when_the_rule_says_none_or_the_member_stopped_mail(app, session, example_text):
    survey, members = sent_survey(app, session, example_text, count=3, max_reminders=0)
    days_ago(session, survey.id, 30)
    assert remind(app, survey.id) == 0
    other, others = sent_survey(app, session, example_text, count=3)
    session.get(Member, others[0].id).status = "unsubscribed"
    session.get(Member, others[1].id).status = "paused"
    session.get(Member, others[1].id).paused_until = utcnow().date() + timedelta(days=10)
    session.commit()
    days_ago(session, other.id, 30)
    assert len(invitations(session, other.id)) == 6  # both sets of members
    assert remind(app, other.id) == 4  # not the one who unsubscribed nor the one on a pause


def test_a_member_who_answers_while_a_reminder_run_is_going_is_not_reminded(app, session, example_text):
    survey, _members = sent_survey(app, session, example_text, count=6)
    days_ago(session, survey.id, 8)
    rows = invitations(session, survey.id)
    assert remind(app, survey.id, limit=2) == 2  # first batch: rows 0 and 1
    complete(session, rows[4].id)  # answers while the run is between batches
    assert remind(app, survey.id, limit=2) == 2
    assert remind(app, survey.id, limit=2) == 1
    assert remind(app, survey.id, limit=2) == 0
    reminded = {r.id: r.reminders_sent for r in invitations(session, survey.id)}
    assert reminded[rows[4].id] == 0 and sum(reminded.values()) == 5


@pytest.mark.skipif(not ON_POSTGRES, reason="row locks: PostgreSQL")
def test_a_completion_in_flight_keeps_its_row_out_of_the_batch(app, session, example_text):
    survey, _members = sent_survey(app, session, example_text, count=3)
    days_ago(session, survey.id, 8)
    answering = invitations(session, survey.id)[1].id
    engine = create_engine(POSTGRES_URL)
    completing = Session(engine)
    completing.execute(update(Invitation).where(Invitation.id == answering, Invitation.completed_at.is_(None))
                       .values(completed_at=utcnow()))  # row locked, not yet committed
    try:
        result = {}
        worker = threading.Thread(target=lambda: result.update(n=remind(app, survey.id)))
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "the reminder batch waited for the answering transaction"
        assert result["n"] == 2
        completing.commit()
    finally:
        completing.close()
        engine.dispose()
    rows = {r.id: r for r in invitations(session, survey.id)}
    assert rows[answering].reminders_sent == 0 and rows[answering].completed_at is not None
    assert remind(app, survey.id) == 0


def test_the_tick_command_sends_due_reminders_and_closed_surveys_get_none(app, runner, session, example_text):
    survey, _members = sent_survey(app, session, example_text, count=2)
    days_ago(session, survey.id, 8)
    result = runner.invoke(args=["fielding", "tick"])
    assert result.exit_code == 0 and "reminders queued 2" in result.output
    closed, _others = sent_survey(app, session, example_text, count=2)
    days_ago(session, closed.id, 8)
    session.get(Survey, closed.id).status = "closed"
    session.commit()
    assert remind(app, closed.id) == 0
    assert "reminders queued 0" in runner.invoke(args=["fielding", "tick"]).output


def test_the_cli_remind_command(app, runner, session, example_text):
    survey, _members = sent_survey(app, session, example_text, count=3)
    days_ago(session, survey.id, 8)
    result = runner.invoke(args=["fielding", "remind", str(survey.id)])
    assert result.exit_code == 0 and "3 reminders queued." in result.output
    assert "0 reminders queued." in runner.invoke(args=["fielding", "remind", str(survey.id)]).output
