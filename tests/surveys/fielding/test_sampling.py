"""The draw itself: filters, reasons for leaving members out, allocation and seeds (no database)."""

from __future__ import annotations

import doctest
import math
from collections import Counter
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.fielding import sampling
from surveys.fielding.sampling import (
    Candidate, Target, age_group, allocate_equal, allocate_proportional, draw, expected_allocation, reason_left_out,
    select,
)

TODAY = date(2026, 3, 1)
_ids = iter(range(1, 10**9))


def member(age: int = 40, gender: str = "kvinna", district: str = "0101", source: str = "open",
           status: str = "active", **fields) -> Candidate:
    return Candidate(id=next(_ids), birth_year=TODAY.year - age, gender=gender, district_code=district,
                     source=source, status=status, **fields)


def test_age_is_the_age_attained_this_year():
    # Born in December 2010: 15 on 1 March 2026, but turns 16 this year, so 16-24 (SCB's convention).
    assert age_group(2010, 2026) == "16-24"
    assert age_group(2011, 2026) == "-"  # turns 15: below every band
    assert age_group(1951, 2026) == "75+"
    assert member(age=25).stratum(2026) == ("kvinna", "25-34", "0101")


def test_the_whole_active_panel():
    panel = [member(), member(status="pending"), member(status="unsubscribed"), member(status="paused",
             paused_until=date(2026, 5, 1)), member(status="paused", paused_until=date(2026, 3, 1))]
    result = select(panel, Target(), today=TODAY)
    assert [m.id for m in result.invited] == [panel[0].id, panel[4].id]  # a pause that ended counts as active
    assert result.excluded == Counter({"pending": 1, "unsubscribed": 1, "paused": 1})


def test_a_youth_panel_of_16_to_25_year_olds():
    panel = [member(age=age) for age in (15, 16, 20, 25, 26, 80)]
    result = select(panel, Target(age_min=16, age_max=25), today=TODAY)
    assert sorted(TODAY.year - m.birth_year for m in result.invited) == [16, 20, 25]
    assert result.excluded["outside_filter"] == 3


@pytest.mark.parametrize("target, expected", [
    (Target(genders=frozenset({"man"})), {"man"}),
    (Target(districts=frozenset({"0102"})), {"0102"}),
    (Target(sources=frozenset({"wave"})), {"wave"}),
])
def test_filters_on_gender_district_and_source(target, expected):
    panel = [member(gender="kvinna", district="0101", source="open"),
             member(gender="man", district="0102", source="wave"),
             member(gender="man", district="0101", source="open"),
             member(gender="kvinna", district="0102", source="wave")]
    invited = select(panel, target, today=TODAY).invited
    assert len(invited) == 2
    values = {m.gender for m in invited} | {m.district_code for m in invited} | {m.source for m in invited}
    assert expected <= values
    assert all(target.admits(m, TODAY.year) for m in invited)


def test_contact_fatigue_leaves_out_and_counts_members_over_the_limit():
    panel = [member(recent_invitations=n) for n in (0, 1, 2, 3)]
    result = select(panel, Target(), today=TODAY, contact_limit=2)
    assert len(result.invited) == 2
    assert result.excluded["contact_limit"] == 2
    assert select(panel, Target(), today=TODAY, contact_limit=None).excluded["contact_limit"] == 0


def test_the_first_reason_is_the_one_counted():
    assert reason_left_out(member(status="paused", age=90, recent_invitations=9), Target(age_max=30),
                           today=TODAY, contact_limit=1) == "paused"
    assert reason_left_out(member(age=90, recent_invitations=9), Target(age_max=30), today=TODAY,
                           contact_limit=1) == "outside_filter"


def test_proportional_allocation_rounds_each_quota_down_or_up():
    sizes = {("k", "16-24", "a"): 50, ("k", "25-34", "a"): 30, ("m", "16-24", "a"): 20}
    # 10 × 50/100 = 5, 10 × 30/100 = 3, 10 × 20/100 = 2: exact, so the same whatever the seed.
    for seed in range(20):
        assert allocate_proportional(sizes, 10, seed=seed) == {("k", "16-24", "a"): 5, ("k", "25-34", "a"): 3,
                                                               ("m", "16-24", "a"): 2}
    # 7 × (.5, .3, .2) = 3.5, 2.1, 1.4: whole parts 3 + 2 + 1 = 6; the unit left goes to one of them at
    # random (it used to go to the largest fraction, .5, always). Every rounding is seen.
    seen = {tuple(allocate_proportional(sizes, 7, seed=seed).values()) for seed in range(200)}
    assert seen == {(4, 2, 1), (3, 3, 1), (3, 2, 2)}
    # Ties no longer go to the first stratum in sorted order: 1 × (1/2, 1/2) goes either way.
    assert {tuple(allocate_proportional({("b",): 1, ("a",): 1}, 1, seed=seed).items()) for seed in range(50)} == {
        ((("a",), 1), (("b",), 0)), ((("a",), 0), (("b",), 1))}


