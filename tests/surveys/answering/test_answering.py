"""A resident answers: start, pages, resume from another session, languages, the response."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from panel.db import utcnow
from panel.models import Member
from surveys.answering.models import AnswerDraft, Completion, SurveyResponse
from surveys.fielding.models import Invitation
from tests.factories import make_district, make_member
from tests.surveys.answering.builders import (BIBLIOTEKEN, PRIORITERINGAR, TWO_PAGES, VARDAG, invite,
                                              is_checked, make_survey, start, submit, token_on)


def test_answering_in_two_sessions_resumes_where_the_resident_stopped(app, client, session):
    survey = make_survey(session)
    invitation, token = invite(session, survey)
    session.commit()

    first = start(client, token)
    assert first == "/s/answer/vardag"
    response = submit(client, first, VARDAG)
    assert response.headers["Location"] == "/s/answer/biblioteken"  # the condition holds

    # Another browser (no cookie) opens the same link later.
    other = app.test_client()
    landing = other.get(f"/s/{token}").get_data(as_text=True)
    assert "Du har redan börjat svara" in landing and "Fortsätt svara" in landing
    assert start(other, token) == "/s/answer/biblioteken"
    page_one = other.get("/s/answer/vardag").get_data(as_text=True)  # earlier pages show what was saved
    assert is_checked(page_one, "transport", "buss")

    assert submit(other, "/s/answer/biblioteken", BIBLIOTEKEN).headers["Location"] == "/s/answer/prioriteringar"
    done = submit(other, "/s/answer/prioriteringar", PRIORITERINGAR)
    assert done.headers["Location"] == "/s/thanks"
    thanks = other.get("/s/thanks").get_data(as_text=True)
    assert "Tack för dina svar" in thanks and "Resultaten redovisas" in thanks  # the survey's closing text

    stored = session.scalars(select(SurveyResponse)).all()
    assert len(stored) == 1
    assert stored[0].answers == {
        "transport": "buss", "trygghet_kvall": 4, "bibliotek": "yes",
        "bibliotek_nojdhet": {"oppettider": 5, "utbud": "dont_know", "personal": 3}, "bibliotek_besok": 12,
        "prioriteringar": ["skola", "miljo"], "buss_forbattring": "Fler turer på kvällen", "rekommendera": 8,
        "synpunkter": "Bra jobbat.\nMer cykelbanor!",
    }
    assert stored[0].language == "sv"
    session.refresh(invitation)
    assert invitation.opened_at and invitation.started_at and invitation.completed_at
    assert session.get(AnswerDraft, invitation.id) is None  # answers in progress are gone
    assert session.get(Completion, invitation.id) is not None

    again = app.test_client().get(f"/s/{token}")
    assert again.status_code == 200 and "Du har redan svarat" in again.get_data(as_text=True)


def test_an_english_resident_sees_english_pages_and_the_response_says_english(client, session):
    survey = make_survey(session)
    _invitation, token = invite(session, survey, language="en")
    session.commit()

    landing = client.get(f"/s/{token}").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in landing and "Safety and services in the municipality" in landing
    first = start(client, token)
    page = client.get(first).get_data(as_text=True)
    assert "How do you usually get to work or school?" in page and '<html lang="en"' in page
    submit(client, first, {"transport": "bil", "trygghet_kvall": "2", "bibliotek": "no"})
    # The library page is skipped: "no" hides it.
    last = client.get("/s/answer/prioriteringar").get_data(as_text=True)
    assert "Which areas should the municipality prioritise" in last
    assert "What would make your bus journeys better?" not in last  # hidden: the resident drives
    assert submit(client, "/s/answer/prioriteringar", {"prioriteringar": ["kultur"]}).headers["Location"] == "/s/thanks"
    thanks = client.get("/s/thanks").get_data(as_text=True)
    assert "Thank you for your answers!" in thanks and '<html lang="en"' in thanks

    response = session.scalars(select(SurveyResponse)).one()
    assert response.language == "en"
    # Shown but skipped questions are None; questions hidden by conditions are absent.
    assert response.answers == {"transport": "bil", "trygghet_kvall": 2, "bibliotek": "no",
                                "prioriteringar": ["kultur"], "rekommendera": None, "synpunkter": None}


def test_the_resident_can_choose_another_language_of_the_survey(client, session):
    survey = make_survey(session)
    _invitation, token = invite(session, survey, language="sv")
    session.commit()

    arabic = client.get(f"/s/{token}?language=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in arabic
    first = start(client, token, language="ar")
    assert 'dir="rtl"' in client.get(first).get_data(as_text=True)
    unknown = client.get(f"/s/{token}?language=xx").get_data(as_text=True)
    assert '<html lang="sv" dir="ltr">' in unknown  # a language the survey lacks: its invitation's


def at_the_last_page(client, session) -> str:
    """A resident who has answered the first two pages of the example survey; the first page's address."""
    survey = make_survey(session)
    _invitation, token = invite(session, survey)
    session.commit()
    first = start(client, token)
    submit(client, first, VARDAG)
    submit(client, "/s/answer/biblioteken", BIBLIOTEKEN)
    return first


