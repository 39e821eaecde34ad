"""An expired or missing CSRF token on /join/details (the sign-up step after a letter's code):
the form comes back with what was typed and a plain Swedish message, as a 400; nothing is saved."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from panel.models import Member, OutboxMessage
from tests.panel.members.test_expired_form import EXPIRED, value_of
from tests.panel.recruitment.helpers import make_wave
from tests.panel.recruitment.test_join import enter_code


def test_an_expired_details_form_comes_back_with_what_was_typed(client, app, session, districts):
    wave = make_wave(app, session)
    invite = next(i for i in wave.invites if i.person_ref == "P001")
    assert enter_code(client, invite.code).status_code == 302
    data = {"email": "asa@example.se", "birth_year": "1991", "gender": "kvinna",
            "district": str(invite.district_id), "language": "sv", "accept_terms": "y", "terms_version": "2026-11"}
    for token in ["expired-or-forged", None]:
        sent = dict(data, csrf_token=token) if token else data
        response = client.post("/join/details", data=sent)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, token
        assert EXPIRED in page and 'class="error-summary"' in page, token
        assert "Ladda om sidan" not in page and "CSRF" not in page, token
        assert value_of(page, "email") == "asa@example.se" and value_of(page, "birth_year") == "1991"
        assert re.search(r'name="accept_terms"[^>]*checked|checked[^>]*name="accept_terms"', page)
    assert session.scalar(select(func.count(Member.id))) == 0
    assert session.scalar(select(func.count(OutboxMessage.id))) == 0

    # The form shown again carries a fresh token: sending it again joins.
    response = client.post("/join/details", data=dict(data, csrf_token=value_of(page, "csrf_token")))
    assert response.status_code == 302 and response.headers["Location"].endswith("/panel/join/sent")
    member = session.scalars(select(Member)).one()
    assert (member.birth_year, member.source, member.recruitment_wave_id) == (1991, "wave", wave.id)
