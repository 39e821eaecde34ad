"""Saving a page without locking its draft: a draft written by another tab since it was
read is never overwritten; the request is done again with the draft locked."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from panel.db import utcnow
from surveys.answering import services
from surveys.answering.models import AnswerDraft
from tests.surveys.answering.builders import TWO_PAGES, engine_of, submit, token_on

GRACE = timedelta(days=30)
SAVE_PAGE = services.save_page  # the other tab's, whatever a test puts in its place


def stored(app, invitation_id: int) -> tuple[dict, str, int]:
    with engine_of(app).connect() as connection:
        row = connection.execute(select(AnswerDraft.answers, AnswerDraft.page_key, AnswerDraft.version)
                                 .where(AnswerDraft.invitation_id == invitation_id)).one()
        return row.answers, row.page_key, row.version


def another_tab_saves_page_two(app, invitation_id: int, survey_id: int, text: str) -> None:
    """What a second tab's POST of page 2 writes, committed on its own connection."""
    defn = services.parse_definition(TWO_PAGES)
    with engine_of(app).connect() as connection:
        _link, draft = services.respondent(connection, invitation_id, survey_id, now=utcnow(), grace=GRACE,
                                           lock=True)
        SAVE_PAGE(draft, defn, defn.page("p2"), {"tycker": text}, now=utcnow())
        services.store_draft(connection, draft)
        connection.commit()


def test_a_draft_written_since_it_was_read_is_not_overwritten(app, respondent):
    invitation = respondent.invitation
    defn = services.parse_definition(TWO_PAGES)
    with engine_of(app).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        _link, draft = services.respondent(connection, invitation.id, invitation.survey_id, now=utcnow(),
                                           grace=GRACE)
        assert not draft.locked and draft.version == stored(app, invitation.id)[2]
        another_tab_saves_page_two(app, invitation.id, invitation.survey_id, "Från den andra fliken")
        services.save_page(draft, defn, defn.page("p1"), {"farg": "rod", "namn": "Ett"}, now=utcnow())
        with pytest.raises(services.SaveUnderLock):
            services.store_draft(connection, draft)
    answers, _page, _version = stored(app, invitation.id)
    assert answers == {"tycker": "Från den andra fliken"}, "nothing written over the other tab's page"


def test_a_draft_read_unchanged_is_saved_with_one_more_version(app, respondent):
    invitation = respondent.invitation
    before = stored(app, invitation.id)[2]
    assert submit(respondent, "/s/answer/p1", {"farg": "bla"}).headers["Location"] == "/s/answer/p2"
    assert submit(respondent, "/s/answer/p2", {"tycker": "Ja"}, nav="back").headers["Location"] == "/s/answer/p1"
    answers, page_key, version = stored(app, invitation.id)
    assert (answers["farg"], answers["tycker"], page_key, version) == ("bla", "Ja", "p1", before + 2)


def test_a_page_saved_in_another_tab_meanwhile_is_kept(app, respondent, monkeypatch):
    invitation = respondent.invitation
    page = respondent.get("/s/answer/p1").get_data(as_text=True)
    reads = []

    def save_page(draft, *args, **kwargs):  # between this request's read and its write ...
        reads.append(draft.locked)
        if len(reads) == 1:  # ... the other tab's page 2 is stored
            another_tab_saves_page_two(app, invitation.id, invitation.survey_id, "Från den andra fliken")
        return SAVE_PAGE(draft, *args, **kwargs)

    monkeypatch.setattr(services, "save_page", save_page)
    response = respondent.post("/s/answer/p1", data={"csrf_token": token_on(page), "nav": "next", "farg": "rod"})
    monkeypatch.undo()
    assert response.status_code == 302
    assert reads == [False, True], "done again with the draft locked"
    answers, _page, _version = stored(app, invitation.id)
    assert answers["farg"] == "rod" and answers["tycker"] == "Från den andra fliken"
    # Both pages are done now: the next page sends the answers.
    assert response.headers["Location"] in ("/s/answer/p2", "/s/thanks")


def test_a_new_language_from_the_start_button_is_not_written_back_by_an_older_read(app, respondent, session):
    invitation = respondent.invitation
    with engine_of(app).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        _link, draft = services.respondent(connection, invitation.id, invitation.survey_id, now=utcnow(),
                                           grace=GRACE)
        session.expire_all()
        services.start(session, session.merge(invitation), language="en", now=utcnow())
        session.commit()
        with pytest.raises(services.SaveUnderLock):
            services.store_draft(connection, draft)
    session.expire_all()
    assert session.get(AnswerDraft, invitation.id).language == "en"


def test_no_other_save_comes_between_a_locked_read_and_its_write(app, respondent):
    """The locked path holds the draft from its read to its commit, on SQLite (which has no
    row locks: the database's write lock) as on PostgreSQL (the row's lock)."""
    invitation_id, survey_id = respondent.invitation.id, respondent.invitation.survey_id
    defn = services.parse_definition(TWO_PAGES)
    other_started, committing = threading.Event(), threading.Event()
    other_wrote_before_commit = []

    def other_tab() -> None:  # an optimistic save of page 2, read before the locked read
        with engine_of(app).connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            _link, draft = services.respondent(connection, invitation_id, survey_id, now=utcnow(),
                                               grace=GRACE)
            ready.wait(10)
            SAVE_PAGE(draft, defn, defn.page("p2"), {"tycker": "Från den andra fliken"}, now=utcnow())
            other_started.set()
            try:
                services.store_draft(connection, draft)
            except services.SaveUnderLock:
                pass
            other_wrote_before_commit.append(not committing.is_set())

    ready = threading.Event()
    thread = threading.Thread(target=other_tab)
    thread.start()
    try:
        connection = engine_of(app).connect()
        _link, draft = services.respondent(connection, invitation_id, survey_id, now=utcnow(),
                                           grace=GRACE, lock=True)
    finally:
        ready.set()
    with connection:
        other_started.wait(10)
        time.sleep(0.3)  # time enough for the other save, were it not held back
        services.save_page(draft, defn, defn.page("p1"), {"farg": "rod", "namn": "Ett"}, now=utcnow())
        services.store_draft(connection, draft)
        committing.set()
        connection.commit()
    thread.join(30)
    assert other_wrote_before_commit == [False], "the other save waited for the locked one"
    answers, _page, _version = stored(app, invitation_id)
    assert answers == {"farg": "rod", "namn": "Ett"}, "and then found the draft changed: nothing overwritten"