def test_going_back_keeps_the_page_and_changing_an_answer_drops_what_it_hid(client, session):
    first = at_the_last_page(client, session)
    back = submit(client, "/s/answer/prioriteringar", {"prioriteringar": ["skola"]}, nav="back")
    assert back.headers["Location"] == "/s/answer/biblioteken"
    assert is_checked(client.get("/s/answer/biblioteken").get_data(as_text=True), "bibliotek_nojdhet-oppettider", "5")

    # No library visits after all: the library page and its answers go away.
    submit(client, first, {**VARDAG, "bibliotek": "no"})
    page = client.get("/s/answer/prioriteringar").get_data(as_text=True)
    assert is_checked(page, "prioriteringar", "skola")  # saved when going back
    assert client.get("/s/answer/biblioteken").headers["Location"] == "/s/answer/prioriteringar"
    submit(client, "/s/answer/prioriteringar", {"prioriteringar": ["skola"], "buss_forbattring": "Tätare turer"})
    answers = session.scalars(select(SurveyResponse.answers)).one()
    assert "bibliotek_nojdhet" not in answers and "bibliotek_besok" not in answers
    assert answers["bibliotek"] == "no" and answers["buss_forbattring"] == "Tätare turer"


def test_going_back_keeps_what_was_answered_on_a_page_with_questions_left(client, session):
    at_the_last_page(client, session)
    # The required "prioriteringar" is not answered yet; the rest is kept all the same.
    back = submit(client, "/s/answer/prioriteringar", {"rekommendera": "8", "synpunkter": "Mer cykelbanor!"},
                  nav="back")
    assert back.status_code == 302 and back.headers["Location"] == "/s/answer/biblioteken"
    submit(client, "/s/answer/biblioteken", BIBLIOTEKEN)
    page = client.get("/s/answer/prioriteringar").get_data(as_text=True)
    assert is_checked(page, "rekommendera", "8") and "Mer cykelbanor!" in page
    # The page is not done: the answers cannot be sent without it.
    assert client.get("/s/answer").headers["Location"] == "/s/answer/prioriteringar"
    sent = submit(client, "/s/answer/prioriteringar", {"prioriteringar": ["skola"], "rekommendera": "8",
                                                       "synpunkter": "Mer cykelbanor!"})
    assert sent.headers["Location"] == "/s/thanks"
    answers = session.scalars(select(SurveyResponse.answers)).one()
    assert (answers["prioriteringar"], answers["rekommendera"], answers["synpunkter"]) == (
        ["skola"], 8, "Mer cykelbanor!")


def test_going_back_from_a_page_with_a_wrong_answer_shows_it_instead_of_dropping_it(client, session):
    at_the_last_page(client, session)
    too_long = "Å" * 2500  # over the question's 2,000 characters
    back = submit(client, "/s/answer/prioriteringar", {"prioriteringar": ["skola"], "synpunkter": too_long},
                  nav="back")
    assert back.status_code == 400
    page = back.get_data(as_text=True)
    assert "Rätta det som är markerat innan du går tillbaka" in page and too_long in page
    assert is_checked(page, "prioriteringar", "skola")


def test_a_resident_answering_keeps_the_session_beyond_its_lifetime(app, client, session, monkeypatch):
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=60)
    survey = make_survey(session)
    _invitation, token = invite(session, survey)
    session.commit()
    first = start(client, token)
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    clock[0] += 20  # a quarter of the lifetime has passed: the page signs the cookie again
    page = client.get(first)
    assert page.status_code == 200 and "Set-Cookie" in page.headers
    clock[0] += 50  # 70 s after the start, 50 s after the page
    saved = submit(client, first, VARDAG)
    assert saved.status_code == 302 and saved.headers["Location"] == "/s/answer/biblioteken"
    clock[0] += 61  # a session left alone for longer than its lifetime still ends
    assert client.get("/s/answer/biblioteken").status_code == 403


