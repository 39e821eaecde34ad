"""Answering rules that need no pages: when a survey is open, links, limits, snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from panel.models import District, Member
from surveys.answering import services
from surveys.answering.models import AnswerDraft
from surveys.definition import parse_definition
from surveys.models import Survey
from tests.surveys.answering.builders import TWO_PAGES, example_definition

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(("status", "opens", "closes", "expected"), [
    ("open", None, None, "open"),
    ("open", NOW - HOUR, NOW + HOUR, "open"),
    ("open", NOW + HOUR, None, "not_yet_open"),
    ("open", None, NOW - HOUR, "closed"),
    ("open", None, NOW, "closed"),  # the closing time itself is closed
    ("scheduled", NOW - HOUR, None, "open"),  # due, even if nobody has flipped the status yet
    ("scheduled", NOW + HOUR, None, "not_yet_open"),
    ("scheduled", None, None, "not_yet_open"),
    ("draft", None, None, "not_yet_open"),
    ("closed", None, NOW + HOUR, "closed"),
])
def test_when_a_survey_takes_answers(status, opens, closes, expected):
    survey = Survey(status=status, opens_at=opens, closes_at=closes)
    assert services.phase(survey, NOW) == expected


@pytest.mark.parametrize("token", ["", "a" * 31, "a" * 65, "a" * 42 + "=", "a" * 42 + "/", "å" * 43, None, 43])
def test_malformed_tokens(token):
    assert not services.is_well_formed(token)


def test_a_real_token_is_well_formed():
    import secrets

    assert all(services.is_well_formed(secrets.token_urlsafe(32)) for _ in range(50))


def test_the_age_band_is_that_of_the_age_attained_in_the_year_of_the_invitation():
    member = Member(gender="man", birth_year=2010, district=District(code="0980", name="Visby"))
    new_year = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)  # already 2026 in Stockholm
    assert services.snapshot(member, new_year) == ("man", "16-24", "0980")
    last_year = datetime(2025, 12, 31, 22, 30, tzinfo=timezone.utc)  # 23:30 on 31 December in Stockholm
    assert services.snapshot(member, last_year)[1] == "-"  # 15: below the bands


def test_pages_are_reachable_in_order_and_done_while_they_show_the_same_questions():
    defn = parse_definition(example_definition())
    vardag, biblioteken, prioriteringar = defn.pages
    draft = AnswerDraft(answers={}, pages_done={}, page_key=None)
    assert services.is_reachable(defn, vardag, draft)
    assert not services.is_reachable(defn, prioriteringar, draft)
    assert services.resume_page(defn, draft) == vardag

    target = services.save_page(draft, defn, vardag, {"transport": "buss", "trygghet_kvall": 3, "bibliotek": "yes"},
                                now=NOW)
    assert target == biblioteken and services.resume_page(defn, draft) == biblioteken
    assert not services.is_reachable(defn, prioriteringar, draft)
    assert services.save_page(draft, defn, biblioteken, {"bibliotek_nojdhet": None, "bibliotek_besok": None},
                              now=NOW) == prioriteringar
    assert services.save_page(draft, defn, prioriteringar, {"prioriteringar": ["skola"]}, now=NOW) is None

    # Going back and answering "no" hides the library page: its answers go, nothing is left to do.
    assert services.save_page(draft, defn, vardag, {"transport": "bil", "trygghet_kvall": 3, "bibliotek": "no"},
                              now=NOW) == prioriteringar
    assert "bibliotek_besok" not in draft.answers
    # The bus question was shown while saving "prioriteringar"; now it is hidden, so the
    # page shows other questions than when it was saved and is not done any more.
    assert not services.is_done(defn, prioriteringar, draft)
    assert services.first_unfinished(defn, draft) == prioriteringar


def test_the_last_page_is_the_one_after_which_no_page_can_show():
    defn = parse_definition(example_definition())
    draft = AnswerDraft(answers={}, pages_done={})
    assert not services.is_last(defn, defn.pages[0], draft)
    assert services.is_last(defn, defn.pages[2], draft)
    assert services.page_position(defn, defn.pages[0], draft) == (1, 3)
    draft.answers = {"transport": "bil", "trygghet_kvall": 3, "bibliotek": "no"}
    assert services.page_position(defn, defn.pages[2], draft) == (2, 2)


def test_limits_grow_with_the_page():
    defn = parse_definition(TWO_PAGES)
    first, second = defn.pages
    assert services.value_limit(defn, first, {}) == 2 + 1 + 1  # controls, choice, text
    # 8 KiB, 64 bytes per value, 12 bytes per character of free text (50 and 300 allowed).
    assert services.body_limit(defn, first, {}) == 8192 + 64 * 4 + 12 * 50
    assert services.body_limit(defn, second, {}) == 8192 + 64 * 3 + 12 * 300


def test_the_chosen_language_must_be_one_of_the_survey():
    defn = parse_definition(TWO_PAGES)
    assert services.language_for(defn, "en", "sv") == "en"
    assert services.language_for(defn, "ar", "en") == "en"
    assert services.language_for(defn, None, "fi") == "sv"


def test_unfinished_answers_of_closed_surveys_and_of_members_who_left_are_purged(app, runner, session):
    from panel.db import utcnow
    from tests.surveys.answering.builders import invite, make_survey

    open_survey = make_survey(session, TWO_PAGES)
    old_survey = make_survey(session, TWO_PAGES, status="closed", closes_at=utcnow() - timedelta(days=31))
    recent = make_survey(session, TWO_PAGES, status="closed", closes_at=utcnow() - timedelta(days=2))
    kept, _t = invite(session, open_survey)
    left, _t = invite(session, open_survey)
    stale, _t = invite(session, old_survey)
    grace, _t = invite(session, recent)
    for invitation in (kept, left, stale, grace):
        session.add(AnswerDraft(invitation_id=invitation.id, language="sv", answers={"farg": "rod"}, pages_done={}))
    session.commit()
    session.delete(session.get(Member, left.member_id))
    session.commit()

    result = runner.invoke(args=["answering", "purge-drafts"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 unfinished answer drafts" in result.output
    session.expire_all()
    assert set(session.scalars(select(AnswerDraft.invitation_id))) == {kept.id, grace.id}


def test_completing_in_an_orm_session_as_the_demo_does(app, session):
    """complete() is written in Core statements for the pages' connection; the demo calls it
    with its ORM session and objects, after start() and save_page() on an ORM draft."""
    from panel.db import utcnow
    from surveys.answering.models import Completion, SurveyResponse
    from surveys.fielding.models import Invitation
    from tests.surveys.answering.builders import invite, make_survey

    survey = make_survey(session, TWO_PAGES, anonymous=False)
    invitation, _token = invite(session, survey)
    session.commit()
    defn, now = parse_definition(TWO_PAGES), utcnow()
    draft = services.start(session, invitation, language="en", now=now)
    assert services.save_page(draft, defn, defn.pages[0], {"farg": "rod", "namn": None}, now=now) == defn.pages[1]
    assert services.save_page(draft, defn, defn.pages[1], {"tycker": "Bra"}, now=now) is None
    response_id = services.complete(session, invitation, draft, defn, anonymous=False, now=now)
    session.commit()

    assert invitation.completed_at == now  # the ORM object knows, without a second UPDATE
    session.expire_all()
    response = session.get(SurveyResponse, response_id)
    assert response.answers == {"farg": "rod", "namn": None, "tycker": "Bra"} and response.language == "en"
    assert (response.invitation_id, response.member_id) == (invitation.id, invitation.member_id)
    assert session.get(AnswerDraft, invitation.id) is None and session.get(Completion, invitation.id) is not None
    assert session.get(Invitation, invitation.id).completed_at is not None
    with pytest.raises(services.AlreadyAnswered):
        services.complete(session, invitation, draft, defn, anonymous=False, now=now)
    session.rollback()
