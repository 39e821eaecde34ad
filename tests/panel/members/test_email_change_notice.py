"""Confirming a new email address tells the old address, so that its real owner knows."""

from __future__ import annotations

from panel.models import Member
from tests.conftest import csrf_token
from tests.factories import make_member
from tests.panel.members.support import deliver, html_of, link_to, log_in_by_email, press_button, text_of


def change_address(app, client, smtp_server, new: str):
    token = csrf_token(client, "/panel/me/profile")
    assert client.post("/panel/me/email", data={"email-email": new, "email-csrf_token": token}).status_code == 302
    deliver(app)
    return press_button(client, link_to(smtp_server.to(new)[-1], "/panel/email/"))


def test_the_old_address_is_told_when_the_new_one_is_confirmed(app, client, session, smtp_server):
    member = make_member(session, email="cecilia@example.se")
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    before = len(smtp_server.to("cecilia@example.se"))

    token = csrf_token(client, "/panel/me/profile")
    client.post("/panel/me/email", data={"email-email": "ny@example.se", "email-csrf_token": token})
    deliver(app)
    assert len(smtp_server.to("cecilia@example.se")) == before  # asking for the change tells nobody yet

    assert press_button(client, link_to(smtp_server.to("ny@example.se")[-1], "/panel/email/")).status_code == 302
    deliver(app)
    [notice] = smtp_server.to("cecilia@example.se")[before:]
    assert notice["Subject"] == "Din e-postadress i medborgarpanelen är ändrad"
    text = text_of(notice)
    assert "har ändrats" in text and "Var det inte du som ändrade adressen?" in text
    assert "ny@example.se" not in text and "ny@example.se" not in html_of(notice)  # the new address is not told
    assert "http://panel.test/panel/" not in text  # no link that could change anything
    assert "List-Unsubscribe" not in notice
    session.expire_all()
    assert session.get(Member, member.id).email == "ny@example.se"
    assert [m["Subject"] for m in smtp_server.to("ny@example.se")] == ["Bekräfta din nya e-postadress"]


def test_the_notice_is_in_the_members_language(app, client, session, smtp_server):
    make_member(session, email="layla@example.se", language="ar")
    session.commit()
    log_in_by_email(app, client, smtp_server, "layla@example.se")
    before = len(smtp_server.to("layla@example.se"))
    assert change_address(app, client, smtp_server, "layla.ny@example.se").status_code == 302
    deliver(app)
    [notice] = smtp_server.to("layla@example.se")[before:]
    assert "مرحبًا!" in text_of(notice)


def test_an_address_already_taken_changes_nothing_and_tells_nobody(app, client, session, smtp_server):
    make_member(session, email="cecilia@example.se")
    session.commit()
    log_in_by_email(app, client, smtp_server, "cecilia@example.se")
    token = csrf_token(client, "/panel/me/profile")
    client.post("/panel/me/email", data={"email-email": "taken@example.se", "email-csrf_token": token})
    deliver(app)
    make_member(session, email="taken@example.se")
    session.commit()
    before = len(smtp_server.to("cecilia@example.se"))
    assert press_button(client, link_to(smtp_server.to("taken@example.se")[-1], "/panel/email/")).status_code == 409
    deliver(app)
    assert len(smtp_server.to("cecilia@example.se")) == before
