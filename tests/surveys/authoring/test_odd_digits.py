"""Condition values that str.isdigit() calls digits but int() cannot read ("²", "--5").

They made int() raise a plain ValueError: a 500 on the page form and an exception other
than DefinitionError from the survey file parser (the import page catches that one).
"""

from __future__ import annotations

import pytest

from surveys.authoring import services
from surveys.definition import DefinitionError, parse_definition
from tests.surveys.authoring.test_views import BASE, fresh, make_survey, post

ODD = ["²", "--5", "٣²"]


def _definition(value: str) -> dict:
    return {"languages": ["sv"], "title": {"sv": "T"}, "pages": [
        {"key": "p1", "questions": [{"key": "s", "type": "scale", "text": {"sv": "Hur?"}, "scale": {"min": 1, "max": 5}}]},
        {"key": "p2", "questions": [{"key": "t", "type": "short_text", "text": {"sv": "Varför?"},
                                     "condition": {"question": "s", "equals": value}}]}]}


@pytest.mark.parametrize("value", ODD)
def test_the_file_parser_names_the_odd_value(value):
    with pytest.raises(DefinitionError, match="finns inte bland svaren"):
        parse_definition(_definition(value))


def test_the_file_parser_still_reads_whole_numbers_given_as_text():
    assert parse_definition(_definition("3")).pages[1].questions[0].condition.value == 3


@pytest.mark.parametrize("value", ODD)
def test_the_page_form_refuses_the_odd_value_without_a_server_error(analyst, session, example_text, value):
    survey = make_survey(session, example_text)
    response = post(analyst, f"{BASE}/{survey.id}/pages/new",
                    {"key": "extra", "title_sv": "Extra", "title_en": "Extra", "title_ar": "إضافي", "revision": "1",
                     "condition_question": "trygghet_kvall", "condition_value": value})
    assert response.status_code == 400
    assert services.definition_of(fresh(session, survey.id)).page("extra") is None
