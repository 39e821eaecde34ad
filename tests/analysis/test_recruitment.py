"""Tests for analysis.recruitment: invitations per stratum that bring the margins in line."""

from __future__ import annotations

import doctest
import itertools
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis.recruitment
from analysis.recruitment import plan_recruitment

AGES = ["16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]
DISTRICTS = [f"{i:04d}" for i in range(1, 13)]


def _members(counts: dict[tuple[str, ...], int], columns: tuple[str, ...]) -> pd.DataFrame:
    rows = [key for key, k in counts.items() for _ in range(k)]
    return pd.DataFrame(rows, columns=list(columns))


def _keys(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    joined = frame[columns[0]].astype(str)
    for column in columns[1:]:
        joined = joined + "|" + frame[column].astype(str)
    return joined.to_numpy()


def _check_claims(plan, members: pd.DataFrame, targets: dict, variables: tuple[str, ...]) -> None:
    """Recompute every margin from the plan itself and check what the plan says about it."""
    strata = plan.strata
    t = plan.tolerance_pp / 100
    assert (strata["invitations"] >= 0).all()
    assert (strata["invitations"] <= strata["max_invitations"]).all()
    assert strata["expected_joiners"].to_numpy() == pytest.approx(
        (strata["invitations"] * strata["join_rate"]).to_numpy()
    )
    Y = strata["expected_joiners"].sum()
    assert plan.expected_new_members == pytest.approx(Y)
    assert plan.invitations == strata["invitations"].sum()
    if plan.new_members is not None:
        assert Y >= plan.new_members - 1e-6
    checked = 0
    for key, target in targets.items():
        key_vars = (key,) if isinstance(key, str) else key
        if not set(key_vars) <= set(variables):
            continue
        pi = target / target.sum()
        labels = ["|".join(str(x) for x in (c if isinstance(c, tuple) else (c,))) for c in target.index]
        member_keys = _keys(members, key_vars)
        stratum_keys = _keys(strata, key_vars)
        M = np.isin(member_keys, labels).sum()
        for label, share in zip(labels, pi.to_numpy(), strict=True):
            joiners = strata["expected_joiners"].to_numpy()[stratum_keys == label].sum()
            after = ((member_keys == label).sum() + joiners) / (M + Y)
            assert abs(after - share) <= t + 1e-6, (key, label, after, share)
            checked += 1
    assert checked == len(plan.margins)
    assert plan.margins["within_tolerance"].all()


def test_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(analysis.recruitment, verbose=False)
    assert tried > 0
    assert failures == 0


def test_one_margin_by_hand() -> None:
    # 60 women, 40 men; population 50/50; tolerance 2 points → women ≤ 52 %:
    # 60/(100 + Y) ≤ 0.52 → Y ≥ 15.38 new men. p₀ = 30/200; men's rate (10 + 10·0.15)/110.
    members = _members({("kvinna",): 60, ("man",): 40}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 10]})
    plan = plan_recruitment(members, targets, history, variables=["gender"], tolerance_pp=2.0)
    rate = 11.5 / 110
    strata = plan.strata.set_index("gender")
    assert strata.loc["man", "join_rate"] == pytest.approx(rate)
    assert strata.loc["kvinna", "join_rate"] == pytest.approx((20 + 1.5) / 110)
    assert strata.loc["man", "invitations"] == int(np.ceil((60 / 0.52 - 100) / rate))  # 148
    assert strata.loc["kvinna", "invitations"] == 0
    assert plan.prior_rate == pytest.approx(0.15)
    assert plan.optimal
    margins = plan.margins.set_index("category")
    assert margins.loc["kvinna", "difference_before_pp"] == pytest.approx(10.0)
    assert margins.loc["kvinna", "share_after"] <= 0.52
    _check_claims(plan, members, targets, ("gender",))


def test_a_panel_already_within_tolerance_needs_no_invitations() -> None:
    members = _members({("kvinna",): 51, ("man",): 49}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [10, 10], "joined": [1, 1]})
    plan = plan_recruitment(members, targets, history, variables=["gender"])
    assert plan.invitations == 0 and plan.expected_new_members == 0


