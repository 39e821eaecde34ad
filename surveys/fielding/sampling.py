"""Who gets a survey: the filter, the reasons members are left out, and the stratified draw.

Plain Python on plain rows (no database, no Flask), so every rule can be tested and
explained on its own:

* **Age** is the age attained this year, ``year - birth_year`` (as SCB's tables,
  "uppnådd ålder vid årets slut"), and the age band is that age's band in
  :data:`analysis.targets.agebands.DEFAULT_AGE_BANDS`.
* **Strata** are gender × age band × district code.
* **Proportional allocation** gives stratum *h* the quota ``q_h = n · N_h / N`` of the
  sample, rounded at random: every stratum gets the whole part of its quota, and the
  units still missing are placed by systematic random rounding over the fractional
  parts (strata in sorted order, fractional parts cumulated, one random start *u* in
  [0, 1) drawn with the sample's seed; a stratum gets its extra unit when its stretch of
  the cumulated sum contains ``u + k`` for some whole *k*). So every stratum gets the
  floor or the ceiling of its quota, the allocations add up to exactly *n*, never exceed
  ``N_h``, and a stratum gets its extra unit with probability equal to its fractional
  part: its expected allocation is exactly ``q_h``. With the simple random sample inside
  each stratum, every eligible member is invited with probability ``n / N``, in small
  strata too (a fixed rounding would give a stratum whose quota is below one half no
  member, ever, whatever the seed). A run of neighbouring strata in sorted order gets
  the floor or the ceiling of its summed quota too, so every gender and every gender ×
  age band is also allocated its proportional share to within one.
* **Equal allocation** gives every stratum ``n / H``; a stratum smaller than its share
  gives all its members, and what it could not take is shared out again among the
  strata that still have members (repeatedly, until *n* is placed). Units that do not
  divide evenly go to strata that still have members, chosen at random with the
  sample's seed (each such stratum equally likely), so no stratum is left out for
  certain when *n* is smaller than the number of strata. Inclusion probabilities then
  differ between strata: ``E[n_h] / N_h`` (see :func:`expected_allocation`).
* **The draw** takes a simple random sample without replacement inside each stratum,
  with a generator seeded by ``"<seed>/<gender>/<age band>/<district>"`` over the
  members sorted by id. The same seed and the same eligible members give the same
  sample; a change in one stratum (a member joined or left) changes only that
  stratum's draw. The random rounding of the allocations uses its own generator, seeded
  by ``"<seed>/proportional"`` or ``"<seed>/equal"``, so the preview and the send (the
  same seed, the same eligible members) share out the sample the same way.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import Any

from analysis.targets.agebands import DEFAULT_AGE_BANDS

NO_AGE_BAND = "-"  # younger than the first band: outside every stratum

Stratum = tuple[str, str, str]  # (gender, age band, district code)


class Reason(StrEnum):
    """Why a member of the panel is not invited. Checked in this order; the first applies."""

    PENDING = "pending"  # has not confirmed the sign-up
    UNSUBSCRIBED = "unsubscribed"  # asked for no email
    PAUSED = "paused"  # on a pause that has not ended
    OUTSIDE_FILTER = "outside_filter"  # age, district, gender or source outside the target
    CONTACT_LIMIT = "contact_limit"  # invited too often lately
    NOT_SAMPLED = "not_sampled"  # eligible, but not drawn into the sample


@dataclass(frozen=True)
class Target:
    """The filter on the panel. Empty collections and ``None`` bounds mean "no restriction"."""

    age_min: int | None = None
    age_max: int | None = None
    genders: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()  # district codes
    sources: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Target:
        data = data or {}
        return cls(
            age_min=data.get("age_min"),
            age_max=data.get("age_max"),
            genders=frozenset(data.get("genders") or ()),
            districts=frozenset(data.get("districts") or ()),
            sources=frozenset(data.get("sources") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "age_min": self.age_min,
            "age_max": self.age_max,
            "genders": sorted(self.genders),
            "districts": sorted(self.districts),
            "sources": sorted(self.sources),
        }

    @property
    def is_whole_panel(self) -> bool:
        return (self.age_min is None and self.age_max is None and not self.genders and not self.districts
                and not self.sources)

    def admits(self, member: Candidate, year: int) -> bool:
        age = year - member.birth_year
        return ((self.age_min is None or age >= self.age_min)
                and (self.age_max is None or age <= self.age_max)
                and (not self.genders or member.gender in self.genders)
                and (not self.districts or member.district_code in self.districts)
                and (not self.sources or member.source in self.sources))


@dataclass(slots=True)
class Candidate:
    """What the draw needs to know about one member of the panel."""

    id: int
    birth_year: int
    gender: str
    district_code: str
    source: str
    status: str
    paused_until: date | None = None
    recent_invitations: int = 0  # within the contact rule's window

    def age_group(self, year: int) -> str:
        return age_group(self.birth_year, year)

    def stratum(self, year: int) -> Stratum:
        return (self.gender, self.age_group(year), self.district_code)


@lru_cache(maxsize=512)
def age_group(birth_year: int, year: int) -> str:
    """The age band label of someone born in ``birth_year``, in ``year`` ("-" if below every band)."""
    return DEFAULT_AGE_BANDS.label_for(year - birth_year) or NO_AGE_BAND


@dataclass
class Selection:
    """The outcome of a targeting: who is eligible, who is invited, who is left out and why."""

    eligible: list[Candidate]
    invited: list[Candidate]
    excluded: Counter[str] = field(default_factory=Counter)
    population: dict[Stratum, int] = field(default_factory=dict)  # eligible per stratum
    allocation: dict[Stratum, int] = field(default_factory=dict)  # invited per stratum


def reason_left_out(member: Candidate, target: Target, *, today: date, contact_limit: int | None) -> Reason | None:
    """The first reason ``member`` may not be invited, or None when they may."""
    if member.status == "pending":
        return Reason.PENDING
    if member.status == "unsubscribed":
        return Reason.UNSUBSCRIBED
    if member.status == "paused" and (member.paused_until is None or member.paused_until > today):
        return Reason.PAUSED
    if member.status not in ("active", "paused"):
        return Reason.PENDING  # an unknown status is treated as not confirmed
    if not target.admits(member, today.year):
        return Reason.OUTSIDE_FILTER
    if contact_limit is not None and member.recent_invitations >= contact_limit:
        return Reason.CONTACT_LIMIT
    return None


def allocate_proportional(sizes: Mapping[Stratum, int], n: int, *, seed: int) -> dict[Stratum, int]:
    """Share ``n`` over strata in proportion to ``sizes``, rounded at random with ``seed`` (module doc).

    The quotas 1.5, 0.9 and 0.6 become 1 + (0 or 1), 0 + (0 or 1) and 0 + (0 or 1), with
    the two missing units placed with probabilities .5, .9 and .6; for example:

    >>> allocate_proportional({("a",): 5, ("b",): 3, ("c",): 2}, 3, seed=3)
    {('a',): 1, ('b',): 1, ('c',): 1}
    >>> allocate_proportional({("a",): 5, ("b",): 3, ("c",): 2}, 3, seed=1)
    {('a',): 2, ('b',): 1, ('c',): 0}
    """
    total = sum(sizes.values())
    _check_n(n, total)
    if total == 0:
        return {}
    keys = sorted(sizes)
    whole = {key: n * sizes[key] // total for key in keys}
    # Exact integer arithmetic: a fractional part f_h is remainder / total, the start u is start / total.
    start = random.Random(f"{seed}/proportional").randrange(total)
    cumulated = 0
    for key in keys:
        before, cumulated = cumulated, cumulated + n * sizes[key] % total
        # How many of start, start + total, start + 2·total, ... lie in [before, cumulated): 0 or 1.
        whole[key] += (cumulated - 1 - start) // total - (before - 1 - start) // total
    return whole


def _equal_rounds(sizes: Mapping[Stratum, int], n: int) -> tuple[dict[Stratum, int], list[Stratum], int]:
    """Equal allocation before its last units: (allocation so far, strata still open, units left).

    The units left are fewer than the open strata (none left: no open strata needed).
    """
    result = {key: 0 for key in sorted(sizes)}
    left = n
    while left > 0:
        open_keys = [key for key in result if result[key] < sizes[key]]
        share = left // len(open_keys)
        if share == 0:
            return result, open_keys, left
        for key in open_keys:
            take = min(share, sizes[key] - result[key])
            result[key] += take
            left -= take
    return result, [], 0


def allocate_equal(sizes: Mapping[Stratum, int], n: int, *, seed: int) -> dict[Stratum, int]:
    """Share ``n`` equally over strata, capped at each stratum's size; the surplus goes round again.

    Units that do not divide evenly go to open strata drawn at random with ``seed``:

    >>> allocate_equal({("a",): 10, ("b",): 1, ("c",): 10}, 9, seed=0)
    {('a',): 4, ('b',): 1, ('c',): 4}
    """
    total = sum(sizes.values())
    _check_n(n, total)
    result, open_keys, left = _equal_rounds(sizes, n)
    for key in random.Random(f"{seed}/equal").sample(open_keys, left):
        result[key] += 1
    return result


def expected_allocation(sizes: Mapping[Stratum, int], n: int, allocation: str = "proportional"
                        ) -> dict[Stratum, Fraction]:
    """The mean allocation of every stratum over all seeds, exactly.

    Divided by ``N_h`` it is the inclusion probability of each member of stratum *h*:
    ``n / N`` for every member with proportional allocation.

    >>> expected_allocation({("a",): 5, ("b",): 3, ("c",): 2}, 3)
    {('a',): Fraction(3, 2), ('b',): Fraction(9, 10), ('c',): Fraction(3, 5)}
    >>> expected_allocation({("a",): 10, ("b",): 1, ("c",): 10}, 4, "equal")
    {('a',): Fraction(3, 2), ('b',): Fraction(1, 1), ('c',): Fraction(3, 2)}
    """
    total = sum(sizes.values())
    _check_n(n, total)
    if allocation == "equal":
        result, open_keys, left = _equal_rounds(sizes, n)
        return {key: result[key] + (Fraction(left, len(open_keys)) if key in open_keys else Fraction(0)) for key in result}
    return {key: Fraction(n * sizes[key], total) for key in sorted(sizes)}


DESIGN_VERSION = 1


def design_record(selection: Selection, *, sample_size: int | None, allocation: str) -> dict[str, Any]:
    """What the send drew, per stratum, for the survey's fielding row (``SurveyFielding.design``).

    One entry per stratum with eligible members: ``eligible`` (*N_h*), ``invited`` (the
    allocation *n_h* this draw gave) and ``expected`` (*E[n_h]* over all seeds, exactly, as
    ``"p/q"``), so every invitee's inclusion probability ``expected / eligible`` can be
    computed later as the sampling design defines it (:func:`expected_allocation`). A
    whole-panel or filter target invites everyone eligible: ``expected == eligible``.
    """
    if sample_size is None:
        expected = {stratum: Fraction(size) for stratum, size in selection.population.items()}
    else:
        expected = expected_allocation(selection.population, sample_size, allocation)
    return {
        "version": DESIGN_VERSION,
        "sample_size": sample_size,
        "allocation": allocation if sample_size is not None else None,
        "eligible": sum(selection.population.values()),
        "strata": [{"gender": stratum[0], "age_group": stratum[1], "district": stratum[2],
                    "eligible": size, "invited": selection.allocation.get(stratum, 0),
                    "expected": str(expected[stratum])}
                   for stratum, size in sorted(selection.population.items())],
    }


def inclusion_probabilities(design: Mapping[str, Any] | None) -> dict[Stratum, Fraction]:
    """Per stratum, the inclusion probability ``E[n_h] / N_h`` of a :func:`design_record`
    (strata nobody could be drawn from are left out). Empty for no (or an unreadable) record.

    >>> inclusion_probabilities(design_record(
    ...     select([Candidate(1, 1990, "kvinna", "01", "open", "active"),
    ...             Candidate(2, 1990, "kvinna", "01", "open", "active"),
    ...             Candidate(3, 1990, "man", "01", "open", "active")], Target(), today=date(2026, 6, 1),
    ...            sample_size=2, allocation="equal"), sample_size=2, allocation="equal"))
    {('kvinna', '35-44', '01'): Fraction(1, 2), ('man', '35-44', '01'): Fraction(1, 1)}
    """
    if not design or design.get("version") != DESIGN_VERSION:
        return {}
    out: dict[Stratum, Fraction] = {}
    for row in design.get("strata") or ():
        eligible, expected = int(row["eligible"]), Fraction(str(row["expected"]))
        if eligible > 0 and expected > 0:
            out[(str(row["gender"]), str(row["age_group"]), str(row["district"]))] = expected / eligible
    return out


def _check_n(n: int, total: int) -> None:
    if n < 0:
        raise ValueError("the sample size must be zero or more")
    if n > total:
        raise ValueError(f"a sample of {n} from {total} members is not possible")


def draw(members_by_stratum: Mapping[Stratum, Sequence[Candidate]], allocation: Mapping[Stratum, int],
         seed: int) -> list[Candidate]:
    """A simple random sample of ``allocation[h]`` members in every stratum *h* (see module doc)."""
    chosen: list[Candidate] = []
    for stratum in sorted(allocation):
        size = allocation[stratum]
        if size <= 0:
            continue
        pool = sorted(members_by_stratum[stratum], key=lambda m: m.id)
        rng = random.Random("/".join((str(seed), *stratum)))
        chosen.extend(rng.sample(pool, size))
    return chosen


def select(candidates: Iterable[Candidate], target: Target, *, today: date, contact_limit: int | None = None,
           sample_size: int | None = None, allocation: str = "proportional", seed: int = 0) -> Selection:
    """Apply the filter and the contact rule, then (when ``sample_size`` is given) draw the sample.

    Raises ValueError when the sample is larger than the eligible population.
    """
    excluded: Counter[str] = Counter()
    by_stratum: dict[Stratum, list[Candidate]] = defaultdict(list)
    eligible = []
    for member in candidates:
        reason = reason_left_out(member, target, today=today, contact_limit=contact_limit)
        if reason is not None:
            excluded[reason] += 1
            continue
        eligible.append(member)
        by_stratum[member.stratum(today.year)].append(member)
    population = {stratum: len(members) for stratum, members in sorted(by_stratum.items())}
    if sample_size is None:
        return Selection(eligible=eligible, invited=eligible, excluded=excluded, population=population,
                         allocation=dict(population))
    if allocation == "equal":
        shares = allocate_equal(population, sample_size, seed=seed)
    else:
        shares = allocate_proportional(population, sample_size, seed=seed)
    invited = draw(by_stratum, shares, seed)
    excluded[Reason.NOT_SAMPLED] += len(eligible) - len(invited)
    return Selection(eligible=eligible, invited=invited, excluded=excluded, population=population,
                     allocation=shares)
