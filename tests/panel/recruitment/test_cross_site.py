"""/join/details (the sign-up after a letter's code) checks its own CSRF token, and refuses a
POST the browser says came from another site (panel.web.same_origin_post)."""

from __future__ import annotations

from sqlalchemy import func, select

from panel.models import Member
from tests.conftest import csrf_token
from tests.panel.members.test_cross_site import REFUSED
from tests.panel.recruitment.helpers import make_wave
from tests.panel.recruitment.test_join import enter_code


def test_a_cross_site_details_form_is_refused_and_the_same_form_from_our_page_joins(client, app, session, districts):
    wave = make_wave(app, session)
    invite = next(i for i in wave.invites if i.person_ref == "P001")
    assert enter_code(client, invite.code).status_code == 302
    data = {"csrf_token": csrf_token(client, "/join/details"), "email": "asa@example.se", "birth_year": "1991",
            "gender": "kvinna", "district": str(invite.district_id), "language": "sv", "accept_terms": "y",
            "terms_version": "2026-11"}
    response = client.post("/join/details", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 400 and REFUSED in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Member.id))) == 0
    response = client.post("/join/details", data=data, headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/panel/join/sent")
    assert session.scalar(select(func.count(Member.id))) == 1
