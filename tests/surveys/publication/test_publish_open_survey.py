"""Publishing is for closed surveys: while invitees can still answer, no result is final."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import format_datetime
from sqlalchemy import func, select

from panel.db import utcnow
from panel.models import OutboxMessage
from surveys.publication import services
from surveys.publication.models import PublishedReport
from tests.conftest import csrf_token
from tests.surveys.publication.conftest import field_survey

ANSWERS = [{"park": "ja", "visits": 3, "comment": None}] * 8 + [{"park": "nej", "visits": 1, "comment": None}] * 5


def _open_survey(session, status: str = "open"):
    fielded = field_survey(session, ANSWERS, non_respondents=10)
    fielded.survey.status = status
    fielded.survey.closes_at = utcnow() + timedelta(days=14)
    session.commit()
    return fielded


def _nothing_published(session) -> None:
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize("status", ["open", "scheduled", "draft"])
def test_the_service_refuses_to_publish_a_survey_that_is_not_closed(app, session, status):
    fielded = _open_survey(session, status)
    with app.app_context(), pytest.raises(services.SurveyNotClosedError, match="Enkäten är inte stängd"):
        services.publish(session, session.merge(fielded.survey), by=None, expected_version=1)
    session.rollback()
    _nothing_published(session)


def test_the_publish_button_on_an_open_survey_explains_in_swedish_and_publishes_nothing(app, session, analyst,
                                                                                          client):
    fielded = _open_survey(session)
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    response = client.post(path + "/publish", data={"csrf_token": csrf_token(client, path), "version": "1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409, page
    assert "Enkäten är inte stängd, så de inbjudna kan fortfarande svara" in page
    assert "Stäng enkäten nu" in page
    _nothing_published(session)
    assert client.get(f"/resultat/{fielded.survey.id}").status_code == 404


def test_once_closed_the_same_survey_is_published(app, session, analyst, client):
    fielded = _open_survey(session)
    fielded.survey.status = "closed"
    fielded.survey.closes_at = utcnow() - timedelta(minutes=1)
    session.commit()
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    response = client.post(path + "/publish", data={"csrf_token": csrf_token(client, path), "version": "1"})
    assert response.status_code == 302
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 1


def test_a_survey_past_its_closing_time_is_published_before_the_minute_job_marks_it_closed(app, session):
    fielded = _open_survey(session)  # still "open": the job that sets "closed" has not run yet
    fielded.survey.closes_at = utcnow() - timedelta(seconds=5)
    session.commit()
    with app.app_context():
        services.publish(session, session.merge(fielded.survey), by=None, expected_version=1)
    session.commit()
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 1


def test_the_page_of_an_open_survey_says_why_and_when_instead_of_offering_the_button(app, session, analyst, client):
    fielded = _open_survey(session)
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'action="{path}/publish"' not in page and "Publicera version 1" not in page
    assert "Enkäten är inte stängd, så de inbjudna kan fortfarande svara" in page
    with app.test_request_context():
        closes = format_datetime(fielded.survey.closes_at, "short")  # as the page's datetimeformat filter
    assert f"Enkäten stänger {closes}. Då kan rapporten publiceras." in page
    assert f'href="/staff/surveys/{fielded.survey.id}/fielding/"' in page


@pytest.mark.parametrize("status, closes_in", [("closed", timedelta(days=1)), ("open", -timedelta(minutes=1))])
def test_the_page_of_a_closed_survey_or_one_past_its_closing_time_offers_the_button(app, session, analyst, client,
                                                                                  status, closes_in):
    fielded = _open_survey(session, status)
    fielded.survey.closes_at = utcnow() + closes_in
    session.commit()
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    page = client.get(path).get_data(as_text=True)
    assert f'action="{path}/publish"' in page and "Publicera version 1" in page
    assert "Enkäten är inte stängd" not in page
