import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from panel.db import utcnow
from panel.mail.dispatcher import dispatch_due
from panel.models import CodeAttempt, Consent, Member
from panel.recruitment.services import format_code
from tests.conftest import csrf_token
from tests.factories import make_member
from tests.panel.recruitment.helpers import make_wave


def enter_code(client, code):
    return client.post("/join", data={"csrf_token": csrf_token(client, "/join"), "code": code})


def sign_up(client, email="asa@example.se", **changes):
    data = {"csrf_token": csrf_token(client, "/join/details"), "email": email, "birth_year": "1990",
            "gender": "kvinna", "district": "", "language": "sv", "accept_terms": "y",
            "terms_version": "2026-11"}
    page = client.get("/join/details").get_data(as_text=True)
    data["district"] = re.search(r'<option selected value="(\d+)"|<option value="(\d+)" selected', page).group(1) or ""
    data["terms_version"] = re.search(r'name="terms_version" type="hidden" value="([^"]*)"', page).group(1)
    data.update(changes)
    return client.post("/join/details", data=data)


def confirm_from_mail(app, client, smtp_server, address):
    dispatch_due(app)
    [message] = smtp_server.to(address)
    link = re.search(r"http://panel\.test(/panel/confirm/\S+)", message.get_body(("plain",)).get_content()).group(1)
    return client.post(link, data={"csrf_token": csrf_token(client, link)})


def test_code_form_is_plain_and_a_get_changes_nothing(client, session):
    response = client.get("/join")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'for="code"' in page and "Koden från brevet" in page
    assert session.scalars(select(CodeAttempt)).all() == []


@pytest.mark.parametrize("typed", ["{code}", "{lower}", " {dashed} ", "{spaced}"])
def test_code_is_found_however_it_is_typed_and_prefills_the_form(client, app, session, districts, typed):
    wave = make_wave(app, session)
    invite = next(i for i in wave.invites if i.person_ref == "P002")
    dashed = format_code(invite.code)
    typed = typed.format(code=invite.code, lower=dashed.lower(), dashed=dashed,
                         spaced=" ".join(invite.code[i:i + 2] for i in range(0, 8, 2)))
    response = enter_code(client, typed)
    assert response.status_code == 302 and response.headers["Location"].endswith("/join/details")
    page = client.get("/join/details").get_data(as_text=True)
    assert 'value="1950"' in page
    assert re.search(r'checked[^>]*value="man"|value="man"[^>]*checked', page)
    assert re.search(rf'<option selected value="{invite.district_id}"|<option value="{invite.district_id}" selected', page)
    assert "Björn" not in page and "Ängsvägen" not in page  # the letter's identity data stays out of the page


def test_unknown_code_is_a_clear_400_and_counts_towards_the_throttle(client, app, session, districts):
    make_wave(app, session)
    response = enter_code(client, "AAAA-AAAA")
    assert response.status_code == 400
    assert "Vi hittar ingen inbjudan med koden AAAA-AAAA" in response.get_data(as_text=True)
    assert len(session.scalars(select(CodeAttempt)).all()) == 1


def test_malformed_code_says_what_a_code_looks_like(client, session):
    response = enter_code(client, "hej")
    assert response.status_code == 400
    assert "Koden har åtta tecken" in response.get_data(as_text=True)
    empty = enter_code(client, "")
    assert empty.status_code == 400 and "Skriv koden från brevet" in empty.get_data(as_text=True)


