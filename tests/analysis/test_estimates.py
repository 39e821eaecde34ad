"""Estimates: flags, input checks and properties (the R comparisons are in
test_estimates_reference.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis.estimates as estimates
from analysis.crosstab import weighted_crosstab
from analysis.design import SurveyDesign
from analysis.estimates import (
    OVERALL,
    REPORT_COLUMNS,
    Question,
    domain_difference,
    estimate_report,
    survey_mean,
    survey_proportions,
    survey_total,
)

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True, eq=False)
class Identity:
    """An adjustment that changes nothing: forces the residualize path."""

    def residualize(self, x: np.ndarray) -> np.ndarray:
        return x


@dataclass(frozen=True, eq=False)
class PostStrat:
    """R's postStratify residual (oldweights = ones scaled): x - psw * group mean of x / psw."""

    codes: np.ndarray
    weights: np.ndarray

    def residualize(self, x: np.ndarray) -> np.ndarray:
        k = int(self.codes.max()) + 1
        onehot = np.eye(k)[self.codes]
        means = (onehot.T @ (x / self.weights[:, None])) / onehot.sum(axis=0)[:, None]
        return x - means[self.codes] * self.weights[:, None]


def panel(seed: int = 7, n: int = 300) -> tuple[pd.DataFrame, SurveyDesign]:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "district": pd.Categorical(rng.choice(["Norr", "Soder", "Vaster"], n), categories=["Norr", "Soder", "Vaster", "Ö"]),
            "gender": rng.choice(["K", "M"], n),
            "q1": pd.Series(rng.choice(["ja", "nej", "vet ej"], n, p=[0.5, 0.4, 0.1]), dtype=object),
            "q2": rng.integers(1, 6, n).astype(float),
            "opt_a": rng.integers(0, 2, n).astype(float),
            "opt_b": rng.integers(0, 2, n).astype(float),
        }
    )
    data.loc[rng.random(n) < 0.1, "q1"] = None
    data.loc[rng.random(n) < 0.05, "q2"] = np.nan
    skipped = rng.random(n) < 0.1
    data.loc[skipped, ["opt_a", "opt_b"]] = np.nan
    return data, SurveyDesign(rng.uniform(20, 200, n))


QUESTIONS = [
    Question.single_choice("q1"),
    Question.numeric("q2"),
    Question.multiple_choice("fritid", {"a": "opt_a", "b": "opt_b"}),
]


# ----------------------------------------------------------------- shapes and flags


def test_report_is_tidy_with_documented_columns_and_no_silent_nan() -> None:
    data, design = panel()
    report = estimate_report(data, design, QUESTIONS, by=["district", "gender"])
    assert tuple(report.columns) == REPORT_COLUMNS
    # 3 shares + 1 mean + 2 options, overall + 4 districts + 2 genders
    assert len(report) == 6 * 7
    numbers = report[["estimate", "se", "ci_low", "ci_high", "deff"]].to_numpy(dtype=float)
    unexplained = ~np.isfinite(numbers).all(axis=1) & (report["flag"] == "").to_numpy()
    assert not unexplained.any()
    assert set(report.loc[report["domain_variable"] == OVERALL, "domain_value"]) == {OVERALL}


def test_unused_category_of_a_domain_variable_is_an_explicit_empty_domain() -> None:
    data, design = panel()
    report = estimate_report(data, design, QUESTIONS, by=["district"])
    empty = report[report["domain_value"] == "Ö"]
    assert len(empty) == 6
    assert (empty["flag"] == "empty_domain").all()
    assert empty["estimate"].isna().all() and (empty["n"] == 0).all() and (empty["weighted_n"] == 0).all()
    assert (empty["reason"] == "no respondents in this domain").all()


def test_a_domain_where_nobody_answered_is_flagged() -> None:
    data, design = panel()
    data.loc[data["gender"] == "M", "q2"] = np.nan
    est = survey_mean(data["q2"], design, domain=(data["gender"] == "M").to_numpy())
    assert est.flag == "no_answers" and math.isnan(est.estimate) and est.n == 0


