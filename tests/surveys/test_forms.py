import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from flask import render_template_string, request
from werkzeug.datastructures import MultiDict

from panel.app import create_app
from surveys.forms import (
    build_page_form,
    clean_answers,
    next_page,
    parse_whole_number,
    previous_page,
    prune_answers,
    visible_pages,
    visible_questions,
)

@pytest.fixture(scope="module")
def app():
    """Forms need a request context but no database: one app for the whole module."""
    return create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": "sqlite://"})


FIRST = {"transport": "buss", "trygghet_kvall": "4", "bibliotek": "yes"}


def submit(app, defn, page_key, data, answers=None, language="sv"):
    """POST ``data`` to a page form; return (valid, errors by field name, answers or None)."""
    with app.test_request_context(method="POST", data=MultiDict(data)):
        form = build_page_form(defn, defn.page(page_key), language, answers or {}, request.form,
                               meta={"csrf": False})
        valid = form.validate()
        errors = {field.name: field.errors for field in form if field.errors}
        if form.form_errors:
            errors[None] = form.form_errors
        return valid, errors, clean_answers(form) if valid else None


def test_first_page_answers_have_json_shapes(app, example):
    valid, errors, answers = submit(app, example, "vardag", FIRST)
    assert valid, errors
    assert answers == {"transport": "buss", "trygghet_kvall": 4, "bibliotek": "yes"}
    json.dumps(answers)


def test_required_questions_say_what_is_missing(app, example):
    valid, errors, _ = submit(app, example, "vardag", {})
    assert not valid
    assert errors == {"transport": ["Välj ett alternativ."], "trygghet_kvall": ["Välj ett alternativ."],
                      "bibliotek": ["Välj ett alternativ."]}


def test_scale_accepts_dont_know(app, example):
    valid, _errors, answers = submit(app, example, "vardag", {**FIRST, "trygghet_kvall": "dont_know"})
    assert valid and answers["trygghet_kvall"] == "dont_know"


@pytest.mark.parametrize("field, value", [
    ("transport", "flyg"), ("transport", ""), ("trygghet_kvall", "6"), ("trygghet_kvall", "0"),
    ("bibliotek", "kanske"), ("trygghet_kvall", "4.0"),
])
def test_values_that_are_not_offered_are_rejected(app, example, field, value):
    valid, errors, _ = submit(app, example, "vardag", {**FIRST, field: value})
    assert not valid and field in errors


def test_two_values_for_a_one_value_question_are_rejected(app, example):
    valid, errors, _ = submit(app, example, "vardag", {**FIRST, "transport": ["bil", "buss"]})
    assert not valid and errors["transport"] == ["Välj bara ett alternativ."]


def test_fields_for_unknown_or_hidden_questions_are_rejected(app, example):
    valid, errors, _ = submit(app, example, "vardag", {**FIRST, "admin": "1"})
    assert not valid and "fält som inte finns på den här sidan" in errors[None][0]
    # buss_forbattring only shows to those who go by bus
    page3 = {"prioriteringar": ["skola"], "buss_forbattring": "Fler turer"}
    valid, errors, _ = submit(app, example, "prioriteringar", page3, answers={"transport": "bil"})
    assert not valid and None in errors
    valid, errors, answers = submit(app, example, "prioriteringar", page3, answers={"transport": "buss"})
    assert valid, errors
    assert answers["buss_forbattring"] == "Fler turer"


def test_a_field_of_another_page_is_rejected(app, example):
    valid, errors, _ = submit(app, example, "vardag", {**FIRST, "synpunkter": "hej"})
    assert not valid and None in errors


def test_matrix_has_one_radio_group_per_item(app, example):
    data = {"bibliotek_nojdhet-oppettider": "5", "bibliotek_nojdhet-utbud": "dont_know"}
    valid, errors, answers = submit(app, example, "biblioteken", data, answers=FIRST)
    assert valid, errors
    assert answers == {"bibliotek_nojdhet": {"oppettider": 5, "utbud": "dont_know"}, "bibliotek_besok": None}
    valid, errors, _ = submit(app, example, "biblioteken", {"bibliotek_nojdhet-utbud": "7"}, answers=FIRST)
    assert not valid and "bibliotek_nojdhet-utbud" in errors
    valid, errors, _ = submit(app, example, "biblioteken", {"bibliotek_nojdhet-lokaler": "3"}, answers=FIRST)
    assert not valid and None in errors


