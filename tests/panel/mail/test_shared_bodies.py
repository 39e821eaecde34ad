"""Shared bodies of bulk mail: filling in a row's links, sending, purging."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from panel.db import utcnow
import pytest

from panel.mail.outbox import (
    LINK_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, add_shared_body, delete_unused_bodies, fill_body, full_bodies,
    full_headers, list_unsubscribe_headers, send_out_rows,
)
from panel.mail.services import purge_sent
from panel.models import OutboxMessage
from panel.models.outbox import OutboxBody, OutboxStatus
from tests.panel.mail.conftest import make_row

TEXT = f"Svara här: {LINK_PLACEHOLDER}\nAvsluta: {UNSUBSCRIBE_PLACEHOLDER}\n"
HTML = f'<p><a href="{LINK_PLACEHOLDER}">Svara</a> <a href="{UNSUBSCRIBE_PLACEHOLDER}">Avsluta</a></p>'


def test_fill_body_puts_the_links_in_and_escapes_them_in_the_html():
    text, html = fill_body(TEXT, HTML, 'https://p.test/s/a?x=1&y="2"', "https://p.test/u/<b>")
    assert text == 'Svara här: https://p.test/s/a?x=1&y="2"\nAvsluta: https://p.test/u/<b>\n'
    assert 'href="https://p.test/s/a?x=1&amp;y=&#34;2&#34;"' in html and "https://p.test/u/&lt;b&gt;" in html


def shared_row(session, body_id: int, n: int, **fields) -> OutboxMessage:
    return make_row(session, n, text="", html="", body_id=body_id, link=f"https://p.test/s/token{n}",
                    unsubscribe_link=f"https://p.test/u/{n}", kind="survey_invitation", priority=1, **fields)


def test_the_dispatcher_sends_each_row_with_its_own_links(app, session, dispatch, smtp_server):
    body = add_shared_body(session, TEXT, HTML)
    rows = [shared_row(session, body, n) for n in range(3)]
    own = make_row(session, 9)  # an ordinary row with a body of its own, in the same batch
    session.commit()
    assert full_bodies(session, rows[1]) == fill_body(TEXT, HTML, rows[1].link, rows[1].unsubscribe_link)
    assert full_bodies(session, own) == (own.body_text, own.body_html)

    assert dispatch().sent == 4
    received = {str(message["To"]): message for message in smtp_server.messages}
    for n in range(3):
        message = received[f"boende{n}@example.se"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"Svara här: https://p.test/s/token{n}\r\n" in text and f"https://p.test/u/{n}" in text
        assert f'href="https://p.test/s/token{n}"' in html
    assert "Bekräfta här" in received["boende9@example.se"].get_body(("plain",)).get_content()


def test_purging_sent_mail_deletes_the_bodies_no_row_points_at_any_more(app, session):
    old, current = add_shared_body(session, TEXT, HTML), add_shared_body(session, TEXT, HTML)
    long_ago = utcnow() - timedelta(days=100)
    shared_row(session, old, 1, status=OutboxStatus.SENT, sent_at=long_ago)
    shared_row(session, current, 2, status=OutboxStatus.SENT, sent_at=long_ago)
    shared_row(session, current, 3)  # still queued
    session.commit()

    assert purge_sent(session, older_than=timedelta(days=30)) == 2
    session.commit()
    assert session.scalars(select(OutboxBody.id)).all() == [current]
    assert session.scalars(select(OutboxMessage.link)).all() == ["https://p.test/s/token3"]
    assert delete_unused_bodies(session) == 0
    assert session.scalar(select(func.count(OutboxBody.id))) == 1


def test_shared_headers_get_each_rows_link_and_come_before_the_rows_own(app, session, dispatch, smtp_server):
    body = add_shared_body(session, TEXT, HTML, headers=list_unsubscribe_headers(UNSUBSCRIBE_PLACEHOLDER),
                           send_out="survey_invitation:7")
    plain = shared_row(session, body, 1, headers="")
    extra = shared_row(session, body, 2, headers="X-Panel-Note: egen")
    session.commit()
    assert full_headers(session, plain) == (
        "List-Unsubscribe: <https://p.test/u/1>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click")
    assert full_headers(session, extra).endswith("\nX-Panel-Note: egen")
    assert {row.id for row in session.scalars(select(OutboxMessage).where(send_out_rows(["survey_invitation:7"])))} \
        == {plain.id, extra.id}
    assert not session.scalars(select(OutboxMessage).where(send_out_rows(["survey_invitation:8"]))).all()

    assert dispatch().sent == 2
    received = {str(message["To"]): message for message in smtp_server.messages}
    assert received["boende1@example.se"]["List-Unsubscribe"] == "<https://p.test/u/1>"
    assert received["boende2@example.se"]["List-Unsubscribe"] == "<https://p.test/u/2>"
    assert received["boende2@example.se"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["boende2@example.se"]["X-Panel-Note"] == "egen"


@pytest.mark.parametrize("headers", ["Subject: kapat", "Bad header", "X-Ok: a\nTo: x@example.se\r"])
def test_a_shared_body_refuses_headers_a_row_may_not_set(app, session, headers):
    with pytest.raises(ValueError):
        add_shared_body(session, TEXT, HTML, headers=headers)


def test_a_row_whose_shared_body_is_gone_fails_with_a_reason_and_the_rest_are_sent(
        app, session, dispatch, smtp_server):
    body = add_shared_body(session, TEXT, HTML)
    orphan = shared_row(session, body + 1000, 1)  # body_id is not a foreign key
    fine = shared_row(session, body, 2)
    session.commit()
    stats = dispatch()
    assert (stats.claimed, stats.sent, stats.failed) == (2, 1, 1)
    session.expire_all()
    assert session.get(OutboxMessage, orphan.id).status == OutboxStatus.FAILED
    assert "shared body" in session.get(OutboxMessage, orphan.id).last_error
    assert session.get(OutboxMessage, fine.id).status == OutboxStatus.SENT
    assert [str(m["To"]) for m in smtp_server.messages] == ["boende2@example.se"]
