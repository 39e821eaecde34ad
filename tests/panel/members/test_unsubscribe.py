"""One-click unsubscribe (RFC 8058) and the List-Unsubscribe headers everyone uses."""

from __future__ import annotations

from sqlalchemy import select

from panel.extensions import db
from panel.mail.outbox import queue_email
from panel.members.services import unsubscribe_headers
from panel.models import Member
from tests.conftest import csrf_token
from tests.factories import make_district, make_member
from tests.panel.members.support import deliver, log_in_by_email, path_of


def headers_for(app, member_id: int) -> dict[str, str]:
    with app.app_context():  # no request: as from a CLI command or the dispatcher
        return unsubscribe_headers(db.session.get(Member, member_id))


def unsubscribe_path(app, member_id: int) -> str:
    return path_of(headers_for(app, member_id)["List-Unsubscribe"].strip("<>"))


def test_headers_name_a_one_click_https_endpoint(app, session):
    member = make_member(session)
    session.commit()
    headers = headers_for(app, member.id)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<http://panel.test/panel/unsubscribe/")
    assert headers["List-Unsubscribe"].endswith(">")
    assert headers_for(app, member.id) == headers  # stable: the same link in every email


def test_one_click_post_unsubscribes_without_a_csrf_token(app, client, session):
    member = make_member(session)
    session.commit()
    path = unsubscribe_path(app, member.id)
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "inga fler mejl" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Member, member.id).status == "unsubscribed"
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # idempotent


def test_a_get_only_shows_a_button(app, client, session):
    member = make_member(session, status="paused")
    session.commit()
    path = unsubscribe_path(app, member.id)
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="List-Unsubscribe" value="One-Click"' in html and "<button" in html
    session.expire_all()
    assert session.get(Member, member.id).status == "paused"


def test_a_post_without_the_one_click_body_is_refused(app, client, session):
    member = make_member(session)
    session.commit()
    path = unsubscribe_path(app, member.id)
    assert client.post(path).status_code == 400
    assert client.post(path, data={"List-Unsubscribe": "Yes"}).status_code == 400
    session.expire_all()
    assert session.get(Member, member.id).status == "active"


def test_forged_or_broken_tokens_are_a_404(app, client, session):
    member = make_member(session)
    session.commit()
    path = unsubscribe_path(app, member.id)
    for bad in [path[:-3] + "abc", "/panel/unsubscribe/WzEsMF0.forged", "/panel/unsubscribe/%00%0d%0a",
                "/panel/unsubscribe/" + "a" * 3000]:
        assert client.get(bad).status_code == 404, bad
        assert client.post(bad, data={"List-Unsubscribe": "One-Click"}).status_code == 404, bad
    session.expire_all()
    assert session.get(Member, member.id).status == "active"


def test_a_link_of_someone_who_left_never_touches_a_later_member(app, client, session, smtp_server):
    district = make_district(session)
    first = make_member(session, email="first@example.se", district=district)
    session.commit()
    old_path = unsubscribe_path(app, first.id)
    session.delete(first)
    session.commit()
    later = make_member(session, email="later@example.se", district=district)  # SQLite may reuse the id
    session.commit()
    response = client.post(old_path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "finns inte i panelen" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Member, later.id).status == "active"


def test_the_headers_reach_the_mailbox_and_a_member_can_resubscribe(app, client, session, smtp_server):
    member = make_member(session, email="erik@example.se")
    session.commit()
    with app.app_context():
        row = db.session.get(Member, member.id)
        queue_email(db.session, kind="test", to=row.email, template="welcome", language="sv",
                    context={"manage_link": "http://panel.test/panel/me",
                             "unsubscribe_link": "http://panel.test/x"},
                    headers=unsubscribe_headers(row))
        db.session.commit()
    deliver(app)
    [mail] = smtp_server.to("erik@example.se")
    path = path_of(mail["List-Unsubscribe"].strip("<>"))
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    log_in_by_email(app, client, smtp_server, "erik@example.se")
    page = client.get("/panel/me/profile").get_data(as_text=True)
    assert "Börja få mejl igen" in page
    assert client.post("/panel/me/resubscribe", data={"csrf_token": csrf_token(client, "/panel/me/profile")}).status_code == 302
    session.expire_all()
    assert session.get(Member, member.id).status == "active"
    assert session.scalars(select(Member)).one().email == "erik@example.se"


def test_opening_the_link_again_says_you_are_already_unsubscribed(app, client, session):
    member = make_member(session)
    session.commit()
    path = unsubscribe_path(app, member.id)
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    page = client.get(path + "?lang=sv")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Du får inga fler mejl" in html
    assert "Klicka på knappen" not in html and 'value="One-Click"' not in html
    session.expire_all()
    assert session.get(Member, member.id).status == "unsubscribed"
