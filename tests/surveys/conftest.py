"""Fixtures for the surveys tests: the example survey, and an analyst logged in."""

from __future__ import annotations

from pathlib import Path

import itertools
from types import SimpleNamespace

import pytest
from werkzeug.security import generate_password_hash

from panel.models import StaffUser

from surveys.definition import SurveyDefinition, load_definition
from tests.conftest import csrf_token
from tests.factories import PASSWORD

_numbers = itertools.count(1)
EXAMPLE = Path(__file__).resolve().parents[2] / "surveys" / "examples" / "medborgarpanel_exempel.yaml"


@pytest.fixture(scope="session")
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def example(example_text: str) -> SurveyDefinition:
    return load_definition(example_text)


def log_in(client, email: str) -> None:
    token = csrf_token(client, "/staff/login")
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def analyst(client, session):
    """The test client with an analyst's session; the StaffUser is ``analyst.user``.

    The account gets a cheap password hash and the session is written directly: logging
    in through the form (tested in tests/panel/accounts) costs two slow hashes per test.
    """
    user = StaffUser(email=f"analytiker{next(_numbers)}@kommun.test", name="Analytiker", role="analyst",
                     password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1"))
    session.add(user)
    session.flush()
    client.user = SimpleNamespace(id=user.id, email=user.email)
    cookie_value = user.get_id()
    session.commit()  # and no new transaction: on PostgreSQL an idle one would hold locks
    with client.session_transaction() as cookie:
        cookie["_user_id"] = cookie_value
        cookie["_fresh"] = True
    return client


@pytest.fixture
def analyst_browser(browser, live_server, session):
    """Chromium logged in as a new analyst (the staff start page has loaded)."""
    from tests.browser import log_in
    from tests.factories import make_staff

    email = make_staff(session, "analyst").email  # read before the commit expires the row
    session.commit()
    log_in(browser, live_server.url, email, PASSWORD)
    return browser
