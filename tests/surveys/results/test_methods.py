"""The methods text names exactly the variables that were used, and says when nothing was weighted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from surveys.results.document import RIndicatorSummary
from surveys.results.methods import write_methods
from tests.surveys.publication.honest import honest_document


def _text(document, lang: str) -> str:
    return " ".join(write_methods(document).paragraphs[lang])


@pytest.mark.parametrize("lang, weighted_by, same, old", [
    ("sv", "efter kön och åldersgrupp", "liknar andra invånare med samma kön och åldersgrupp.", "ålder och område"),
    ("en", "on gender and age group", "resemble other residents of the same gender and age group.",
     "age and district"),
])
def test_the_caveat_names_the_weighting_variables_not_district(lang, weighted_by, same, old):
    text = _text(honest_document(1), lang)
    assert weighted_by in text and same in text
    assert old not in text


def test_a_crossed_margin_is_named_once_per_variable_in_the_caveat():
    document = honest_document(1)
    document = replace(document, weighting=replace(document.weighting, variables=("gender × age_group", "district")))
    text = _text(document, "sv")
    assert "efter kön × åldersgrupp och område" in text
    assert "liknar andra invånare med samma kön, åldersgrupp och område." in text


@pytest.mark.parametrize("lang, said, not_said", [
    ("sv", "liknar invånarna i stort, eftersom svaren inte är viktade", ("viktningsmodellen", "samma kön")),
    ("en", "resemble the residents at large, since the answers are not weighted", ("weighted estimate", "same gender")),
])
def test_an_unweighted_report_assumes_no_weighting_model(lang, said, not_said):
    text = _text(honest_document(1, weighted=False), lang)
    assert said in text and not any(words in text for words in not_said)


def test_the_r_indicator_names_the_variables_it_was_computed_on():
    document = honest_document(1)
    indicator = RIndicatorSummary(r=0.81, r_adjusted=None, se=None, ci_low=None, ci_high=None, cv=None,
                                  mean_propensity=0.5, n_invited=120, n_responded=60, variables=("gender", "age_group"))
    document = replace(document, representativeness=replace(document.representativeness, r_indicator=indicator))
    assert "skilde sig mellan grupper efter kön och åldersgrupp)." in _text(document, "sv")
    assert "differed by gender and age group)." in _text(document, "en")
