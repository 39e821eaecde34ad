"""Fixtures for the publication tests: a closed survey with respondents, and logged-in staff."""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest
from werkzeug.security import generate_password_hash

from panel.db import utcnow
from panel.models import Member, StaffUser
from surveys.answering.models import Completion, SurveyResponse
from surveys.answering.services import token_digest
from surveys.fielding.models import Invitation
from surveys.models import Survey
from tests.factories import PASSWORD, make_district, make_member

_numbers = itertools.count(1)

DEFINITION = {
    "languages": ["sv", "en"],
    "title": {"sv": "Parken", "en": "The park"},
    "pages": [{"key": "p1", "questions": [
        {"key": "park", "type": "single_choice", "required": True,
         "text": {"sv": "Vill du ha en park?", "en": "Do you want a park?"},
         "options": [{"value": "ja", "label": {"sv": "Ja", "en": "Yes"}},
                     {"value": "nej", "label": {"sv": "Nej", "en": "No"}},
                     {"value": "vet_ej", "label": {"sv": "Vet ej", "en": "Don't know"}}]},
        {"key": "visits", "type": "number", "min": 0, "max": 100,
         "text": {"sv": "Hur många besök?", "en": "How many visits?"}},
        {"key": "comment", "type": "long_text", "text": {"sv": "Övrigt?", "en": "Anything else?"}},
    ]}],
}


@dataclass
class Fielded:
    survey: Survey
    respondents: list[Member]
    others: list[Member]  # invited, did not answer
    responses: list[SurveyResponse]


def field_survey(session, answers: list[dict], *, non_respondents: int = 2) -> Fielded:
    """A closed anonymous survey: one member, invitation, completion and response per answers dict."""
    survey = Survey(title=f"Parken {next(_numbers)}", definition=DEFINITION, status="closed", anonymous=True,
                    structure_fingerprint="x" * 64, sent_at=utcnow() - timedelta(days=20),
                    closes_at=utcnow() - timedelta(days=1))
    session.add(survey)
    session.flush()
    district = make_district(session)
    respondents, others, responses = [], [], []
    for number, answer in enumerate(answers + [None] * non_respondents):
        member = make_member(session, district=district, gender="kvinna" if number % 2 else "man",
                             language="en" if number % 5 == 4 else "sv")
        invitation = Invitation(survey_id=survey.id, member_id=member.id,
                                token_digest=token_digest(secrets.token_urlsafe(16)), gender=member.gender,
                                age_group="30-44", district_code=district.code, sent_at=utcnow())
        session.add(invitation)
        session.flush()
        if answer is None:
            others.append(member)
            continue
        invitation.completed_at = utcnow()
        session.add(Completion(invitation_id=invitation.id))
        response = SurveyResponse(id=uuid.uuid4(), survey_id=survey.id, language="sv", submitted_at=utcnow(),
                                  gender=member.gender, age_group="30-44", district_code=district.code,
                                  answers=answer)
        session.add(response)
        respondents.append(member)
        responses.append(response)
    session.flush()
    return Fielded(survey, respondents, others, responses)


def staff_client(client, session, role: str):
    user = StaffUser(email=f"{role}{next(_numbers)}@kommun.test", name=f"{role.title()} Testsson", role=role,
                     password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1"))
    session.add(user)
    session.flush()
    client.user = SimpleNamespace(id=user.id, email=user.email, name=user.name)
    cookie_value = user.get_id()
    session.commit()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = cookie_value
        cookie["_fresh"] = True
    return client


@pytest.fixture
def analyst(client, session):
    return staff_client(client, session, "analyst")


@pytest.fixture
def committee(client, session):
    return staff_client(client, session, "committee")