def test_a_given_number_of_new_members() -> None:
    members = _members({("kvinna",): 51, ("man",): 49}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 10]})
    plan = plan_recruitment(members, targets, history, variables=["gender"], new_members=50)
    assert plan.expected_new_members >= 50
    # the cheapest way to 50 is through the women's higher join rate, as far as the margin allows
    strata = plan.strata.set_index("gender")
    assert strata.loc["kvinna", "expected_joiners"] > strata.loc["man", "expected_joiners"]
    _check_claims(plan, members, {"gender": targets["gender"]}, ("gender",))


def test_join_rates_are_shrunk_and_strata_without_history_flagged() -> None:
    members = _members({("kvinna", "16-24"): 10, ("man", "75+"): 10}, ("gender", "age_group"))
    targets = {
        "gender": pd.Series({"kvinna": 100.0, "man": 100.0}),
        "age_group": pd.Series({"16-24": 100.0, "75+": 100.0}),
    }
    history = pd.DataFrame(
        {"gender": ["kvinna", "man", "man"], "age_group": ["16-24", "16-24", "75+"],
         "invited": [50, 20, 30], "joined": [10, 0, 10]}
    )
    plan = plan_recruitment(members, targets, history, variables=["gender", "age_group"], prior_strength=10)
    strata = plan.strata.set_index(["gender", "age_group"])
    p0 = 20 / 100
    assert strata.loc[("man", "16-24"), "join_rate"] == pytest.approx((0 + 10 * p0) / (20 + 10))
    assert strata.loc[("kvinna", "75+"), "join_rate"] == pytest.approx(p0)
    assert strata.loc[("kvinna", "75+"), "rate_from_prior_only"]
    assert not strata.loc[("man", "75+"), "rate_from_prior_only"]
    # without a joint table, the stratum shares are the product of the margins
    assert plan.stratum_shares == "product of margins (independence)"
    assert strata["target_share"].to_numpy() == pytest.approx([0.25] * 4)


def test_history_as_one_row_per_invited_person() -> None:
    members = _members({("kvinna",): 60, ("man",): 40}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    per_person = pd.DataFrame({"gender": ["kvinna"] * 100 + ["man"] * 100, "joined": [1] * 20 + [0] * 80 + [1] * 10 + [0] * 90})
    counted = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 10]})
    a = plan_recruitment(members, targets, per_person, variables=["gender"])
    b = plan_recruitment(members, targets, counted, variables=["gender"])
    assert a.strata["invitations"].tolist() == b.strata["invitations"].tolist()


def test_members_without_a_population_gender_count_in_the_other_margins() -> None:
    members = _members(
        {("kvinna", "16-24"): 10, ("man", "16-24"): 10, ("annan", "75+"): 30}, ("gender", "age_group")
    )
    targets = {
        "gender": pd.Series({"kvinna": 100.0, "man": 100.0}),
        "age_group": pd.Series({"16-24": 100.0, "75+": 100.0}),
    }
    history = pd.DataFrame({"gender": ["kvinna"], "age_group": ["16-24"], "invited": [10], "joined": [2]})
    plan = plan_recruitment(members, targets, history, variables=["gender", "age_group"], tolerance_pp=1)
    margins = plan.margins.set_index(["variable", "category"])
    assert margins.loc[("gender", "kvinna"), "share_before"] == pytest.approx(0.5)  # 10 of 20
    assert margins.loc[("age_group", "75+"), "share_before"] == pytest.approx(0.6)  # 30 of 50
    assert margins.loc[("age_group", "75+"), "within_tolerance"]
    # all new members go to 16-24: the 75+ members (all 'annan') already over-represent 75+
    strata = plan.strata.set_index(["gender", "age_group"])
    assert strata.xs("75+", level="age_group")["invitations"].sum() == 0
    _check_claims(plan, members, targets, ("gender", "age_group"))


