"""Builders for the results tests: a survey with invitations and responses written
directly (answering, tested in tests/surveys/answering, stores them in production),
drawn from a seeded generator, and population figures for the same districts."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.targets import PopulationTable
from panel.db import utcnow
from panel.models import District, Member
from panel.population.services import save_population
from surveys.answering.models import SurveyResponse
from surveys.fielding.models import Invitation, SurveyFielding
from surveys.models import Survey

_numbers = itertools.count(1)

DISTRICTS = (("0980R001", "Visby"), ("0980R002", "Slite"), ("0980R003", "Hemse"))
GENDERS = ("kvinna", "man")
AGE_GROUPS = ("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
AGE_OF = {"16-24": 20, "25-34": 30, "35-44": 40, "45-54": 50, "55-64": 60, "65-74": 70, "75+": 80}

DEFINITION: dict[str, Any] = {
    "format": 1,
    "languages": ["sv", "en"],
    "title": {"sv": "Trygghet 2026", "en": "Safety 2026"},
    "pages": [{"key": "p1", "questions": [
        {"key": "trygg", "type": "yes_no", "text": {"sv": "Känner du dig trygg?", "en": "Do you feel safe?"}},
        {"key": "transport", "type": "single_choice", "text": {"sv": "Hur reser du?", "en": "How do you travel?"},
         "options": [{"value": "bil", "label": {"sv": "Bil", "en": "Car"}},
                     {"value": "buss", "label": {"sv": "Buss", "en": "Bus"}},
                     {"value": "cykel", "label": {"sv": "Cykel", "en": "Bicycle"}}],
         "other": True},
        {"key": "betyg", "type": "scale", "text": {"sv": "Betyg?", "en": "Rating?"},
         "scale": {"min": 1, "max": 5, "dont_know": True}},
        {"key": "prio", "type": "multiple_choice", "text": {"sv": "Prioritera?", "en": "Priorities?"},
         "options": [{"value": "skola", "label": {"sv": "Skola", "en": "School"}},
                     {"value": "vard", "label": {"sv": "Vård", "en": "Care"}},
                     {"value": "miljo", "label": {"sv": "Miljö", "en": "Environment"}}]},
        {"key": "nojd", "type": "matrix", "text": {"sv": "Hur nöjd?", "en": "How satisfied?"},
         "items": [{"key": "parker", "text": {"sv": "Parker", "en": "Parks"}},
                   {"key": "gator", "text": {"sv": "Gator", "en": "Streets"}}],
         "scale": {"min": 1, "max": 5}},
        {"key": "antal", "type": "number", "text": {"sv": "Hur många?", "en": "How many?"}, "min": 0, "max": 100},
        {"key": "synpunkt", "type": "long_text", "text": {"sv": "Synpunkter?", "en": "Comments?"}},
    ]}],
}


def make_districts(session: Session) -> dict[str, District]:
    out = {}
    for code, name in DISTRICTS:
        district = session.query(District).filter_by(code=code).one_or_none()
        if district is None:
            district = District(code=code, name=name)
            session.add(district)
        out[code] = district
    session.flush()
    return out


def population_frame(scale: int = 1000) -> pd.DataFrame:
    """District × gender × age group counts (deterministic, unequal)."""
    rows = []
    for d, (code, _name) in enumerate(DISTRICTS):
        for g, gender in enumerate(GENDERS):
            for a, band in enumerate(AGE_GROUPS):
                rows.append({"district": code, "gender": gender, "age_group": band,
                             "population": scale * (3 - d) + 37 * a + 11 * g * (a + 1)})
    return pd.DataFrame(rows)


def make_population(session: Session, frame: pd.DataFrame | None = None, *, name: str = "Testbefolkning"):
    table = PopulationTable.from_frame(frame if frame is not None else population_frame(), source="test.csv")
    return save_population(session, table, name=name)


def random_answers(rng: np.random.Generator, gender: str, band: str) -> dict[str, Any]:
    older = AGE_GROUPS.index(band) / 6
    answers: dict[str, Any] = {
        "trygg": "yes" if rng.random() < 0.5 + 0.3 * older - (0.1 if gender == "kvinna" else 0) else "no",
        "transport": str(rng.choice(["bil", "buss", "cykel", "other"], p=[0.4, 0.3, 0.2, 0.1])),
        "betyg": "dont_know" if rng.random() < 0.1 else int(rng.integers(1, 6)),
        "prio": [o for o in ("skola", "vard", "miljo") if rng.random() < 0.4 + 0.2 * older],
        "nojd": {"parker": int(rng.integers(1, 6)), "gator": int(rng.integers(1, 6))},
        "antal": int(rng.integers(0, 30)),
        "synpunkt": str(rng.choice(["", "Fler cykelbanor", "Bättre belysning"])) or None,
    }
    if answers["transport"] == "other":
        answers["transport-other"] = "Färja"
    if rng.random() < 0.05:
        answers["trygg"] = None  # skipped
    return answers


def make_survey(session: Session, *, n_invited: int = 300, response_rate: float = 0.6, seed: int = 7,
                definition: dict[str, Any] | None = None, anonymous: bool = True, self_recruited: float = 0.3,
                status: str = "closed", other_gender: float = 0.03) -> Survey:
    """A sent survey with ``n_invited`` invitations (members of every stratum) and the
    responses of about ``response_rate`` of them, answers drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    districts = make_districts(session)
    number = next(_numbers)
    now = utcnow()
    survey = Survey(title=f"Resultatenkät {number}", definition=definition or DEFINITION, status=status,
                    anonymous=anonymous, sent_at=now - timedelta(days=10), opens_at=now - timedelta(days=10),
                    closes_at=now - timedelta(days=1), structure_fingerprint="x" * 64)
    session.add(survey)
    session.flush()
    session.add(SurveyFielding(survey_id=survey.id, mode="all", target={}, sent_at=now - timedelta(days=10)))
    codes = [code for code, _ in DISTRICTS]
    for i in range(n_invited):
        gender = GENDERS[i % 2] if rng.random() >= other_gender else "annan"
        band = AGE_GROUPS[int(rng.integers(0, len(AGE_GROUPS)))]
        code = codes[int(rng.integers(0, len(codes)))]
        member = Member(email=f"r{number}-{i}@example.se", birth_year=now.year - AGE_OF[band], gender=gender,
                        district=districts[code], status="active",
                        source="open" if rng.random() < self_recruited else "wave", confirmed_at=now)
        session.add(member)
        session.flush()
        # older residents answer more often: the respondents are biased, weighting corrects
        propensity = response_rate * (0.6 + 0.8 * AGE_GROUPS.index(band) / 6)
        answered = rng.random() < propensity
        invitation = Invitation(
            survey_id=survey.id, member_id=member.id,
            token_digest=hashlib.sha256(f"{number}-{i}".encode()).hexdigest(), gender=gender, age_group=band,
            district_code=code, sent_at=now - timedelta(days=10), completed_at=now - timedelta(days=5) if answered
            else None)
        session.add(invitation)
        if answered:
            session.add(SurveyResponse(survey_id=survey.id, language="sv", submitted_at=now - timedelta(days=5),
                                       gender=gender, age_group=band, district_code=code,
                                       answers=random_answers(rng, gender, band)))
    session.flush()
    return survey


def make_equal_allocation(session: Session, survey: Survey, *, spread: int = 4) -> dict[tuple, float]:
    """Make ``survey`` (built with one invitation per member) an equal-allocation sample: each
    invitation stratum with k invitees had k·(1 + i mod spread) eligible members, so π differs.
    Returns each stratum's design weight 1/π."""
    counts = Counter(session.execute(select(Invitation.gender, Invitation.age_group, Invitation.district_code)
                                     .where(Invitation.survey_id == survey.id)).all())
    strata = [{"gender": g, "age_group": a, "district": d, "eligible": k * (1 + i % spread), "invited": k,
               "expected": str(k)} for i, ((g, a, d), k) in enumerate(sorted(counts.items()))]
    fielding = session.get(SurveyFielding, survey.id)
    fielding.mode, fielding.allocation, fielding.sample_size = "sample", "equal", sum(counts.values())
    fielding.design = {"version": 1, "sample_size": sum(counts.values()), "allocation": "equal",
                       "eligible": sum(s["eligible"] for s in strata), "strata": strata}
    session.flush()
    return {(s["gender"], s["age_group"], s["district"]): s["eligible"] / s["invited"] for s in strata}