def test_single_answer_has_an_estimate_but_no_standard_error() -> None:
    design = SurveyDesign(np.array([10.0, 20.0, 30.0, 40.0]))
    est = survey_mean([1.0, 4.0, 2.0, 3.0], design, domain=[True, False, False, False])
    assert est.estimate == 1.0 and est.flag == "single_answer"
    assert math.isnan(est.se) and math.isnan(est.ci_low) and math.isnan(est.deff)


def test_zero_share_has_zero_se_and_a_clopper_pearson_interval() -> None:
    design = SurveyDesign(np.full(6, 100.0))
    for method in ("logit", "beta", "wald"):
        table = survey_proportions(["ja"] * 6, design, categories=["ja", "nej"], ci_method=method)
        ja, nej = (table.set_index("category").loc[c] for c in ("ja", "nej"))
        assert nej["estimate"] == 0.0 and nej["se"] == 0.0 and nej["flag"] == "boundary_share"
        assert math.isnan(nej["deff"]) and nej["ci_method"] == "beta"
        # equal weights: binom.test(0, 6) and binom.test(6, 6), 1 - 0.025^(1/6) = 0.4592581264399
        assert nej["ci_low"] == 0.0 and nej["ci_high"] == pytest.approx(1 - 0.025 ** (1 / 6), rel=1e-12)
        assert ja["ci_low"] == pytest.approx(0.025 ** (1 / 6), rel=1e-12) and ja["ci_high"] == 1.0
        assert nej["reason"].startswith("every answer is the same")


def test_zero_share_interval_widens_with_unequal_weights() -> None:
    """Kish's effective sample size (sum w)^2 / sum w^2 replaces n: 6 answers with
    weights 1, 1, 1, 1, 1, 5 count as 100/30 = 3.33 respondents."""
    design = SurveyDesign(np.array([1.0, 1.0, 1.0, 1.0, 1.0, 5.0, 7.0]))
    table = survey_proportions(["ja"] * 6 + [None], design, categories=["ja", "nej"])
    nej = table.set_index("category").loc["nej"]
    assert nej["n"] == 6 and nej["ci_high"] == pytest.approx(1 - 0.025 ** (30 / 100), rel=1e-12)


def test_a_single_answer_share_still_has_no_interval() -> None:
    design = SurveyDesign(np.array([10.0, 20.0, 30.0]))
    est = survey_proportions(["ja", "nej", "ja"], design, domain=[True, False, False]).set_index("category")
    assert est.loc["ja", "estimate"] == 1.0 and est.loc["ja", "flag"] == "single_answer"
    assert math.isnan(est.loc["ja", "ci_low"]) and math.isnan(est.loc["nej", "ci_high"])


def test_deff_needs_population_scaled_weights_unless_with_replacement() -> None:
    design = SurveyDesign(np.ones(5))  # weights sum to n: R's deff=TRUE gives Inf
    srs = survey_mean([1.0, 2.0, 3.0, 5.0, 8.0], design)
    assert srs.flag == "deff_undefined" and math.isnan(srs.deff) and srs.se > 0
    replace = survey_mean([1.0, 2.0, 3.0, 5.0, 8.0], design, deff_method="replace")
    assert replace.flag == "" and replace.deff == pytest.approx(1.0)


def test_one_respondent_design_cannot_give_a_variance() -> None:
    est = survey_mean([3.0], SurveyDesign(np.array([5.0])))
    assert est.estimate == 3.0 and est.flag == "single_answer" and math.isnan(est.se)


def test_weights_summing_to_zero_are_flagged() -> None:
    design = SurveyDesign(np.array([2.0, -2.0, 1.0, 1.0]))
    est = survey_mean([1.0, 2.0, 3.0, 4.0], design, domain=[True, True, False, False])
    assert est.flag == "nonpositive_weight" and math.isnan(est.estimate)


def test_a_calibration_target_is_known_without_sampling_error() -> None:
    from analysis.weighting import poststratify

    data, _ = panel()
    result = poststratify(data, {"gender": pd.Series({"K": 5200.0, "M": 4800.0})}, min_cell_size=0)
    share = survey_proportions(data["gender"], result.design).set_index("category").loc["K"]
    assert share["estimate"] == pytest.approx(0.52, rel=1e-12)
    assert share["flag"] == "calibrated" and share["se"] == 0.0 and share["deff"] == 0.0
    assert share["ci_low"] == share["estimate"] == share["ci_high"]
    other = survey_mean(data["q2"], result.design)
    assert other.flag == "" and other.se > 0


