"""Tests for analysis.rindicator: R-indicator, its SE and bias adjustment, partial R-indicators.

Three kinds of check:
* a hand-computed saturated example (one variable: propensities are the group response rates);
* reference numbers from R: tests/analysis/reference/representativeness_reference.R fits the
  propensity model with glm() and re-implements the formulas in R (output in
  representativeness_reference.json);
* algebraic identities (hypothesis) and a seeded Monte Carlo check of the bias adjustment and
  of the standard error.
"""

from __future__ import annotations

import doctest
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis.rindicator
from analysis.rindicator import r_indicator

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "representativeness_reference.json").read_text()
)


def _saturated() -> pd.DataFrame:
    # 10 women of whom 6 answered, 10 men of whom 3 answered
    return pd.DataFrame(
        {"gender": ["kvinna"] * 10 + ["man"] * 10, "responded": [1] * 6 + [0] * 4 + [1] * 3 + [0] * 7}
    )


def test_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(analysis.rindicator, verbose=False)
    assert tried > 0
    assert failures == 0


def test_saturated_example_by_hand() -> None:
    result = r_indicator(_saturated(), variables=["gender"])
    # ρ̂ = 0.6 (women), 0.3 (men); ρ̄ = 0.45; S² = (10·0.15² + 10·0.15²)/19 = 0.45/19
    S2 = 0.45 / 19
    assert result.mean_propensity == pytest.approx(0.45)
    assert result.sd_propensity == pytest.approx(np.sqrt(S2))
    assert result.r == pytest.approx(1 - 2 * np.sqrt(S2))  # 0.692206
    assert result.cv == pytest.approx(np.sqrt(S2) / 0.45)
    # Bias: tr(BΣ) with B, Σ written for the two rates p_h: Σ_p = diag(p_h(1 − p_h)/n_h),
    # B_p = (diag(n) − n n'/N)/(N − 1)  →  tr = (0.24 + 0.21 − 0.225)/19 = 0.225/19
    bias = 0.225 / 19
    assert result.bias == pytest.approx(bias)
    assert result.r_adjusted == pytest.approx(1 - 2 * np.sqrt(S2 - bias))  # 0.782357
    # Linear term: Σ_h (∂S²/∂p_h)² var(p̂_h) = 4/(N−1)² Σ_h n_h (p_h − p̄)² p_h(1 − p_h)
    linear = 4 / 19**2 * (10 * 0.15**2 * 0.24 + 10 * 0.15**2 * 0.21)
    # Quadratic term: 2 tr(B_p Σ_p B_p Σ_p) = 2 · 0.050625 / 19²
    quadratic = 2 * 0.050625 / 19**2
    assert result.variance_components["linear"] == pytest.approx(linear)
    assert result.variance_components["quadratic"] == pytest.approx(quadratic)
    assert result.variance_components["design"] == 0.0
    assert result.se == pytest.approx(np.sqrt((linear + quadratic) / S2))  # 0.243332
    # Partial indicators: P_u(k) = (ρ̄_k − ρ̄)·sqrt(N_k/(N − 1)) = ±0.15·sqrt(10/19)
    categories = result.partial_categories.set_index("category")
    assert categories.loc["kvinna", "unconditional"] == pytest.approx(0.15 * np.sqrt(10 / 19))
    assert categories.loc["man", "unconditional"] == pytest.approx(-0.15 * np.sqrt(10 / 19))
    assert categories.loc["man", "response_rate"] == pytest.approx(0.3)
    assert categories.loc["man", "responded"] == 3
    # one variable: P_u = P_c = S
    variables = result.partial_variables.set_index("variable")
    assert variables.loc["gender", "unconditional"] == pytest.approx(np.sqrt(S2))
    assert variables.loc["gender", "conditional"] == pytest.approx(np.sqrt(S2))