@pytest.mark.parametrize("typed, expected", [
    ("12", 12), (" 365 ", 365), ("1", 1), ("٣", 3),
])
def test_numbers_within_range(app, example, typed, expected):
    valid, errors, answers = submit(app, example, "biblioteken", {"bibliotek_besok": typed}, answers=FIRST)
    assert valid, errors
    assert answers["bibliotek_besok"] == expected


@pytest.mark.parametrize("typed, message", [
    ("0", "Skriv ett heltal mellan 1 och 365."),
    ("366", "Skriv ett heltal mellan 1 och 365."),
    ("12,5", "Skriv ett heltal, till exempel 12."),
    ("tolv", "Skriv ett heltal, till exempel 12."),
    ("=1+1", "Skriv ett heltal, till exempel 12."),
    ("9" * 40, "Skriv ett heltal, till exempel 12."),
])
def test_numbers_out_of_range_or_not_numbers(app, example, typed, message):
    valid, errors, _ = submit(app, example, "biblioteken", {"bibliotek_besok": typed}, answers=FIRST)
    assert not valid and errors["bibliotek_besok"] == [message]


def test_parse_whole_number():
    assert parse_whole_number("1 000") == 1000
    assert parse_whole_number("\u22123") == -3
    assert parse_whole_number("+4") == 4
    assert parse_whole_number("") is None and parse_whole_number("1e3") is None and parse_whole_number(None) is None


PAGE3 = {"prioriteringar": ["skola", "miljo"], "rekommendera": "10"}


def test_multiple_choice_keeps_option_order_and_respects_limits(app, example):
    valid, errors, answers = submit(app, example, "prioriteringar", {**PAGE3, "prioriteringar": ["miljo", "skola"]})
    assert valid, errors
    assert answers["prioriteringar"] == ["skola", "miljo"]
    assert answers["rekommendera"] == 10 and answers["synpunkter"] is None
    too_many = ["skola", "aldreomsorg", "kollektivtrafik", "miljo"]
    valid, errors, _ = submit(app, example, "prioriteringar", {**PAGE3, "prioriteringar": too_many})
    assert errors["prioriteringar"] == ["Välj högst 3 alternativ."]
    valid, errors, _ = submit(app, example, "prioriteringar", {**PAGE3, "prioriteringar": []})
    assert errors["prioriteringar"] == ["Välj minst ett alternativ."]
    valid, errors, _ = submit(app, example, "prioriteringar", {**PAGE3, "prioriteringar": ["skola", "skola"]})
    assert errors["prioriteringar"] == ["Välj bland alternativen."]
    valid, errors, _ = submit(app, example, "prioriteringar", {**PAGE3, "prioriteringar": ["skola", "flygplats"]})
    assert errors["prioriteringar"] == ["Välj bland alternativen."]


def test_other_text_goes_with_choosing_other(app, example):
    # typed without ticking: multiple choice ticks it, single choice with nothing chosen too
    valid, errors, answers = submit(app, example, "prioriteringar",
                                    {**PAGE3, "prioriteringar-other": "Badhus"})
    assert valid, errors
    assert answers["prioriteringar"] == ["skola", "miljo", "other"] and answers["prioriteringar-other"] == "Badhus"
    valid, errors, answers = submit(app, example, "vardag", {**FIRST, "transport": [], "transport-other": "Båt"})
    assert valid, errors
    assert answers["transport"] == "other" and answers["transport-other"] == "Båt"
    # ticked without text, or text with another single choice: say so
    valid, errors, _ = submit(app, example, "vardag", {**FIRST, "transport": "other"})
    assert errors["transport-other"] == ["Skriv vad du menar med ”Annat, nämligen”."]
    valid, errors, _ = submit(app, example, "vardag", {**FIRST, "transport-other": "Båt"})
    assert "Välj ”Annat, nämligen” eller töm fältet" in errors["transport-other"][0]


def test_free_text_is_stored_as_text(app, example):
    payload = '<script>alert("x")</script> =HYPERLINK("http://evil") \x00\r\nrad två'
    valid, errors, answers = submit(app, example, "prioriteringar", {**PAGE3, "synpunkter": payload})
    assert valid, errors
    assert answers["synpunkter"] == '<script>alert("x")</script> =HYPERLINK("http://evil") \nrad två'


def test_over_long_text_is_refused_with_its_length(app, example):
    valid, errors, _ = submit(app, example, "prioriteringar", {**PAGE3, "synpunkter": "x" * 2001})
    assert errors["synpunkter"] == ["Texten får vara högst 2000 tecken lång. Nu är den 2001 tecken."]
    valid, _errors, _ = submit(app, example, "prioriteringar", {**PAGE3, "synpunkter": "x" * 2000})
    assert valid


