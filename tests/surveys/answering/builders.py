"""Builders and page helpers for the answering tests.

Surveys and invitations are written directly (the fielding side, tested in
tests/surveys/fielding, creates them in production); a resident is then driven
through the real pages with the test client.
"""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.members.services import age_group
from panel.models import Member
from surveys.answering.services import token_digest
from surveys.definition import definition_to_dict, load_definition
from surveys.fielding.models import Invitation
from surveys.models import Survey
from tests.factories import make_member

EXAMPLE = Path(__file__).resolve().parents[3] / "surveys" / "examples" / "medborgarpanel_exempel.yaml"
_numbers = itertools.count(1)

# Answers to the example survey that follow the condition into the library page.
VARDAG = {"transport": "buss", "trygghet_kvall": "4", "bibliotek": "yes"}
BIBLIOTEKEN = {"bibliotek_nojdhet-oppettider": "5", "bibliotek_nojdhet-utbud": "dont_know",
               "bibliotek_nojdhet-personal": "3", "bibliotek_besok": "12"}
PRIORITERINGAR = {"prioriteringar": ["skola", "miljo"], "buss_forbattring": "Fler turer på kvällen",
                  "rekommendera": "8", "synpunkter": "Bra jobbat.\nMer cykelbanor!"}

TWO_PAGES = {
    "languages": ["sv", "en"],
    "title": {"sv": "Två sidor", "en": "Two pages"},
    "closing": {"sv": "Tack så mycket!", "en": "Thank you very much!"},
    "pages": [
        {"key": "p1", "questions": [
            {"key": "farg", "type": "single_choice", "required": True, "text": {"sv": "Färg?", "en": "Colour?"},
             "options": [{"value": "rod", "label": {"sv": "Röd", "en": "Red"}},
                         {"value": "bla", "label": {"sv": "Blå", "en": "Blue"}}]},
            {"key": "namn", "type": "short_text", "text": {"sv": "Ett ord?", "en": "A word?"}, "max_length": 50},
        ]},
        {"key": "p2", "questions": [
            {"key": "tycker", "type": "long_text", "text": {"sv": "Vad tycker du?", "en": "What do you think?"},
             "max_length": 300},
        ]},
    ],
}


def example_definition() -> dict[str, Any]:
    return definition_to_dict(load_definition(EXAMPLE.read_text(encoding="utf-8")))


def make_survey(session: Session, definition: dict[str, Any] | None = None, *, status: str = "open",
                anonymous: bool = True, opens_at: datetime | None = None,
                closes_at: datetime | None = None) -> Survey:
    survey = Survey(title=f"Enkät {next(_numbers)}", definition=definition or example_definition(),
                    status=status, anonymous=anonymous, opens_at=opens_at,
                    closes_at=closes_at if closes_at is not None else utcnow() + timedelta(days=14))
    session.add(survey)
    session.flush()
    return survey


def invite(session: Session, survey: Survey, member: Member | None = None, *, language: str = "sv",
           **fields: Any) -> tuple[Invitation, str]:
    """An invitation for ``member`` (a new one by default) and the token of its link."""
    member = member or make_member(session)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(survey_id=survey.id, member_id=member.id, token_digest=token_digest(token),
                            language=language, gender=member.gender,
                            age_group=age_group(member.birth_year, utcnow().date()),
                            district_code=member.district.code, sent_at=utcnow(), **fields)
    session.add(invitation)
    session.flush()
    return invitation, token


def token_on(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def start(client, token: str, language: str | None = None) -> str:
    """Open the link and press the start button; return the first page's path."""
    query = f"?language={language}" if language else ""
    landing = client.get(f"/s/{token}{query}")
    assert landing.status_code == 200, landing.get_data(as_text=True)
    response = client.post(f"/s/{token}{query}", data={"csrf_token": token_on(landing.get_data(as_text=True)),
                                                       "language": language or ""})
    assert response.status_code == 302 and response.headers["Location"] == "/s/answer"
    resumed = client.get("/s/answer")
    assert resumed.status_code == 302
    return resumed.headers["Location"]


def submit(client, path: str, answers: dict[str, Any], nav: str = "next"):
    """GET the page at ``path`` and post ``answers`` with its CSRF token."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    data = {"csrf_token": token_on(page.get_data(as_text=True)), "nav": nav, **answers}
    return client.post(path, data=data)


def is_checked(page: str, name: str, value: str) -> bool:
    """True if the radio button or checkbox ``name``=``value`` is checked on ``page``."""
    for tag in re.findall(r"<input [^>]*>", page):
        if f'name="{name}"' in tag and f'value="{value}"' in tag:
            return " checked" in tag
    raise AssertionError(f"no input {name}={value} on the page")


def engine_of(app):
    """The application's engine, for statements on a connection of a test's own."""
    return app.extensions["database"].kw["bind"]