def test_the_module_examples_hold():
    assert doctest.testmod(sampling).failed == 0


def _binomial_bound(p: float, draws: int) -> float:
    """Six standard deviations of a mean of ``draws`` Bernoulli(p) (about 1 in 500 million to exceed)."""
    return 6 * math.sqrt(p * (1 - p) / draws) + 1e-12


# Strata as in the finding: a few large ones and many of 1-3 members, quotas well below one half.
SKEWED = {(f"s{i:02}",): size for i, size in enumerate([1, 1, 1, 2, 2, 3, 3, 5, 8, 13, 21, 34, 55, 89, 144, 1, 2, 1])}


@pytest.mark.parametrize("n", [1, 17, 40, 200])
def test_over_many_seeds_each_stratum_gets_its_quota_on_average(n):
    """Systematic random rounding: stratum h gets floor(q_h) + Bernoulli(frac(q_h)), q_h = n N_h / N."""
    seeds = 4000
    totals = Counter()
    for seed in range(seeds):
        totals.update(allocate_proportional(SKEWED, n, seed=seed))
    quotas = expected_allocation(SKEWED, n)
    total = sum(SKEWED.values())
    for key, size in SKEWED.items():
        quota = Fraction(n * size, total)
        assert quotas[key] == quota
        extra = float(quota - math.floor(quota))
        assert abs(totals[key] / seeds - float(quota)) <= _binomial_bound(extra, seeds), (key, totals[key] / seeds)
    small = [key for key, size in SKEWED.items() if size == 1]
    if n < total / 2:  # every quota of a one-member stratum is below one half: largest remainders gave it 0
        assert all(totals[key] > 0 for key in small)


def test_every_member_has_the_same_chance_of_being_drawn_in_small_strata_too():
    """The finding: 15 members in strata of 1-3 were never drawn, whatever the seed."""
    panel = [member(age=age, gender=gender, district=district)
             for gender, age, district, count in [("kvinna", 30, "0101", 40), ("man", 30, "0101", 35),
                                                  ("kvinna", 50, "0102", 20), ("annan", 30, "0101", 1),
                                                  ("annan", 50, "0102", 2), ("annan", 80, "0103", 1),
                                                  ("man", 80, "0103", 3)]
             for _ in range(count)]
    n, seeds = 10, 3000
    drawn = Counter()
    for seed in range(seeds):
        result = select(panel, Target(), today=TODAY, sample_size=n, seed=seed)
        assert len(result.invited) == n
        drawn.update(m.id for m in result.invited)
    p = n / len(panel)  # the inclusion probability of every member
    for m in panel:
        assert abs(drawn[m.id] / seeds - p) <= _binomial_bound(p, seeds), (m.gender, drawn[m.id] / seeds)


