"""Links that do not work all look the same; guessing is throttled."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from panel.db import utcnow
from panel.models import Member
from surveys.answering.models import LinkFailure
from tests.surveys.answering.builders import TWO_PAGES, invite, make_survey, start, token_on


@contextmanager
def statements(app):
    """Collect every SQL statement the app's engine runs inside the block."""
    engine = app.extensions["database"].kw["bind"]
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def invalid_text(response) -> str:
    assert response.status_code == 404
    return response.get_data(as_text=True)


MALFORMED = [
    "%22%3E%3Cscript%3Ealert(1)%3C/script%3E",  # quotes and markup
    "abc'%22--" + "a" * 40,
    "a" * 20 + "%00" + "b" * 22,  # NUL
    "x" * 10_000,
    "short",
    "%C3%A5" * 40,  # non-ASCII
    "a" * 43 + "%20",
]


@pytest.mark.parametrize("token", MALFORMED)
def test_malformed_links_give_the_link_not_valid_page_without_asking_the_database(app, client, token):
    reference = invalid_text(client.get(f"/s/{secrets.token_urlsafe(32)}"))
    with statements(app) as seen:
        got = client.get(f"/s/{token}")
        posted = client.post(f"/s/{token}", data={"language": "sv"})
    assert seen == []
    assert invalid_text(got) == reference
    assert invalid_text(posted) == reference
    assert "Länken fungerar inte" in reference


def test_unknown_expired_revoked_and_left_links_all_look_the_same(app, client, session):
    unknown = secrets.token_urlsafe(32)
    expired = make_survey(session, TWO_PAGES, status="closed", closes_at=utcnow() - timedelta(days=31))
    _inv, expired_token = invite(session, expired)
    survey = make_survey(session, TWO_PAGES)
    _inv, revoked_token = invite(session, survey, revoked_at=utcnow())
    left_invitation, left_token = invite(session, survey)
    session.commit()
    session.delete(session.get(Member, left_invitation.member_id))  # the member leaves the panel
    session.commit()

    pages = {name: invalid_text(client.get(f"/s/{token}")) for name, token in
             (("unknown", unknown), ("expired", expired_token), ("revoked", revoked_token), ("left", left_token))}
    assert len(set(pages.values())) == 1, "every invalid link must give the very same page"
    for token in (expired_token, revoked_token, left_token):
        assert invalid_text(client.post(f"/s/{token}", data={})) == pages["unknown"]
    # Only the unknown token counts as a guess.
    assert session.scalar(select(func.count(LinkFailure.id))) == 1


def test_a_link_revoked_while_answering_stops_working(client, session):
    survey = make_survey(session, TWO_PAGES)
    invitation, token = invite(session, survey)
    session.commit()
    start(client, token)
    invitation.revoked_at = utcnow()
    session.commit()
    assert invalid_text(client.get("/s/answer/p1"))
    assert invalid_text(client.get("/s/answer"))


def test_guessing_links_is_throttled_per_address(app, client, session):
    app.config.update(SURVEY_LINK_MAX_FAILURES=3, SURVEY_LINK_WINDOW_MINUTES=10)
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    for _ in range(3):
        assert client.get(f"/s/{secrets.token_urlsafe(32)}").status_code == 404
    blocked = client.get(f"/s/{token}")  # even a real link, once the address is blocked
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "600"
    assert "För många försök" in blocked.get_data(as_text=True)
    assert client.post(f"/s/{token}", data={}).status_code == 429

    elsewhere = app.test_client()
    assert elsewhere.get(f"/s/{token}", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200

    for failure in session.scalars(select(LinkFailure)):
        failure.at = utcnow() - timedelta(minutes=11)  # the window has passed
    session.commit()
    assert client.get(f"/s/{token}").status_code == 200


def test_without_a_respondent_session_the_pages_say_to_open_the_link_again(client, session):
    for path in ("/s/answer", "/s/answer/p1", "/s/thanks"):
        response = client.get(path)
        assert response.status_code == 403
        assert "Öppna enkäten med länken i mejlet" in response.get_data(as_text=True)
    assert client.post("/s/answer/p1", data={"farg": "rod"}).status_code == 403
    with client.session_transaction() as cookie:
        cookie["respondent"] = {"invitation": "1 OR 1=1", "survey": None}
    assert client.get("/s/answer").status_code == 403


def test_the_start_button_needs_the_form_s_security_code(client, session):
    survey = make_survey(session, TWO_PAGES)
    invitation, token = invite(session, survey)
    session.commit()
    client.get(f"/s/{token}")
    refused = client.post(f"/s/{token}", data={"language": "sv"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "Sidan hade gått ut" in page and "CSRF" not in page
    session.refresh(invitation)
    assert invitation.started_at is None
    # The page shown again has a fresh code that works.
    assert client.post(f"/s/{token}", data={"csrf_token": token_on(page), "language": "sv"}).status_code == 302
