"""An expired or missing CSRF token on the sign-up and profile forms: the form comes back with
what was typed and a plain Swedish message, as a 400; nothing is saved."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from panel.models import Member, OutboxMessage
from tests.conftest import csrf_token
from tests.factories import make_district, make_member
from tests.panel.members.support import join_form, log_in_by_email

EXPIRED = "Formuläret hade gått ut och skickades inte"


def value_of(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    return match.group(1) if match else None


def test_an_expired_join_form_comes_back_with_what_was_typed(app, client, session):
    district = make_district(session, name="Visby")
    session.commit()
    data = join_form(client, district, email="greta@example.se", birth_year="1961")
    later = app.test_client()  # the session (and the token in it) is gone: a new browser session
    response = later.post("/panel/join", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert EXPIRED in page and 'class="error-summary"' in page
    assert "Ladda om sidan" not in page and "CSRF" not in page
    assert value_of(page, "email") == "greta@example.se" and value_of(page, "birth_year") == "1961"
    assert re.search(r'name="accept_terms"[^>]*checked|checked[^>]*name="accept_terms"', page)
    assert session.scalar(select(func.count(Member.id))) == 0
    assert session.scalar(select(func.count(OutboxMessage.id))) == 0

    # The form shown again carries a fresh token: sending it again works.
    data["csrf_token"] = value_of(page, "csrf_token")
    assert later.post("/panel/join", data=data).status_code == 302
    assert session.scalars(select(Member)).one().birth_year == 1961


def test_a_join_form_without_a_token_says_the_same(client, session):
    district = make_district(session, name="Visby")
    session.commit()
    data = join_form(client, district, birth_year="1961")
    del data["csrf_token"]
    response = client.post("/panel/join", data=data)
    assert response.status_code == 400 and EXPIRED in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Member.id))) == 0


def test_an_expired_profile_form_comes_back_with_what_was_typed(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se", birth_year=1970)
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    for token in ["expired-or-forged", None]:
        data = {"birth_year": "1975", "gender": "man", "district": str(member.district_id), "language": "sv"}
        if token:
            data["csrf_token"] = token
        response = client.post("/panel/me/profile", data=data)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, token
        assert EXPIRED in page and "Ladda om sidan" not in page, token
        assert value_of(page, "birth_year") == "1975"
        assert re.search(r'checked[^>]*value="man"|value="man"[^>]*checked', page)
    session.expire_all()
    assert (session.get(Member, member.id).birth_year, session.get(Member, member.id).gender) == (1970, "kvinna")


def test_an_expired_email_change_comes_back_with_the_new_address(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se")
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    response = client.post("/panel/me/email", data={"email-email": "ny@example.se", "email-csrf_token": "old"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and EXPIRED in page
    assert value_of(page, "email-email") == "ny@example.se"
    session.expire_all()
    assert session.get(Member, member.id).email == "cecilia@example.se"
    assert session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "confirm_email")) == 0
