"""Open sign-up with double opt-in, over the real pages and a real SMTP server."""

from __future__ import annotations

import json

from sqlalchemy import select

from panel.mail.outbox import PRIORITY_DIRECT
from panel.models import Consent, Member, MemberToken, OutboxMessage, PanelExit
from tests.conftest import csrf_token, free_port
from tests.factories import make_district, make_member
from tests.panel.members.support import deliver, join_form, later, link_to, press_button, sign_up, text_of


def test_sign_up_confirm_update_and_leave(app, client, session, smtp_server):
    district = make_district(session, name="Visby")
    other = make_district(session, name="Hemse")
    session.commit()

    response = sign_up(client, district, email="  Anna.Andersson@Example.se ")
    assert response.status_code == 302 and response.headers["Location"].endswith("/panel/join/sent")
    assert "Titta i din e-post" in client.get(response.headers["Location"]).get_data(as_text=True)
    member = session.scalars(select(Member)).one()
    assert (member.email, member.status, member.confirmed_at) == ("anna.andersson@example.se", "pending", None)
    consent = session.scalars(select(Consent)).one()
    assert (consent.member_id, consent.channel, consent.terms_version) == (member.id, "web", "2026-11")

    assert deliver(app).sent == 1
    [mail] = smtp_server.to("anna.andersson@example.se")
    assert "Bekräfta" in mail["Subject"]
    confirm_path = link_to(mail, "/panel/confirm/")
    assert "List-Unsubscribe" not in mail  # a direct answer, not panel mail

    # The link's page only shows a button (mail scanners open links); the POST confirms.
    assert "Ja, jag vill vara med" in client.get(confirm_path).get_data(as_text=True)
    session.expire_all()
    assert session.get(Member, member.id).status == "pending"
    response = client.post(confirm_path, data={"csrf_token": csrf_token(client, confirm_path)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/panel/me/profile")
    session.expire_all()
    member = session.get(Member, member.id)
    assert member.status == "active" and member.confirmed_at is not None

    welcome_row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "welcome")).one()
    assert welcome_row.priority == PRIORITY_DIRECT  # an answer to the resident's click, despite List-Unsubscribe
    deliver(app)
    welcome = smtp_server.to(member.email)[-1]
    assert "Välkommen" in welcome["Subject"]
    assert welcome["List-Unsubscribe"].startswith("<http://panel.test/panel/unsubscribe/")
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Logged in straight after confirming: update the profile.
    page = client.get("/panel/me/profile").get_data(as_text=True)
    assert "anna.andersson@example.se" in page and "Visby" in page
    response = client.post("/panel/me/profile", data={
        "birth_year": "1986", "gender": "annan", "district": str(other.id), "language": "en",
        "csrf_token": csrf_token(client, "/panel/me/profile")})
    assert response.status_code == 302
    session.expire_all()
    member = session.get(Member, member.id)
    assert (member.birth_year, member.gender, member.district_id, member.language) == (1986, "annan", other.id, "en")

    exported = json.loads(client.get("/panel/me/export.json").get_data(as_text=True))
    assert exported["member"]["email"] == "anna.andersson@example.se"

    # Leave, with the confirmation step: in English now, the language the member just chose.
    assert "Do you want to leave the panel?" in client.get("/panel/me/leave").get_data(as_text=True)
    response = client.post("/panel/me/leave", data={"reason": "too_many",
                                                     "csrf_token": csrf_token(client, "/panel/me/leave")})
    assert response.status_code == 302 and response.headers["Location"].endswith("/panel/left?lang=en")
    session.expire_all()
    assert session.scalars(select(Member)).all() == []
    assert session.scalars(select(Consent)).all() == []
    assert session.scalars(select(MemberToken)).all() == []
    record = session.scalars(select(PanelExit)).one()
    assert (record.gender, record.district_id, record.source, record.reason) == ("annan", other.id, "open", "too_many")
    assert record.age_group in {"35-44", "45-54"} and record.months_in_panel == 0
    exit_values = {str(getattr(record, c.key)) for c in PanelExit.__table__.columns}
    assert not any("andersson" in value or "example.se" in value for value in exit_values)
    # The session ended with the membership.
    assert client.get("/panel/me/profile").status_code == 302

    deliver(app)
    goodbye = smtp_server.to("anna.andersson@example.se")[-1]
    assert "gått ur" in goodbye["Subject"].lower() or "left" in goodbye["Subject"].lower()


def test_existing_address_sees_the_same_page_and_gets_an_informative_email(app, client, session, smtp_server):
    district = make_district(session)
    make_member(session, email="bertil@example.se", district=district)
    session.commit()

    new = sign_up(client, district, email="ny@example.se")
    existing = sign_up(client, district, email="Bertil@example.se", birth_year="1950")
    assert new.status_code == existing.status_code == 302
    assert new.headers["Location"] == existing.headers["Location"]
    assert client.get(new.headers["Location"]).get_data() == client.get(existing.headers["Location"]).get_data()

    deliver(app)
    [note] = smtp_server.to("bertil@example.se")
    assert "redan med" in note["Subject"]
    assert "/panel/me/" in text_of(note)
    session.expire_all()
    bertil = session.scalars(select(Member).where(Member.email == "bertil@example.se")).one()
    assert bertil.birth_year == 1980 and bertil.status == "active"  # nothing changed by the stranger's form
    assert session.scalars(select(Consent).where(Consent.member_id == bertil.id)).all() == []