def test_totals_and_their_counts() -> None:
    design = SurveyDesign(np.array([10.0, 20.0, 30.0, 40.0]))
    est = survey_total([1.0, np.nan, 2.0, 0.0], design)
    assert est.estimate == 70.0 and est.n == 3 and est.weighted_n == 80.0 and est.ci_method == "wald"


# ----------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: survey_mean([1.0, 2.0], d), "has 2 values but the design has 4"),
        (lambda d: survey_mean(["a", "b", "c", "d"], d), "must be numeric"),
        (lambda d: survey_mean([1.0, 2.0, 3.0, np.inf], d), "infinite"),
        (lambda d: survey_mean([1.0, 2.0, 3.0, 4.0], d, alpha=1.5), "alpha must be between 0 and 1"),
        (lambda d: survey_mean([1.0, 2.0, 3.0, 4.0], d, ci_method="logit"), "for proportions"),
        (lambda d: survey_mean([1.0, 0.0, 1.0, 0.0], d, ci_method="exact"), "ci_method must be one of"),
        (lambda d: survey_mean([1.0, 0.0, 1.0, 0.0], d, deff_method="wor"), "deff_method must be"),
        (lambda d: survey_mean([1.0, 0.0, 1.0, 0.0], d, domain=[True, None, False, True]), "missing values"),
        (lambda d: survey_mean([1.0, 0.0, 1.0, 0.0], d, domain=[1, 2, 0, 1]), "boolean"),
        (lambda d: survey_proportions(["a", "b", "c", "a"], d, categories=["a", "b"]), "not among its categories"),
        (lambda d: survey_proportions([None] * 4, d), "no categories"),
        (lambda d: domain_difference([1.0] * 4, list("AABB"), d, "A", "A"), "two different domains"),
        (lambda d: domain_difference([1.0] * 4, list("AABB"), d, "A", "C"), "'C' has no respondents"),
        (lambda d: weighted_crosstab(list("aaaa"), list("xyxy"), d), "at least two observed categories"),
        (lambda d: weighted_crosstab(list("abab"), list("xyxy"), d, statistic="Wald"), "statistic must be"),
    ],
)
def test_bad_input_says_what_to_fix(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call(SurveyDesign(np.array([1.0, 2.0, 3.0, 4.0])))


@pytest.mark.parametrize(
    ("questions", "kwargs", "message"),
    [
        ([], {}, "at least one Question"),
        ([Question.single_choice("q1"), Question.single_choice("q1")], {}, "unique"),
        ([Question.single_choice("nope")], {}, "column 'nope' is not in the data"),
        ([Question.multiple_choice("m", {"a": "q2"})], {}, "0, 1 or NaN"),
        ([Question.numeric("q1")], {}, "must be numeric"),
        ([Question.single_choice("q1")], {"by": ["kommun"]}, "domain variable 'kommun'"),
        ([Question.single_choice("q1")], {"proportion_ci": "wilson"}, "ci_method must be one of"),
        ([Question.single_choice("q1")], {"mean_ci": "logit"}, "ci_method must be one of wald"),
    ],
)
def test_report_input_checks(questions: list[Question], kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    data, design = panel(n=40)
    with pytest.raises(ValueError, match=message):
        estimate_report(data, design, questions, **kwargs)


def test_question_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="one option label per column"):
        Question("m", "multiple", ("a", "b"), ("A",))
    with pytest.raises(ValueError, match="exactly one column"):
        Question("q", "single", ("a", "b"))
    with pytest.raises(ValueError, match="kind must be"):
        Question("q", "ranking", ("a",))  # type: ignore[arg-type]
    data, design = panel(n=40)
    with pytest.raises(ValueError, match="has 40 rows but the design has 3"):
        estimate_report(data, SurveyDesign(np.ones(3)), QUESTIONS)


# ----------------------------------------------------------------- consistency of the paths


def test_report_rows_equal_the_single_variable_functions() -> None:
    data, design = panel()
    report = estimate_report(data, design, QUESTIONS, by=["district"]).set_index(
        ["question", "category", "domain_variable", "domain_value"]
    )
    for district in ["Norr", "Soder"]:
        mask = (data["district"] == district).to_numpy()
        shares = survey_proportions(data["q1"], design, domain=mask).set_index("category")
        for cat in ["ja", "nej", "vet ej"]:
            row = report.loc[("q1", cat, "district", district)]
            for col in ["estimate", "se", "ci_low", "ci_high", "deff", "n", "count", "weighted_n", "df"]:
                assert row[col] == pytest.approx(shares.loc[cat, col], rel=1e-12), (cat, col)
        mean = survey_mean(data["q2"], design, domain=mask)
        row = report.loc[("q2", "(mean)", "district", district)]
        assert row["se"] == pytest.approx(mean.se, rel=1e-12) and row["ci_method"] == "wald"
        option = survey_mean(data["opt_a"], design, domain=mask, ci_method="logit")
        row = report.loc[("fritid", "a", "district", district)]
        assert row["ci_low"] == pytest.approx(option.ci_low, rel=1e-12)


def test_without_adjustments_the_shortcut_equals_the_residualized_path() -> None:
    data, design = panel()
    plain = estimate_report(data, design, QUESTIONS, by=["district", "gender"])
    forced = estimate_report(data, SurveyDesign(design.weights, (Identity(),)), QUESTIONS,
                             by=["district", "gender"], proportion_ci="logit")
    for col in ["estimate", "se", "deff", "ci_low", "ci_high"]:
        np.testing.assert_allclose(plain[col], forced[col], rtol=1e-10, equal_nan=True)


def test_block_size_does_not_change_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    data, design = panel()
    codes = pd.Categorical(data["gender"]).codes.astype(np.int64)
    adjusted = SurveyDesign(design.weights, (PostStrat(codes, design.weights),))
    whole = estimate_report(data, adjusted, QUESTIONS, by=["district", "gender"])
    monkeypatch.setattr(estimates, "_BLOCK_CELLS", 1)  # one column per residualize call
    blocks = estimate_report(data, adjusted, QUESTIONS, by=["district", "gender"])
    np.testing.assert_allclose(whole["se"], blocks["se"], rtol=1e-12, equal_nan=True)
    assert (whole["flag"] == blocks["flag"]).all()


def test_missing_answers_keep_their_rows_in_the_design() -> None:
    """na.rm=TRUE as R does it: zero influence, full n in n/(n-1) - not dropping rows."""
    y = np.array([1.0, 3.0, np.nan, 7.0, np.nan])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    est = survey_mean(y, SurveyDesign(w))
    ok = ~np.isnan(y)
    mean = np.sum(w[ok] * y[ok]) / np.sum(w[ok])
    z = np.where(ok, w * (np.nan_to_num(y) - mean) / np.sum(w[ok]), 0.0)
    n = 5
    assert est.se == pytest.approx(math.sqrt(n / (n - 1) * np.sum((z - z.mean()) ** 2)), rel=1e-12)
    assert est.df == 4 and est.n == 3


def test_domain_difference_is_antisymmetric() -> None:
    data, design = panel()
    ab = domain_difference(data["q2"], data["district"], design, "Norr", "Soder")
    ba = domain_difference(data["q2"], data["district"], design, "Soder", "Norr")
    assert ab.difference == pytest.approx(-ba.difference) and ab.se == pytest.approx(ba.se)
    assert ab.p_value == pytest.approx(ba.p_value) and 0 < ab.p_value < 1
    share = domain_difference(data["q1"], data["district"], design, "Norr", "Soder", category="ja")
    norr = survey_proportions(data["q1"], design, domain=(data["district"] == "Norr").to_numpy())
    assert share.estimate_first == pytest.approx(norr.set_index("category").loc["ja", "estimate"])


def test_crosstab_tables_add_up() -> None:
    data, design = panel()
    table = weighted_crosstab(data["q1"], data["district"], design)
    answered = data["q1"].notna().to_numpy()
    assert table.counts.to_numpy().sum() == pytest.approx(design.weights[answered].sum())
    np.testing.assert_allclose(table.column_shares.sum(axis=0), 1.0)
    assert table.unweighted.to_numpy().sum() == answered.sum()
    assert list(table.counts.columns) == ["Norr", "Soder", "Vaster"]  # unused "Ö" is not a column
    assert 0 <= table.test.p_value <= 1 and table.test.ddf == pytest.approx(table.test.ndf * 299)
    chisq = weighted_crosstab(data["q1"], data["district"], design, statistic="Chisq").test
    assert chisq.ddf is None and chisq.statistic == pytest.approx(table.test.pearson)


# ----------------------------------------------------------------- properties


@st.composite
def samples(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray]:
    n = draw(st.integers(min_value=4, max_value=40))
    answers = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    groups = draw(st.lists(st.sampled_from(["x", "y"]), min_size=n, max_size=n))
    values = draw(st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n))
    weights = draw(st.lists(st.floats(0.5, 50), min_size=n, max_size=n))
    data = pd.DataFrame({"q": pd.Series(answers, dtype=object), "g": groups, "v": values})
    return data, np.asarray(weights)


