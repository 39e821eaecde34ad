"""A survey with stored responses (written directly, from a seeded generator) and
population figures for its districts, for the export tests. The answering pages that
store responses in production are tested in tests/surveys/answering."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from analysis.targets import PopulationTable
from panel.db import utcnow
from panel.models import District
from panel.population.services import save_population
from surveys.answering.models import SurveyResponse
from surveys.models import Survey
# The same survey, districts and groups as the results tests (exports weight with the report's code).
from tests.surveys.results.builders import AGE_GROUPS, DEFINITION, DISTRICTS, GENDERS  # noqa: F401

_numbers = itertools.count(1)


def make_districts(session: Session) -> None:
    for code, name in DISTRICTS:
        if session.query(District).filter_by(code=code).one_or_none() is None:
            session.add(District(code=code, name=name))
    session.flush()


def make_population(session: Session):
    """District × gender × age group counts (deterministic, unequal)."""
    rows = [{"district": code, "gender": gender, "age_group": band,
             "population": 1000 * (3 - d) + 37 * a + 11 * g * (a + 1)}
            for d, (code, _name) in enumerate(DISTRICTS) for g, gender in enumerate(GENDERS)
            for a, band in enumerate(AGE_GROUPS)]
    table = PopulationTable.from_frame(pd.DataFrame(rows), source="test.csv")
    return save_population(session, table, name="Testbefolkning")


def random_answers(rng: np.random.Generator) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "trygg": None if rng.random() < 0.05 else str(rng.choice(["yes", "no"])),
        "transport": str(rng.choice(["bil", "buss", "cykel", "other"], p=[0.4, 0.3, 0.2, 0.1])),
        "betyg": "dont_know" if rng.random() < 0.1 else int(rng.integers(1, 6)),
        "prio": [o for o in ("skola", "vard", "miljo") if rng.random() < 0.5] or None,
        "nojd": {"parker": int(rng.integers(1, 6)), "gator": int(rng.integers(1, 6))},
        "antal": int(rng.integers(0, 30)),
        "synpunkt": str(rng.choice(["", "Fler cykelbanor", "Bättre belysning"])) or None,
    }
    if answers["transport"] == "other":
        answers["transport-other"] = "Färja"
    return answers


def make_survey(session: Session, *, responses: int = 120, seed: int = 7, anonymous: bool = True) -> Survey:
    """A closed survey with ``responses`` stored responses from every stratum, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    make_districts(session)
    now = utcnow()
    survey = Survey(title=f"Exportenkät {next(_numbers)}", definition=DEFINITION, status="closed",
                    anonymous=anonymous, sent_at=now - timedelta(days=10), opens_at=now - timedelta(days=10),
                    closes_at=now - timedelta(days=1), structure_fingerprint="x" * 64)
    session.add(survey)
    session.flush()
    for i in range(responses):
        # older residents answer more often: unequal weights
        band = AGE_GROUPS[min(int(rng.integers(0, len(AGE_GROUPS) + 3)), len(AGE_GROUPS) - 1)]
        session.add(SurveyResponse(survey_id=survey.id, language=str(rng.choice(["sv", "en"])),
                                   submitted_at=now - timedelta(days=int(rng.integers(1, 9))),
                                   gender=GENDERS[i % 2], age_group=band,
                                   district_code=DISTRICTS[int(rng.integers(0, len(DISTRICTS)))][0],
                                   answers=random_answers(rng)))
    session.flush()
    return survey
