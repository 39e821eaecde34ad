"""The development mailbox: an SMTP catcher writing a Maildir, and /dev/mail showing it."""

from __future__ import annotations

import re

import pytest

from panel.mail import dispatcher, devserver
from panel.mail.views import linkify
from tests.panel.mail.conftest import make_row


@pytest.fixture
def caught(dev_app, session):
    """Two emails sent by the dispatcher through the catcher into the dev app's Maildir."""
    with devserver.DevSMTPServer(dev_app.config["PANEL_DEV_MAILBOX"]) as catcher:
        dev_app.config["MAIL_PORT"] = catcher.port
        make_row(session, 1, to="asa@example.se", subject="Bekräfta att du vill vara med",
                 text="Hej!\n\nBekräfta här: http://panel.test/panel/confirm/abc123.\n")
        make_row(session, 2, to="bo@example.se", subject="Din inloggningslänk")
        session.commit()
        stats = dispatcher.dispatch_due(dev_app)
    assert stats.sent == 2
    return devserver.list_mail(dev_app.config["PANEL_DEV_MAILBOX"])


def test_catcher_stores_every_message_and_the_list_shows_them(dev_app, caught):
    assert sorted(m.to for m in caught) == ["asa@example.se", "bo@example.se"]
    page = dev_app.test_client().get("/dev/mail")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Bekräfta att du vill vara med" in html and "Din inloggningslänk" in html


def test_message_page_shows_text_with_a_clickable_link_and_the_html_sandboxed(dev_app, caught):
    client = dev_app.test_client()
    [confirm] = [m for m in caught if m.to == "asa@example.se"]
    page = client.get(f"/dev/mail/{confirm.key}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<a href="http://panel.test/panel/confirm/abc123">', html)  # the final "." left out
    assert 'sandbox="allow-popups' in html and "allow-scripts" not in html
    assert "List-Unsubscribe" in html  # all headers listed

    frame = client.get(f"/dev/mail/{confirm.key}/html")
    policy = frame.headers["Content-Security-Policy"]
    assert frame.status_code == 200 and frame.mimetype == "text/html"
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert '<base target="_top">' in frame.get_data(as_text=True)


def test_unknown_or_malicious_keys_are_404(dev_app, caught):
    client = dev_app.test_client()
    for key in ("nope", "..%2F..%2Fetc%2Fpasswd", "a%00b"):
        assert client.get(f"/dev/mail/{key}").status_code == 404
        assert client.get(f"/dev/mail/{key}/html").status_code == 404


def test_only_this_machine_may_look(dev_app, caught):
    client = dev_app.test_client()
    assert client.get("/dev/mail", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    assert client.get("/dev/mail", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_without_the_setting_there_is_no_dev_mailbox(client):
    assert client.get("/dev/mail").status_code == 404
    assert "mail.dev_mailbox" not in {rule.endpoint for rule in client.application.url_map.iter_rules()}


def test_linkify_escapes_and_links_only_web_addresses():
    html = str(linkify('Hej <b>&</b>\n\nGå till https://panel.test/a?b=1&c=2. Eller javascript:alert(1)'))
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html
    assert '<a href="https://panel.test/a?b=1&amp;c=2">' in html
    assert "javascript" in html and 'href="javascript' not in html
    assert html.count("<p>") == 2
