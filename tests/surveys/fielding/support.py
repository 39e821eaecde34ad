"""Builders and helpers for the fielding tests: a small panel, a survey, settings, sending."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.models import District
from surveys.authoring import services as authoring
from surveys.fielding import services
from surveys.fielding.models import Invitation
from surveys.fielding.sampling import Target
from surveys.models import Survey
from tests.conftest import csrf_token
from tests.factories import make_district, make_member

LINK = re.compile(r"http://panel\.test/\S+")
THIS_YEAR = utcnow().year


def born(age: int) -> int:
    """The birth year of someone who turns ``age`` this year."""
    return THIS_YEAR - age


def district(session: Session, code: str) -> District:
    return session.scalar(select(District).where(District.code == code)) or make_district(session, code=code,
                                                                                          name=f"Område {code}")


def make_panel(session: Session, spec: list[tuple[int, str, int, str]], **fields) -> list:
    """Members from (count, gender, age, district code) rows; ``fields`` go to every member."""
    members = []
    for count, gender, age, code in spec:
        home = district(session, code)
        members += [make_member(session, gender=gender, birth_year=born(age), district=home, **fields)
                    for _ in range(count)]
    return members


def make_survey(session: Session, example_text: str, title: str = "Enkät") -> Survey:
    survey = authoring.import_survey(session, text=example_text, format="yaml", title=title, created_by=None)
    session.flush()
    return survey


def configure(session: Session, survey: Survey, *, target: Target | None = None, mode: str = "all",
              sample_size: int | None = None, allocation: str = "proportional", seed: int | None = 42,
              contact_limit: int | None = None, contact_window_days: int = 30, reminder_after_days: int = 7,
              max_reminders: int = 1, opens_at: datetime | None = None, closes_at: datetime | None = None,
              now: datetime | None = None):
    """Save fielding settings through the service (the form is tested in test_targeting)."""
    return services.save_settings(
        session, survey, target=target or Target(), mode=mode, sample_size=sample_size, allocation=allocation,
        seed=seed, contact_limit=contact_limit, contact_window_days=contact_window_days,
        reminder_after_days=reminder_after_days, max_reminders=max_reminders, opens_at=opens_at,
        closes_at=closes_at or utcnow() + timedelta(days=14), now=now)


def invitations(session: Session, survey_id: int) -> list[Invitation]:
    session.expire_all()
    return list(session.scalars(select(Invitation).where(Invitation.survey_id == survey_id).order_by(Invitation.id)))


def page(client, path: str):
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def post(client, path: str, data: dict[str, Any] | None = None, token_from: str | None = None):
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, token_from or path))
    return client.post(path, data=data)


def base(survey_id: int) -> str:
    return f"/staff/surveys/{survey_id}/fielding"


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def survey_link(message) -> str:
    """The path of the personal survey link (/s/<token>) in an email."""
    for link in LINK.findall(text_of(message)):
        if "/s/" in link:
            return link.removeprefix("http://panel.test")
    raise AssertionError(f"no survey link in:\n{text_of(message)}")


def deliver(app, *, at: datetime | None = None):
    from panel.mail.dispatcher import dispatch_due

    return dispatch_due(app, clock=(lambda: at) if at else utcnow)


@contextmanager
def as_cli(app):
    """An app context in the default language, as the ``fielding`` CLI commands run: services
    called outside a request (survey definitions are parsed with Swedish messages)."""
    from flask_babel import force_locale

    from panel.extensions import db

    with app.app_context(), force_locale("sv"):
        yield db.session


def send_now(app, survey_id: int):
    with as_cli(app) as db_session:
        result = services.send_invitations(db_session, db_session.get(Survey, survey_id))
        db_session.commit()
    return result
