"""Self-service by magic link: log in, update, change address, pause, download, leave."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import select

from panel.db import utcnow
from panel.members import login
from panel.models import (Consent, Member, MemberToken, OutboxMessage, PanelExit, RecruitmentInvite,
                          RecruitmentWave)
from tests.conftest import csrf_token
from tests.factories import make_district, make_member
from tests.panel.members.support import deliver, later, link_to, log_in_by_email, press_button, text_of


def ask_for_link(client, email: str):
    return client.post("/panel/me", data={"email": email, "csrf_token": csrf_token(client, "/panel/me")})


def test_asking_for_a_link_looks_the_same_for_members_and_strangers(app, client, session, smtp_server):
    make_member(session, email="cecilia@example.se")
    session.commit()
    member = ask_for_link(client, "Cecilia@example.se ")
    stranger = ask_for_link(client, "nobody@example.se")
    assert member.status_code == stranger.status_code == 302
    assert member.headers["Location"] == stranger.headers["Location"]
    deliver(app)
    assert [m["To"] for m in smtp_server.messages] == ["cecilia@example.se"]
    assert "/panel/me/" in text_of(smtp_server.messages[0])


def test_magic_links_are_rate_limited_per_address(app, client, session, smtp_server):
    make_member(session, email="cecilia@example.se")
    session.commit()
    for _ in range(6):
        assert ask_for_link(client, "cecilia@example.se").status_code == 302
    deliver(app)
    assert len(smtp_server.messages) == 3
    # An hour later the address may ask again.
    with app.app_context():
        from panel.extensions import db
        from panel.members import services

        services.request_magic_link(db.session, "cecilia@example.se", now=later(1.1))
        db.session.commit()
    assert session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1)).kind == "magic_link"


def test_an_unconfirmed_sign_up_asking_for_a_link_gets_the_confirmation_again(app, client, session, smtp_server):
    make_member(session, email="pending@example.se", status="pending")
    session.commit()
    ask_for_link(client, "pending@example.se")
    deliver(app)
    [mail] = smtp_server.messages
    assert press_button(client, link_to(mail, "/panel/confirm/")).status_code == 302
    session.expire_all()
    assert session.scalars(select(Member)).one().status == "active"


def test_the_magic_link_page_logs_in_only_on_post_and_only_once(app, client, session, smtp_server):
    make_member(session, email="cecilia@example.se")
    session.commit()
    ask_for_link(client, "cecilia@example.se")
    deliver(app)
    path = link_to(smtp_server.messages[0], "/panel/me/")
    assert "Logga in" in client.get(path).get_data(as_text=True)
    assert client.get("/panel/me/profile").status_code == 302  # the GET did not log in
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.headers["Location"].endswith("/panel/me/profile")
    assert "cecilia@example.se" in client.get("/panel/me/profile").get_data(as_text=True)
    other = app.test_client()
    assert other.get(path).status_code == 410
    assert other.post(path, data={"csrf_token": csrf_token(other, "/panel/me")}).status_code == 410


def test_an_expired_magic_link_is_refused(app, client, session, smtp_server):
    make_member(session, email="cecilia@example.se")
    session.commit()
    ask_for_link(client, "cecilia@example.se")
    deliver(app)
    path = link_to(smtp_server.messages[0], "/panel/me/")
    session.scalars(select(MemberToken)).one().expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    page = client.get(path)
    assert page.status_code == 410 and "Be om en ny länk" in page.get_data(as_text=True)
    assert client.post(path, data={"csrf_token": csrf_token(client, "/panel/me")}).status_code == 410


def test_the_login_ends_after_its_lifetime(app, client, session, smtp_server):
    make_member(session, email="cecilia@example.se")
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    assert client.get("/panel/me/profile").status_code == 200
    with client.session_transaction() as cookie:
        cookie[login.SESSION_KEY] = {**cookie[login.SESSION_KEY], "until": int(utcnow().timestamp()) - 1}
    response = client.get("/panel/me/profile")
    assert response.status_code == 302 and response.headers["Location"].endswith("/panel/me")
    assert "ny inloggningslänk" in client.get("/panel/me").get_data(as_text=True)


def test_my_pages_need_a_login(client, session):
    for path in ["/panel/me/profile", "/panel/me/export.json", "/panel/me/leave"]:
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/panel/me"), path
    with client.session_transaction() as cookie:  # a forged or stale session value
        cookie[login.SESSION_KEY] = {"id": 1, "created": 0, "until": 2**40}
    assert client.get("/panel/me/profile").status_code == 302


def test_profile_update_refuses_bad_input_and_keeps_the_old_values(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se", birth_year=1970)
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    token = csrf_token(client, "/panel/me/profile")
    for data, message in [
        ({"birth_year": "2099"}, "minst 16 år"),
        ({"district": "999999"}, "Välj ett område i listan"),
        ({"gender": "x\x00"}, "Välj ett av alternativen"),
        ({"birth_year": "19\r\n70"}, "radbrytningar"),
    ]:
        form = {"birth_year": "1970", "gender": "kvinna", "district": str(member.district_id), "language": "sv",
                "csrf_token": token, **data}
        response = client.post("/panel/me/profile", data=form)
        assert response.status_code == 400 and message in response.get_data(as_text=True), data
    session.expire_all()
    assert session.get(Member, member.id).birth_year == 1970
    assert client.post("/panel/me/profile", data={"birth_year": "1971"}).status_code == 400  # no CSRF token


def test_changing_the_email_address_takes_effect_when_the_new_address_confirms(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se")
    make_member(session, email="taken@example.se")
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    token = csrf_token(client, "/panel/me/profile")

    same = client.post("/panel/me/email", data={"email-email": "Cecilia@example.se", "email-csrf_token": token})
    assert same.status_code == 400 and "redan din e-postadress" in same.get_data(as_text=True)
    bad = client.post("/panel/me/email", data={"email-email": "ny@example.se\nBcc: x@y.se", "email-csrf_token": token})
    assert bad.status_code == 400

    response = client.post("/panel/me/email", data={"email-email": "ny@example.se", "email-csrf_token": token})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Member, member.id).email == "cecilia@example.se"  # not yet
    deliver(app)
    [mail] = smtp_server.to("ny@example.se")
    path = link_to(mail, "/panel/email/")
    assert client.get(path).status_code == 200
    session.expire_all()
    assert session.get(Member, member.id).email == "cecilia@example.se"  # a GET changes nothing
    assert press_button(client, path).status_code == 302
    session.expire_all()
    assert session.get(Member, member.id).email == "ny@example.se"

    # An address that belongs to another member by the time the link is used.
    client.post("/panel/me/email", data={"email-email": "taken@example.se", "email-csrf_token": token})
    deliver(app)
    path = link_to(smtp_server.to("taken@example.se")[-1], "/panel/email/")
    response = press_button(client, path)
    assert response.status_code == 409 and "används redan" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Member, member.id).email == "ny@example.se"


def test_pause_and_end_the_pause(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se")
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    token = csrf_token(client, "/panel/me/profile")
    for period in ["", "2", "120", "1\x00"]:
        response = client.post("/panel/me/pause", data={"pause-period": period, "pause-csrf_token": token})
        assert response.status_code == 400 and "Välj hur länge" in response.get_data(as_text=True), period
    response = client.post("/panel/me/pause", data={"pause-period": "3", "pause-csrf_token": token})
    assert response.status_code == 302
    session.expire_all()
    member = session.get(Member, member.id)
    assert member.status == "paused"
    assert date.today() + timedelta(days=88) <= member.paused_until <= date.today() + timedelta(days=93)
    page = client.get("/panel/me/profile").get_data(as_text=True)
    assert "Avsluta pausen" in page
    assert client.post("/panel/me/unpause", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    member = session.get(Member, member.id)
    assert (member.status, member.paused_until) == ("active", None)


def test_the_data_export_contains_everything_stored_about_the_member(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se", postcode="62141", language="en", birth_year=1961)
    session.add(Consent(member_id=member.id, terms_version="2026-11", channel="web"))
    wave = RecruitmentWave(name="Våren 2026")
    session.add(wave)
    session.flush()
    session.add(RecruitmentInvite(wave_id=wave.id, person_ref="p1", gender="kvinna", birth_year=1961,
                                  district_id=member.district_id, name="Cecilia Ek", address_line1="Storgatan 1",
                                  code="ABCD2345", member_id=member.id))
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    response = client.get("/panel/me/export.json")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))

    session.expire_all()
    member = session.get(Member, member.id)
    for column in Member.__table__.columns:  # every column, so a new one cannot be forgotten
        value = getattr(member, column.key)
        expected = value.isoformat() if hasattr(value, "isoformat") else value
        assert data["member"][column.key] == expected, column.key
    assert data["district"] == {"code": member.district.code, "name": member.district.name}
    [consent] = data["consents"]
    assert set(consent) == {c.key for c in Consent.__table__.columns}
    [link] = data["links"]
    assert set(link) == {c.key for c in MemberToken.__table__.columns} - {"digest"}
    assert link["purpose"] == "manage" and link["used_at"]
    assert [m["kind"] for m in data["emails"]] == ["magic_link"]
    # Rows of other packages that point at the member come along, found from the metadata.
    [invite] = data["recruitment_invite"]
    assert (invite["name"], invite["address_line1"], invite["code"]) == ("Cecilia Ek", "Storgatan 1", "ABCD2345")


def test_leaving_erases_the_identity_and_keeps_only_coarse_statistics(app, client, session, smtp_server):
    district = make_district(session)
    member = make_member(session, email="cecilia@example.se", district=district, birth_year=1990,
                         source="wave", recruitment_wave_id=7)
    member.confirmed_at = utcnow() - timedelta(days=100)
    bystander = make_member(session, email="david@example.se", district=district)
    session.add(Consent(member_id=member.id, terms_version="2026-11", channel="code"))
    session.commit()
    member_id = member.id
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")

    assert client.get("/panel/me/leave").status_code == 200  # the confirmation step changes nothing
    session.expire_all()
    assert session.get(Member, member.id) is not None
    token = csrf_token(client, "/panel/me/leave")
    bad = client.post("/panel/me/leave", data={"reason": "because\x00", "csrf_token": token})
    assert bad.status_code == 400
    assert client.post("/panel/me/leave", data={}).status_code == 400  # no CSRF token
    session.expire_all()
    assert session.get(Member, member.id) is not None

    assert session.scalars(select(OutboxMessage.kind).where(OutboxMessage.to_address == "cecilia@example.se")).all()
    assert client.post("/panel/me/leave", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    # Earlier mail to the address is gone too; only the goodbye waits to be sent.
    assert session.scalars(select(OutboxMessage.kind).where(OutboxMessage.to_address == "cecilia@example.se")).all() == [
        "left"]
    assert session.scalars(select(Member.email)).all() == ["david@example.se"]
    assert session.scalars(select(Consent)).all() == []
    assert session.scalars(select(MemberToken).where(MemberToken.member_id == member_id)).all() == []
    record = session.scalars(select(PanelExit)).one()
    assert (record.source, record.recruitment_wave_id, record.gender, record.district_id, record.reason) == (
        "wave", 7, "kvinna", district.id, None)
    assert record.months_in_panel in (3, 4) and record.age_group in {"25-34", "35-44"}
    assert record.left_month == utcnow().strftime("%Y-%m")
    assert session.get(Member, bystander.id).status == "active"
    assert client.get("/panel/me/export.json").status_code == 302
    assert "Du har gått ur panelen" in client.get("/panel/left").get_data(as_text=True)


def test_logout(app, client, session, smtp_server):
    make_member(session, email="cecilia@example.se")
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    token = csrf_token(client, "/panel/me/profile")
    assert client.post("/panel/me/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/panel/me/profile").status_code == 302
