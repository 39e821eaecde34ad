"""Forms that check their own CSRF token (sign-up, profile, new address) refuse a POST the
browser says came from another site (panel.web.same_origin_post), and only such a POST:
a missing Referer, "Origin: null" (sent from our no-referrer pages) and same-origin
headers are accepted."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from panel.models import Member, OutboxMessage
from tests.factories import make_district, make_member
from tests.panel.members.support import join_form, log_in_by_email

REFUSED = "Formuläret skickades från en annan webbplats och togs därför inte emot."


def _members(session) -> int:
    return session.scalar(select(func.count(Member.id)))


def test_a_cross_site_sign_up_is_refused_with_a_swedish_400_and_nothing_is_saved(client, session):
    district = make_district(session, name="Visby")
    session.commit()
    response = client.post("/panel/join", data=join_form(client, district), headers={"Sec-Fetch-Site": "cross-site"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and REFUSED in page
    assert _members(session) == 0 and session.scalar(select(func.count(OutboxMessage.id))) == 0


@pytest.mark.parametrize("headers", [
    {}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {"Origin": "null"},
    {"Origin": "https://elsewhere.example"},  # over http, or without WTF_CSRF_SSL_STRICT: only Sec-Fetch-Site counts
])
def test_a_sign_up_from_our_own_page_is_accepted(client, session, headers):
    district = make_district(session, name="Visby")
    session.commit()
    response = client.post("/panel/join", data=join_form(client, district), headers=headers)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _members(session) == 1


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 302),  # no Referer (Referrer-Policy: no-referrer, privacy settings): allowed
    ({"Origin": "null"}, 302),  # what a browser sends for a POST from a no-referrer page
    ({"Origin": "https://localhost", "Referer": "https://localhost/panel/join"}, 302),
    ({"Origin": "https://evil.example"}, 400),
    ({"Referer": "https://evil.example/panel/join"}, 400),
    ({"Referer": "http://localhost/panel/join"}, 400),  # another scheme is another origin
    ({"Origin": "https://localhost:8443"}, 400),  # and another port
])
def test_over_https_with_ssl_strict_a_foreign_origin_or_referer_is_refused(app, client, session, headers, status):
    app.config["WTF_CSRF_SSL_STRICT"] = True
    district = make_district(session, name="Visby")
    session.commit()
    data = join_form(client, district)
    response = client.post("/panel/join", data=data, headers=headers, base_url="https://localhost")
    assert response.status_code == status, response.get_data(as_text=True)
    assert (REFUSED in response.get_data(as_text=True)) == (status == 400)
    assert _members(session) == (1 if status == 302 else 0)


def test_cross_site_profile_and_address_changes_are_refused(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se", birth_year=1970)
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    page = client.get("/panel/me/profile").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    cross = {"Sec-Fetch-Site": "cross-site"}
    profile = {"csrf_token": token, "birth_year": "1975", "gender": "man", "district": str(member.district_id),
               "language": "sv"}
    response = client.post("/panel/me/profile", data=profile, headers=cross)
    assert response.status_code == 400 and REFUSED in response.get_data(as_text=True)
    response = client.post("/panel/me/email", data={"email-email": "ny@example.se", "email-csrf_token": token},
                           headers=cross)
    assert response.status_code == 400 and REFUSED in response.get_data(as_text=True)
    session.expire_all()
    assert (session.get(Member, member.id).birth_year, session.get(Member, member.id).email) == (
        1970, "cecilia@example.se")
    # the same form from our own page is saved
    assert client.post("/panel/me/profile", data=profile, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 302
    session.expire_all()
    assert session.get(Member, member.id).birth_year == 1975
