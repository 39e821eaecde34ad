"""Helpers for the residents' tests: sign up through the real page, send the outbox, read links."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import inspect

from panel.db import utcnow
from panel.members import terms
from tests.conftest import csrf_token

LINK = re.compile(r"http://panel\.test/\S+")


def deliver(app, *, at: datetime | None = None):
    """Send every due outbox row to the app's MAIL_PORT with the real dispatcher."""
    from panel.mail.dispatcher import dispatch_due

    return dispatch_due(app, clock=(lambda: at) if at else utcnow)


def later(hours: float) -> datetime:
    return utcnow() + timedelta(hours=hours)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def links_in(message) -> list[str]:
    return LINK.findall(text_of(message))


def path_of(link: str) -> str:
    return link.removeprefix("http://panel.test")


def link_to(message, fragment: str) -> str:
    """The path of the first link in ``message`` containing ``fragment``."""
    for link in links_in(message):
        if fragment in link:
            return path_of(link)
    raise AssertionError(f"no link with {fragment!r} in:\n{text_of(message)}")


def join_form(client, home, **fields) -> dict[str, str]:
    data = {
        "email": "anna.andersson@example.se",
        "birth_year": "1985",
        "gender": "kvinna",
        "district": str(inspect(home).identity[0]),  # no refresh: keeps the test session out of a transaction
        "language": "sv",
        "accept_terms": "y",
        "terms_version": terms.CURRENT,
        "csrf_token": csrf_token(client, "/panel/join"),
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def sign_up(client, home, **fields):
    """POST the join form for someone living in ``home`` (a District); ``fields`` override the answers."""
    return client.post("/panel/join", data=join_form(client, home, **fields))


def press_button(client, path: str, **data):
    """GET the page behind an emailed link, then POST its button (with the page's CSRF token)."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def log_in_by_email(app, client, smtp_server, email: str) -> None:
    """Ask for a magic link on /panel/me, receive it over SMTP and use it."""
    client.post("/panel/me", data={"email": email, "csrf_token": csrf_token(client, "/panel/me")})
    deliver(app)
    message = smtp_server.to(email)[-1]
    response = press_button(client, link_to(message, "/panel/me/"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/panel/me/profile")
