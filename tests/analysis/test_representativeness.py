"""Tests for analysis.representativeness: composition against the population, response rates.

Reference numbers come from R (chisq.test), produced by
tests/analysis/reference/representativeness_reference.R into
representativeness_reference.json; the rest are computed by hand in the comments.
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

import analysis.representativeness
from analysis.representativeness import (
    GENDERS_WITHOUT_POPULATION,
    compare_to_population,
    response_rates,
)

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "representativeness_reference.json").read_text()
)

# Gotland (kommun 0980), 16 years and older, 31 Dec 2020. Källa: SCB (see ../shared/data/README.md).
GOTLAND_16PLUS = pd.Series({"kvinna": 25362.0, "man": 24852.0})


def _group(counts: dict[str, int], column: str = "gender") -> pd.DataFrame:
    return pd.DataFrame({column: [c for c, k in counts.items() for _ in range(k)]})


def test_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(analysis.representativeness, verbose=False)
    assert tried > 0
    assert failures == 0


# ----------------------------------------------------------------------------- composition


def test_chi_square_and_dissimilarity_match_r() -> None:
    # R: chisq.test(c(kvinna = 130, man = 95), p = population / sum(population))
    ref = REFERENCE["composition_gender"]
    group = _group(ref["observed"])
    targets = {"gender": pd.Series(ref["population"], dtype=float)}
    result = compare_to_population(group, targets)
    summary = result.summary("gender")
    assert summary.chi_square == pytest.approx(ref["chi_square"], rel=1e-12)
    assert summary.dof == ref["dof"]
    assert summary.p_value == pytest.approx(ref["p_value"], rel=1e-10)
    assert summary.dissimilarity == pytest.approx(ref["dissimilarity"], rel=1e-12)
    expected = result.table.set_index("category")["expected"]
    for category, value in ref["expected"].items():
        assert expected[category] == pytest.approx(value, rel=1e-12)


def test_age_comparison_matches_r_with_four_categories() -> None:
    ref = REFERENCE["composition_age"]
    group = _group(ref["observed"], column="age_group")
    result = compare_to_population(group, {"age_group": pd.Series(ref["population"], dtype=float)})
    summary = result.summary("age_group")
    assert summary.chi_square == pytest.approx(ref["chi_square"], rel=1e-12)
    assert summary.dof == 3
    assert summary.p_value == pytest.approx(ref["p_value"], rel=1e-10)


def test_table_columns_by_hand() -> None:
    # 30 women, 20 men against Gotland 16+: π_kvinna = 25362 / 50214 = 0.505078.
    result = compare_to_population(_group({"kvinna": 30, "man": 20}), {"gender": GOTLAND_16PLUS})
    row = result.table.set_index("category").loc["kvinna"]
    pi = 25362 / 50214
    assert row["count"] == 30
    assert row["share"] == pytest.approx(0.6)
    assert row["population_share"] == pytest.approx(pi)
    assert row["difference_pp"] == pytest.approx(100 * (0.6 - pi))
    assert row["expected"] == pytest.approx(50 * pi)
    assert np.isnan(row["weighted_share"])
    assert result.summary("gender").dissimilarity == pytest.approx(0.6 - pi)
    assert list(result.table.columns[:3]) == ["variable", "category", "gender"]


def test_genders_without_population_are_counted_and_left_out_silently() -> None:
    group = pd.DataFrame(
        {
            "gender": ["kvinna"] * 5 + ["man"] * 5 + ["annan"] * 2 + ["uppger_ej"],
            "age_group": ["16-24"] * 6 + ["25-34"] * 7,
        }
    )
    targets = {
        "gender": pd.Series({"kvinna": 10.0, "man": 10.0}),
        "age_group": pd.Series({"16-24": 10.0, "25-34": 10.0}),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message=".*below 5")
        result = compare_to_population(group, targets)
    gender = result.summary("gender")
    assert dict(gender.excluded) == {"annan": 2, "uppger_ej": 1}
    assert gender.n_compared == 10 and gender.n_excluded == 3
    assert gender.dissimilarity == 0.0
    # the age comparison keeps everyone, whatever their gender
    age = result.summary("age_group")
    assert age.n_compared == 13 and age.n_excluded == 0
    assert GENDERS_WITHOUT_POPULATION == {"annan", "uppger_ej"}


def test_unknown_codes_and_missing_values_are_excluded_with_a_warning() -> None:
    group = pd.DataFrame({"district": ["0180"] * 8 + ["180", None] + ["0181"] * 8})
    targets = {"district": pd.Series({"0180": 100.0, "0181": 100.0})}
    with pytest.warns(UserWarning, match="'180' \\(1\\)"):
        result = compare_to_population(group, targets)
    assert dict(result.summary("district").excluded) == {"180": 1, "missing": 1}
    assert result.summary("district").n_compared == 16


def test_cross_targets_with_named_levels_in_another_order() -> None:
    index = pd.MultiIndex.from_tuples(
        [("16-24", "kvinna"), ("16-24", "man"), ("25-34", "kvinna"), ("25-34", "man")],
        names=["age_group", "gender"],
    )
    targets = {("gender", "age_group"): pd.Series([10.0, 20.0, 30.0, 40.0], index=index)}
    group = pd.DataFrame(
        {"gender": ["kvinna", "man", "man", "kvinna", "man", "annan"],
         "age_group": ["16-24", "16-24", "16-24", "25-34", "25-34", "25-34"]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compare_to_population(group, targets)
    table = result.table.set_index("category")
    assert table.loc["man × 16-24", "count"] == 2
    assert table.loc["man × 16-24", "population_share"] == pytest.approx(0.2)
    assert table.loc["kvinna × 25-34", "gender"] == "kvinna"
    assert table.loc["kvinna × 25-34", "age_group"] == "25-34"
    assert dict(result.summary(("gender", "age_group")).excluded) == {"annan × 25-34": 1}


def test_weights_that_reproduce_the_population_give_zero_weighted_dissimilarity() -> None:
    group = _group({"kvinna": 30, "man": 20})
    # weight = N_c / n_c: the weighted counts are the population counts
    weights = np.where(group["gender"] == "kvinna", 25362 / 30, 24852 / 20)
    result = compare_to_population(group, {"gender": GOTLAND_16PLUS}, weights=weights)
    assert result.summary("gender").weighted_dissimilarity == pytest.approx(0.0, abs=1e-12)
    assert result.summary("gender").dissimilarity > 0.09
    table = result.table.set_index("category")
    assert table.loc["man", "weighted_count"] == pytest.approx(24852)
    assert table.loc["man", "weighted_difference_pp"] == pytest.approx(0.0, abs=1e-10)
    # a weights column name works the same
    named = compare_to_population(group.assign(w=weights), {"gender": GOTLAND_16PLUS}, weights="w")
    assert named.summary("gender").weighted_dissimilarity == pytest.approx(0.0, abs=1e-12)


def test_small_expected_counts_warn_and_are_counted() -> None:
    group = _group({"16-24": 1, "25-34": 3, "35-44": 6}, column="age_group")
    targets = {"age_group": pd.Series({"16-24": 10.0, "25-34": 30.0, "35-44": 60.0})}
    with pytest.warns(UserWarning, match="2 of 3 cells have expected counts below 5"):
        result = compare_to_population(group, targets)
    summary = result.summary("age_group")
    assert summary.small_expected_cells == 2
    assert summary.min_expected == pytest.approx(1.0)
    assert "below 5" in summary.note


def test_zero_population_cells() -> None:
    targets = {"age_group": pd.Series({"16-24": 0.0, "25-34": 50.0, "35-44": 50.0})}
    empty = _group({"25-34": 10, "35-44": 10}, column="age_group")
    summary = compare_to_population(empty, targets).summary("age_group")
    assert summary.dof == 1  # the empty zero cell adds nothing
    assert summary.chi_square == 0.0
    occupied = _group({"16-24": 1, "25-34": 10, "35-44": 10}, column="age_group")
    with pytest.warns(UserWarning, match="infinite"):
        summary = compare_to_population(occupied, targets).summary("age_group")
    assert summary.chi_square == np.inf and summary.p_value == 0.0


def test_cell_key_noise_is_tolerated_each_target_uses_its_own_total() -> None:
    # Gotland 2026M01 (CKM-perturbed): män 30 192 + kvinnor 30 645 = 60 837 ≠ 60 841 by age
    targets = {
        "gender": pd.Series({"kvinna": 30645.0, "man": 30192.0}),
        "age_group": pd.Series({"0-39": 25000.0, "40+": 35841.0}),
    }
    group = pd.DataFrame({"gender": ["kvinna", "man"] * 20, "age_group": ["0-39"] * 17 + ["40+"] * 23})
    result = compare_to_population(group, targets)
    shares = result.table.groupby("variable")["population_share"].sum()
    assert shares.to_dict() == pytest.approx({"gender": 1.0, "age_group": 1.0})


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ({"district": pd.Series({180: 10.0, 181: 10.0})}, "leading zeros"),
        ({"gender": pd.Series({"kvinna": -1.0, "man": 10.0})}, "negative"),
        ({"gender": pd.Series({"kvinna": np.nan, "man": 10.0})}, "missing or infinite"),
        ({"gender": pd.Series({"kvinna": 0.0, "man": 0.0})}, "sums to zero"),
        ({"gender": [1, 2]}, "pandas Series"),
        ({("gender", "age_group"): pd.Series({"kvinna": 1.0})}, "MultiIndex"),
        ({"kommun": pd.Series({"0980": 1.0})}, "no column 'kommun'"),
        ({}, "non-empty"),
    ],
)
def test_bad_targets_say_what_to_fix(targets: dict, message: str) -> None:
    group = pd.DataFrame({"gender": ["kvinna"], "age_group": ["16-24"], "district": ["0180"]})
    with pytest.raises(ValueError, match=message):
        compare_to_population(group, targets)


def test_numeric_district_codes_in_the_group_are_refused() -> None:
    group = pd.DataFrame({"district": [180, 181]})
    with pytest.raises(ValueError, match="leading zeros"):
        compare_to_population(group, {"district": pd.Series({"0180": 1.0, "0181": 1.0})})


def test_bad_weights_are_refused() -> None:
    group = _group({"kvinna": 2, "man": 2})
    with pytest.raises(ValueError, match="negative"):
        compare_to_population(group, {"gender": GOTLAND_16PLUS}, weights=[1, -1, 1, 1])
    with pytest.raises(ValueError, match="one value per row"):
        compare_to_population(group, {"gender": GOTLAND_16PLUS}, weights=[1, 1])


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=40), min_size=2, max_size=6),
    factor=st.integers(min_value=1, max_value=500),
)
def test_dissimilarity_is_zero_when_the_group_has_the_population_shares(counts: list[int], factor: int) -> None:
    if sum(counts) == 0:
        counts = [1] + counts[1:]
    categories = [f"{i:04d}" for i in range(len(counts))]
    group = _group(dict(zip(categories, counts, strict=True)), column="district")
    population = pd.Series([c * factor for c in counts], index=categories, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = compare_to_population(group, {"district": population}).summary("district")
    assert summary.dissimilarity == pytest.approx(0.0, abs=1e-12)
    assert summary.chi_square == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(min_value=0, max_value=60), st.floats(min_value=0.0, max_value=1e5)),
        min_size=2,
        max_size=8,
    ),
    weight=st.floats(min_value=0.1, max_value=1000.0),
)
def test_expected_counts_sum_to_the_observed_total(data: list[tuple[int, float]], weight: float) -> None:
    counts = [c for c, _ in data]
    population = [p for _, p in data]
    if sum(counts) == 0 or sum(population) <= 0:
        return
    categories = [f"c{i}" for i in range(len(data))]
    group = _group(dict(zip(categories, counts, strict=True)), column="age_group")
    targets = {"age_group": pd.Series(population, index=categories)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compare_to_population(group, targets, weights=np.full(len(group), weight))
    table = result.table
    summary = result.summary("age_group")
    assert table["expected"].sum() == pytest.approx(sum(counts), rel=1e-12)
    assert table["share"].sum() == pytest.approx(1.0)
    assert 0.0 <= summary.dissimilarity <= 1.0 + 1e-12
    assert summary.dissimilarity == pytest.approx(table["difference_pp"].abs().sum() / 200)
    # equal weights change nothing
    assert summary.weighted_dissimilarity == pytest.approx(summary.dissimilarity, abs=1e-12)


# --------------------------------------------------------------------------- response rates


def _invitations() -> pd.DataFrame:
    rows = (
        [("kvinna", "16-24", "0180", "complete")] * 6
        + [("kvinna", "16-24", "0180", "partial")] * 2
        + [("kvinna", "65-74", "0181", "refusal")] * 2
        + [("man", "16-24", "0181", "complete")] * 3
        + [("man", "16-24", "0181", "non_contact")] * 2
        + [("man", "65-74", "0180", "no_response")] * 4
        + [("man", "65-74", "0180", "break_off")]
        + [("man", "65-74", "0180", "ineligible")] * 3
        + [("annan", "65-74", "0181", "complete")]
    )
    return pd.DataFrame(rows, columns=["gender", "age_group", "district", "status"])


def test_response_rates_by_hand() -> None:
    # 24 invited, 3 ineligible → 21 eligible; I = 10, P = 2 → RR1 = 10/21, RR2 = 12/21.
    rates = response_rates(_invitations())
    assert (rates.invited, rates.eligible, rates.complete, rates.partial) == (24, 21, 10, 2)
    assert rates.rr1 == pytest.approx(10 / 21)
    assert rates.rr2 == pytest.approx(12 / 21)
    table = rates.table.set_index(["variable", "category"])
    man = table.loc[("gender", "man")]
    # men: 13 invited, 3 ineligible → 10 eligible, 3 complete
    assert (man["invited"], man["eligible"], man["complete"]) == (13, 10, 3)
    assert man["rr1"] == pytest.approx(0.3)
    assert table.loc[("gender × age_group", "man × 65-74"), "eligible"] == 5
    assert table.loc[("gender × age_group", "man × 65-74"), "rr1"] == 0.0
    assert table.loc[("age_group × district", "16-24 × 0180"), "rr2"] == 1.0
    assert list(table.index.get_level_values(0).unique()) == [
        "total", "gender", "age_group", "district",
        "gender × age_group", "gender × district", "age_group × district",
    ]


def test_response_rate_intervals_are_wilson() -> None:
    # Wilson 95 % for 3 of 10: centre (3 + z²/2)/(10 + z²), half-width z·sqrt(p̂q̂/n + z²/4n²)/(1 + z²/n)
    z = 1.959963984540054
    centre = (3 + z**2 / 2) / (10 + z**2)
    half = z * np.sqrt(0.3 * 0.7 / 10 + z**2 / 400) / (1 + z**2 / 10)
    table = response_rates(_invitations(), by=["gender"]).table.set_index("category")
    assert table.loc["man", "rr1_low"] == pytest.approx(centre - half)
    assert table.loc["man", "rr1_high"] == pytest.approx(centre + half)


def test_strata_add_up_to_the_total() -> None:
    rates = response_rates(_invitations())
    table = rates.table
    for variable, part in table[table["variable"] != "total"].groupby("variable"):
        for column in ("invited", "eligible", "complete", "partial", "no_response"):
            assert part[column].sum() == table.iloc[0][column], (variable, column)


def test_a_stratum_with_only_ineligible_invitations_has_no_rate() -> None:
    invited = pd.DataFrame({"district": ["0180", "0181"], "status": ["complete", "ineligible"]})
    table = response_rates(invited, by=["district"]).table.set_index("category")
    assert np.isnan(table.loc["0181", "rr1"]) and np.isnan(table.loc["0181", "rr1_low"])


@pytest.mark.parametrize(
    ("status", "message"),
    [(["complete", "answered"], "unknown dispositions"), (["complete", None], "final disposition")],
)
def test_bad_dispositions_say_what_to_use(status: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        response_rates(pd.DataFrame({"gender": ["kvinna", "man"], "status": status}), by=["gender"])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["kvinna", "man", "annan"]),
            st.sampled_from(["complete", "partial", "break_off", "refusal", "non_contact", "no_response", "ineligible"]),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_rr1_never_exceeds_rr2(rows: list[tuple[str, str]]) -> None:
    table = response_rates(pd.DataFrame(rows, columns=["gender", "status"]), by=["gender"]).table
    rated = table.dropna(subset=["rr1"])
    assert (rated["rr1"] <= rated["rr2"] + 1e-15).all()
    assert ((rated["rr1_low"] <= rated["rr1"] + 1e-12) & (rated["rr1"] <= rated["rr1_high"] + 1e-12)).all()
    assert table.iloc[0]["invited"] == len(rows)


def test_accepts_the_targets_the_scb_importer_yields() -> None:
    from analysis.targets import PopulationTable

    frame = pd.DataFrame(
        {"district": ["0180", "0180", "0181", "0181"], "gender": ["kvinna", "man", "kvinna", "man"],
         "population": [300, 400, 500, 450]}
    )
    targets = PopulationTable.from_frame(frame).targets("gender", "district", ("district", "gender"))
    group = pd.DataFrame({"gender": ["kvinna", "man", "annan", "man"], "district": ["0180", "0181", "0181", "0180"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # four people: expected counts below 5
        result = compare_to_population(group, targets)
    table = result.table.set_index(["variable", "category"])
    assert table.loc[("district × gender", "0181 × man"), "population_share"] == pytest.approx(450 / 1650)
    assert table.loc[("district", "0180"), "count"] == 2
    assert dict(result.summary(("district", "gender")).excluded) == {"0181 × annan": 1}