@pytest.mark.parametrize("case", ["unweighted", "weighted"])
def test_matches_the_r_reference(case: str) -> None:
    ref = REFERENCE[case]
    invited = pd.DataFrame(REFERENCE["invited"])
    weights = "design_weight" if case == "weighted" else None
    result = r_indicator(invited, weights=weights)
    tol = 1e-8  # glm() and statsmodels stop their iterations at slightly different points
    coefficients = list(ref["coefficients"].values())
    assert result.coefficients.to_numpy() == pytest.approx(coefficients, rel=tol)
    assert result.propensities[:10] == pytest.approx(ref["propensities_head"], rel=tol)
    for name in ("r", "r_adjusted", "se", "cv", "cv_se", "bias", "mean_propensity"):
        assert getattr(result, name) == pytest.approx(ref[name], rel=tol), name
    for name in ("linear", "quadratic", "design"):
        assert result.variance_components[name] == pytest.approx(ref[f"var_{name}"], rel=1e-7, abs=1e-15)
    variables = result.partial_variables.set_index("variable")
    categories = result.partial_categories
    for variable, values in ref["partial_variables"].items():
        assert variables.loc[variable, "unconditional"] == pytest.approx(values["unconditional"], rel=tol)
        assert variables.loc[variable, "conditional"] == pytest.approx(values["conditional"], rel=tol)
        rows = categories[categories["variable"] == variable]
        expected = ref["partial_categories"][variable]
        assert rows["category"].tolist() == expected["category"]
        assert rows["unconditional"].to_numpy() == pytest.approx(expected["unconditional"], rel=tol)
        assert rows["conditional"].to_numpy() == pytest.approx(expected["conditional"], rel=tol)
    if case == "weighted":
        assert result.variance_components["design"] > 0
        assert result.population_size == pytest.approx(sum(invited["design_weight"]))


def _balanced(cell_sizes: list[int], rate_numerator: int, rate_denominator: int) -> pd.DataFrame:
    """Every gender × age × district cell has the same response rate."""
    rows = []
    cells = [(g, a, d) for g in ("kvinna", "man") for a in ("16-24", "45-54", "75+") for d in ("0101", "0102")]
    for (g, a, d), size in zip(cells, cell_sizes, strict=False):
        n = size * rate_denominator
        answered = size * rate_numerator
        rows += [(g, a, d, 1)] * answered + [(g, a, d, 0)] * (n - answered)
    return pd.DataFrame(rows, columns=["gender", "age_group", "district", "responded"])


