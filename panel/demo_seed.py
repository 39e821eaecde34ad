"""Seed data for the demo municipality (Region Gotland).

Real: the districts (Gotland's 12 RegSO areas) and the population by sex and single
year of age (SCB, 2020-12-31), imported from the shipped SCB export with the same
importer analysts use. Synthetic: the panel members, drawn with a seeded generator from
that population and thinned with the biases real panels show.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.targets import read_population
from panel.accounts.services import create_staff
from panel.db import utcnow
from panel.models import District, Member, PopulationDataset
from panel.models.member import Consent, MemberSource, MemberStatus
from panel.population.services import save_population

DATA = Path(__file__).resolve().parent / "demo_data"
SCB_EXPORT = DATA / "BE0101N1_20210513-223812_SE214-excerpt.csv"
DESO_KEY = DATA / "gotland_0980_deso2018_regso2020.csv"
REFERENCE_YEAR = 2020

DEMO_PASSWORD = "demo-lösenord-2026"
DEMO_STAFF = (
    ("admin@demo.medborgarpanel.se", "Ada Administratör", "admin"),
    ("analytiker@demo.medborgarpanel.se", "Anna Analytiker", "analyst"),
    ("ledamot@demo.medborgarpanel.se", "Lars Ledamot", "committee"),
)

# Relative chance of joining a panel, as seen in real opt-in panels: more women,
# more people aged 55-74, few young people, and two districts far behind.
GENDER_PROPENSITY = {"kvinna": 1.35, "man": 1.0}
AGE_PROPENSITY = ((16, 25, 0.35), (25, 35, 0.7), (35, 45, 0.9), (45, 55, 1.1), (55, 65, 1.5),
                  (65, 75, 1.6), (75, 120, 0.8))
LOW_DISTRICTS = {"0980R005": 0.35, "0980R012": 0.45}  # Gråbo, Visby södra


def gotland_districts() -> list[tuple[str, str, int]]:
    """(RegSO code, name, number of DeSO areas) for Gotland's 12 RegSO areas."""
    with DESO_KEY.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    counts = Counter(row["regso_2020_code"] for row in rows)
    names = {row["regso_2020_code"]: row["regso_2020_name"] for row in rows}
    return [(code, names[code], counts[code]) for code in sorted(names)]


def seed_districts(session: Session) -> list[District]:
    districts = [District(code=code, name=name) for code, name, _ in gotland_districts()]
    session.add_all(districts)
    session.flush()
    return districts


def seed_population(session: Session) -> PopulationDataset:
    table = read_population(SCB_EXPORT)
    return save_population(session, table, name="Gotland, folkmängd efter kön och ålder 2020-12-31 (SCB)")


def seed_staff(session: Session) -> None:
    for email, name, role in DEMO_STAFF:
        create_staff(session, email=email, name=name, role=role, password=DEMO_PASSWORD)


def _age_propensity(age: np.ndarray) -> np.ndarray:
    out = np.zeros(age.shape)
    for low, high, p in AGE_PROPENSITY:
        out[(age >= low) & (age < high)] = p
    return out


def synthetic_residents(population: PopulationDataset, n: int, rng: np.random.Generator):
    """Draw ``n`` panel members (gender, age, district code) with realistic biases."""
    from panel.population.services import load_population

    table = load_population(population)
    cells = table.data[table.data["age"] >= 16].reset_index(drop=True)
    districts = gotland_districts()
    codes = np.array([code for code, _, _ in districts])
    district_share = np.array([count for _, _, count in districts], dtype=float)
    district_share /= district_share.sum()
    district_bias = np.array([LOW_DISTRICTS.get(code, 1.0) for code in codes])

    # Oversample from the population, then keep each person with its join propensity.
    draws = n * 4
    weights = cells["population"].to_numpy(dtype=float)
    picked = rng.choice(len(cells), size=draws, p=weights / weights.sum())
    gender = cells["gender"].to_numpy()[picked]
    age = cells["age"].to_numpy(dtype=int)[picked]
    district = rng.choice(len(codes), size=draws, p=district_share)
    propensity = (np.vectorize(GENDER_PROPENSITY.get)(gender) * _age_propensity(age)
                  * district_bias[district])
    keep = rng.random(draws) < propensity / propensity.max()
    index = np.flatnonzero(keep)[:n]
    return gender[index], age[index], codes[district[index]]


