"""The shortcuts the survey report takes must give the figures of the long way round:
several designs in one estimate pass, the cross-tab covariance from group sums, response
rates from counted groups and the R-indicator's pieces on distinct covariate rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import Question, SurveyDesign, estimate_report, r_indicator, response_rates, weight, weighted_crosstab
from analysis import crosstab as crosstab_module
from analysis import rindicator as rindicator_module
from analysis.estimates import estimate_reports

GENDERS = ("kvinna", "man")
BANDS = ("16-34", "35-64", "65+")
AREAS = ("A", "B", "C")


def _respondents(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "gender": rng.choice(GENDERS, size=n),
        "age_group": rng.choice(BANDS, size=n, p=[0.2, 0.4, 0.4]),
        "district": rng.choice(AREAS, size=n),
        "q1": rng.choice(["ja", "nej", "kanske"], size=n),
        "q2": rng.choice(["a", "b"], size=n),
        "scale": rng.integers(1, 6, size=n).astype(float),
        "opt_x": rng.integers(0, 2, size=n).astype(float),
        "opt_y": rng.integers(0, 2, size=n).astype(float),
    }).astype({"gender": object, "age_group": object, "district": object, "q1": object, "q2": object})
    frame.loc[rng.random(n) < 0.1, "q1"] = None
    frame.loc[rng.random(n) < 0.1, "scale"] = np.nan
    frame.loc[rng.random(n) < 0.05, "opt_x"] = np.nan
    frame.loc[rng.random(n) < 0.1, "district"] = None
    return frame


def _targets(scale: float = 1000.0) -> dict:
    return {
        "gender": pd.Series({"kvinna": 0.5 * scale, "man": 0.5 * scale}),
        "age_group": pd.Series({"16-34": 0.3 * scale, "35-64": 0.45 * scale, "65+": 0.25 * scale}),
    }


def _designs(frame: pd.DataFrame, seed: int) -> dict[str, SurveyDesign]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(1.0, 3.0, size=len(frame))
    raked = weight(frame[["gender", "age_group"]], _targets(), "rake", summary_by=None)
    with_base = weight(frame[["gender", "age_group"]], _targets(), "linear", weights=base, summary_by=None)
    cells = [(g, b) for g in GENDERS for b in BANDS]
    cross = pd.Series([100.0 + 10 * i for i in range(len(cells))], index=pd.MultiIndex.from_tuples(cells))
    post = weight(frame[["gender", "age_group"]], {("gender", "age_group"): cross}, "poststratify", weights=base,
                  summary_by=None)
    return {
        "unweighted": SurveyDesign(np.ones(len(frame))),
        "unequal": SurveyDesign(rng.uniform(0.5, 4.0, size=len(frame))),
        "raked": raked.design,
        "linear with base weights": with_base.design,
        "post-stratified with base weights": post.design,
    }


QUESTIONS = [Question.single_choice("q1", "q1", ["ja", "nej", "kanske"]), Question.single_choice("q2"),
             Question.numeric("scale"), Question.multiple_choice("opt", {"x": "opt_x", "y": "opt_y"})]


def test_several_designs_in_one_pass_give_each_design_its_own_report_exactly():
    frame = _respondents(600, seed=1)
    designs = _designs(frame, seed=2)
    methods = {name: ("replace" if name == "unweighted" else "srs") for name in designs}
    together = estimate_reports(frame, designs, QUESTIONS, by=["district", "gender"], deff_method=methods)
    assert list(together) == list(designs)
    for name, design in designs.items():
        alone = estimate_report(frame, design, QUESTIONS, by=["district", "gender"], deff_method=methods[name])
        pd.testing.assert_frame_equal(together[name], alone)


def test_one_pass_with_zero_weights_keeps_each_designs_own_constant_check():
    frame = _respondents(300, seed=3)
    weights = np.ones(len(frame))
    weights[: len(frame) // 3] = 0.0  # respondents outside the figures
    frame.loc[len(frame) // 3:, "scale"] = 3.0  # constant among the weighted ones only
    designs = {"unweighted": SurveyDesign(np.ones(len(frame))), "zeros": SurveyDesign(weights)}
    together = estimate_reports(frame, designs, QUESTIONS, by=["gender"])
    for name, design in designs.items():
        pd.testing.assert_frame_equal(together[name], estimate_report(frame, design, QUESTIONS, by=["gender"]))
    flags = together["zeros"].set_index(["question", "domain_value"])["flag"]
    assert flags[("scale", "(all)")] == "zero_variance"
    assert "zero_variance" not in together["unweighted"].set_index(["question", "domain_value"])["flag"][("scale", "(all)")]


def test_estimate_reports_checks_its_input():
    frame = _respondents(50, seed=4)
    with pytest.raises(ValueError, match="at least one design"):
        estimate_reports(frame, {}, QUESTIONS)
    with pytest.raises(ValueError, match="rows but the design"):
        estimate_reports(frame, {"a": SurveyDesign(np.ones(50)), "b": SurveyDesign(np.ones(49))}, QUESTIONS)


def _covariance_by_rows(design: SurveyDesign, code: np.ndarray, k: int, p: np.ndarray, total: float) -> np.ndarray:
    n = design.n
    answered = code < k
    wa = np.where(answered, design.weights, 0.0)
    mm = np.zeros((n, k))
    mm[np.flatnonzero(answered), code[answered]] = 1.0
    r = design.residualize((mm - p) * (wa / total)[:, None])
    r = r - r.mean(axis=0)
    return (r.T @ r) * (n / (n - 1))


@pytest.mark.parametrize("name", ["unweighted", "unequal", "raked", "linear with base weights",
                                  "post-stratified with base weights"])
def test_crosstab_covariance_from_group_sums_equals_residualizing_every_row(name):
    frame = _respondents(800, seed=5)
    design = _designs(frame, seed=6)[name]
    levels = ["ja", "kanske", "nej"]
    rows = pd.Index(levels).get_indexer(frame["q1"].to_numpy(dtype=object))
    columns = pd.Index(list(GENDERS)).get_indexer(frame["gender"].to_numpy(dtype=object))
    answered = (rows >= 0) & (columns >= 0)
    k = len(levels) * len(GENDERS)
    code = np.where(answered, rows + len(levels) * columns, k)
    w = np.where(answered, design.weights, 0.0)
    total = w.sum()
    p = np.bincount(code[answered], weights=w[answered], minlength=k) / total
    grouped = crosstab_module._grouped_covariance(design, code, k, p, total)
    assert grouped is not None
    expected = _covariance_by_rows(design, code, k, p, total)
    np.testing.assert_allclose(grouped, expected, rtol=1e-9, atol=1e-15)
    # and the test statistic through the public function is finite and consistent
    table = weighted_crosstab(frame["q1"], frame["gender"], design)
    assert np.isfinite(table.test.statistic)


def test_response_rates_from_counted_groups_equal_one_row_per_invitation():
    rng = np.random.default_rng(7)
    n = 2000
    invited = pd.DataFrame({
        "gender": rng.choice(GENDERS, size=n),
        "age_group": rng.choice(list(BANDS) + [None], size=n),
        "district": rng.choice(AREAS, size=n),
        "status": rng.choice(["complete", "no_response", "ineligible", "partial"], size=n, p=[0.5, 0.4, 0.05, 0.05]),
    }).astype(object)
    one_by_one = response_rates(invited, by=["gender", "age_group", "district", ("gender", "district")])
    keys = ["gender", "age_group", "district", "status"]
    grouped = (invited.fillna({"age_group": "__none__"}).groupby(keys, sort=False).size()
               .rename("count").reset_index().replace({"age_group": {"__none__": None}}))
    counted = response_rates(grouped, by=["gender", "age_group", "district", ("gender", "district")], count="count")
    pd.testing.assert_frame_equal(counted.table, one_by_one.table)
    assert (counted.rr1, counted.invited) == (one_by_one.rr1, one_by_one.invited)
    with pytest.raises(ValueError, match="whole numbers"):
        response_rates(grouped.assign(count=grouped["count"] - 0.5), count="count")


def test_r_indicator_pieces_on_distinct_rows_equal_the_pieces_on_every_person():
    rng = np.random.default_rng(8)
    n = 3000
    invited = pd.DataFrame({"gender": rng.choice(GENDERS, size=n), "age_group": rng.choice(BANDS, size=n),
                            "district": rng.choice(AREAS, size=n)})
    invited["responded"] = (rng.random(n) < 0.3 + 0.2 * (invited["age_group"] == "65+")).astype(int)
    result = r_indicator(invited, variables=["gender", "age_group", "district"])
    X, *_ = rindicator_module._design_matrix(invited, ["gender", "age_group", "district"])
    everyone = rindicator_module._pieces(result.propensities, X, np.ones(n), design_weights=True)
    cells = rindicator_module._indicator_pieces(result.propensities, X, np.ones(n))
    for key, value in everyone.items():
        assert cells[key] == pytest.approx(value, rel=1e-9, abs=1e-15), key


def test_r_indicator_on_counted_groups_equals_one_row_per_invited_person():
    rng = np.random.default_rng(9)
    n = 4000
    invited = pd.DataFrame({"gender": rng.choice(GENDERS, size=n), "age_group": rng.choice(BANDS, size=n),
                            "district": rng.choice(AREAS, size=n)})
    invited["responded"] = (rng.random(n) < 0.25 + 0.25 * (invited["age_group"] == "65+")).astype(int)
    variables = ["gender", "age_group", "district"]
    one_by_one = r_indicator(invited, variables=variables)
    grouped = invited.groupby([*variables, "responded"]).size().rename("count").reset_index()
    counted = r_indicator(grouped, variables=variables, counts="count")
    for name in ("r", "r_adjusted", "se", "ci_low", "ci_high", "cv", "cv_se", "mean_propensity", "bias"):
        assert getattr(counted, name) == pytest.approx(getattr(one_by_one, name), rel=1e-9), name
    assert (counted.n_invited, counted.n_responded, counted.population_size) == (
        one_by_one.n_invited, one_by_one.n_responded, one_by_one.population_size)
    pd.testing.assert_frame_equal(counted.partial_variables, one_by_one.partial_variables, rtol=1e-9)
    pd.testing.assert_frame_equal(counted.partial_categories, one_by_one.partial_categories, rtol=1e-9)
    for key, value in one_by_one.variance_components.items():
        assert counted.variance_components[key] == pytest.approx(value, rel=1e-9, abs=1e-15), key
    with pytest.raises(ValueError, match="without design weights"):
        r_indicator(grouped, variables=variables, counts="count", weights=np.full(len(grouped), 2.0))
    with pytest.raises(ValueError, match="whole numbers"):
        r_indicator(grouped.assign(count=0), variables=variables, counts="count")