def test_pages_ahead_of_the_resident_cannot_be_skipped_to(client, session):
    survey = make_survey(session)
    _invitation, token = invite(session, survey)
    session.commit()
    start(client, token)
    ahead = client.get("/s/answer/prioriteringar")
    assert ahead.status_code == 302 and ahead.headers["Location"] == "/s/answer/vardag"
    posted = client.post("/s/answer/prioriteringar", data={"prioriteringar": "skola"})
    assert posted.status_code == 302 and posted.headers["Location"] == "/s/answer/vardag"
    assert client.get("/s/answer/nosuchpage").headers["Location"] == "/s/answer/vardag"
    assert session.scalar(select(func.count(SurveyResponse.id))) == 0


def test_an_anonymous_response_has_no_link_and_a_snapshot_of_the_profile_at_answer_time(client, session):
    old_district, new_district = make_district(session, code="0980"), make_district(session, code="0981")
    member = make_member(session, district=old_district, gender="kvinna", birth_year=utcnow().year - 30)
    survey = make_survey(session, TWO_PAGES)
    invitation, token = invite(session, survey, member)
    session.commit()
    # The member moves and updates the profile after being invited.
    member = session.get(Member, member.id)
    member.district_id, member.gender, member.birth_year = new_district.id, "annan", utcnow().year - 80
    session.commit()

    start(client, token)
    submit(client, "/s/answer/p1", {"farg": "rod"})
    submit(client, "/s/answer/p2", {"tycker": "Bra"})

    response = session.scalars(select(SurveyResponse)).one()
    assert (response.gender, response.age_group, response.district_code) == ("annan", "75+", "0981")
    assert response.invitation_id is None and response.member_id is None
    assert response.submitted_at.hour == 0 and response.submitted_at.minute == 0  # the day only
    invitation = session.get(Invitation, invitation.id)
    assert (invitation.gender, invitation.district_code) == ("kvinna", "0980")  # the stratum when invited
    assert invitation.completed_at is not None


def test_the_age_band_is_that_of_the_year_the_invitation_was_sent_when_answered_after_new_year(client, session):
    """Invited on 31 December, answered in January: the respondent stays in the age band
    they were drawn in (the band of the age reached in the invitation's year), as the
    population tables count them, so that design weights can follow the stratum."""
    this_year = utcnow().year
    member = make_member(session, gender="man", birth_year=this_year - 25)  # 24 last year, 25 this year
    survey = make_survey(session, TWO_PAGES)
    invitation, token = invite(session, survey, member)
    invitation.created_at = invitation.sent_at = datetime(this_year - 1, 12, 31, 12, 0, tzinfo=timezone.utc)
    invitation.age_group = "16-24"
    session.commit()

    start(client, token)
    submit(client, "/s/answer/p1", {"farg": "rod"})
    submit(client, "/s/answer/p2", {})

    response = session.scalars(select(SurveyResponse)).one()
    assert response.age_group == "16-24" == session.get(Invitation, invitation.id).age_group
    assert response.submitted_at.year == this_year


def test_an_identified_survey_says_so_and_links_the_response(client, session):
    survey = make_survey(session, TWO_PAGES, anonymous=False)
    invitation, token = invite(session, survey)
    session.commit()
    landing = client.get(f"/s/{token}").get_data(as_text=True)
    assert "Den här enkäten är inte anonym." in landing
    start(client, token)
    assert "Enkäten är inte anonym" in client.get("/s/answer/p1").get_data(as_text=True)
    submit(client, "/s/answer/p1", {"farg": "bla"})
    submit(client, "/s/answer/p2", {})
    response = session.scalars(select(SurveyResponse)).one()
    assert (response.invitation_id, response.member_id) == (invitation.id, invitation.member_id)
    assert response.answers == {"farg": "bla", "namn": None, "tycker": None}


