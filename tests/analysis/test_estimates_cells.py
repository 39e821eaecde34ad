"""The cell-level variance path gives the numbers of the row-level one.

For designs made by analysis.weighting, estimation residualizes from sums over
(weighting cell x domain x answer) groups (``SurveyDesign.cell_form``) instead
of n x columns influence matrices. Wrapping the same adjustments in an object
that only offers ``residualize`` forces the row-level path; both must agree to
rounding for every weighting method and option that changes the adjustments
(base weights, dropped rows, uncovered categories, trimming), for missing
answers and domains with missing values. The R comparisons of both paths are
in test_estimates_reference.py and test_weighting_uncovered.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import analysis.design as design_module
from analysis.design import SurveyDesign
from analysis.estimates import Question, estimate_report, survey_mean, survey_proportions, survey_total
from analysis.weighting import Trim, weight

GENDERS = ["kvinna", "man"]
AGES = ["16-29", "30-49", "50-64", "65+"]
DISTRICTS = ["0180", "0181", "0182", "0183"]
QUESTIONS = [
    Question.single_choice("q1", categories=["ja", "nej", "vet ej", "aldrig"]),
    Question.numeric("q2"),
    Question.multiple_choice("q3", {"buss": "q3_bus", "cykel": "q3_bike"}),
]


@dataclass(frozen=True, eq=False)
class RowsOnly:
    """The same adjustment seen only through ``residualize`` (no cell form)."""

    adjustment: Any

    def residualize(self, x: np.ndarray) -> np.ndarray:
        return self.adjustment.residualize(x)  # type: ignore[no-any-return]


def _panel(n: int = 500, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "gender": rng.choice(GENDERS + ["annan"], n, p=[0.52, 0.45, 0.03]),
        "age_group": rng.choice(AGES, n, p=[0.2, 0.3, 0.3, 0.2]),
        "district": rng.choice(DISTRICTS, n, p=[0.4, 0.3, 0.2, 0.1]),
        "q1": pd.Series(rng.choice(["ja", "nej", "vet ej"], n, p=[0.5, 0.35, 0.15]), dtype=object),
        "q2": rng.integers(1, 6, n).astype(float),
        "q3_bus": rng.integers(0, 2, n).astype(float),
        "q3_bike": rng.integers(0, 2, n).astype(float),
        "base": rng.uniform(0.5, 2.0, n),
        "area": pd.Series(rng.choice(["inner", "outer"], n), dtype=object),
    })
    frame.loc[rng.random(n) < 0.08, "q1"] = None
    frame.loc[rng.random(n) < 0.05, "q2"] = np.nan
    frame.loc[rng.random(n) < 0.1, ["q3_bus", "q3_bike"]] = np.nan
    frame.loc[rng.random(n) < 0.05, "area"] = None  # counts in the overall estimates only
    frame["q2_filled"] = rng.integers(1, 6, n).astype(float)
    return frame


def _targets(seed: int = 5) -> dict[Any, pd.Series]:
    rng = np.random.default_rng(seed)
    index = pd.MultiIndex.from_product([DISTRICTS, GENDERS])
    district_gender = pd.Series(rng.integers(2000, 6000, len(index)).astype(float), index=index)
    total = district_gender.sum()
    age = pd.Series([0.2, 0.35, 0.25, 0.2], index=AGES) * total
    return {"age_group": age, ("district", "gender"): district_gender}


def _cases() -> dict[str, tuple[pd.DataFrame, SurveyDesign]]:
    frame, targets = _panel(), _targets()
    covered = frame[frame["gender"] != "annan"].reset_index(drop=True)
    with_missing = covered.copy()
    with_missing.loc[[3, 17], "age_group"] = None
    cases = {
        "rake": (covered, weight(covered, targets, "rake").design),
        "rake with base weights": (covered, weight(covered, targets, "rake", weights="base").design),
        "rake, uncovered": (frame, weight(frame, targets, "rake").design),
        "rake, uncovered, base weights": (frame, weight(frame, targets, "rake", weights="base").design),
        "poststratify": (covered, weight(covered, {("district", "gender"): targets[("district", "gender")]},
                                         "poststratify", weights="base").design),
        "linear": (covered, weight(covered, targets, "linear").design),
        # a numeric auxiliary: every respondent is a calibration row of its own
        "linear with a numeric total": (covered, weight(
            covered, {**targets, "q2_filled": float(targets["age_group"].sum() * 3.1)}, "linear").design),
        "raking_ratio with bounds": (covered, weight(covered, targets, "raking_ratio", bounds=(0.05, 20.0)).design),
        "rake, dropped rows": (with_missing, weight(with_missing, targets, "rake", drop_unmatched=True).design),
        "rake, trimmed": (covered, weight(covered, targets, "rake", trim=Trim(upper=2.5, relative_to="mean")).design),
        "rake, trimmed and reweighted": (covered, weight(
            covered, targets, "rake", trim=Trim(upper=2.8, relative_to="mean", reweight=True)).design),
    }
    return cases


CASES = _cases()
CELL_FORM = [name for name in CASES]


def _rows_only(design: SurveyDesign) -> SurveyDesign:
    return SurveyDesign(design.weights, tuple(RowsOnly(a) for a in design.adjustments))


def _assert_same(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    assert (fast["flag"] == slow["flag"]).all()
    for column in ("estimate", "weighted_n", "n", "count", "df"):
        np.testing.assert_allclose(fast[column], slow[column], rtol=1e-12, equal_nan=True)
    for column in ("se", "ci_low", "ci_high", "deff"):
        np.testing.assert_allclose(fast[column], slow[column], rtol=1e-9, atol=1e-13, equal_nan=True)


@pytest.mark.parametrize("name", CELL_FORM)
def test_report_from_cell_sums_equals_report_from_rows(name: str) -> None:
    data, design = CASES[name]
    assert design.cell_form is not None
    assert _rows_only(design).cell_form is None
    by = ["district", "gender", "area"]
    fast = estimate_report(data, design, QUESTIONS, by=by)
    slow = estimate_report(data, _rows_only(design), QUESTIONS, by=by)
    _assert_same(fast, slow)
    assert (fast["se"] > 0).sum() > len(fast) / 2


@pytest.mark.parametrize("name", ["rake with base weights", "rake, uncovered", "poststratify"])
def test_single_variable_functions_from_cell_sums(name: str) -> None:
    data, design = CASES[name]
    slow = _rows_only(design)
    domain = (data["district"] == "0181").to_numpy()
    for fast_est, slow_est in [
        (survey_mean(data["q2"], design), survey_mean(data["q2"], slow)),
        (survey_mean(data["q3_bus"], design, domain=domain, ci_method="logit"),
         survey_mean(data["q3_bus"], slow, domain=domain, ci_method="logit")),
        (survey_total(data["q2"], design, domain=domain), survey_total(data["q2"], slow, domain=domain)),
    ]:
        assert fast_est.estimate == pytest.approx(slow_est.estimate, rel=1e-12)
        assert fast_est.se == pytest.approx(slow_est.se, rel=1e-9)
        assert fast_est.flag == slow_est.flag
    fast_table = survey_proportions(data["q1"], design, domain=domain)
    slow_table = survey_proportions(data["q1"], slow, domain=domain)
    np.testing.assert_allclose(fast_table["se"], slow_table["se"], rtol=1e-9)


def test_composed_operator_equals_the_adjustments_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small tables compose the adjustments into one matrix; large ones apply them in turn."""
    for name in ("rake with base weights", "rake, trimmed and reweighted", "linear"):
        data, design = CASES[name]
        composed = estimate_report(data, design, QUESTIONS, by=["district"])
        monkeypatch.setattr(design_module, "_OPERATOR_CELLS", 0)
        in_turn = estimate_report(data, SurveyDesign(design.weights, design.adjustments), QUESTIONS,
                                  by=["district"])
        monkeypatch.undo()
        _assert_same(composed, in_turn)


def test_no_cell_form_when_the_weights_are_not_those_of_the_cells() -> None:
    data, design = CASES["rake"]
    jitter = design.weights * np.linspace(0.99, 1.01, design.n)
    changed = SurveyDesign(jitter, design.adjustments)
    assert changed.cell_form is None
    # ... and the report still comes, through the rows
    _assert_same(estimate_report(data, changed, QUESTIONS), estimate_report(data, _rows_only(changed), QUESTIONS))


def test_a_calibration_target_is_still_known_without_sampling_error() -> None:
    """The population share of a weighting category has se 0 (flag calibrated) on both paths."""
    data, design = CASES["rake"]
    fast = survey_proportions(data["age_group"], design)
    slow = survey_proportions(data["age_group"], _rows_only(design))
    assert (fast["flag"] == "calibrated").all() and (slow["flag"] == "calibrated").all()
