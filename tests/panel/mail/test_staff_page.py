"""/staff/mail: failed email for analysts and admins, with retry."""

from __future__ import annotations

from sqlalchemy import select

from panel.models import OutboxMessage
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_staff
from tests.panel.mail.conftest import make_row


def log_in(client, session, role: str = "analyst"):
    user = make_staff(session, role)
    session.commit()
    token = csrf_token(client, "/staff/login")
    client.post("/staff/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    return user


def failed_rows(session):
    bad = make_row(session, 1, to="anna.svensson@example.se", status="failed", attempts=3,
                   last_error="550 5.1.1 no such user")
    other = make_row(session, 2, to="bo@example.org", status="failed", attempts=8, last_error="gave up after 8 attempts")
    sent = make_row(session, 3, status="sent")
    session.commit()
    return bad, other, sent


def test_analyst_sees_failed_mail_with_masked_addresses(client, session):
    failed_rows(session)
    log_in(client, session)
    page = client.get("/staff/mail")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "a…n@example.se" in html and "b…@example.org" in html
    assert "anna.svensson" not in html
    assert "550 5.1.1 no such user" in html
    assert "Misslyckade utskick" in html


def test_retry_one_and_retry_all(client, session):
    bad, other, sent = failed_rows(session)
    log_in(client, session)
    token = csrf_token(client, "/staff/mail")

    response = client.post(f"/staff/mail/{bad.id}/retry", data={"csrf_token": token}, follow_redirects=True)

    assert "skickas igen" in response.get_data(as_text=True)
    session.expire_all()
    assert (bad.status, bad.attempts) == ("queued", 0)
    assert other.status == "failed" and sent.status == "sent"

    client.post("/staff/mail/retry", data={"csrf_token": token})
    session.expire_all()
    assert other.status == "queued" and sent.status == "sent"


def test_retry_needs_csrf_and_a_post(client, session):
    bad, _, _ = failed_rows(session)
    log_in(client, session)
    assert client.post(f"/staff/mail/{bad.id}/retry").status_code == 400
    assert client.get(f"/staff/mail/{bad.id}/retry").status_code == 405
    session.expire_all()
    assert bad.status == "failed"


def test_committee_and_anonymous_are_kept_out(client, session):
    assert client.get("/staff/mail").status_code == 302  # to the login page
    log_in(client, session, "committee")
    assert client.get("/staff/mail").status_code == 403


def test_retrying_something_that_is_not_failed_says_so(client, session):
    _, _, sent = failed_rows(session)
    log_in(client, session, "admin")
    token = csrf_token(client, "/staff/mail")
    response = client.post(f"/staff/mail/{sent.id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "redan skickats om eller finns inte" in response.get_data(as_text=True)
    assert session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == sent.id)) == "sent"