@PROPERTY
@given(samples())
def test_shares_of_all_categories_sum_to_one(sample: tuple[pd.DataFrame, np.ndarray]) -> None:
    data, weights = sample
    if data["q"].isna().all():
        return
    report = estimate_report(data, SurveyDesign(weights), [Question.single_choice("q", categories=["a", "b", "c"])],
                             by=["g"])
    for _, group in report.groupby(["domain_variable", "domain_value"]):
        if group["flag"].str.contains("no_answers|empty_domain").any():
            continue
        assert group["estimate"].sum() == pytest.approx(1.0, rel=1e-12)
        assert group["count"].sum() == group["n"].iloc[0]


@PROPERTY
@given(samples(), st.floats(1e-3, 1e3))
def test_scaling_the_weights_changes_no_mean_or_standard_error(
    sample: tuple[pd.DataFrame, np.ndarray], factor: float
) -> None:
    data, weights = sample
    questions = [Question.single_choice("q", categories=["a", "b", "c"]), Question.numeric("v")]
    one = estimate_report(data, SurveyDesign(weights), questions, by=["g"], deff_method="replace")
    two = estimate_report(data, SurveyDesign(weights * factor), questions, by=["g"], deff_method="replace")
    for col in ["estimate", "se", "ci_low", "ci_high"]:
        np.testing.assert_allclose(one[col], two[col], rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(one["weighted_n"] * factor, two["weighted_n"], rtol=1e-12)
    ok = ~one["flag"].str.contains("calibrated|zero_variance").to_numpy()
    np.testing.assert_allclose(one.loc[ok, "deff"], two.loc[ok, "deff"], rtol=1e-8, equal_nan=True)


@PROPERTY
@given(samples(), st.sampled_from(["logit", "beta", "wald"]))
def test_intervals_contain_the_estimate_and_stay_in_zero_one(
    sample: tuple[pd.DataFrame, np.ndarray], method: str
) -> None:
    data, weights = sample
    report = estimate_report(data, SurveyDesign(weights), [Question.single_choice("q", categories=["a", "b", "c"])],
                             by=["g"], proportion_ci=method)  # type: ignore[arg-type]
    ok = report["ci_low"].notna()
    assert (report.loc[ok, "ci_low"] <= report.loc[ok, "estimate"] + 1e-12).all()
    assert (report.loc[ok, "ci_high"] >= report.loc[ok, "estimate"] - 1e-12).all()
    if method != "wald":
        assert ((report.loc[ok, "ci_low"] >= 0) & (report.loc[ok, "ci_high"] <= 1)).all()


def test_numeric_codes_of_a_single_choice_question_read_as_whole_numbers() -> None:
    data = pd.DataFrame({"q": [1.0, 2.0, np.nan, 2.0, 3.0], "g": list("aabbb")})
    report = estimate_report(data, SurveyDesign(np.ones(5)), [Question.single_choice("q")])
    assert report["category"].tolist() == ["1", "2", "3"]
    declared = estimate_report(data, SurveyDesign(np.ones(5)), [Question.single_choice("q", categories=[1, 2, 3, 4])])
    assert declared["estimate"].tolist() == [0.25, 0.5, 0.25, 0.0]
