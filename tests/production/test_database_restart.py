"""PostgreSQL restarted while residents are answering through gunicorn.

The database is a throwaway cluster of this test's own (initdb + pg_ctl as the postgres
user, on a free port): stopping the shared server would break everybody else's tests.
One resident's last page is being saved at the moment of the restart: the answering page
itself comes back (503) with what she typed and a message that it was not saved. While the
database is down, a resident who sends a page gets a clear Swedish 503 page that keeps what
they typed (the form comes back to be sent again), other pages and /healthz say 503, nothing
is half-written; when it is back, the same gunicorn workers (no restart) serve again at
once, and both residents' answers are stored exactly once, as typed.
"""

from __future__ import annotations

import re
import threading
from html import unescape

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from panel.db import Base, make_engine
from surveys.answering.models import AnswerDraft, SurveyResponse
from tests.production.harness import (Browser, Gunicorn, OwnPostgres, build_survey, csrf_of, own_postgres_unavailable,
                                      wait_for)

CECILIA = {"prioriteringar": ["trygghet"], "synpunkter": "Belysningen i gångtunneln vid skolan är trasig sedan i våras."}
TYPED = {"prioriteringar": ["kollektivtrafik", "miljo"], "rekommendera": "7",
         "synpunkter": "Snälla, bygg en cykelbana längs Österväg – jag har skrivit det här länge!"}


@pytest.fixture
def own_postgres():
    reason = own_postgres_unavailable()
    if reason:
        pytest.skip(reason)
    cluster = OwnPostgres()
    try:
        engine = create_engine(cluster.url)
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))
        Base.metadata.create_all(engine)
        engine.dispose()
        yield cluster
    finally:
        cluster.destroy()


def hidden_fields(page: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of the hidden inputs of the page's form, in order."""
    fields = []
    for tag in re.findall(r"<input [^>]*>", page):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]*)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            fields.append((unescape(name.group(1)), unescape(value.group(1) if value else "")))
    return fields


def on_last_page(port: int, token: str) -> tuple[Browser, str]:
    browser = Browser(port)
    landing = browser.get(f"/s/{token}")
    browser.post(f"/s/{token}", {"csrf_token": csrf_of(landing.text), "language": "sv"})
    page = browser.get("/s/answer/vardag")
    saved = browser.post("/s/answer/vardag", {"csrf_token": csrf_of(page.text), "nav": "next", "transport": "bil",
                                              "trygghet_kvall": "3", "bibliotek": "no"})
    assert saved.location == "/s/answer/prioriteringar"
    last = browser.get("/s/answer/prioriteringar")
    assert last.status == 200
    return browser, csrf_of(last.text)


