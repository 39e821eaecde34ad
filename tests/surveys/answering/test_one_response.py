"""Exactly one response per invitation: double clicks, replays, two tabs, simultaneous posts."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from panel.db import utcnow

from surveys.answering.models import Completion, SurveyResponse
from tests.surveys.answering.builders import TWO_PAGES, invite, make_survey, start, submit, token_on


def responses(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(SurveyResponse.id)))


@pytest.fixture
def on_last_page(client, session):
    """A resident on the last page of the two-page survey, and the form data to send it."""
    survey = make_survey(session, TWO_PAGES)
    client.invitation, client.token = invite(session, survey)
    session.commit()
    start(client, client.token)
    submit(client, "/s/answer/p1", {"farg": "rod"})
    page = client.get("/s/answer/p2").get_data(as_text=True)
    client.last_page = {"csrf_token": token_on(page), "nav": "next", "tycker": "Ett svar"}
    return client


def test_a_double_click_and_a_replayed_post_store_one_response(on_last_page, session):
    first = on_last_page.post("/s/answer/p2", data=on_last_page.last_page)
    second = on_last_page.post("/s/answer/p2", data=on_last_page.last_page)
    assert first.headers["Location"] == second.headers["Location"] == "/s/thanks"
    replay = on_last_page.post("/s/answer/p1", data={"csrf_token": on_last_page.last_page["csrf_token"],
                                                     "nav": "next", "farg": "bla"})
    assert replay.headers["Location"] == "/s/thanks"
    assert responses(session) == 1
    assert session.scalars(select(SurveyResponse.answers)).one()["farg"] == "rod"


def test_two_tabs_in_two_browsers_store_one_response(app, on_last_page, session):
    other = app.test_client()
    start(other, on_last_page.token)  # the same link opened in a second browser
    other_page = other.get("/s/answer/p2").get_data(as_text=True)
    assert other.post("/s/answer/p2", data={"csrf_token": token_on(other_page), "nav": "next",
                                            "tycker": "Från andra fliken"}).headers["Location"] == "/s/thanks"
    late = on_last_page.post("/s/answer/p2", data=on_last_page.last_page)
    assert late.headers["Location"] == "/s/thanks"
    assert responses(session) == 1
    assert session.scalars(select(SurveyResponse.answers)).one()["tycker"] == "Från andra fliken"


def test_simultaneous_posts_store_one_response(app, on_last_page, session):
    with on_last_page.session_transaction() as cookie:
        state = dict(cookie)
    clients = []
    for _ in range(6):  # six requests with the same session cookie, released at once
        client = app.test_client()
        with client.session_transaction() as cookie:
            cookie.update(state)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    statuses: list[tuple[int, str]] = []

    def post(client):
        barrier.wait()
        response = client.post("/s/answer/p2", data=on_last_page.last_page)
        statuses.append((response.status_code, response.headers.get("Location", "")))

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert responses(session) == 1
    assert len(statuses) == len(clients)
    # Every request ends on the thanks page, or (SQLite, when a write lock times out) on
    # the page saying that it was not saved; never a second response, never a 500.
    assert all(status == (302, "/s/thanks") or status[0] == 503 for status in statuses), statuses
    assert (302, "/s/thanks") in statuses


def test_the_database_refuses_a_second_completion_of_an_invitation(on_last_page, session):
    on_last_page.post("/s/answer/p2", data=on_last_page.last_page)
    session.add(Completion(invitation_id=on_last_page.invitation.id))
    with pytest.raises(IntegrityError):
        session.commit()


def test_a_double_click_on_the_start_button_starts_once(app, session):
    survey = make_survey(session, TWO_PAGES)
    # Already opened and started once (say the draft was lost): no row lock on the
    # invitation then keeps the two requests apart, only the draft's primary key does.
    invitation, token = invite(session, survey, opened_at=utcnow(), started_at=utcnow())
    session.commit()
    client = app.test_client()
    landing = client.get(f"/s/{token}").get_data(as_text=True)
    with client.session_transaction() as cookie:
        state = dict(cookie)
    form = {"csrf_token": token_on(landing), "language": "sv"}
    clients = []
    for _ in range(4):
        other = app.test_client()
        with other.session_transaction() as cookie:
            cookie.update(state)
        clients.append(other)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def press(other):
        barrier.wait()
        statuses.append(other.post(f"/s/{token}", data=form).status_code)

    threads = [threading.Thread(target=press, args=(other,)) for other in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [302] * len(clients)
    assert all(other.get("/s/answer").headers["Location"] == "/s/answer/p1" for other in clients)
    from surveys.answering.models import AnswerDraft

    assert session.scalar(select(func.count()).select_from(AnswerDraft)) == 1
    session.refresh(invitation)
    assert invitation.started_at is not None