def test_each_gender_and_gender_by_age_band_also_gets_its_quota_rounded_down_or_up():
    sizes = {(gender, age, district): (7 * i + 3 * j + len(district)) % 5 + 1
             for i, gender in enumerate(("annan", "kvinna", "man"))
             for j, age in enumerate(("16-24", "25-34", "35-44", "45-54"))
             for district in ("0101", "0102", "0103", "01040")}
    total = sum(sizes.values())
    for seed in range(200):
        shares = allocate_proportional(sizes, 23, seed=seed)
        for width in (1, 2):  # gender; gender × age band: runs of neighbouring strata in sorted order
            groups, quotas = Counter(), Counter()
            for key, size in sizes.items():
                groups[key[:width]] += shares[key]
                quotas[key[:width]] += size
            assert all(groups[g] in (23 * quotas[g] // total, -(-23 * quotas[g] // total)) for g in groups)


def test_a_seed_gives_one_allocation_and_other_seeds_others():
    assert allocate_proportional(SKEWED, 40, seed=777) == allocate_proportional(dict(reversed(SKEWED.items())), 40,
                                                                                seed=777)
    assert len({tuple(allocate_proportional(SKEWED, 40, seed=seed).values()) for seed in (1, 2, 777)}) > 1


def test_equal_allocation_caps_small_strata_and_shares_the_rest():
    sizes = {("a",): 100, ("b",): 2, ("c",): 100}
    assert allocate_equal(sizes, 30, seed=0) == {("a",): 14, ("b",): 2, ("c",): 14}
    # The unit that does not divide evenly goes to a or c at random (it used to go to a, the first in order).
    assert {tuple(allocate_equal(sizes, 31, seed=seed).values()) for seed in range(50)} == {(15, 2, 14), (14, 2, 15)}
    assert allocate_equal({("a",): 3, ("b",): 3}, 6, seed=0) == {("a",): 3, ("b",): 3}


def test_equal_allocation_smaller_than_the_number_of_strata_leaves_no_stratum_out_for_certain():
    # 3 units over 6 strata: it used to give one each to the three largest, so d, e and f were never drawn.
    sizes = {("a",): 10, ("b",): 9, ("c",): 8, ("d",): 1, ("e",): 1, ("f",): 1}
    seeds = 3000
    totals = Counter()
    for seed in range(seeds):
        shares = allocate_equal(sizes, 3, seed=seed)
        assert sum(shares.values()) == 3 and set(shares.values()) <= {0, 1}
        totals.update(shares)
    assert expected_allocation(sizes, 3, "equal") == {key: Fraction(1, 2) for key in sizes}
    for key in sizes:
        assert abs(totals[key] / seeds - 0.5) <= _binomial_bound(0.5, seeds)


def test_a_sample_larger_than_the_population_is_refused():
    with pytest.raises(ValueError, match="5 from 4"):
        allocate_proportional({("a",): 4}, 5, seed=0)
    with pytest.raises(ValueError):
        select([member() for _ in range(3)], Target(), today=TODAY, sample_size=4)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8), data=st.data(),
       seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_allocations_add_up_to_n_and_fit_in_their_strata(sizes, data, seed):
    strata = {(str(i),): size for i, size in enumerate(sizes)}
    n = data.draw(st.integers(min_value=0, max_value=sum(sizes)))
    for allocate in (allocate_proportional, allocate_equal):
        shares = allocate(strata, n, seed=seed)
        assert sum(shares.values()) == n
        assert all(0 <= shares[key] <= strata[key] for key in shares)
        assert shares == allocate(strata, n, seed=seed)  # the same seed, the same allocation
    total = sum(sizes)
    if total:  # proportional: the floor or the ceiling of the exact quota
        shares = allocate_proportional(strata, n, seed=seed)
        assert all(shares[key] in (n * strata[key] // total, -(-n * strata[key] // total)) for key in strata)
    equal = expected_allocation(strata, n, "equal")
    assert sum(equal.values()) == n and all(equal[key] <= strata[key] for key in strata)


def _panel() -> list[Candidate]:
    rows = []
    for gender in ("kvinna", "man"):
        for age in (20, 30, 50, 80):
            for district in ("0101", "0102", "0103"):
                rows += [member(age=age, gender=gender, district=district) for _ in range(10)]
    return rows


def test_the_same_seed_draws_the_same_sample_and_another_seed_does_not():
    panel = _panel()
    first = select(panel, Target(), today=TODAY, sample_size=60, seed=1234)
    again = select(list(reversed(panel)), Target(), today=TODAY, sample_size=60, seed=1234)  # order does not matter
    other = select(panel, Target(), today=TODAY, sample_size=60, seed=4321)
    assert sorted(m.id for m in first.invited) == sorted(m.id for m in again.invited)
    assert sorted(m.id for m in first.invited) != sorted(m.id for m in other.invited)
    assert len(first.invited) == 60 and first.excluded["not_sampled"] == 180


def test_a_stratified_sample_follows_its_allocation():
    panel = _panel() + [member(age=30, gender="man", district="0101") for _ in range(30)]  # one stratum of 40
    result = select(panel, Target(), today=TODAY, sample_size=27, allocation="proportional", seed=5)
    drawn = Counter(m.stratum(TODAY.year) for m in result.invited)
    assert drawn == Counter({k: v for k, v in result.allocation.items() if v})
    assert result.allocation[("man", "25-34", "0101")] == 4  # 27 × 40/270 = 4.0
    equal = select(panel, Target(), today=TODAY, sample_size=48, allocation="equal", seed=5)
    assert set(Counter(m.stratum(TODAY.year) for m in equal.invited).values()) == {2}  # 24 strata × 2


def test_a_change_in_one_stratum_leaves_the_other_strata_draws_alone():
    panel = _panel()
    before = draw({s: [m for m in panel if m.stratum(TODAY.year) == s] for s in {m.stratum(TODAY.year) for m in panel}},
                  {("kvinna", "16-24", "0101"): 3, ("man", "75+", "0103"): 3}, seed=9)
    panel.append(member(age=20, gender="kvinna", district="0101"))
    after = draw({s: [m for m in panel if m.stratum(TODAY.year) == s] for s in {m.stratum(TODAY.year) for m in panel}},
                 {("kvinna", "16-24", "0101"): 3, ("man", "75+", "0103"): 3}, seed=9)
    assert [m.id for m in before if m.gender == "man"] == [m.id for m in after if m.gender == "man"]
