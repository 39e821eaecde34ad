"""Respondents without population figures (gender "annan"): weights and SEs against R.

Regression for the bug found through ``python -m analysis estimate ... --by
gender``: the variance adjustment treated each "annan x district" group as a
post-stratum with a known population total, although that total is estimated
from the sample, so the annan domain's shares came out with ``se = 0`` and the
flag ``calibrated``. Now the uncovered rule is a set of calibration constraints
(see ``analysis.weighting._constraint_model``) and the residuals are those of
R's ``calibrate`` on exactly these constraints.

The reference (``reference/weighting_uncovered.R``, survey 4.1.1; CI has no R,
so the JSON is committed) builds the constraints in R from the raw files of the
README's worked example::

    x_gc = [district = c, gender = g] + s_gc [district = c, gender uncovered]
    calibrate(dp, ~ 0 + age_group + x_kvinna_0980R001 + ..., population, calfun = "raking")

with ``s_gc = T_gc / T_c`` and ``dp`` the equal-weights design. Weights and
SEs must agree with R to 1e-8 relative.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.estimates import Question, estimate_report, survey_proportions
from analysis.weighting import WeightingResult, calibrate, poststratify, rake, weight

HERE = Path(__file__).parent
REFERENCE = json.loads((HERE / "reference" / "weighting_uncovered.json").read_text())
RTOL = 1e-8


def _respondents() -> pd.DataFrame:
    frame = pd.read_csv(HERE / "data" / "example_respondents.csv", dtype=str, keep_default_na=False,
                        na_values=["", "NA"])
    for column in ("q2", "q3_bus", "q3_bike", "q3_car"):
        frame[column] = pd.to_numeric(frame[column])
    assert list(frame["id"]) == REFERENCE["ids"]
    return frame


def _targets() -> dict[Any, pd.Series]:
    spec = REFERENCE["targets"]
    age = pd.Series(spec["age_group"]["counts"], index=pd.Index(spec["age_group"]["labels"], dtype=object))
    cross = spec["district_gender"]
    district_gender = pd.Series(
        cross["counts"], index=pd.MultiIndex.from_arrays([cross["district"], cross["gender"]]), dtype=float
    )
    # The README's margins: --vars gender,age_group,district --margins "district*gender"
    return {
        "gender": district_gender.groupby(level=1).sum(),
        "age_group": age,
        ("district", "gender"): district_gender,
    }


FRAME = _respondents()
UNCOVERED = FRAME["gender"].eq("annan").to_numpy()


def _weighted(case: str) -> WeightingResult:
    targets = _targets()
    if case == "rake":
        return rake(FRAME, targets, tolerance=1e-12)
    if case == "raking_ratio":
        return weight(FRAME, targets, "raking_ratio", tolerance=1e-12)
    if case == "linear":
        return calibrate(FRAME, targets, calfun="linear", tolerance=1e-12)
    assert case == "poststratify"
    return poststratify(FRAME, {("district", "gender"): targets[("district", "gender")]})


R_CASE = {
    "rake": "rake_age_district_gender",
    "raking_ratio": "rake_age_district_gender",
    "linear": "linear_age_district_gender",
    "poststratify": "poststratify_district_gender",
}


@pytest.mark.parametrize("case", list(R_CASE))
def test_weights_are_r_calibrate_on_the_uncovered_constraints(case: str) -> None:
    result = _weighted(case)
    assert result.uncovered_counts == {"gender": {"annan": 4}}
    np.testing.assert_allclose(result.weights, REFERENCE["cases"][R_CASE[case]]["weights"], rtol=RTOL)


def _report(result: WeightingResult) -> pd.DataFrame:
    questions = [Question.single_choice("q1"), Question.numeric("q2"), Question.multiple_choice("q3", ["q3_bus"])]
    return estimate_report(FRAME, result.design, questions, by=["gender"])


def _pairs(case: str) -> list[tuple[str, str, float, float, pd.Series]]:
    """(domain, label, R estimate, R se, our row) for every reference number."""
    ref = REFERENCE["cases"][R_CASE[case]]
    report = _report(_weighted(case)).set_index(["question", "category", "domain_variable", "domain_value"])
    out = []

    def add(domain_variable: str, domain: str, question: str, record: dict[str, Any]) -> None:
        names = record["names"] if isinstance(record["names"], list) else [record["names"]]
        for name, estimate, se in zip(names, record["estimate"], record["se"], strict=True):
            category = {"q2": "(mean)", "q3": "q3_bus"}.get(question, name.removeprefix(question))
            row = report.loc[(question, category, domain_variable, domain)]
            out.append((domain, f"{question} {category}", estimate, se, row))

    add("(all)", "(all)", "q1", ref["overall"]["q1"])
    add("(all)", "(all)", "q2", ref["overall"]["q2"])
    for domain, records in ref["domains"].items():
        add("gender", domain, "q1", records["q1"])
        add("gender", domain, "q2", records["q2"])
        add("gender", domain, "q3", records["q3_bus"])
    return out


@pytest.mark.parametrize("case", list(R_CASE))
def test_standard_errors_are_r_calibrate_standard_errors(case: str) -> None:
    pairs = _pairs(case)
    assert {domain for domain, *_ in pairs} == {"(all)", "kvinna", "man", "annan"}
    for domain, label, estimate, se, row in pairs:
        assert row["estimate"] == pytest.approx(estimate, rel=RTOL, abs=1e-14), (domain, label)
        assert row["se"] == pytest.approx(se, rel=RTOL, abs=1e-14), (domain, label)
        if se > 0:
            assert row["flag"] == "", (domain, label, row["flag"])


def test_the_annan_domain_has_a_sampling_variance() -> None:
    """The bug as reported: se = 0 with flag "calibrated" for annan's shares."""
    report = _report(_weighted("rake"))
    annan = report[(report["domain_value"] == "annan") & (report["count"] > 0)]
    assert len(annan) == 4  # q1 ja, q1 nej (nobody chose "vet ej"), q2, q3_bus
    assert (annan["se"] > 0.1).all() and not annan["flag"].str.contains("calibrated").any()