def test_residents_answering_through_a_database_restart(own_postgres, tmp_path):
    engine = make_engine(own_postgres.url)  # its checkout check replaces a pooled connection the restart closed
    with Session(engine) as session:
        survey_id, tokens = build_survey(session, 4)
        session.commit()
    server = Gunicorn(own_postgres.url, tmp_path / "instance", workers=2, threads=4)
    browsers: list[Browser] = []
    try:
        workers = server.worker_pids()
        (anna, anna_csrf), (bo, _bo_csrf) = on_last_page(server.port, tokens[0]), on_last_page(server.port, tokens[1])
        cecilia, cecilia_csrf = on_last_page(server.port, tokens[3])
        browsers += [anna, bo, cecilia]

        # Cecilia's last page is being saved when the restart begins: her request has found
        # her draft and waits to insert the response (held up by a lock this test takes).
        blocker = engine.connect()
        blocker.execute(text("LOCK TABLE survey_response IN ACCESS EXCLUSIVE MODE"))
        in_flight: dict = {}
        saving = threading.Thread(target=lambda: in_flight.update(response=cecilia.post(
            "/s/answer/prioriteringar", {"csrf_token": cecilia_csrf, "nav": "next", **CECILIA})))
        saving.start()
        wait_for(lambda: blocker.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).scalar() == 1,
            30, "the save to wait for the lock")

        own_postgres.stop("fast")  # the restart begins: every connection is closed
        saving.join(timeout=60)
        blocker.invalidate()
        sent = anna.post("/s/answer/prioriteringar", {"csrf_token": anna_csrf, "nav": "next", **TYPED})
        elsewhere = bo.get("/s/answer/prioriteringar")
        newcomer = Browser(server.port)
        browsers.append(newcomer)
        link = newcomer.get(f"/s/{tokens[2]}")
        health = newcomer.get("/healthz")

        own_postgres.start()
        after = [Browser(server.port) for _ in range(8)]
        browsers += after
        health_after = [b.get("/healthz").status for b in after]
        kept = hidden_fields(sent.text)
        cecilia_again = cecilia.post("/s/answer/prioriteringar", {"csrf_token": cecilia_csrf, "nav": "next",
                                                                   **CECILIA})
        resent = anna.post("/s/answer/prioriteringar", kept)
        thanks = anna.get(resent.location) if resent.status == 302 else resent
        bo_after = bo.get("/s/answer/prioriteringar")
        workers_after = server.worker_pids()
    finally:
        for browser in browsers:
            browser.close()
        server.stop()

    # In flight: the answering page itself comes back, with what she typed and why it was not saved.
    interrupted = in_flight["response"]
    assert interrupted.status == 503, interrupted.text[:2000]
    assert "Sidan sparades inte" in interrupted.text
    assert CECILIA["synpunkter"] in unescape(interrupted.text)
    assert re.search(r'<input[^>]*value="trygghet"[^>]*checked|<input[^>]*checked[^>]*value="trygghet"',
                     interrupted.text), "her ticked box is still ticked"
    assert "Vilka områden bör kommunen prioritera" in interrupted.text

    # During the outage: clear Swedish 503 pages, the typed answers kept in the form.
    assert sent.status == 503, sent.text[:2000]
    assert "Tjänsten är tillfälligt otillgänglig" in sent.text
    assert "inte sparat" in sent.text or "inte sparats" in sent.text
    assert sent.headers.get("cache-control") == "no-store", "typed answers are not cached"
    assert ("synpunkter", TYPED["synpunkter"]) in kept and ("rekommendera", "7") in kept
    assert [v for k, v in kept if k == "prioriteringar"] == TYPED["prioriteringar"]
    assert 'action="/s/answer/prioriteringar"' in sent.text and 'method="post"' in sent.text
    assert elsewhere.status == 503 and "Tjänsten är tillfälligt otillgänglig" in elsewhere.text
    assert link.status == 503 and "Tjänsten är tillfälligt otillgänglig" in link.text
    assert health.status == 503
    assert "Traceback" not in sent.text + elsewhere.text + link.text

    # Back: the same workers answer at once, and the kept form stores what was typed.
    assert workers_after == workers and len(workers) == 2, "no worker was restarted"
    assert health_after == [200] * 8
    assert resent.status == 302 and resent.location == "/s/thanks", resent.text[:2000]
    assert cecilia_again.status == 302 and cecilia_again.location == "/s/thanks"
    assert thanks.status == 200 and "Dina svar är sparade" in thanks.text
    assert bo_after.status == 200 and "Vilka områden bör kommunen prioritera" in bo_after.text

    with Session(engine) as session:
        stored = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)).all()
        assert len(stored) == 2, "Anna's and Cecilia's, once each"
        by_text = {r.answers["synpunkter"]: r.answers for r in stored}
        assert set(by_text) == {TYPED["synpunkter"], CECILIA["synpunkter"]}
        assert by_text[TYPED["synpunkter"]]["prioriteringar"] == TYPED["prioriteringar"]
        assert by_text[TYPED["synpunkter"]]["rekommendera"] == 7
        assert by_text[TYPED["synpunkter"]]["transport"] == "bil"
        assert by_text[CECILIA["synpunkter"]]["prioriteringar"] == CECILIA["prioriteringar"]
        assert len(session.scalars(select(AnswerDraft)).all()) == 1, "Bo's draft is still there"
    engine.dispose()
