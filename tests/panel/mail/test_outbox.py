"""queue_email: rendering in the recipient's language, header checks, priority."""

from __future__ import annotations

import pytest
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import select

from panel.mail.outbox import PRIORITY_BULK, PRIORITY_DIRECT, absolute_url, queue_email
from panel.models import OutboxMessage

TEMPLATES = {
    "email/mailtest.txt": '{% set subject %}{{ _("Välkommen") }} {{ name }}{% endset %}Hej {{ name }}!\n{{ link }}\n',
    "email/mailtest.html": '{% extends "email/_layout.html" %}{% from "email/_layout.html" import button %}'
                           '{% block content %}<p>Hej {{ name }}!</p>{{ button(link, "Bekräfta") }}{% endblock %}',
}


@pytest.fixture
def mail_app(app):
    app.jinja_env.loader = ChoiceLoader([DictLoader(TEMPLATES), app.jinja_env.loader])
    app.jinja_env.cache = {}
    return app


def test_queue_email_renders_both_parts_with_the_shared_layout(mail_app, session):
    with mail_app.test_request_context():
        link = absolute_url("/panel/confirm/abc")
        queue_email(session, kind="confirm", to=" asa@example.se ", template="mailtest",
                    context={"name": "Åsa", "link": link})
        session.commit()
    row = session.scalar(select(OutboxMessage))
    assert row.status == "queued" and row.to_address == "asa@example.se"
    assert row.subject == "Välkommen Åsa"
    assert row.body_text == "Hej Åsa!\nhttp://panel.test/panel/confirm/abc\n"
    assert '<html lang="sv">' in row.body_html and 'href="http://panel.test/panel/confirm/abc"' in row.body_html
    assert "Gotland" in row.body_html  # the layout's footer names the municipality
    assert row.priority == PRIORITY_DIRECT and row.headers == ""


def test_mail_with_list_unsubscribe_is_bulk(mail_app, session):
    with mail_app.test_request_context():
        row = queue_email(session, kind="invitation", to="a@example.se", template="mailtest",
                          context={"name": "A", "link": "x"},
                          headers={"List-Unsubscribe": "<http://panel.test/u/t>",
                                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    assert row.priority == PRIORITY_BULK
    assert row.headers == "List-Unsubscribe: <http://panel.test/u/t>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click"


@pytest.mark.parametrize("headers, to", [
    ({"X-Evil": "a\r\nBcc: victim@example.se"}, "a@example.se"),
    ({"X-Evil\nBcc": "victim@example.se"}, "a@example.se"),
    ({"Bcc": "victim@example.se"}, "a@example.se"),
    ({"Subject": "other"}, "a@example.se"),
    ({}, "a@example.se\r\nBcc: victim@example.se"),
])
def test_line_breaks_and_reserved_headers_are_refused(mail_app, session, headers, to):
    with mail_app.test_request_context(), pytest.raises(ValueError):
        queue_email(session, kind="x", to=to, template="mailtest", context={"name": "A", "link": "x"},
                    headers=headers)


def test_absolute_url_takes_paths_only(app):
    with app.app_context():
        assert absolute_url("/a?b=1") == "http://panel.test/a?b=1"
        for bad in ("http://evil.example/", "//evil.example/", "relative"):
            with pytest.raises(ValueError):
                absolute_url(bad)