def test_guessing_is_throttled_per_address(client, app, session, districts):
    wave = make_wave(app, session)
    for _ in range(app.config.get("PANEL_CODE_MAX_FAILURES", 10)):
        assert enter_code(client, "AAAA-AAAA").status_code == 400
    blocked = enter_code(client, format_code(wave.invites[0].code))  # even a right code, for now
    assert blocked.status_code == 429
    assert "för många gånger" in blocked.get_data(as_text=True)
    other_address = app.test_client()
    response = other_address.post("/join", data={"csrf_token": csrf_token(other_address, "/join"), "code": "AAAAAAAA"},
                                  environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 400


def test_old_failures_no_longer_count(client, app, session, districts):
    wave = make_wave(app, session)
    long_ago = utcnow() - timedelta(minutes=11)
    session.add_all([CodeAttempt(remote_addr="127.0.0.1", at=long_ago) for _ in range(10)])
    session.commit()
    assert enter_code(client, format_code(wave.invites[0].code)).status_code == 302


def test_details_without_an_accepted_code_go_back_to_the_code_form(client):
    response = client.get("/join/details")
    assert response.status_code == 302 and response.headers["Location"].endswith("/join")


def test_join_with_code_makes_a_wave_member_who_joins_on_confirming(client, app, session, districts, smtp_server):
    visby, slite = districts
    wave = make_wave(app, session)
    invite = next(i for i in wave.invites if i.person_ref == "P001")
    assert enter_code(client, format_code(invite.code)).status_code == 302
    # The resident corrects the district the register had.
    response = sign_up(client, email="Asa@Example.se", district=str(slite.id))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/panel/join/sent")

    member = session.scalars(select(Member)).one()
    assert (member.email, member.status, member.source, member.recruitment_wave_id) == (
        "asa@example.se", "pending", "wave", wave.id)
    assert (member.birth_year, member.gender, member.district_id) == (1990, "kvinna", slite.id)
    assert session.scalars(select(Consent.channel)).all() == ["code"]
    session.expire_all()
    assert invite.member_id == member.id and invite.used_at is not None
    assert invite.district_id == visby.id  # the sample's stratum is kept as drawn

    assert confirm_from_mail(app, client, smtp_server, "asa@example.se").status_code == 302
    session.expire_all()
    assert member.status == "active"
    # The code has done its work: it cannot be used again.
    again = enter_code(app.test_client(), invite.code)
    assert again.status_code == 400
    assert "Koden har redan använts" in again.get_data(as_text=True)


def test_an_unconfirmed_code_can_be_used_again_after_a_mistyped_address(client, app, session, districts):
    wave = make_wave(app, session)
    invite = wave.invites[0]
    enter_code(client, invite.code)
    assert sign_up(client, email="fel@exampel.se").status_code == 302
    enter_code(client, invite.code)
    assert sign_up(client, email="ratt@example.se").status_code == 302
    session.expire_all()
    assert invite.member.email == "ratt@example.se"


def test_sign_up_errors_are_shown_on_the_form(client, app, session, districts):
    wave = make_wave(app, session)
    enter_code(client, wave.invites[0].code)
    response = sign_up(client, email="inte en adress", birth_year="19x0", accept_terms="")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Skriv en e-postadress" in page and "fyra siffror" in page and "godkänna villkoren" in page
    assert session.scalars(select(Member)).all() == []


def test_a_closed_wave_refuses_its_codes(client, analyst_client, app, session, districts):
    wave = make_wave(app, session)
    token = csrf_token(analyst_client, f"/staff/recruitment/{wave.id}")
    analyst_client.post(f"/staff/recruitment/{wave.id}/status", data={"csrf_token": token})
    session.expire_all()
    assert wave.status == "closed"
    resident = app.test_client()
    response = enter_code(resident, wave.invites[0].code)
    assert response.status_code == 400
    assert "gäller inte längre" in response.get_data(as_text=True)


def test_an_existing_member_with_a_code_is_counted_and_told_by_mail(client, app, session, districts, smtp_server):
    visby, _ = districts
    make_member(session, email="asa@example.se", district=visby)
    session.commit()
    wave = make_wave(app, session)
    invite = wave.invites[0]
    enter_code(client, invite.code)
    assert sign_up(client, email="asa@example.se").status_code == 302
    session.expire_all()
    assert invite.member.email == "asa@example.se"
    assert session.scalar(select(Member.source).where(Member.email == "asa@example.se")) == "open"
    dispatch_due(app)
    assert len(smtp_server.to("asa@example.se")) == 1


def test_a_member_who_leaves_still_counts_as_joined(app, session, districts):
    from panel.members.services import leave
    from panel.recruitment.services import wave_stats

    visby, _ = districts
    wave = make_wave(app, session)
    invite = wave.invites[0]
    member = make_member(session, district=visby, source="wave", recruitment_wave_id=wave.id)
    invite.member = member
    session.commit()
    with app.test_request_context():
        from panel.extensions import db

        leave(db.session, db.session.get(Member, member.id))
        db.session.commit()
    session.expire_all()
    assert invite.member_id is None and invite.joined_at is not None
    with app.test_request_context():
        assert wave_stats(session, wave).total.joined == 1


def test_a_code_accepted_before_the_wave_closed_is_refused_on_the_next_step(client, app, session, districts):
    from panel.models.recruitment import WaveStatus

    wave = make_wave(app, session)
    assert enter_code(client, wave.invites[0].code).status_code == 302
    wave.status = WaveStatus.CLOSED
    session.commit()
    response = client.get("/join/details")
    assert response.status_code == 400
    assert "gäller inte längre" in response.get_data(as_text=True)
    assert client.get("/join/details").status_code == 302  # the accepted code is forgotten