def test_a_joint_table_gives_residents_and_target_shares_and_caps_invitations() -> None:
    index = pd.MultiIndex.from_tuples(
        [("kvinna", "0101"), ("kvinna", "0102"), ("man", "0101"), ("man", "0102")], names=["gender", "district"]
    )
    joint = pd.Series([300.0, 100.0, 250.0, 350.0], index=index)
    targets = {
        "gender": joint.groupby(level="gender").sum(),
        "district": joint.groupby(level="district").sum(),
        ("gender", "district"): joint,
    }
    members = _members({("kvinna", "0101"): 40, ("man", "0101"): 10}, ("gender", "district"))
    history = pd.DataFrame({"gender": ["man"], "district": ["0102"], "invited": [100], "joined": [50]})
    plan = plan_recruitment(members, targets, history, variables=["gender", "district"], tolerance_pp=5)
    strata = plan.strata.set_index(["gender", "district"])
    assert plan.stratum_shares == "joint population table"
    assert strata.loc[("man", "0102"), "target_share"] == pytest.approx(0.35)
    assert strata.loc[("man", "0101"), "max_invitations"] == 240  # 250 residents − 10 members
    assert set(plan.margins["variable"]) == {"gender", "district", "gender × district"}
    _check_claims(plan, members, targets, ("gender", "district"))


def test_realistic_municipality_plan_is_fast_and_meets_its_margins() -> None:
    rng = np.random.default_rng(3)
    targets = {
        "gender": pd.Series({"kvinna": 30152.0, "man": 29972.0}),
        "age_group": pd.Series(rng.integers(4000, 9000, len(AGES)).astype(float), index=AGES),
        "district": pd.Series(rng.integers(3000, 8000, len(DISTRICTS)).astype(float), index=DISTRICTS),
    }
    n = 1500
    members = pd.DataFrame(
        {
            "gender": rng.choice(["kvinna", "man", "annan"], n, p=[0.58, 0.40, 0.02]),
            "age_group": rng.choice(AGES, n, p=np.array([1, 2, 3, 4, 5, 6, 4]) / 25),
            "district": rng.choice(DISTRICTS, n),
        }
    )
    history = pd.DataFrame(
        list(itertools.product(["kvinna", "man"], AGES, DISTRICTS)), columns=["gender", "age_group", "district"]
    )
    history["invited"] = rng.integers(0, 40, len(history))
    history["joined"] = rng.binomial(history["invited"], 0.12)
    start = time.perf_counter()
    plan = plan_recruitment(members, targets, history, tolerance_pp=2.0)
    assert time.perf_counter() - start < 5.0
    assert len(plan.strata) == 2 * 7 * 12
    assert plan.optimal
    before = plan.margins["difference_before_pp"].abs().max()
    after = plan.margins["difference_after_pp"].abs().max()
    assert before > 10 and after <= 2.0 + 1e-6
    _check_claims(plan, members, targets, ("gender", "age_group", "district"))


_GENDERS = ["kvinna", "man"]


@st.composite
def _scenario(draw: st.DrawFn):
    ages = AGES[: draw(st.integers(min_value=2, max_value=3))]
    districts = DISTRICTS[: draw(st.integers(min_value=2, max_value=3))]
    populations = st.floats(min_value=1e5, max_value=1e6)
    targets = {
        "gender": pd.Series([draw(populations) for _ in _GENDERS], index=_GENDERS),
        "age_group": pd.Series([draw(populations) for _ in ages], index=ages),
        "district": pd.Series([draw(populations) for _ in districts], index=districts),
    }
    strata = list(itertools.product(_GENDERS + ["annan"], ages, districts))
    counts = draw(st.lists(st.integers(min_value=0, max_value=15), min_size=len(strata), max_size=len(strata)))
    if sum(counts) == 0:
        counts[0] = 1
    members = _members(dict(zip(strata, counts, strict=True)), ("gender", "age_group", "district"))
    history = pd.DataFrame(list(itertools.product(_GENDERS, ages, districts)), columns=["gender", "age_group", "district"])
    invited = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=len(history), max_size=len(history)))
    history["invited"] = invited
    history["joined"] = [draw(st.integers(min_value=0, max_value=k)) for k in invited]
    if history["joined"].sum() == 0:
        history.loc[0, ["invited", "joined"]] = [10, 1]
    tolerance = draw(st.floats(min_value=1.0, max_value=10.0))
    new_members = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=300)))
    return members, targets, history, tolerance, new_members