def test_informative_emails_are_rate_limited(app, client, session, smtp_server):
    district = make_district(session)
    make_member(session, email="bertil@example.se", district=district)
    session.commit()
    for _ in range(5):
        assert sign_up(client, district, email="bertil@example.se").status_code == 302
    deliver(app)
    assert len(smtp_server.to("bertil@example.se")) == 3


def test_signing_up_again_before_confirming_updates_the_answers_and_sends_a_new_link(app, client, session,
                                                                                      smtp_server):
    district = make_district(session)
    session.commit()
    sign_up(client, district, birth_year="1958")
    sign_up(client, district, birth_year="1985")
    member = session.scalars(select(Member)).one()
    assert member.birth_year == 1985 and member.status == "pending"
    deliver(app)
    first, second = smtp_server.to("anna.andersson@example.se")
    assert link_to(first, "/panel/confirm/") != link_to(second, "/panel/confirm/")
    assert press_button(client, link_to(first, "/panel/confirm/")).status_code == 302


def test_a_get_of_the_confirmation_link_never_confirms(app, client, session, smtp_server):
    district = make_district(session)
    session.commit()
    sign_up(client, district)
    deliver(app)
    path = link_to(smtp_server.messages[0], "/panel/confirm/")
    for _ in range(3):
        assert client.get(path).status_code == 200
    client.head(path)
    session.expire_all()
    assert session.scalars(select(Member)).one().status == "pending"
    assert session.scalars(select(MemberToken)).one().used_at is None


def test_a_used_confirmation_link_is_refused_the_second_time(app, client, session, smtp_server):
    district = make_district(session)
    session.commit()
    sign_up(client, district)
    deliver(app)
    path = link_to(smtp_server.messages[0], "/panel/confirm/")
    assert press_button(client, path).status_code == 302
    again = app.test_client()
    response = again.get(path)
    assert response.status_code == 410 and "redan använd" in response.get_data(as_text=True)
    response = again.post(path, data={"csrf_token": csrf_token(again, "/panel/join")})
    assert response.status_code == 410
    deliver(app)
    assert sum("Välkommen" in m["Subject"] for m in smtp_server.messages) == 1


def test_an_expired_confirmation_link_is_refused_and_says_what_to_do(app, client, session, smtp_server):
    district = make_district(session)
    session.commit()
    sign_up(client, district)
    deliver(app)
    path = link_to(smtp_server.messages[0], "/panel/confirm/")
    token = session.scalars(select(MemberToken)).one()
    token.expires_at = later(-1)
    session.commit()
    page = client.get(path)
    assert page.status_code == 410 and "gått ut" in page.get_data(as_text=True)
    response = client.post(path, data={"csrf_token": csrf_token(client, "/panel/join")})
    assert response.status_code == 410
    session.expire_all()
    assert session.scalars(select(Member)).one().status == "pending"


def test_invalid_confirmation_links_are_a_404_with_an_explanation(client, session):
    for token in ("x" * 43, "short", "%00" * 30, "a" * 500, "%0d%0aX-Injected:%20yes", "ö" * 40):
        response = client.get(f"/panel/confirm/{token}")
        assert response.status_code == 404, token
        assert "Länken fungerar inte" in response.get_data(as_text=True)
    assert client.get("/panel/confirm/../../etc/passwd").status_code == 404
    response = client.post("/panel/confirm/" + "x" * 43, data={"csrf_token": csrf_token(client, "/panel/join")})
    assert response.status_code == 404


def test_sign_up_succeeds_while_the_mail_server_is_down_and_mail_goes_out_later(app, client, session, smtp_server):
    district = make_district(session)
    session.commit()
    real_port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()  # nothing listens here
    assert sign_up(client, district).status_code == 302
    stats = deliver(app)
    assert stats.sent == 0 and stats.smtp_error
    assert smtp_server.messages == []
    row = session.scalars(select(OutboxMessage)).one()
    assert row.status == "queued"

    app.config["MAIL_PORT"] = real_port
    assert deliver(app, at=later(1)).sent == 1
    [mail] = smtp_server.to("anna.andersson@example.se")
    assert press_button(client, link_to(mail, "/panel/confirm/")).status_code == 302


def test_join_form_keeps_what_was_typed_when_something_is_wrong(client, session):
    district = make_district(session)
    session.commit()
    response = client.post("/panel/join", data=join_form(client, district, accept_terms=None))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Du behöver godkänna villkoren" in page
    assert 'value="anna.andersson@example.se"' in page and 'value="1985"' in page
    assert session.scalars(select(Member)).all() == []