def _member(*, email: str, gender: str, age: int, district: District, now, rng: np.random.Generator,
            source: str, wave_id: int | None = None) -> Member:
    joined = now - timedelta(days=int(rng.integers(1, 900)))
    status = str(rng.choice([MemberStatus.ACTIVE, MemberStatus.PAUSED, MemberStatus.PENDING,
                             MemberStatus.UNSUBSCRIBED], p=[0.88, 0.04, 0.05, 0.03]))
    member = Member(
        email=email,
        birth_year=now.year - age,
        gender=gender,
        district=district,
        language="en" if rng.random() < 0.04 else "sv",
        status=status,
        paused_until=(date.today() + timedelta(days=60)) if status == MemberStatus.PAUSED else None,
        source=source,
        recruitment_wave_id=wave_id,
        created_at=joined,
        confirmed_at=None if status == MemberStatus.PENDING else joined + timedelta(minutes=12),
    )
    member.consents.append(Consent(terms_version="2026-1", channel="code" if wave_id else "web", given_at=joined))
    return member


def seed_members(session: Session, population: PopulationDataset, n: int, seed: int = 2026) -> int:
    """Create ``n`` synthetic members who signed up on their own (the biased part)."""
    rng = np.random.default_rng(seed)
    gender, age, district_code = synthetic_residents(population, n, rng)
    by_code = {d.code: d for d in session.scalars(select(District))}
    now = utcnow()
    other = rng.random(len(gender))
    for i in range(len(gender)):
        g = "annan" if other[i] < 0.006 else "uppger_ej" if other[i] < 0.012 else str(gender[i])
        session.add(_member(email=f"demo.medlem{i + 1:05d}@example.se", gender=g, age=int(age[i]),
                            district=by_code[str(district_code[i])], now=now, rng=rng, source=MemberSource.OPEN))
    session.flush()
    return len(gender)


FIRST_NAMES = ("Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Elin", "Ida", "Johan", "Erik", "Lars", "Karl",
               "Anders", "Per", "Nils", "Olof", "Amir", "Fatima", "Hugo", "Alva")
LAST_NAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
              "Hansson", "Pettersson", "Lindqvist", "Gardell", "Ahmed", "Botvids")
STREETS = ("Storgatan", "Södra Hansegatan", "Skolgatan", "Kyrkvägen", "Hamngatan", "Bygatan", "Ängsvägen")


def sample_file(population: PopulationDataset, size: int, rng: np.random.Generator) -> bytes:
    """A simple random sample of residents aged 16+ as a register extract (synthetic people)."""
    from panel.population.services import load_population

    table = load_population(population)
    cells = table.data[table.data["age"] >= 16].reset_index(drop=True)
    weights = cells["population"].to_numpy(dtype=float)
    picked = rng.choice(len(cells), size=size, p=weights / weights.sum())
    districts = gotland_districts()
    share = np.array([count for _, _, count in districts], dtype=float)
    district = rng.choice(len(districts), size=size, p=share / share.sum())
    lines = ["person_ref;gender;birth_year;district;name;address;address2;postcode;city"]
    year = utcnow().year
    for i in range(size):
        cell = cells.iloc[int(picked[i])]
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        street = f"{rng.choice(STREETS)} {int(rng.integers(1, 60))}"
        lines.append(";".join([f"P{i + 1:06d}", str(cell["gender"]), str(year - int(cell["age"])),
                               districts[int(district[i])][0], name, street, "",
                               f"62{int(rng.integers(100, 999))}", "Visby"]))
    return ("\n".join(lines) + "\n").encode("utf-8")


def seed_wave(session: Session, population: PopulationDataset, *, size: int = 1500, seed: int = 1460) -> int:
    """A recruitment wave from a random sample, where some of those invited joined."""
    from panel.models import RecruitmentInvite
    from panel.recruitment.services import create_wave

    rng = np.random.default_rng(seed)
    wave = create_wave(session, name="Slumpmässigt urval hösten 2026", sample=sample_file(population, size, rng))
    now = utcnow()
    joined = 0
    invites = session.scalars(select(RecruitmentInvite).where(RecruitmentInvite.wave_id == wave.id)).all()
    for invite in invites:
        age = now.year - invite.birth_year
        chance = 0.06 if age < 25 else 0.10 if age < 45 else 0.14 if age < 75 else 0.08
        if rng.random() >= chance:
            continue
        joined += 1
        member = _member(email=f"demo.brev{joined:05d}@example.se", gender=invite.gender, age=age,
                         district=invite.district, now=now, rng=rng, source=MemberSource.WAVE, wave_id=wave.id)
        session.add(member)
        session.flush()
        invite.member_id = member.id
        invite.used_at = member.created_at
    session.flush()
    return joined


def is_seeded(session: Session) -> bool:
    return bool(session.scalar(select(func.count(District.id))))