def test_completion_counts_per_stratum(app, session):
    survey = make_survey(session, TWO_PAGES)
    north, south = make_district(session, code="0001"), make_district(session, code="0002")
    people = [make_member(session, district=north, gender="kvinna", birth_year=utcnow().year - 20),
              make_member(session, district=north, gender="man", birth_year=utcnow().year - 50),
              make_member(session, district=south, gender="kvinna", birth_year=utcnow().year - 20),
              make_member(session, district=south, gender="kvinna", birth_year=utcnow().year - 20)]
    links = [invite(session, survey, person)[1] for person in people]
    session.commit()
    for token in (links[0], links[2]):  # one in north, one in south; the last starts but stops
        client = app.test_client()
        start(client, token)
        submit(client, "/s/answer/p1", {"farg": "rod"})
        submit(client, "/s/answer/p2", {})
    client = app.test_client()
    start(client, links[3])
    submit(client, "/s/answer/p1", {"farg": "bla"})

    rows = session.execute(
        select(Invitation.district_code, Invitation.gender, Invitation.age_group,
               func.count(Invitation.id), func.count(Invitation.started_at), func.count(Invitation.completed_at))
        .group_by(Invitation.district_code, Invitation.gender, Invitation.age_group)
        .order_by(Invitation.district_code, Invitation.gender)).all()
    assert [tuple(row) for row in rows] == [("0001", "kvinna", "16-24", 1, 1, 1), ("0001", "man", "45-54", 1, 0, 0),
                                            ("0002", "kvinna", "16-24", 2, 2, 1)]
    snapshots = session.execute(select(SurveyResponse.district_code, SurveyResponse.gender,
                                       SurveyResponse.age_group).order_by(SurveyResponse.district_code)).all()
    assert [tuple(row) for row in snapshots] == [("0001", "kvinna", "16-24"), ("0002", "kvinna", "16-24")]


def test_the_landing_page_changes_nothing_but_the_opened_time(client, session):
    survey = make_survey(session, TWO_PAGES)
    invitation, token = invite(session, survey)
    session.commit()
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Börja svara" in page.get_data(as_text=True)
    invitation = session.get(Invitation, invitation.id)
    opened = invitation.opened_at
    assert opened is not None and invitation.started_at is None
    assert session.get(AnswerDraft, invitation.id) is None
    session.commit()
    client.get(f"/s/{token}")
    assert session.get(Invitation, invitation.id).opened_at == opened  # the first fetch only
    with client.session_transaction() as cookie:
        assert "respondent" not in cookie  # no respondent session from a GET


def test_the_start_button_works_over_https_without_a_referrer(app, session):
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    client = app.test_client()
    landing = client.get(f"/s/{token}", base_url="https://panel.test").get_data(as_text=True)
    response = client.post(f"/s/{token}", base_url="https://panel.test",
                           data={"csrf_token": token_on(landing), "language": "sv"})
    assert response.status_code == 302 and response.headers["Location"] == "/s/answer"
    page = client.get("/s/answer/p1", base_url="https://panel.test").get_data(as_text=True)
    posted = client.post("/s/answer/p1", base_url="https://panel.test",
                         data={"csrf_token": token_on(page), "nav": "next", "farg": "rod"})
    assert posted.headers["Location"] == "/s/answer/p2"


def test_survey_opening_and_closing_times_are_said_plainly(client, session):
    later = make_survey(session, TWO_PAGES, status="scheduled", opens_at=utcnow() + timedelta(days=2))
    closed = make_survey(session, TWO_PAGES, status="closed", closes_at=utcnow() - timedelta(days=1))
    passed = make_survey(session, TWO_PAGES, status="open", closes_at=utcnow() - timedelta(minutes=1))
    due = make_survey(session, TWO_PAGES, status="scheduled", opens_at=utcnow() - timedelta(minutes=1))
    links = {name: invite(session, survey)[1] for name, survey in
             (("later", later), ("closed", closed), ("passed", passed), ("due", due))}
    session.commit()
    page = client.get(f"/s/{links['later']}").get_data(as_text=True)
    assert "Enkäten har inte öppnat än" in page and "klockan" in page and "Börja svara" not in page
    for name in ("closed", "passed"):
        page = client.get(f"/s/{links[name]}").get_data(as_text=True)
        assert "Enkäten är stängd" in page and "Börja svara" not in page
    assert "Börja svara" in client.get(f"/s/{links['due']}").get_data(as_text=True)


def test_a_survey_that_closes_while_answering_says_so_and_keeps_the_draft(client, session):
    survey = make_survey(session, TWO_PAGES)
    invitation, token = invite(session, survey)
    session.commit()
    start(client, token)
    page = client.get("/s/answer/p1").get_data(as_text=True)
    survey.status = "closed"
    session.commit()
    closed = client.post("/s/answer/p1", data={"csrf_token": token_on(page), "nav": "next", "farg": "rod"})
    assert closed.status_code == 200 and "Enkäten är stängd" in closed.get_data(as_text=True)
    assert session.get(AnswerDraft, invitation.id) is not None
    assert session.scalar(select(func.count(SurveyResponse.id))) == 0
