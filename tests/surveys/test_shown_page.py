"""A page as a GET shows it (surveys.forms.shown_page) is the page a bound form shows."""

from __future__ import annotations

import pytest
from flask import request
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

from panel.app import create_app
from surveys.form_html import csrf_html, questions_html
from surveys import forms
from surveys.forms import RESPONDENT_META, build_page_form, shown_page

ANSWERS = [
    {},
    {"transport": "buss", "trygghet_kvall": 4, "bibliotek": "yes"},
    {"transport": "other", "transport-other": "Moped <snabb>", "trygghet_kvall": "dont_know", "bibliotek": "no",
     "bibliotek_nojdhet": {"oppettider": 5, "utbud": "dont_know"}, "bibliotek_besok": 12,
     "prioriteringar": ["skola", "miljo"], "buss_forbattring": "Fler turer", "rekommendera": 0,
     "synpunkter": 'Rad ett\nRad "två" & <b>tre</b>'},
]


@pytest.fixture(scope="module")
def app():
    return create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": "sqlite://"})


@pytest.mark.parametrize("language", ["sv", "en", "ar"])
@pytest.mark.parametrize("answers", ANSWERS)
def test_every_page_shows_the_same_questions_as_a_bound_form(app, example, answers, language):
    with app.test_request_context(), force_locale(language):
        for page in example.pages:
            bound = build_page_form(example, page, language, answers, meta=RESPONDENT_META)
            shown = shown_page(example, page, language, answers)
            assert str(questions_html(shown)) == str(questions_html(bound)), page.key
            assert [q.key for q in shown.questions] == [q.key for q in bound.questions]
            assert not shown.errors and not shown.form_errors
    if answers.get("transport-other"):
        with app.test_request_context(), force_locale(language):
            html = str(questions_html(shown_page(example, example.pages[0], language, answers)))
            assert 'value="Moped &lt;snabb&gt;"' in html and "checked" in html


def test_its_csrf_token_is_the_sessions_and_a_post_accepts_it(app, example):
    with app.test_client() as client:
        with client.session_transaction() as cookie:
            cookie["csrf_token"] = "s" * 40
        with app.test_request_context():
            from flask import session

            session["csrf_token"] = "s" * 40
            page = example.pages[0]
            html = str(csrf_html(shown_page(example, page, "sv", {})))
            assert html.startswith('<input id="csrf_token" name="csrf_token" type="hidden" value="')
            token = html.split('value="')[1].split('"')[0]
        data = {"csrf_token": token, "transport": "bil", "trygghet_kvall": "3", "bibliotek": "no"}
        with app.test_request_context(method="POST", data=MultiDict(data)):
            from flask import session

            session["csrf_token"] = "s" * 40
            form = build_page_form(example, page, "sv", {}, request.form, meta=RESPONDENT_META)
            assert form.validate(), form.errors


@pytest.mark.parametrize("answers", ANSWERS)
def test_markup_kept_for_the_same_choices_is_the_markup_of_a_bound_form(app, example, answers):
    with app.test_request_context(), force_locale("sv"):
        for page in example.pages:
            first, again = (str(questions_html(shown_page(example, page, "sv", answers))) for _ in range(2))
            bound = str(questions_html(build_page_form(example, page, "sv", answers, meta=RESPONDENT_META)))
            assert first == again == bound, page.key


def test_other_choices_get_their_own_markup_and_typed_text_is_never_kept(app, example):
    page = example.pages[0]
    with app.test_request_context(), force_locale("sv"):
        bus = str(questions_html(shown_page(example, page, "sv", {"transport": "buss"})))
        car = str(questions_html(shown_page(example, page, "sv", {"transport": "bil"})))
        assert bus != car and bus == str(questions_html(shown_page(example, page, "sv", {"transport": "buss"})))
        for typed in ("Moped", "Traktor"):
            answers = {"transport": "other", "transport-other": typed}
            assert f'value="{typed}"' in str(questions_html(shown_page(example, page, "sv", answers)))
        visits = example.page_of("bibliotek_besok")
        answers = {"transport": "buss", "trygghet_kvall": 4, "bibliotek": "yes", "bibliotek_besok": 1234}
        assert 'value="1234"' in str(questions_html(shown_page(example, visits, "sv", answers)))
    kept = " ".join(str(markup) for markup in forms._SHOWN_MARKUP.values())
    assert "Moped" not in kept and "Traktor" not in kept and "1234" not in kept


def test_an_answer_of_another_shape_is_shown_as_a_bound_form_shows_it(app, example):
    """A draft from an earlier revision may hold, say, a matrix's answers under a key that is
    now a single choice: the page shows, and nothing is kept for it."""
    page = example.pages[0]
    answers = {"transport": {"bil": 1}}
    with app.test_request_context(), force_locale("sv"):
        shown = str(questions_html(shown_page(example, page, "sv", answers)))
        assert shown == str(questions_html(build_page_form(example, page, "sv", answers, meta=RESPONDENT_META)))
