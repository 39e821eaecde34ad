"""Behaviour of analysis.weighting: checks, options, uncovered categories,
non-convergence, trimming, summaries and properties (hypothesis).

Agreement with R's survey package is tested in test_weighting_reference.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.trimming import trim_weights
from analysis.weighting import (
    METHODS,
    ConvergenceError,
    ConvergenceWarning,
    Trim,
    calibrate,
    check_targets,
    poststratify,
    rake,
    weight,
    weight_summary,
)

GENDERS = ["kvinna", "man"]
AGES = ["16-29", "30-49", "50-64", "65-74", "75+"]
DISTRICTS = ["0180", "0181", "0182"]


def _panel(n: int = 300, seed: int = 7, extra_genders: dict[str, int] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "gender": rng.choice(GENDERS, n, p=[0.58, 0.42]),
        "age_group": rng.choice(AGES, n, p=[0.1, 0.25, 0.3, 0.2, 0.15]),
        "district": rng.choice(DISTRICTS, n, p=[0.5, 0.3, 0.2]),
        "y": rng.normal(3, 1, n),
    })
    start = 0
    for label, count in (extra_genders or {}).items():
        frame.loc[frame.index[start:start + count], "gender"] = label
        start += count
    return frame


def _cross(seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.MultiIndex.from_product([GENDERS, AGES, DISTRICTS], names=["gender", "age_group", "district"])
    return pd.Series(rng.integers(500, 3000, len(index)).astype(float), index=index)


def _margins(cross: pd.Series) -> dict[object, pd.Series]:
    return {
        "gender": cross.groupby(level="gender").sum(),
        "age_group": cross.groupby(level="age_group").sum(),
        ("district", "gender"): cross.groupby(level=["district", "gender"]).sum(),
    }


def _totals(frame: pd.DataFrame, weights: np.ndarray, columns: list[str]) -> pd.Series:
    return pd.Series(weights, index=frame.index).groupby([frame[c] for c in columns]).sum()


# --- basic contract ----------------------------------------------------------------


def test_rake_reproduces_every_margin_and_records_the_fit() -> None:
    frame, targets = _panel(), _margins(_cross())
    targets["gender"].attrs.update({"source": "SCB BE0101N1", "reference_date": "2025-12-31"})
    result = rake(frame, targets, metadata={"survey": "trygghet 2026"})
    assert result.converged and result.max_relative_error <= 1e-10
    for key, target in targets.items():
        columns = [key] if isinstance(key, str) else list(key)
        achieved = _totals(frame, result.weights, columns)
        np.testing.assert_allclose(achieved.loc[target.index].to_numpy(), target.to_numpy(), rtol=1e-9)
    fit = result.margins[0]
    assert fit.metadata == {"source": "SCB BE0101N1", "reference_date": "2025-12-31"}
    assert fit.max_relative_error <= 1e-10
    np.testing.assert_allclose(fit.achieved.to_numpy(), fit.targets.to_numpy(), rtol=1e-9)
    assert result.metadata == {"survey": "trygghet 2026"}
    assert result.method == "rake" and result.options["partial"] is False
    assert result.design.weights is result.weights or np.array_equal(result.design.weights, result.weights)


def test_all_methods_share_one_signature_and_meet_the_margins() -> None:
    frame, targets = _panel(), _margins(_cross())
    for method, spec in METHODS.items():
        if method == "poststratify":
            result = weight(frame, {("gender", "age_group", "district"): _cross()}, method)
        else:
            bounds = (0.1, 10.0) if spec.bounds == "required" else None
            result = weight(frame, targets, method, bounds=bounds)
        assert result.converged, method
        assert result.weights.sum() == pytest.approx(_cross().sum(), rel=1e-9), method


def test_strings_and_categoricals_give_the_same_weights() -> None:
    frame, targets = _panel(), _margins(_cross())
    categorical = frame.assign(
        gender=pd.Categorical(frame["gender"], categories=["man", "kvinna", "annan"]),
        age_group=pd.Categorical(frame["age_group"], categories=AGES, ordered=True),
    )
    np.testing.assert_allclose(rake(frame, targets).weights, rake(categorical, targets).weights, rtol=1e-12)


def test_base_weights_that_vary_within_cells_are_kept_within_cells() -> None:
    frame, targets = _panel(), _margins(_cross())
    base = np.random.default_rng(1).uniform(0.5, 2.0, len(frame))
    result = rake(frame, targets, weights=base)
    ratio = pd.Series(result.weights / base).groupby([frame["gender"], frame["age_group"], frame["district"]])
    assert (ratio.max() / ratio.min() - 1).abs().max() < 1e-12
    assert _totals(frame, result.weights, ["gender"]).to_numpy() == pytest.approx(targets["gender"].to_numpy())


def test_scale_to_sample_size_keeps_the_standard_error_of_a_mean() -> None:
    frame, targets = _panel(), _margins(_cross())
    population = rake(frame, targets)
    sample = rake(frame, targets, scale="sample")
    assert sample.weights.sum() == pytest.approx(len(frame))
    np.testing.assert_allclose(sample.weights * population.weights.sum() / len(frame), population.weights, rtol=1e-12)

    def mean_se(design_weights: np.ndarray, design: object) -> float:
        y = frame["y"].to_numpy()
        w = design_weights
        z = w * (y - (w @ y) / w.sum()) / w.sum()
        r = design.residualize(z)[:, 0]  # type: ignore[attr-defined]
        return float(np.sqrt(len(y) / (len(y) - 1) * np.sum((r - r.mean()) ** 2)))

    assert mean_se(sample.weights, sample.design) == pytest.approx(mean_se(population.weights, population.design))


# --- categories without population figures ----------------------------------------


def test_uncovered_genders_are_weighted_on_the_other_margins() -> None:
    frame = _panel(extra_genders={"annan": 6, "uppger_ej": 4})
    targets = _margins(_cross())
    result = rake(frame, targets)
    assert result.uncovered_counts == {"gender": {"annan": 6, "uppger_ej": 4}}
    assert any(issue.kind == "uncovered" for issue in result.report.issues)
    # Every total without gender holds for all respondents ...
    age = _totals(frame, result.weights, ["age_group"])
    np.testing.assert_allclose(age.loc[AGES].to_numpy(), targets["age_group"].loc[AGES].to_numpy(), rtol=1e-9)
    district = _totals(frame, result.weights, ["district"])
    expected_district = targets[("district", "gender")].groupby(level="district").sum()
    np.testing.assert_allclose(district.loc[DISTRICTS].to_numpy(), expected_district.loc[DISTRICTS].to_numpy(),
                               rtol=1e-9)
    # ... and kvinna/man keep their population shares among the covered respondents of each district.
    covered = frame["gender"].isin(GENDERS).to_numpy()
    by_dg = _totals(frame[covered], result.weights[covered], ["district", "gender"])
    shares = by_dg / by_dg.groupby(level="district").transform("sum")
    target = targets[("district", "gender")]
    np.testing.assert_allclose(shares.loc[target.index].to_numpy(),
                               (target / target.groupby(level="district").transform("sum")).to_numpy(), rtol=1e-9)
    assert (result.weights[~covered] > 0).all()
    gender_fit = result.margins[0]
    assert gender_fit.implied_by == ("district", "gender") and gender_fit.max_relative_error < 0.05
    assert any(issue.kind == "implied_margin" for issue in result.report.issues)


def test_a_margin_that_disagrees_with_the_finer_margin_it_is_nested_in() -> None:
    targets = _margins(_cross())
    targets["gender"] = targets["gender"] + pd.Series({"kvinna": 40.0, "man": -40.0})
    with pytest.raises(ValueError, match="disagrees with 'district × gender'"):
        rake(_panel(), targets)


def test_uncovered_categories_are_an_error_when_not_declared() -> None:
    frame = _panel(extra_genders={"annan": 3})
    with pytest.raises(ValueError, match="annan"):
        rake(frame, _margins(_cross()), uncovered={})


def test_uncovered_rule_in_post_stratification_and_calibration() -> None:
    frame = _panel(n=600, extra_genders={"annan": 5})
    cross = _cross()
    result = poststratify(frame, {("gender", "age_group", "district"): cross})
    other = _totals(frame, result.weights, ["age_group", "district"])
    np.testing.assert_allclose(other.to_numpy(), cross.groupby(level=["age_group", "district"]).sum()
                               .loc[other.index].to_numpy(), rtol=1e-12)
    linear = calibrate(frame, _margins(cross))
    assert linear.converged
    np.testing.assert_allclose(_totals(frame, linear.weights, ["age_group"]).loc[AGES].to_numpy(),
                               cross.groupby(level="age_group").sum().loc[AGES].to_numpy(), rtol=1e-9)


# --- checks before weighting -------------------------------------------------------


def test_missing_values_are_an_error_or_dropped_and_renormalised() -> None:
    frame, targets = _panel(), _margins(_cross())
    frame.loc[[3, 10], "age_group"] = None
    with pytest.raises(ValueError, match="2 respondents have no value for 'age_group'"):
        rake(frame, targets)
    result = rake(frame, targets, drop_unmatched=True)
    assert list(result.dropped_rows) == [3, 10]
    assert (result.weights[[3, 10]] == 0).all()
    assert result.weights.sum() == pytest.approx(_cross().sum())
    assert result.summary.loc["all", "n"] == len(frame) - 2


def test_respondents_without_targets_and_targets_without_respondents() -> None:
    frame, targets = _panel(), _margins(_cross())
    frame.loc[0, "district"] = "0199"
    with pytest.raises(ValueError, match="0199"):
        rake(frame, targets)
    assert rake(frame, targets, drop_unmatched=True).weights[0] == 0

    frame = _panel()
    frame = frame[frame["age_group"] != "75+"].reset_index(drop=True)
    report = check_targets(frame, targets)
    assert [i.kind for i in report.errors] == ["empty_target"]
    with pytest.raises(ValueError, match="collapse=|partial=True"):
        rake(frame, targets)
    merged = rake(frame, targets, collapse={"age_group": [("65-74", "75+")]})
    assert merged.converged
    assert merged.margins[1].targets.loc["65-74/75+"] == pytest.approx(
        targets["age_group"].loc[["65-74", "75+"]].sum())
    # partial=True drops the empty band; the margins then disagree unless aligned.
    with pytest.raises(ValueError, match="align_totals"):
        rake(frame, targets, partial=True)
    aligned = rake(frame, targets, partial=True, align_totals=True)
    assert aligned.margins[1].ignored == ("75+",)
    assert {i.kind for i in aligned.report.issues if i.severity == "resolved"} >= {"empty_target", "totals_disagree"}


def test_collapsing_non_neighbours_of_an_ordered_variable_is_refused() -> None:
    frame = _panel().assign(age_group=lambda f: pd.Categorical(f["age_group"], categories=AGES, ordered=True))
    with pytest.raises(ValueError, match="neighbouring"):
        rake(frame, _margins(_cross()), collapse={"age_group": [("16-29", "75+")]})


def test_totals_that_disagree_between_margins() -> None:
    frame, targets = _panel(), _margins(_cross())
    targets["age_group"] = targets["age_group"] + 3.0  # SCB cell-key noise
    with pytest.raises(ValueError, match="totals"):
        rake(frame, targets)
    result = rake(frame, targets, align_totals=True)
    assert result.converged
    assert result.weights.sum() == pytest.approx(targets["gender"].sum())


def test_zero_population_with_respondents_and_tiny_cells() -> None:
    frame, targets = _panel(), _margins(_cross())
    targets[("district", "gender")].loc[("0182", "man")] = 0.0
    targets["gender"].loc["man"] -= _cross().loc[("man", slice(None), "0182")].sum()
    targets["age_group"] = targets["age_group"] * targets["gender"].sum() / targets["age_group"].sum()
    with pytest.raises(ValueError, match="population count is 0"):
        rake(frame, targets)
    small = _panel(n=40)  # so sparse that raking only approaches its margins
    with pytest.warns(ConvergenceWarning):
        result = rake(small, _margins(_cross()), on_nonconvergence="warn")
    assert any(issue.kind == "tiny_cell" for issue in result.report.issues)


def test_infeasible_bounds_are_reported_before_weighting() -> None:
    frame, targets = _panel(), _margins(_cross())
    with pytest.raises(ValueError, match="cannot reach"):
        weight(frame, targets, "logit", bounds=(0.9, 1.1))
    with pytest.raises(ValueError, match="cannot meet the targets"):
        rake(frame, targets, trim=Trim(upper=1.01, relative_to="mean", reweight=True))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f, t: weight(f, t, "ipf"), "unknown method"),
        (lambda f, t: weight(f, {"gender": [1, 2]}), "pandas Series"),
        (lambda f, t: weight(f, {"kön": t["gender"]}), "no such column"),
        (lambda f, t: weight(f, {"gender": -t["gender"]}), "negative"),
        (lambda f, t: weight(f, {("district", "gender"): t["gender"]}), "MultiIndex"),
        (lambda f, t: weight(f, t, weights=np.zeros(len(f))), "positive"),
        (lambda f, t: weight(f, t, "linear", bounds=(0.5, 2)), "takes no bounds"),
        (lambda f, t: weight(f, t, "logit"), "needs bounds"),
        (lambda f, t: weight(f, t, tolerance=0), "tolerance"),
        (lambda f, t: weight(f, t, on_nonconvergence="ignore"), "on_nonconvergence"),
        (lambda f, t: weight(f, t, "poststratify"), "one margin"),
        (lambda f, t: weight(f, {"gender": t["gender"], "y": 3.0}), "calibration methods"),
        (lambda f, t: weight(f.iloc[:0], t), "no respondents"),
    ],
)
def test_bad_input_raises_value_error_saying_what_to_fix(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(_panel(), _margins(_cross()))  # type: ignore[operator]


# --- convergence -------------------------------------------------------------------


def test_a_stalled_rake_is_never_reported_converged() -> None:
    # Respondents only on the diagonal: every sweep ends where it began, the
    # error stays at 60 % (ipfn's stall rule would call this converged).
    frame = pd.DataFrame({"gender": ["kvinna", "man"] * 5, "age_group": ["16-29", "30-49"] * 5})
    targets = {"gender": pd.Series({"kvinna": 50.0, "man": 50.0}),
               "age_group": pd.Series({"16-29": 80.0, "30-49": 20.0})}
    with pytest.raises(ConvergenceError, match="did not converge"):
        rake(frame, targets)
    with pytest.warns(ConvergenceWarning):
        result = rake(frame, targets, on_nonconvergence="warn", max_iterations=50)
    assert not result.converged and result.max_relative_error > 0.5 and result.iterations == 50


def test_iteration_cap_is_an_error_or_a_warning_by_policy() -> None:
    frame, targets = _panel(), _margins(_cross())
    with pytest.raises(ConvergenceError):
        rake(frame, targets, max_iterations=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = rake(frame, targets, max_iterations=1, on_nonconvergence="warn")
    assert [w.category for w in caught] == [ConvergenceWarning]
    assert not result.converged


# --- trimming ----------------------------------------------------------------------


def test_trim_redistribution_rules() -> None:
    w = np.array([1.0, 2.0, 3.0, 10.0])
    equal = trim_weights(w, upper=5.0)
    proportional = trim_weights(w, upper=5.0, redistribution="proportional")
    np.testing.assert_allclose(equal.weights, [1 + 5 / 3, 2 + 5 / 3, 3 + 5 / 3, 5.0])
    np.testing.assert_allclose(proportional.weights, [1 + 5 / 6, 2 + 10 / 6, 3 + 15 / 6, 5.0])
    assert equal.weights.sum() == proportional.weights.sum() == pytest.approx(16.0)
    strict = trim_weights(np.array([1.0, 1.0, 4.5, 10.0]), upper=5.0, strict=True)
    # R re-admits weights sitting at the bound to the shares, so strict trimming
    # converges geometrically rather than in two passes.
    assert strict.weights.max() <= 5.0 * (1 + 1e-12) and strict.passes > 2
    with pytest.raises(ValueError, match="reversed"):
        trim_weights(w, lower=3, upper=2)
    with pytest.raises(ValueError, match="widen"):
        trim_weights(w, upper=3.0, strict=True)


def test_trim_and_reweight_until_margins_and_bounds_both_hold() -> None:
    frame, targets = _panel(), _margins(_cross())
    raked = rake(frame, targets)
    cap = 0.9 * raked.weights.max() / raked.weights.mean()
    result = rake(frame, targets, trim=Trim(upper=cap, relative_to="mean", strict=True, reweight=True))
    assert result.converged and result.trimming is not None
    assert result.trimming.within_bounds and result.trimming.rounds >= 1
    assert result.weights.max() <= result.trimming.upper * (1 + 1e-6)
    assert result.max_relative_error <= 1e-10
    assert len(result.design.adjustments) == result.trimming.rounds + 1
    once = rake(frame, targets, trim=Trim(upper=cap, relative_to="mean"))
    assert once.weights.sum() == pytest.approx(raked.weights.sum())
    assert once.max_relative_error > 1e-6  # the margins no longer hold after trimming alone


# --- summaries ---------------------------------------------------------------------


def test_weight_summary_formulas() -> None:
    w = np.random.default_rng(2).gamma(2.0, 50.0, 101)
    row = weight_summary(w).loc["all"]
    assert row["n"] == 101 and row["total"] == pytest.approx(w.sum())
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        assert row[f"q{round(q * 100):02d}"] == pytest.approx(np.quantile(w, q))
    cv = w.std() / w.mean()
    assert row["cv"] == pytest.approx(cv)
    assert row["deff"] == pytest.approx(1 + cv**2)
    assert row["effective_n"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
    by = weight_summary(w, by=np.where(np.arange(101) < 40, "0180", "0181"))
    assert list(by.index) == ["all", "0180", "0181"]
    assert by.loc["0180", "deff"] == pytest.approx(weight_summary(w[:40]).loc["all", "deff"])


def test_result_summary_is_computed_on_cells_and_per_district() -> None:
    frame, targets = _panel(), _margins(_cross())
    result = rake(frame, targets)
    direct = weight_summary(result.weights, by=frame["district"])
    pd.testing.assert_frame_equal(result.summary.loc[direct.index].astype(float), direct.astype(float),
                                  check_exact=False, rtol=1e-10)
    assert result.design_effect == pytest.approx(direct.loc["all", "deff"])
    assert result.effective_sample_size == pytest.approx(len(frame) / result.design_effect)


# --- properties --------------------------------------------------------------------


@st.composite
def _problems(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[object, pd.Series]]:
    n_extra = draw(st.integers(0, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = pd.MultiIndex.from_product([GENDERS, AGES[:3], DISTRICTS[:2]]).to_frame(index=False)
    base.columns = ["gender", "age_group", "district"]
    extra = base.sample(n_extra, replace=True, random_state=int(rng.integers(2**31)))
    frame = pd.concat([base, extra], ignore_index=True)
    counts = rng.integers(1, 10_000, len(base)).astype(float)
    cross = pd.Series(counts, index=pd.MultiIndex.from_frame(base))
    targets: dict[object, pd.Series] = {
        "gender": cross.groupby(level="gender").sum(),
        "age_group": cross.groupby(level="age_group").sum(),
        ("district", "gender"): cross.groupby(level=["district", "gender"]).sum(),
    }
    return frame, targets


PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_problems())
def test_property_weights_reproduce_the_margins(problem: tuple[pd.DataFrame, dict[object, pd.Series]]) -> None:
    frame, targets = problem
    for method in ("rake", "linear", "raking_ratio"):
        result = weight(frame, targets, method, tolerance=1e-11, max_iterations=5000)
        for key, target in targets.items():
            columns = [key] if isinstance(key, str) else list(key)
            achieved = _totals(frame, result.weights, columns).loc[target.index]
            np.testing.assert_allclose(achieved.to_numpy(), target.to_numpy(), rtol=1e-9)


@PROPERTY
@given(_problems(), st.floats(1e-3, 1e3))
def test_property_scaling_targets_scales_weights(
    problem: tuple[pd.DataFrame, dict[object, pd.Series]], factor: float
) -> None:
    frame, targets = problem
    scaled = {key: target * factor for key, target in targets.items()}
    np.testing.assert_allclose(rake(frame, scaled, max_iterations=5000).weights,
                               rake(frame, targets, max_iterations=5000).weights * factor, rtol=1e-8)


@PROPERTY
@given(_problems(), st.randoms(use_true_random=False))
def test_property_permuting_rows_permutes_weights(
    problem: tuple[pd.DataFrame, dict[object, pd.Series]], random: object
) -> None:
    frame, targets = problem
    order = np.arange(len(frame))
    random.shuffle(order)  # type: ignore[attr-defined]
    weights = rake(frame, targets, max_iterations=5000).weights
    permuted = rake(frame.iloc[order].reset_index(drop=True), targets, max_iterations=5000).weights
    np.testing.assert_allclose(permuted, weights[order], rtol=1e-12)
