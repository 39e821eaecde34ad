"""Answers a browser would never send, too much of them, payloads, and a failing database."""

from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import OperationalError

from surveys.answering import driver
from surveys.answering.models import AnswerDraft, SurveyResponse
from tests.surveys.answering.builders import VARDAG, invite, make_survey, start, submit, token_on


def draft_answers(session, invitation) -> dict:
    session.expire_all()
    return session.get(AnswerDraft, invitation.id).answers


def errors_of(response) -> str:
    assert response.status_code == 400, response.status_code
    page = response.get_data(as_text=True)
    assert 'class="error-summary"' in page
    return page


def test_options_that_do_not_exist_are_refused(respondent, session):
    page = errors_of(submit(respondent, "/s/answer/p1", {"farg": "gron"}))
    assert "Välj ett av alternativen." in page
    assert "Välj bara ett alternativ." in errors_of(submit(respondent, "/s/answer/p1", {"farg": ["rod", "bla"]}))
    assert draft_answers(session, respondent.invitation) == {}


def test_questions_that_do_not_exist_or_belong_to_another_survey_are_refused(respondent, session):
    for extra in ({"nosuchquestion": "1"}, {"transport": "bil"}, {"tycker": "from page two"}):
        page = errors_of(submit(respondent, "/s/answer/p1", {"farg": "rod", **extra}))
        assert "Svaret innehöll fält som inte finns på den här sidan" in page
    assert draft_answers(session, respondent.invitation) == {}
    # A page of another survey is not a page of this one.
    other_page = respondent.post("/s/answer/vardag", data=VARDAG)
    assert other_page.status_code == 302 and other_page.headers["Location"] == "/s/answer/p1"


def test_answers_to_hidden_questions_are_refused(client, session):
    survey = make_survey(session)
    _invitation, token = invite(session, survey)
    session.commit()
    start(client, token)
    submit(client, "/s/answer/vardag", {**VARDAG, "transport": "bil", "bibliotek": "no"})
    # The bus question shows only to bus riders; the library page only to library visitors.
    page = errors_of(submit(client, "/s/answer/prioriteringar", {"prioriteringar": "skola", "buss_forbattring": "x"}))
    assert "Svaret innehöll fält som inte finns" in page
    hidden_page = client.post("/s/answer/biblioteken", data={"bibliotek_besok": "3"})
    assert hidden_page.status_code == 302 and hidden_page.headers["Location"] == "/s/answer/prioriteringar"
    assert session.scalar(select(func.count(SurveyResponse.id))) == 0


def test_over_long_text_is_a_validation_error_and_a_huge_body_is_413(respondent, session):
    page = errors_of(submit(respondent, "/s/answer/p1", {"farg": "rod", "namn": "x" * 51}))
    assert "Texten får vara högst 50 tecken lång. Nu är den 51 tecken." in page
    assert 'value="' + "x" * 51 + '"' in page  # what was typed is still there
    token = token_on(respondent.get("/s/answer/p1").get_data(as_text=True))
    huge = respondent.post("/s/answer/p1", data={"csrf_token": token, "farg": "rod", "namn": "x" * 200_000})
    assert huge.status_code == 413
    assert draft_answers(session, respondent.invitation) == {}


def test_too_many_fields_give_413(respondent, session):
    token = token_on(respondent.get("/s/answer/p1").get_data(as_text=True))
    response = respondent.post("/s/answer/p1", data={"csrf_token": token, "nav": "next",
                                                     "farg": ["rod"] * 50, "namn": "a"})
    assert response.status_code == 413
    assert "Det du skickade var för stort" in response.get_data(as_text=True)
    assert draft_answers(session, respondent.invitation) == {}


def test_a_page_whose_form_expired_is_shown_again_with_the_answers(respondent, session):
    response = respondent.post("/s/answer/p1", data={"nav": "next", "farg": "bla", "namn": "Hej"})
    page = errors_of(response)
    assert "Sidan hade gått ut och sparades inte" in page and "CSRF" not in page
    assert 'value="Hej"' in page
    assert draft_answers(session, respondent.invitation) == {}
    resent = respondent.post("/s/answer/p1", data={"csrf_token": token_on(page), "nav": "next", "farg": "bla"})
    assert resent.headers["Location"] == "/s/answer/p2"


