"""Fixtures for the security tests: clients logged in as each kind of user.

Staff accounts get a cheap password hash and their Flask-Login cookie is written
directly (logging in through the form is tested in tests/panel/accounts and in
test_hostile_input's brute-force cases); a resident gets the same signed session a
magic link gives (panel.members.login.log_in).
"""

from __future__ import annotations

import itertools
import re
import time

import pytest
from werkzeug.security import generate_password_hash

from panel.members.tokens import created_stamp
from panel.models import StaffUser
from tests.factories import PASSWORD, make_district, make_member

_numbers = itertools.count(1)
ROLES = ("anonymous", "resident", "committee", "analyst", "admin")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_of(client, path: str = "/staff/login") -> str:
    """A CSRF token valid for ``client``'s session (taken from a page with a form)."""
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def add_staff(session, role: str, *, email: str | None = None) -> StaffUser:
    user = StaffUser(email=email or f"{role}{next(_numbers)}@kommun.test", name=f"{role.title()} Testsson",
                     role=role, password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1"))
    session.add(user)
    session.flush()
    return user


def log_in_staff(client, user: StaffUser) -> None:
    with client.session_transaction() as cookie:
        cookie["_user_id"] = user.get_id()
        cookie["_fresh"] = True


def log_in_member(client, member) -> None:
    with client.session_transaction() as cookie:
        cookie["member"] = {"id": member.id, "created": created_stamp(member), "until": int(time.time()) + 3600}


@pytest.fixture
def clients(app, session):
    """A client per kind of user: anonymous, resident, committee, analyst, admin.

    ``clients.users[role]`` is the StaffUser, ``clients.member`` the resident.
    """

    class Clients(dict):
        users: dict[str, StaffUser]

    made = Clients()
    made.users = {}
    district = make_district(session)
    member = make_member(session, district=district, email="boende.a@example.se")
    made.member = member
    made["anonymous"] = app.test_client()
    made["resident"] = app.test_client()
    for role in ("committee", "analyst", "admin"):
        made.users[role] = add_staff(session, role)
        made[role] = app.test_client()
    session.commit()

    def log_in_again(role: str) -> None:
        """Log the client in again (as after a logout in an earlier request)."""
        if role == "resident":
            log_in_member(made["resident"], member)
        elif role in made.users:
            user = made.users[role]
            session.refresh(user)  # a logout or role change bumps the session version
            session.commit()
            log_in_staff(made[role], user)

    made.log_in_again = log_in_again
    for role in ROLES:
        log_in_again(role)
    return made
