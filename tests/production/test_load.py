"""Many residents answering the same survey through gunicorn with several workers on PostgreSQL.

Afterwards every completed submission is stored exactly once and nothing else: as many
responses as completions as residents who saw the thanks page, and the stored answers are
exactly what each resident's browser sent (matched as a multiset: the responses are
anonymous, each carries a unique free-text answer). bench/load.py runs the same load for
longer and prints throughput and latency percentiles; the numbers are in the README.
"""

from __future__ import annotations

import collections
import json
import random
import threading

from sqlalchemy import func, select

from surveys.answering.models import AnswerDraft, Completion, SurveyResponse
from surveys.fielding.models import Invitation
from tests.production.harness import Browser, Gunicorn, build_survey, csrf_of, resident_plan, run_residents

RESIDENTS = 80
CONCURRENCY = 16


def canonical(answers: dict) -> str:
    return json.dumps(answers, sort_keys=True, ensure_ascii=False)


def test_many_residents_at_once_store_each_completed_response_exactly_once(app, session, database_url, instance):
    survey_id, tokens = build_survey(session, RESIDENTS)
    session.commit()
    rng = random.Random(20261122)
    work = [(token, resident_plan(rng, n)) for n, token in enumerate(tokens)]
    server = Gunicorn(database_url, instance, workers=4, threads=4)
    try:
        result = run_residents(server.port, work, CONCURRENCY)
        workers_after = server.worker_pids()
    finally:
        server.stop()
    summary = result.summary()
    print(json.dumps(summary, indent=1, ensure_ascii=False))

    assert not summary["errors"], summary["errors"]
    assert set(summary["statuses"]) <= {200, 302}, f"no 4xx/5xx under load: {summary['statuses']}"
    assert result.completed == RESIDENTS
    assert len(workers_after) == 4, "no worker died or was restarted"

    session.expire_all()
    stored = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)).all()
    completions = session.scalar(select(func.count()).select_from(Completion))
    completed_invitations = session.scalar(
        select(func.count()).where(Invitation.survey_id == survey_id, Invitation.completed_at.is_not(None)))
    assert len(stored) == completions == completed_invitations == result.completed
    assert session.scalar(select(func.count()).select_from(AnswerDraft)) == 0, "no draft left behind"
    sent = collections.Counter(canonical(plan.expected) for _token, plan in work)
    assert collections.Counter(canonical(r.answers) for r in stored) == sent, "answers as sent, each once"
    assert all(r.invitation_id is None and r.member_id is None for r in stored), "anonymous survey"


def test_fifty_simultaneous_submissions_of_one_invitation_store_one_response(app, session, database_url, instance):
    survey_id, (token,) = build_survey(session, 1)
    session.commit()
    server = Gunicorn(database_url, instance, workers=4, threads=4)
    first, browsers = Browser(server.port), []
    try:
        landing = first.get(f"/s/{token}")
        first.post(f"/s/{token}", {"csrf_token": csrf_of(landing.text), "language": "sv"})
        page = first.get("/s/answer/vardag")
        saved = first.post("/s/answer/vardag", {"csrf_token": csrf_of(page.text), "nav": "next",
                                                 "transport": "cykel", "trygghet_kvall": "4", "bibliotek": "no"})
        assert saved.location == "/s/answer/prioriteringar"

        # 50 browsers (50 sessions) opened the same link and are on the last page.
        forms = []
        for n in range(50):
            browser = Browser(server.port)
            landing = browser.get(f"/s/{token}")
            assert landing.status == 200
            assert browser.post(f"/s/{token}", {"csrf_token": csrf_of(landing.text), "language": "sv"}).status == 302
            assert browser.get("/s/answer").location == "/s/answer/prioriteringar"
            last = browser.get("/s/answer/prioriteringar")
            forms.append({"csrf_token": csrf_of(last.text), "nav": "next", "prioriteringar": ["skola"],
                          "synpunkter": f"Inlämning {n}"})
            browsers.append(browser)
        barrier = threading.Barrier(len(browsers))
        results: list[tuple[int, str, int, str] | None] = [None] * len(browsers)

        def submit(n: int) -> None:
            barrier.wait()
            posted = browsers[n].post("/s/answer/prioriteringar", forms[n])
            followed = browsers[n].get(posted.location) if posted.status == 302 else posted
            results[n] = (posted.status, posted.location, followed.status, followed.text)

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(browsers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        last_look = Browser(server.port)
        late = last_look.get(f"/s/{token}")
    finally:
        for browser in [first, *browsers, *([last_look] if "last_look" in locals() else [])]:
            browser.close()
        server.stop()

    assert all(r is not None for r in results)
    assert all(status == 302 and location == "/s/thanks" for status, location, _s, _t in results), \
        [(s, loc) for s, loc, _s, _t in results]
    assert all(status == 200 and "Dina svar är sparade" in text for _s, _l, status, text in results)
    assert late.status == 200 and "Du har redan svarat" in late.text, "the link now says: already answered"

    session.expire_all()
    stored = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)).all()
    assert len(stored) == 1, "exactly one response"
    assert session.scalar(select(func.count()).select_from(Completion)) == 1
    assert stored[0].answers["synpunkter"] in {f"Inlämning {n}" for n in range(50)}
    assert stored[0].answers["transport"] == "cykel", "the first page's answers are part of it"