def test_a_database_failure_says_the_page_was_not_saved_and_keeps_the_answers(respondent, session, monkeypatch):
    token = token_on(respondent.get("/s/answer/p1").get_data(as_text=True))

    def failing_update(*args, **kwargs):
        raise OperationalError("UPDATE", {}, Exception("the database went away"))

    monkeypatch.setattr(driver, "execute", failing_update)  # the statement that saves the page
    response = respondent.post("/s/answer/p1", data={"csrf_token": token, "nav": "next", "farg": "bla",
                                                     "namn": "Mitt <svar>"})
    monkeypatch.undo()
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Sidan sparades inte" in page
    assert 'value="Mitt &lt;svar&gt;"' in page
    radio = [tag for tag in page.split("<input") if 'value="bla"' in tag][0]
    assert " checked" in radio
    assert draft_answers(session, respondent.invitation) == {}


def test_a_database_failure_on_the_last_page_stores_nothing_and_keeps_the_answers(respondent, session, monkeypatch):
    assert submit(respondent, "/s/answer/p1", {"farg": "rod"}).status_code == 302
    token = token_on(respondent.get("/s/answer/p2").get_data(as_text=True))

    def failing_commit(self):
        raise OperationalError("COMMIT", {}, Exception("the database went away"))

    monkeypatch.setattr(Connection, "commit", failing_commit)  # the transaction that stores the response
    response = respondent.post("/s/answer/p2", data={"csrf_token": token, "nav": "next", "tycker": "Mer <ljus>"})
    monkeypatch.undo()
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Sidan sparades inte" in page and "Mer &lt;ljus&gt;</textarea>" in page
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    assert draft_answers(session, respondent.invitation)["farg"] == "rod"
    assert submit(respondent, "/s/answer/p2", {"tycker": "Mer ljus"}).headers["Location"] == "/s/thanks"


PAYLOADS = ['<script>alert("x")</script>', '=HYPERLINK("http://evil.example","klicka")', "+1+1", "@SUM(A1)",
            "</textarea><img src=x onerror=alert(1)>", "-2+3"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_script_and_formula_payloads_are_stored_as_text_and_escaped(respondent, session, payload):
    assert submit(respondent, "/s/answer/p1", {"farg": "rod", "namn": payload[:50]}).status_code == 302
    assert submit(respondent, "/s/answer/p2", {"tycker": payload}, nav="back").status_code == 302
    page = respondent.get("/s/answer/p1").get_data(as_text=True)
    assert payload[:50] not in page or "<" not in payload  # never as markup
    assert html.escape(payload[:50], quote=True) in page.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")
    page_two = respondent.get("/s/answer/p2").get_data(as_text=True)
    assert "<script>alert" not in page_two and "<img src=x" not in page_two
    assert draft_answers(session, respondent.invitation) == {"farg": "rod", "namn": payload[:50], "tycker": payload}
    submit(respondent, "/s/answer/p2", {"tycker": payload})
    assert session.scalars(select(SurveyResponse.answers)).one()["tycker"] == payload


values = st.one_of(st.text(max_size=300), st.sampled_from(["rod", "bla", "", "\x00", "next", "back"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.dictionaries(st.sampled_from(["farg", "namn", "tycker", "nav", "other", "farg-other", "namn[]"]),
                            st.one_of(values, st.lists(values, max_size=4)), max_size=6),
       page=st.sampled_from(["p1", "p2", "x"]))
def test_no_input_gives_a_500(respondent, form, page):
    if not hasattr(respondent, "csrf"):  # the session's code stays the same; later pages may be gone
        respondent.csrf = token_on(respondent.get("/s/answer/p1").get_data(as_text=True))
    response = respondent.post(f"/s/answer/{page}", data={"csrf_token": respondent.csrf, **form})
    assert response.status_code in (200, 302, 400, 413), response.status_code


def test_odd_encodings_and_content_types_are_refused_plainly(respondent, session):
    import io

    csrf = token_on(respondent.get("/s/answer/p1").get_data(as_text=True))
    raw = respondent.post("/s/answer/p1", data=b"csrf_token=" + csrf.encode() + b"&farg=%ff%fe&namn=%c3%28\x00",
                          content_type="application/x-www-form-urlencoded")
    upload = respondent.post("/s/answer/p1", data={"csrf_token": csrf, "farg": (io.BytesIO(b"x" * 100), "a.txt")},
                             content_type="multipart/form-data")
    as_json = respondent.post("/s/answer/p1", json={"csrf_token": csrf, "farg": "rod"})
    assert (raw.status_code, upload.status_code, as_json.status_code) == (400, 400, 400)
    assert respondent.open("/s/answer/p1", method="PUT").status_code == 405
    assert draft_answers(session, respondent.invitation) == {}