@settings(max_examples=15, deadline=None)
@given(
    cell_sizes=st.lists(st.integers(min_value=1, max_value=6), min_size=12, max_size=12),
    numerator=st.integers(min_value=1, max_value=4),
)
def test_r_is_one_when_response_does_not_depend_on_the_variables(cell_sizes: list[int], numerator: int) -> None:
    invited = _balanced(cell_sizes, numerator, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # S = 0: the linearized SE is undefined (and says so)
        result = r_indicator(invited)
    assert result.r == pytest.approx(1.0, abs=1e-7)
    assert result.r_adjusted == pytest.approx(1.0, abs=1e-7)
    assert result.mean_propensity == pytest.approx(numerator / 5)
    assert np.abs(result.partial_categories[["unconditional", "conditional"]].to_numpy()).max() < 1e-7


def test_equal_propensities_warn_that_the_linearized_se_is_undefined() -> None:
    invited = _balanced([2] * 12, 1, 2)
    with pytest.warns(UserWarning, match="S = 0"):
        result = r_indicator(invited)
    assert np.isnan(result.se)
    boot = r_indicator(invited, se_method="bootstrap", n_bootstrap=30, seed=1)
    assert 0 < boot.se < 0.2


_CATEGORIES = {
    "gender": ["kvinna", "man"],
    "age_group": ["16-24", "45-54", "75+"],
    "district": ["0101", "0102", "0103"],
}


@st.composite
def _invited(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray | None]:
    n = draw(st.integers(min_value=40, max_value=150))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({v: rng.choice(c, n) for v, c in _CATEGORIES.items()})
    beta = rng.normal(0, 0.8, 6)
    eta = beta[0] + beta[1] * (frame.gender == "man") + beta[2] * (frame.age_group == "16-24")
    eta = eta + beta[3] * (frame.age_group == "75+") + beta[4] * (frame.district == "0102")
    eta = eta + beta[5] * (frame.district == "0103")
    frame["responded"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    if frame["responded"].nunique() < 2:
        frame.loc[0, "responded"] = 1 - frame.loc[0, "responded"]
    weights = None
    if draw(st.booleans()):
        weights = np.array([1.0, 2.5, 4.0])[rng.integers(0, 3, n)]
    return frame, weights


@settings(max_examples=15, deadline=None)
@given(_invited())
def test_partial_indicators_decompose_the_variance(case: tuple[pd.DataFrame, np.ndarray | None]) -> None:
    invited, weights = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small random data: separation warnings are expected
        result = r_indicator(invited, weights=weights)
    d = np.ones(len(invited)) if weights is None else weights
    N = d.sum()
    rho = result.propensities
    S2 = result.sd_propensity**2
    assert result.r == pytest.approx(1 - 2 * np.sqrt(S2))
    assert result.r <= 1.0
    assert result.cv == pytest.approx(result.sd_propensity / result.mean_propensity)
    # the fitted propensities reproduce the (weighted) response rate: logit link + intercept
    assert result.mean_propensity == pytest.approx(np.average(invited["responded"], weights=d), abs=1e-6)
    if weights is None:
        assert result.bias >= 0 and result.r_adjusted >= result.r - 1e-12
    variables = result.partial_variables.set_index("variable")
    for variable in _CATEGORIES:
        rows = result.partial_categories[result.partial_categories["variable"] == variable]
        p_u = variables.loc[variable, "unconditional"]
        p_c = variables.loc[variable, "conditional"]
        # category-level indicators square-sum to the variable-level ones
        assert np.sum(rows["unconditional"] ** 2) == pytest.approx(p_u**2, rel=1e-9, abs=1e-15)
        assert np.sum(rows["conditional"] ** 2) == pytest.approx(p_c**2, rel=1e-9, abs=1e-15)
        # between + within = total variance (the within part computed here from scratch)
        labels = invited[variable].to_numpy()
        within = 0.0
        for category in np.unique(labels):
            inside = labels == category
            mean_k = np.average(rho[inside], weights=d[inside])
            within += np.sum(d[inside] * (rho[inside] - mean_k) ** 2)
        assert p_u**2 + within / (N - 1) == pytest.approx(S2, rel=1e-9, abs=1e-15)
        # weighted signed category indicators balance: Σ_k sqrt(N_k) P_u(k) = 0
        sizes = np.array([d[labels == c].sum() for c in rows["category"]])
        assert np.sum(np.sqrt(sizes) * rows["unconditional"]) == pytest.approx(0.0, abs=1e-9)
        assert p_u <= np.sqrt(S2) + 1e-12 and p_c <= np.sqrt(S2) + 1e-12


def test_bias_adjustment_is_unbiased_under_uniform_response() -> None:
    # Saturated model (4 districts), ρ = 0.4 everywhere: E[S²(ρ̂)] = (K − 1)ρ(1 − ρ)/(N − 1) > 0 = S²(ρ).
    rng = np.random.default_rng(20261122)
    invited = pd.DataFrame({"district": np.repeat(["0101", "0102", "0103", "0104"], 50)})
    S2, adjusted = [], []
    for _ in range(100):
        invited["responded"] = (rng.random(len(invited)) < 0.4).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # now and then all four rates coincide: S = 0
            result = r_indicator(invited, variables=["district"])
        S2.append(result.sd_propensity**2)
        adjusted.append(result.sd_propensity**2 - result.bias)
    expected = 3 * 0.4 * 0.6 / 199
    assert np.mean(S2) == pytest.approx(expected, rel=0.15)
    monte_carlo_se = np.std(adjusted, ddof=1) / np.sqrt(len(adjusted))
    assert abs(np.mean(adjusted)) < 3 * monte_carlo_se


def test_standard_error_and_bias_against_simulation() -> None:
    # Fixed invited set, known propensities; redraw the response 100 times.
    rng = np.random.default_rng(7)
    n = 400
    invited = pd.DataFrame({v: rng.choice(c, n) for v, c in _CATEGORIES.items()})
    eta = -0.3 - 0.4 * (invited.gender == "man") + 0.5 * (invited.age_group == "45-54")
    eta = eta + 0.8 * (invited.age_group == "75+") + 0.3 * (invited.district == "0103")
    rho = 1 / (1 + np.exp(-eta.to_numpy()))
    true_S2 = np.var(rho, ddof=1)
    r_hat, se, S2, adjusted_S2 = [], [], [], []
    for _ in range(100):
        invited["responded"] = (rng.random(n) < rho).astype(int)
        result = r_indicator(invited)
        r_hat.append(result.r)
        se.append(result.se)
        S2.append(result.sd_propensity**2)
        adjusted_S2.append(result.sd_propensity**2 - result.bias)
    # The linearized SE is close to, and somewhat above, the simulated SD (1.12 with 1 500 draws).
    ratio = np.mean(se) / np.std(r_hat, ddof=1)
    assert 0.9 < ratio < 1.4
    # S²(ρ̂) overstates S²(ρ) by about 30 % here; the adjusted value is centred on the truth
    # (+2 % ± 1.3 % with 1 500 draws). 4 Monte Carlo SEs only catch gross errors.
    assert np.mean(S2) > 1.15 * true_S2
    monte_carlo_se = np.std(adjusted_S2, ddof=1) / np.sqrt(len(adjusted_S2))
    assert abs(np.mean(adjusted_S2) - true_S2) < 4 * monte_carlo_se


def test_bootstrap_is_seeded_and_agrees_with_linearization() -> None:
    invited = pd.DataFrame(REFERENCE["invited"])
    first = r_indicator(invited, se_method="bootstrap", n_bootstrap=60, seed=3)
    again = r_indicator(invited, se_method="bootstrap", n_bootstrap=60, seed=3)
    other = r_indicator(invited, se_method="bootstrap", n_bootstrap=10, seed=4)
    assert first.se == again.se and first.cv_se == again.cv_se
    assert first.se != other.se
    # the parametric bootstrap comes out 10-25 % below the (conservative) linearization
    assert 0.6 < first.se / REFERENCE["unweighted"]["se"] < 1.2
    assert 0.6 < first.cv_se / REFERENCE["unweighted"]["cv_se"] < 1.2
    assert first.r == pytest.approx(REFERENCE["unweighted"]["r"])
    generator = r_indicator(invited, se_method="bootstrap", n_bootstrap=10, seed=np.random.default_rng(3))
    assert np.isfinite(generator.se)


def test_confidence_interval_is_capped_at_one() -> None:
    result = r_indicator(_saturated(), variables=["gender"], alpha=0.05)
    assert result.ci_low == pytest.approx(result.r - 1.959963984540054 * result.se)
    assert result.ci_high == 1.0  # r + z·se = 1.17 is impossible
    narrow = r_indicator(_saturated(), variables=["gender"], alpha=0.5)
    assert narrow.ci_high < 1.0


def test_design_weights_of_one_are_the_same_as_none() -> None:
    invited = pd.DataFrame(REFERENCE["invited"])
    plain = r_indicator(invited)
    ones = r_indicator(invited, weights=np.ones(len(invited)))
    assert ones.r == pytest.approx(plain.r) and ones.se == pytest.approx(plain.se)
    # a simple random sample of 400 from a panel of 1 000: constant weight 2.5, design term > 0
    sampled = r_indicator(invited, weights=np.full(len(invited), 2.5))
    # same propensities; S² = 2.5 Σ(ρ̂ − ρ̄)²/(1000 − 1) instead of Σ(ρ̂ − ρ̄)²/(400 − 1)
    assert sampled.propensities == pytest.approx(plain.propensities, rel=1e-9)
    assert sampled.sd_propensity**2 == pytest.approx(plain.sd_propensity**2 * 2.5 * 399 / 999, rel=1e-9)
    assert sampled.variance_components["design"] > 0
    assert sampled.population_size == pytest.approx(1000)


def test_category_order_follows_the_categorical_dtype() -> None:
    invited = _saturated()
    invited["gender"] = pd.Categorical(invited["gender"], categories=["man", "kvinna", "annan"])
    result = r_indicator(invited, variables=["gender"])
    assert result.partial_categories["category"].tolist() == ["man", "kvinna"]  # unused 'annan' dropped
    assert result.coefficients.index.tolist() == ["intercept", "gender[kvinna]"]


def test_a_category_without_respondents_warns_and_still_gives_numbers() -> None:
    invited = pd.DataFrame(REFERENCE["invited"])
    invited.loc[invited["district"] == "0103", "responded"] = 0
    with pytest.warns(UserWarning, match="district '0103' has no respondents"):
        result = r_indicator(invited)
    assert np.isfinite(result.r) and np.isfinite(result.se)
    assert result.partial_categories.set_index("category").loc["0103", "mean_propensity"] < 1e-6
    assert any("no respondents" in note for note in result.notes)


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda f: f.assign(district=None), {}, "missing values"),
        (lambda f: f.assign(district=1), {}, "leading zeros"),
        (lambda f: f.assign(responded=2), {}, "0/1"),
        (lambda f: f.assign(responded=0), {}, "nobody responded"),
        (lambda f: f.assign(responded=1), {}, "everyone responded"),
        (lambda f: f, {"weights": np.full(400, 0.5)}, "design weights"),
        (lambda f: f, {"variables": ["gender", "gender"]}, "distinct"),
        (lambda f: f, {"variables": ["kommun"]}, "no column 'kommun'"),
        (lambda f: f, {"se_method": "jackknife"}, "se_method"),
        (lambda f: f, {"alpha": 1.5}, "alpha"),
        (lambda f: f, {"se_method": "bootstrap", "n_bootstrap": 1}, "n_bootstrap"),
    ],
)
def test_bad_input_says_what_to_fix(change, kwargs: dict, message: str) -> None:
    invited = change(pd.DataFrame(REFERENCE["invited"]))
    with pytest.raises(ValueError, match=message):
        r_indicator(invited, **kwargs)


