"""Rate limits (issue 6): staff login, sign-up, magic-link requests, links from email, survey
links and recruitment codes each have a counter of their own. Running into one answers 429
with Retry-After and a plain message, and never locks the same address out of another."""

from __future__ import annotations

import itertools
import secrets

import pytest
from sqlalchemy import func, select

from panel.members import terms
from panel.models import Member
from tests.factories import make_district, make_member
from tests.security.conftest import csrf_of

LIMIT = 2
_numbers = itertools.count(1)


@pytest.fixture
def limited(app, session):
    """Every throttle at LIMIT, and a district to sign up in."""
    for key in ("PANEL_LOGIN_MAX_FAILURES", "PANEL_CODE_MAX_FAILURES", "SURVEY_LINK_MAX_FAILURES",
                "PANEL_SIGNUP_MAX", "PANEL_LINK_REQUEST_MAX", "PANEL_BAD_LINK_MAX"):
        app.config[key] = LIMIT
    district = make_district(session)
    session.commit()
    return district.id


def staff_login(client, district_id):
    return client.post("/staff/login", data={"email": f"nobody{next(_numbers)}@kommun.test",
                                             "password": "wrong password 123", "csrf_token": csrf_of(client)})


def signup(client, district_id):
    return client.post("/panel/join", data={
        "email": f"ny{next(_numbers)}@example.se", "birth_year": "1985", "gender": "kvinna",
        "district": str(district_id), "language": "sv", "accept_terms": "y", "terms_version": terms.CURRENT,
        "csrf_token": csrf_of(client, "/panel/join")})


def link_request(client, district_id):
    return client.post("/panel/me", data={"email": f"vem{next(_numbers)}@example.se",
                                          "csrf_token": csrf_of(client, "/panel/me")})


def member_link(client, district_id):
    return client.get(f"/panel/me/{secrets.token_urlsafe(32)}")


def survey_link(client, district_id):
    return client.get(f"/s/{secrets.token_urlsafe(32)}")


def join_code(client, district_id):
    return client.post("/join", data={"code": "ACDE-3479", "csrf_token": csrf_of(client, "/join")})


# what each attempt gives while its limit is not reached
NORMAL = {staff_login: 400, signup: 302, link_request: 302, member_link: 404, survey_link: 404, join_code: 400}


@pytest.mark.parametrize("exhausted", list(NORMAL), ids=lambda f: f.__name__)
def test_each_limit_has_its_own_counter(client, limited, exhausted):
    for _ in range(LIMIT):
        assert exhausted(client, limited).status_code == NORMAL[exhausted]
    blocked = exhausted(client, limited)
    assert blocked.status_code == 429
    assert "För många" in blocked.get_data(as_text=True) or "för många" in blocked.get_data(as_text=True)
    for other, normal in NORMAL.items():
        if other is not exhausted:
            assert other(client, limited).status_code == normal, f"{exhausted.__name__} locked {other.__name__}"


def test_another_address_is_not_limited(app, client, limited):
    for _ in range(LIMIT):
        signup(client, limited)
    assert signup(client, limited).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert signup(elsewhere, limited).status_code == 302


def test_a_throttled_sign_up_stores_nothing_and_says_when_to_come_back(client, session, limited):
    for _ in range(LIMIT):
        assert signup(client, limited).status_code == 302
    before = session.scalar(select(func.count(Member.id)))
    blocked = signup(client, limited)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "anmälningar" in blocked.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count(Member.id))) == before


def test_link_requests_count_the_same_for_known_and_unknown_addresses(client, session, limited):
    """The limit must not tell whether an address belongs to a member."""
    known = make_member(session, email="kand@example.se").email
    session.commit()
    for email in (known, "okand@example.se"):
        assert client.post("/panel/me", data={"email": email, "csrf_token": csrf_of(client, "/panel/me")}
                           ).status_code == 302
    for email in (known, "okand@example.se"):
        response = client.post("/panel/me", data={"email": email, "csrf_token": csrf_of(client, "/panel/me")})
        assert response.status_code == 429


def test_guessing_member_links_is_throttled_even_for_a_real_link(client, session, limited):
    """Past the limit even a valid link is not looked up (so guessing cannot go on)."""
    for path in ("/panel/me/", "/panel/confirm/"):
        assert client.get(path + secrets.token_urlsafe(32)).status_code == 404
    for path in ("/panel/me/", "/panel/confirm/", "/panel/email/", "/panel/unsubscribe/"):
        response = client.get(path + secrets.token_urlsafe(32))
        assert response.status_code == 429 and response.headers["Retry-After"] == "600"


def test_staff_login_is_throttled_per_address_even_with_the_right_password(app, client, session, limited):
    from tests.factories import PASSWORD, make_staff

    user = make_staff(session, "admin")
    session.commit()
    for _ in range(LIMIT):
        assert staff_login(client, limited).status_code == 400
    right = client.post("/staff/login", data={"email": user.email, "password": PASSWORD,
                                              "csrf_token": csrf_of(client)})
    assert right.status_code == 429
    with client.session_transaction() as cookie:
        assert "_user_id" not in cookie
