"""The page forms' CSRF check (surveys.forms.SessionCSRF): per session, signed with the
application's key, optionally limited in time; anything else is refused."""

from __future__ import annotations

import pytest
from flask import request, session
from werkzeug.datastructures import MultiDict

from panel.app import create_app
from surveys.forms import RESPONDENT_META, build_page_form

FIRST = {"transport": "buss", "trygghet_kvall": "4", "bibliotek": "yes"}


@pytest.fixture(scope="module")
def app():
    return create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": "sqlite://"})


def token_for(app, defn, secret: str | None) -> tuple[str, str]:
    """(the token a GET of the first page shows, the session's CSRF secret)."""
    with app.test_request_context():
        if secret is not None:
            session["csrf_token"] = secret
        form = build_page_form(defn, defn.pages[0], "sv", {}, meta=RESPONDENT_META)
        token = form.csrf_token._value()
        assert form.csrf_token._value() == token, "one token per page"
        return token, session["csrf_token"]


def check(app, defn, token: str | None, secret: str | None) -> list[str]:
    """The CSRF errors of a POST of the first page with ``token`` in a session holding ``secret``."""
    data = {**FIRST, **({"csrf_token": token} if token is not None else {})}
    with app.test_request_context(method="POST", data=MultiDict(data)):
        if secret is not None:
            session["csrf_token"] = secret
        form = build_page_form(defn, defn.pages[0], "sv", {}, request.form, meta=RESPONDENT_META)
        form.validate()
        return form.csrf_token.errors


def test_the_token_of_the_session_is_accepted(app, example):
    token, secret = token_for(app, example, None)
    assert len(secret) == 40, "a new random secret in the session"
    assert check(app, example, token, secret) == []


def test_another_sessions_token_a_tampered_one_or_none_is_refused(app, example):
    token, secret = token_for(app, example, "a" * 40)
    other, _ = token_for(app, example, "b" * 40)
    stamp, mac = token.split(".")
    assert check(app, example, other, secret), "another session's token"
    assert check(app, example, f"{int(stamp, 16) + 1:x}.{mac}", secret), "another time"
    assert check(app, example, f"{stamp}.{mac[:-2]}AA", secret), "another signature"
    for broken in ("", ".", "zz." + mac, token + ".x", "1" * 40, "1.ä", f"{stamp}.{mac[:-1]}ä"):
        assert check(app, example, broken, secret), broken
    assert check(app, example, None, secret), "no token"
    assert check(app, example, token, None), "no secret in the session"


def test_another_application_key_refuses_the_token(app, example):
    token, secret = token_for(app, example, "a" * 40)
    other = create_app({"TESTING": True, "SECRET_KEY": "another", "DATABASE_URL": "sqlite://"})
    assert check(other, example, token, secret)


def test_a_time_limit_when_one_is_set(app, example, monkeypatch):
    import time

    limited = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": "sqlite://",
                          "WTF_CSRF_TIME_LIMIT": 60})
    token, secret = token_for(limited, example, "a" * 40)
    assert check(limited, example, token, secret) == []
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert check(limited, example, token, secret) == ["The CSRF token has expired."]
    assert check(app, example, token, secret) == [], "no limit (the default): the session's lifetime"
