"""Shared bodies of bulk mail: filling in a row's links, sending, purging."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from panel.db import utcnow
from panel.mail.outbox import (
    LINK_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, add_shared_body, delete_unused_bodies, fill_body, full_bodies,
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
