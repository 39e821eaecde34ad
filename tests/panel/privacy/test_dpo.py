"""The DPO page (admin): settings, what is stored, retention periods, register extracts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from panel.db import utcnow
from panel.models import AuditEvent, Consent, OutboxMessage
from panel.models.outbox import OutboxStatus
from surveys.answering.models import SurveyResponse
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_member, make_staff
from tests.surveys.answering.builders import invite, make_survey


def login(client, user):
    token = csrf_token(client, "/staff/login")
    assert client.post("/staff/login", data={"email": user.email, "password": PASSWORD,
                                             "csrf_token": token}).status_code == 302


@pytest.fixture
def admin(client, session):
    user = make_staff(session, "admin")
    session.commit()
    login(client, user)
    return user


@pytest.mark.parametrize("role", ["analyst", "committee"])
def test_dpo_page_and_extract_are_admin_only(client, session, role):
    user = make_staff(session, role)
    member = make_member(session)
    session.commit()
    login(client, user)
    assert client.get("/staff/privacy").status_code == 403
    token = csrf_token(client, "/staff/")
    assert client.post("/staff/privacy/extract", data={"email": member.email, "csrf_token": token}).status_code == 403


def test_dpo_page_shows_settings_and_the_configured_periods(client, app, admin, tmp_path):
    text = tmp_path / "integritet.md"
    text.write_text("# Om personuppgifter\n\nKontakta **kommunen**. <script>alert(1)</script>", encoding="utf-8")
    app.config.update(PANEL_PRIVACY_CONTROLLER="Kommunstyrelsen i Gotland", PANEL_PRIVACY_DPO_CONTACT="dso@gotland.se",
                      PANEL_RETAIN_SENT_MAIL_DAYS=14, PANEL_RETAIN_IDENTIFIED_DAYS=90,
                      PANEL_PRIVACY_TEXT_FILE=str(text))
    page = client.get("/staff/privacy").get_data(as_text=True)
    assert "Kommunstyrelsen i Gotland" in page and "dso@gotland.se" in page
    assert "Samtycke (dataskyddsförordningen artikel 6.1 a)" in page  # the default legal basis
    assert "14 dagar" in page and "90 dagar" in page and "72 timmar" in page
    assert "<strong>kommunen</strong>" in page and "<script>alert(1)</script>" not in page
    assert "Ingen gallring har körts ännu." in page


def test_unreadable_privacy_text_file_is_reported_not_a_500(client, app, admin, tmp_path):
    app.config["PANEL_PRIVACY_TEXT_FILE"] = str(tmp_path / "saknas.md")
    response = client.get("/staff/privacy")
    assert response.status_code == 200
    assert "kunde inte läsas" in response.get_data(as_text=True)


def test_dpo_page_lists_recent_purges(client, app, admin, session, runner):
    session.add(OutboxMessage(kind="magic_link", to_address="x@example.se", subject="s", body_text="t", body_html="h",
                              status=OutboxStatus.SENT, sent_at=utcnow().replace(year=2020)))
    session.commit()
    assert runner.invoke(args=["jobs", "run"]).exit_code == 0
    page = client.get("/staff/privacy").get_data(as_text=True)
    assert "Senaste gallringen:" in page and "(ok)" in page
    assert "<code>sent_mail</code></td><td class=\"num\">1</td>" in page


def test_register_extract_has_everything_about_the_member_and_is_logged(client, admin, session):
    member = make_member(session, email="anna@example.se")
    session.add(Consent(member_id=member.id, terms_version="2026-01", channel="web"))
    survey = make_survey(session, anonymous=False)
    invitation, _ = invite(session, survey, member)
    session.add(SurveyResponse(survey_id=survey.id, language="sv", submitted_at=utcnow(), gender="kvinna",
                               age_group="35-44", district_code=member.district.code, answers={"q": "ja"},
                               invitation_id=invitation.id, member_id=member.id))
    session.add(OutboxMessage(kind="invitation", to_address="anna@example.se", subject="Ny enkät", body_text="t",
                              body_html="h", status=OutboxStatus.SENT, sent_at=utcnow()))
    other = make_member(session, email="bertil@example.se")
    session.commit()
    token = csrf_token(client, "/staff/privacy")
    response = client.post("/staff/privacy/extract", data={"email": " Anna@Example.se ", "csrf_token": token})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="registerutdrag-{member.id}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["extract"]["made_by"] == admin.email
    assert data["member"]["email"] == "anna@example.se" and data["member"]["id"] == member.id
    assert [c["terms_version"] for c in data["consents"]] == ["2026-01"]
    assert [i["survey_id"] for i in data["survey_invitation"]] == [survey.id]
    assert "token_secret" not in data["survey_invitation"][0] and "token_digest" not in data["survey_invitation"][0]
    assert data["survey_response"][0]["answers"] == {"q": "ja"}
    assert [m["subject"] for m in data["emails"]] == ["Ny enkät"]
    assert "bertil@example.se" not in response.get_data(as_text=True)
    session.expire_all()
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.register_extract")).one()
    assert (event.actor_id, event.target_type, event.target_id) == (admin.id, "member", str(member.id))
    assert "anna" not in json.dumps(event.detail)  # no address in the log


def test_register_extract_for_an_unknown_address(client, admin, session):
    token = csrf_token(client, "/staff/privacy")
    response = client.post("/staff/privacy/extract", data={"email": "ingen@example.se", "csrf_token": token})
    assert response.status_code == 404
    assert "Det finns ingen medlem med den e-postadressen." in response.get_data(as_text=True)
    bad = client.post("/staff/privacy/extract", data={"email": "inte en adress", "csrf_token": token})
    assert bad.status_code == 400
    assert client.post("/staff/privacy/extract", data={"email": "ingen@example.se"}).status_code == 400  # no CSRF
    session.expire_all()
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.register_extract")).all() == []


def test_public_privacy_page_shows_the_periods_without_staff_details(client, app, session):
    app.config.update(PANEL_PRIVACY_CONTROLLER="Kommunstyrelsen i Gotland", PANEL_RETAIN_SENT_MAIL_DAYS=14)
    response = client.get("/panel/privacy")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Kommunstyrelsen i Gotland" in page and "14 dagar" in page and "Kontakta kommunen" in page
    assert "PANEL_RETAIN" not in page and "PANEL_PRIVACY" not in page  # no setting names for residents
    assert "Registerutdrag" not in page and "registerutdrag" not in page
    assert 'href="/panel/privacy"' in client.get("/panel/join").get_data(as_text=True)  # linked from every page