@pytest.mark.parametrize("case", list(R_CASE))
def test_population_shares_of_the_genders(case: str) -> None:
    """svymean(~gender): the annan share is estimated, kvinna and man follow from it."""
    ref = REFERENCE["cases"][R_CASE[case]]["overall"]["gender"]
    table = survey_proportions(FRAME["gender"], _weighted(case).design, ci_method="wald").set_index("category")
    for name, estimate, se in zip(ref["names"], ref["estimate"], ref["se"], strict=True):
        row = table.loc[name.removeprefix("gender")]
        assert row["estimate"] == pytest.approx(estimate, rel=RTOL)
        assert row["se"] == pytest.approx(se, rel=RTOL)
        assert row["flag"] == ""


def test_rake_does_not_depend_on_the_order_of_the_margins() -> None:
    """Each IPF step is the I-projection on its margin's constraints, so the
    sweeps have one limit (the one R's calibrate finds) in any order."""
    targets = _targets()
    reordered = {key: targets[key] for key in reversed(list(targets))}
    np.testing.assert_allclose(rake(FRAME, reordered, tolerance=1e-12).weights,
                               rake(FRAME, targets, tolerance=1e-12).weights, rtol=1e-9)


def test_an_uncovered_respondent_gets_the_geometric_mean_of_the_covered_adjustments() -> None:
    """Post-stratification on district x gender: within a district the annan
    respondents' factor is prod_g f_g^(s_g) over kvinna and man."""
    targets = _targets()[("district", "gender")]
    factor = poststratify(FRAME, {("district", "gender"): targets}).weights  # equal base weights: w is g
    for district in FRAME.loc[UNCOVERED, "district"].unique():
        here = FRAME["district"].eq(district).to_numpy()
        shares = targets.loc[district] / targets.loc[district].sum()
        mean_log = sum(
            shares[g] * np.log(factor[here & FRAME["gender"].eq(g).to_numpy()][0]) for g in ("kvinna", "man")
        )
        assert factor[here & UNCOVERED][0] == pytest.approx(np.exp(mean_log), rel=1e-12)