@settings(max_examples=25, deadline=None)
@given(_scenario())
def test_the_plan_meets_the_constraints_it_claims(scenario) -> None:
    members, targets, history, tolerance, new_members = scenario
    plan = plan_recruitment(members, targets, history, tolerance_pp=tolerance, new_members=new_members)
    _check_claims(plan, members, targets, ("gender", "age_group", "district"))


def test_nobody_can_be_recruited_into_a_short_category() -> None:
    members = _members({("kvinna",): 80, ("man",): 20}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 0]})
    with pytest.raises(ValueError, match="too few in gender 'man' and nobody can be recruited"):
        plan_recruitment(members, targets, history, variables=["gender"], prior_strength=0)


def test_too_few_residents_left_to_invite() -> None:
    members = _members({("kvinna",): 80, ("man",): 20}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 30.0})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 10]})
    with pytest.raises(ValueError, match="not enough residents left"):
        plan_recruitment(members, targets, history, variables=["gender"], new_members=2000)


def test_a_tolerance_tighter_than_whole_invitations() -> None:
    # Exactly 50 %: 3 + x_k = 2 + 0.37 x_m needs x_m = 100(1 + x_k)/37, i.e. x_k = 36 women,
    # but only 10 − 3 = 7 are left to invite. The LP relaxation (x_m = 2.7) is feasible.
    members = _members({("kvinna",): 3, ("man",): 2}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 10.0, "man": 10.0})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [10, 100], "joined": [10, 37]})
    with pytest.raises(ValueError, match="whole invitations"):
        plan_recruitment(members, targets, history, variables=["gender"], tolerance_pp=0, prior_strength=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tolerance_pp": -1}, "tolerance_pp"),
        ({"new_members": 0}, "new_members"),
        ({"new_members": 2.5}, "new_members"),
        ({"prior_rate": 0}, "prior_rate"),
        ({"prior_strength": -1}, "prior_strength"),
        ({"variables": ["gender", "district"]}, "no column 'district'"),
        ({"margins": ["district"]}, "not among the targets"),
    ],
)
def test_bad_arguments_say_what_to_fix(kwargs: dict, message: str) -> None:
    members = _members({("kvinna",): 3, ("man",): 2}, ("gender",))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [10, 10], "joined": [1, 1]})
    kwargs = {"variables": ["gender"], **kwargs}
    with pytest.raises(ValueError, match=message):
        plan_recruitment(members, targets, history, **kwargs)


def test_bad_history_and_missing_margins() -> None:
    members = _members({("kvinna", "16-24"): 3}, ("gender", "age_group"))
    targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    history = pd.DataFrame({"gender": ["kvinna"], "age_group": ["16-24"], "invited": [10], "joined": [1]})
    with pytest.raises(ValueError, match="single-variable margin for 'age_group'"):
        plan_recruitment(members, targets, history, variables=["gender", "age_group"])
    one = {"variables": ["gender"]}
    with pytest.raises(ValueError, match="joined ≤ invited"):
        plan_recruitment(members, targets, history.assign(joined=11), **one)
    with pytest.raises(ValueError, match="give prior_rate"):
        plan_recruitment(members, targets, history.assign(invited=0, joined=0), **one)
    with pytest.raises(ValueError, match="give prior_rate"):
        plan_recruitment(members, targets, history.assign(joined=0), **one)
    with pytest.raises(ValueError, match="'joined' column"):
        plan_recruitment(members, targets, history.drop(columns="joined"), **one)
    empty = members.iloc[0:0]
    with pytest.raises(ValueError, match="give new_members"):
        plan_recruitment(empty, targets, history, **one)
    plan = plan_recruitment(empty, targets, history, new_members=10, **one)
    assert plan.expected_new_members >= 10