def test_labels_follow_the_survey_language(app, example):
    with app.test_request_context():
        form = build_page_form(example, example.pages[0], "ar", {})
        html = render_template_string('{% from "surveys/_questions.html" import render_survey_page %}'
                                      '{{ render_survey_page(form) }}', form=form)
    assert "كيف تذهب عادةً إلى العمل أو المدرسة؟" in html
    assert "1 – غير آمن إطلاقاً" in html
    assert "Hur tar du dig" not in html


def test_resuming_fills_in_earlier_answers(app, example):
    answers = {"transport": "other", "transport-other": "Båt", "trygghet_kvall": "dont_know", "bibliotek": "no"}
    with app.test_request_context():
        form = build_page_form(example, example.pages[0], "sv", answers)
        html = render_template_string('{% from "surveys/_questions.html" import render_survey_page %}'
                                      '{{ render_survey_page(form) }}', form=form)
    assert '<input checked id="q-transport-4" name="transport" required type="radio" value="other">' in html
    assert '<input checked id="q-trygghet_kvall-5"' in html and '<input checked id="q-bibliotek-1"' in html
    assert html.count(" checked ") == 3
    assert 'value="Båt"' in html


def test_rendered_groups_have_fieldset_legend_and_linked_errors(app, example):
    with app.test_request_context(method="POST", data={}):
        form = build_page_form(example, example.pages[0], "sv", {}, request.form, meta={"csrf": False})
        form.validate()
        html = render_template_string('{% from "surveys/_questions.html" import render_survey_page %}'
                                      '{{ render_survey_page(form) }}', form=form)
    assert html.count("<fieldset") == 3 and html.count("<legend>") == 3
    assert '<a href="#q-transport-0">' in html  # the error summary links to the first radio
    assert 'aria-describedby="q-trygghet_kvall-hint q-trygghet_kvall-error"' in html
    assert 'id="q-trygghet_kvall-error"' in html


# --- conditions and page order ------------------------------------------------------------


def test_pages_and_questions_follow_conditions(example):
    by_bus_no_library = {"transport": "buss", "bibliotek": "no"}
    assert [p.key for p in visible_pages(example, by_bus_no_library)] == ["vardag", "prioriteringar"]
    assert "buss_forbattring" in [q.key for q in visible_questions(example, example.pages[2], by_bus_no_library)]
    by_car_with_library = {"transport": "bil", "bibliotek": "yes"}
    assert [p.key for p in visible_pages(example, by_car_with_library)] == ["vardag", "biblioteken", "prioriteringar"]
    assert "buss_forbattring" not in [q.key for q in visible_questions(example, example.pages[2], by_car_with_library)]
    assert next_page(example, example.pages[0], by_bus_no_library).key == "prioriteringar"
    assert previous_page(example, example.pages[2], by_bus_no_library).key == "vardag"
    assert next_page(example, example.pages[2], by_bus_no_library) is None
    assert next_page(example, None, {}).key == "vardag"


def test_prune_drops_answers_that_became_hidden(example):
    answers = {"transport": "bil", "transport-other": "stale", "bibliotek": "no",
               "bibliotek_nojdhet": {"utbud": 3}, "buss_forbattring": "Fler turer", "unknown": 1}
    assert prune_answers(example, answers) == {"transport": "bil", "bibliotek": "no"}
    answers = {"transport": "other", "transport-other": "Båt", "bibliotek": "yes", "bibliotek_besok": 3}
    assert prune_answers(example, answers) == answers


NAMES = ["transport", "transport-other", "trygghet_kvall", "bibliotek", "bibliotek_nojdhet-utbud",
         "bibliotek_besok", "prioriteringar", "prioriteringar-other", "synpunkter", "nav", "x", ""]
junk = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["other", "dont_know", "1", "5", "yes", "skola", "-1", "1e9", "\x00", "<script>", "=1+1"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.sampled_from(["vardag", "biblioteken", "prioriteringar"]),
       data=st.lists(st.tuples(st.sampled_from(NAMES), junk), max_size=12),
       answers=st.fixed_dictionaries({}, optional={"transport": st.sampled_from(["buss", "bil"]),
                                                   "bibliotek": st.sampled_from(["yes", "no"])}))
def test_any_submission_is_validated_without_crashing(app, example, page, data, answers):
    valid, errors, cleaned = submit(app, example, page, data, answers=answers)
    assert valid == (not errors)
    if valid:
        json.dumps(cleaned)
        assert set(cleaned) <= {q.key for q in example.questions()} | {"transport-other", "prioriteringar-other"}
