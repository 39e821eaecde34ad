"""panel.health.messages: analysis errors told in the analyst's language, with their details."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.recruitment import RecruitmentPlanError, plan_recruitment
from analysis.targets.agebands import AgeBandMismatch, AgeBands
from analysis.weighting import ConvergenceError, WeightingInputError, rake, weight
from panel.health import messages

ENGLISH = ("respondents", "targets", "margin", "drop_unmatched", "tolerance_pp", "prior_rate", "join_history")


def _swedish_only(text: str) -> str:
    assert not any(word in text for word in ENGLISH), text
    return text


def test_weighting_without_figures_for_the_members_districts_names_them_and_says_what_to_do(app):
    members = pd.DataFrame({"district": ["N", "N", "S"], "gender": ["kvinna", "man", "man"]})
    targets = {"district": pd.Series({"X": 100, "Y": 50}), "gender": pd.Series({"kvinna": 80, "man": 70})}
    with pytest.raises(WeightingInputError) as caught:
        weight(members, targets, "rake", drop_unmatched=True)
    assert caught.value.kind == "nobody_left"
    assert {i.kind for i in caught.value.report.issues} >= {"untargeted"}
    with app.test_request_context():
        text = _swedish_only(messages.weighting_problem(caught.value, {"N": "Norr", "S": "Söder"}))
    assert "Befolkningssiffror saknas för område Norr, Söder." in text
    assert "områdeskoder" in text


def test_a_failed_convergence_gives_the_error_reached_and_advice(app):
    members = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", "p"]})
    targets = {"a": pd.Series({"x": 50, "y": 50}), "b": pd.Series({"p": 10, "q": 90})}
    with pytest.raises(ConvergenceError) as caught:
        rake(members, targets, max_iterations=3)
    error = caught.value
    assert error.method == "rake" and error.iterations == 3 and error.max_error > error.tolerance
    with app.test_request_context():
        text = _swedish_only(messages.weighting_problem(error, {}))
    assert "efter 3 varv" in text and "slå ihop små grupper" in text and "\xa0%" in text


def test_age_groups_across_the_bands_name_the_group_and_the_bands(app):
    with pytest.raises(AgeBandMismatch) as caught:
        AgeBands.parse("16-24,25-34,35+").label_for_range(20, 29)
    assert caught.value.group == "20-29" and caught.value.bands == ("16-24", "25-34")
    with app.test_request_context():
        text = _swedish_only(messages.age_bands_problem(caught.value))
    assert "20-29" in text and "16-24, 25-34" in text and "ettårsklasser" in text


def _plan(**options):
    members = pd.DataFrame({"gender": ["kvinna"] * 8 + ["man"] * 2})
    targets = {"gender": pd.Series({"kvinna": 500, "man": 500})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [0, 0], "joined": [0, 0]})
    return plan_recruitment(members, targets, history, variables=["gender"], **options)


def test_recruitment_plan_errors_carry_their_reason_and_read_as_advice(app):
    with pytest.raises(RecruitmentPlanError) as no_history:
        _plan()
    assert no_history.value.reason == "no_history"
    # as tests/analysis/test_recruitment.py: nobody joined among the men, too few residents
    members = pd.DataFrame({"gender": ["kvinna"] * 80 + ["man"] * 20})
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 0]})
    with pytest.raises(RecruitmentPlanError) as cannot:
        plan_recruitment(members, {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}, history,
                         variables=["gender"], prior_strength=0)
    assert (cannot.value.reason, cannot.value.variable, cannot.value.category) == ("cannot_recruit", "gender", "man")
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 10]})
    with pytest.raises(RecruitmentPlanError) as residents:
        plan_recruitment(members, {"gender": pd.Series({"kvinna": 5000.0, "man": 30.0})}, history,
                         variables=["gender"], new_members=2000)
    assert residents.value.reason == "not_enough_residents" and residents.value.needed > 0
    with app.test_request_context():
        assert "antagen andel" in _swedish_only(messages.plan_problem(no_history.value, {}))
        text = _swedish_only(messages.plan_problem(cannot.value, {"man": "Man"}))
        assert "kön Man" in text and "2,0 procentenheter" in text
        text = _swedish_only(messages.plan_problem(residents.value, {}))
        assert "2\xa0000 nya medlemmar" in text and "Ange färre nya medlemmar" in text


def test_unknown_errors_never_show_their_english_text(app):
    with app.test_request_context():
        for text in (messages.weighting_problem(ValueError("targets are odd"), {}),
                     messages.comparison_problem(ValueError("targets sum to zero"), ["district"]),
                     messages.r_indicator_problem(np.linalg.LinAlgError("Singular matrix")),
                     messages.plan_problem(ValueError("tolerance_pp must be ..."), {})):
            assert "odd" not in text and "zero" not in text and "Singular" not in text and text


def test_analysis_errors_are_still_value_errors_with_the_same_message():
    members = pd.DataFrame({"district": ["N"]})
    with pytest.raises(ValueError, match="no respondent is left to weight"):
        weight(members, {"district": pd.Series({"X": 1})}, "rake", drop_unmatched=True)
    with pytest.raises(ValueError, match="does not fit in one age band"):
        AgeBands.parse("16-24,25+").label_for_range(20, 29)
