"""The draw itself: filters, reasons for leaving members out, allocation and seeds (no database)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.fielding.sampling import (
    Candidate, Target, age_group, allocate_equal, allocate_proportional, draw, reason_left_out, select,
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


def test_proportional_allocation_uses_largest_remainders():
    sizes = {("k", "16-24", "a"): 50, ("k", "25-34", "a"): 30, ("m", "16-24", "a"): 20}
    # 10 × 50/100 = 5, 10 × 30/100 = 3, 10 × 20/100 = 2: exact.
    assert allocate_proportional(sizes, 10) == {("k", "16-24", "a"): 5, ("k", "25-34", "a"): 3, ("m", "16-24", "a"): 2}
    # 7 × (.5, .3, .2) = 3.5, 2.1, 1.4: whole parts 3 + 2 + 1 = 6; the one left goes to the largest fraction (.5).
    assert allocate_proportional(sizes, 7) == {("k", "16-24", "a"): 4, ("k", "25-34", "a"): 2, ("m", "16-24", "a"): 1}
    # 3 × (5, 3, 2)/10 = 1.5, 0.9, 0.6 -> 1, 0, 0 plus two units to .9 and .6.
    assert allocate_proportional({("a",): 5, ("b",): 3, ("c",): 2}, 3) == {("a",): 1, ("b",): 1, ("c",): 1}
    # Ties go to the strata in sorted order: 1 × (1/2, 1/2).
    assert allocate_proportional({("b",): 1, ("a",): 1}, 1) == {("a",): 1, ("b",): 0}


def test_equal_allocation_caps_small_strata_and_shares_the_rest():
    sizes = {("a",): 100, ("b",): 2, ("c",): 100}
    assert allocate_equal(sizes, 30) == {("a",): 14, ("b",): 2, ("c",): 14}
    # The extra unit goes to the stratum with the most members left; on a tie, the first in order.
    assert allocate_equal(sizes, 31) == {("a",): 15, ("b",): 2, ("c",): 14}
    assert allocate_equal({("a",): 3, ("b",): 3}, 6) == {("a",): 3, ("b",): 3}


def test_a_sample_larger_than_the_population_is_refused():
    with pytest.raises(ValueError, match="5 from 4"):
        allocate_proportional({("a",): 4}, 5)
    with pytest.raises(ValueError):
        select([member() for _ in range(3)], Target(), today=TODAY, sample_size=4)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8), data=st.data())
def test_allocations_add_up_to_n_and_fit_in_their_strata(sizes, data):
    strata = {(str(i),): size for i, size in enumerate(sizes)}
    n = data.draw(st.integers(min_value=0, max_value=sum(sizes)))
    for allocate in (allocate_proportional, allocate_equal):
        shares = allocate(strata, n)
        assert sum(shares.values()) == n
        assert all(0 <= shares[key] <= strata[key] for key in shares)
    total = sum(sizes)
    if total:  # proportional: within one of the exact share
        shares = allocate_proportional(strata, n)
        assert all(abs(shares[key] - n * strata[key] / total) < 1 for key in strata)


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
