"""Opening and closing: times entered in Swedish time, stored in UTC; the tick command; closing at once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from panel.db import utcnow
from panel.models import OutboxMessage
from surveys.fielding import services
from surveys.models import Survey
from tests.surveys.fielding.support import (
    as_cli, send_now, base, configure, deliver, make_panel, make_survey, page, post,
)


def test_times_are_entered_and_shown_in_swedish_time_and_stored_in_utc(analyst, session, example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    session.commit()
    year = utcnow().year + 1
    response = post(analyst, f"{base(survey.id)}/target", {
        "mode": "all", "allocation": "proportional", "contact_window_days": "30", "reminder_after_days": "7",
        "max_reminders": "1", "opens_at": f"{year}-01-15T08:00", "closes_at": f"{year}-07-01T18:30"},
        token_from=f"{base(survey.id)}/target")
    assert response.status_code == 302
    session.expire_all()
    stored = session.get(Survey, survey.id)
    assert stored.opens_at == datetime(year, 1, 15, 7, 0, tzinfo=timezone.utc)  # CET, UTC+1
    assert stored.closes_at == datetime(year, 7, 1, 16, 30, tzinfo=timezone.utc)  # CEST, UTC+2
    status, html = page(analyst, f"{base(survey.id)}/preview")
    assert "kl. 08:00" in html and "kl. 18:30" in html
    status, html = page(analyst, f"{base(survey.id)}/target")
    assert f'value="{year}-07-01T18:30"' in html  # the form shows what was entered


def test_the_tick_opens_scheduled_surveys_and_closes_them_at_closing_time(app, runner, session, example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    opens = utcnow() + timedelta(hours=1)
    configure(session, survey, opens_at=opens, closes_at=opens + timedelta(days=2))
    session.commit()
    assert send_now(app, survey.id).status == "scheduled"
    with as_cli(app) as db_session:
        assert services.open_and_close_due(db_session, now=opens - timedelta(minutes=1)) == (0, 0)
        assert services.open_and_close_due(db_session, now=opens) == (1, 0)
        db_session.commit()
    session.expire_all()
    assert session.get(Survey, survey.id).status == "open"
    with as_cli(app) as db_session:
        assert services.open_and_close_due(db_session, now=opens + timedelta(days=2)) == (0, 1)
        db_session.commit()
    session.expire_all()
    assert session.get(Survey, survey.id).status == "closed"
    # The command itself, with times that have passed.
    other = make_survey(session, example_text)
    other.status, other.closes_at = "open", utcnow() - timedelta(minutes=1)
    session.commit()
    result = runner.invoke(args=["fielding", "tick"])
    assert result.exit_code == 0 and "closed 1" in result.output
    session.expire_all()
    assert session.get(Survey, other.id).status == "closed"


def test_closing_now_stops_answers_and_unsent_invitations(app, analyst, session, smtp_server, example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    opens = utcnow() + timedelta(days=1)
    configure(session, survey, opens_at=opens, closes_at=opens + timedelta(days=5))
    session.commit()
    send_now(app, survey.id)
    response = post(analyst, f"{base(survey.id)}/close", token_from=f"{base(survey.id)}/")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Survey, survey.id).status == "closed"
    assert session.scalars(select(OutboxMessage)).all() == []  # nothing left to send, or to send again
    assert deliver(app, at=opens + timedelta(hours=1)).sent == 0 and smtp_server.messages == []
    again = post(analyst, f"{base(survey.id)}/close", token_from=f"{base(survey.id)}/")
    assert again.status_code == 409


def test_the_closing_time_and_reminders_can_change_after_sending(app, analyst, session, example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    send_now(app, survey.id)
    path = f"{base(survey.id)}/schedule"
    later = (utcnow() + timedelta(days=30)).astimezone(timezone(timedelta(hours=1)))
    bad = post(analyst, path, {"closes_at": "2001-01-01T00:00", "reminder_after_days": "3", "max_reminders": "2"},
               token_from=f"{base(survey.id)}/")
    assert bad.status_code == 400 and "Stängningstiden har redan passerat" in bad.get_data(as_text=True)
    session.expire_all()
    before = session.get(Survey, survey.id).closes_at
    assert before > utcnow()
    good = post(analyst, path, {"closes_at": later.strftime("%Y-%m-%dT%H:%M"), "reminder_after_days": "3",
                                "max_reminders": "2"}, token_from=f"{base(survey.id)}/")
    assert good.status_code == 302
    session.expire_all()
    assert session.get(Survey, survey.id).closes_at != before
    assert services.fielding_of(session, session.get(Survey, survey.id)).max_reminders == 2


def test_reminders_still_queued_when_the_survey_closes_are_not_sent(app, runner, session, smtp_server,
                                                                    example_text):
    from sqlalchemy import update

    from surveys.fielding.models import Invitation

    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    send_now(app, survey.id)
    assert deliver(app).sent == 2
    session.execute(update(Invitation).values(sent_at=utcnow() - timedelta(days=8)))
    session.commit()
    with as_cli(app) as db_session:
        assert services.remind_batch(db_session, db_session.get(Survey, survey.id)) == 2
        db_session.commit()
    session.get(Survey, survey.id).closes_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert "closed 1" in runner.invoke(args=["fielding", "tick"]).output
    assert [m.kind for m in session.scalars(select(OutboxMessage))] == ["survey_invitation"] * 2  # the sent ones
    smtp_server.clear()
    assert deliver(app).sent == 0