def test_notes_carry_a_code_and_their_data_beside_the_english_text() -> None:
    import copy
    import pickle

    from analysis.rindicator import RIndicatorNote, RIndicatorWarning

    invited = pd.DataFrame(REFERENCE["invited"])
    invited.loc[invited["district"] == "0103", "responded"] = 0
    with pytest.warns(RIndicatorWarning) as caught:
        result = r_indicator(invited)
    (note,) = [n for n in result.notes if n.code == "no_respondents"]
    assert isinstance(note, RIndicatorNote)
    assert note.params == {"variable": "district", "categories": ("0103",)}
    assert str(note).startswith("district '0103' has no respondents: the fitted propensity there is 0")
    assert [w.message.note for w in caught if isinstance(w.message, RIndicatorWarning)] == list(result.notes)
    for copied in (copy.deepcopy(note), pickle.loads(pickle.dumps(note))):
        assert (str(copied), copied.code, copied.params) == (str(note), note.code, note.params)


def test_dependent_dummies_and_equal_propensities_have_their_codes() -> None:
    invited = _saturated().assign(sex=lambda f: f["gender"].map({"kvinna": "f", "man": "m"}))
    with pytest.warns(UserWarning, match="linearly dependent"):
        result = r_indicator(invited, variables=["gender", "sex"])
    assert [n.code for n in result.notes] == ["dependent_dummies"]
    with pytest.warns(UserWarning, match="S = 0"):
        equal = r_indicator(_balanced([2] * 12, 1, 2))
    assert [(n.code, n.params) for n in equal.notes] == [("equal_propensities", {})]
