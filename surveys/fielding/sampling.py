"""Who gets a survey: the filter, the reasons members are left out, and the stratified draw.

Plain Python on plain rows (no database, no Flask), so every rule can be tested and
explained on its own:

* **Age** is the age attained this year, ``year - birth_year`` (as SCB's tables,
  "uppnådd ålder vid årets slut"), and the age band is that age's band in
  :data:`analysis.targets.agebands.DEFAULT_AGE_BANDS`.
* **Strata** are gender × age band × district code.
* **Proportional allocation** gives stratum *h* the share ``n · N_h / N`` of the sample,
  rounded by the largest-remainder (Hamilton) method: every stratum gets the whole part,
  and the units still missing go to the largest fractional parts (ties: the strata in
  sorted order). The allocations add up to exactly *n* and never exceed ``N_h``.
* **Equal allocation** gives every stratum ``n / H``; a stratum smaller than its share
  gives all its members, and what it could not take is shared out again among the
  strata that still have members (repeatedly, until *n* is placed). Units that do not
  divide evenly go to the strata with the most members left (ties: sorted order).
* **The draw** takes a simple random sample without replacement inside each stratum,
  with a generator seeded by ``"<seed>/<gender>/<age band>/<district>"`` over the
  members sorted by id. The same seed and the same eligible members give the same
  sample; a change in one stratum (a member joined or left) changes only that
  stratum's draw.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
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


def allocate_proportional(sizes: Mapping[Stratum, int], n: int) -> dict[Stratum, int]:
    """Share ``n`` over strata in proportion to ``sizes`` (largest-remainder rounding).

    1.5, 0.9 and 0.6 round to 1, 1 and 1 (the two largest fractions get the missing units):

    >>> allocate_proportional({("a",): 5, ("b",): 3, ("c",): 2}, 3)
    {('a',): 1, ('b',): 1, ('c',): 1}
    """
    total = sum(sizes.values())
    _check_n(n, total)
    if total == 0:
        return {}
    keys = sorted(sizes)
    whole = {key: n * sizes[key] // total for key in keys}
    remainders = {key: n * sizes[key] % total for key in keys}  # exact: fractional part × total
    missing = n - sum(whole.values())
    for key in sorted(keys, key=lambda k: -remainders[k])[:missing]:  # stable sort keeps key order on ties
        whole[key] += 1
    return whole


def allocate_equal(sizes: Mapping[Stratum, int], n: int) -> dict[Stratum, int]:
    """Share ``n`` equally over strata, capped at each stratum's size; the surplus goes round again.

    >>> allocate_equal({("a",): 10, ("b",): 1, ("c",): 10}, 9)
    {('a',): 4, ('b',): 1, ('c',): 4}
    """
    total = sum(sizes.values())
    _check_n(n, total)
    result = {key: 0 for key in sorted(sizes)}
    left = n
    while left > 0:
        open_keys = [key for key in result if result[key] < sizes[key]]
        share, extra = divmod(left, len(open_keys))
        if share == 0:
            # Fewer units than open strata: one each to the strata with the most members left.
            for key in sorted(open_keys, key=lambda k: -(sizes[k] - result[k]))[:extra]:
                result[key] += 1
            break
        for key in open_keys:
            take = min(share, sizes[key] - result[key])
            result[key] += take
            left -= take
    return result


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
        shares = allocate_equal(population, sample_size)
    else:
        shares = allocate_proportional(population, sample_size)
    invited = draw(by_stratum, shares, seed)
    excluded[Reason.NOT_SAMPLED] += len(eligible) - len(invited)
    return Selection(eligible=eligible, invited=invited, excluded=excluded, population=population,
                     allocation=shares)
