"""Signed-cookie sessions whose verified cookies are remembered (panel.sessions): the same
answers as Flask's own check, for every cookie it would refuse too."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import Flask, jsonify, request, session
from flask.sessions import SecureCookieSessionInterface

from panel.sessions import RememberingSessionInterface


def make_app(secret: str = "one key", **config) -> Flask:
    app = Flask(__name__)
    app.secret_key = secret
    app.config.update(config)
    app.session_interface = RememberingSessionInterface(remembered=3)

    @app.post("/set")
    def set_():
        session["respondent"] = {"invitation": int(request.args.get("n", 7)), "pages": ["p1"]}
        return "ok"

    @app.get("/read")
    def read():
        return jsonify(dict(session))

    @app.get("/change-in-place")
    def change_in_place():  # not noticed by Flask, so not written to the cookie
        session["respondent"]["pages"].append("p2")
        session["respondent"]["invitation"] = 8
        return jsonify(dict(session))

    return app


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def read_with(app: Flask, cookie: str) -> dict:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/read").get_json()


GENUINE = {"respondent": {"invitation": 7, "pages": ["p1"]}}


def test_a_remembered_cookie_gives_the_same_session_every_time():
    app = make_app()
    client = app.test_client()
    client.post("/set")
    assert [client.get("/read").get_json() for _ in range(3)] == [GENUINE] * 3


def test_a_change_in_place_does_not_reach_the_next_request():
    app = make_app()
    client = app.test_client()
    client.post("/set")
    assert client.get("/change-in-place").get_json()["respondent"]["pages"] == ["p1", "p2"]
    assert client.get("/read").get_json() == GENUINE


def test_a_changed_cookie_is_refused_after_the_genuine_one_was_remembered():
    app = make_app()
    client = app.test_client()
    client.post("/set")
    genuine = cookie_of(client)
    assert read_with(app, genuine) == GENUINE
    payload, stamp, signature = genuine.rsplit(".", 2)
    forged = f"{payload}.{stamp}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}"
    assert read_with(app, forged) == {}
    assert read_with(app, "not a cookie") == {}
    assert read_with(app, genuine + "x") == {}


def test_a_remembered_cookie_expires_as_flask_says():
    app = make_app(PERMANENT_SESSION_LIFETIME=timedelta(seconds=1))
    client = app.test_client()
    client.post("/set")
    assert client.get("/read").get_json() == GENUINE
    time.sleep(2.1)
    assert client.get("/read").get_json() == {}


def test_a_new_secret_key_refuses_cookies_of_the_old_one_unless_it_is_a_fallback():
    app = make_app("old key")
    client = app.test_client()
    client.post("/set")
    old = cookie_of(client)
    assert read_with(app, old) == GENUINE
    app.secret_key = "new key"
    assert read_with(app, old) == {}
    app.config["SECRET_KEY_FALLBACKS"] = ["old key"]
    assert read_with(app, old) == GENUINE


@pytest.mark.parametrize("cookie_count", [1, 5])
def test_answers_equal_flasks_own_check(cookie_count):
    """Whatever is remembered or forgotten (3 remembered here), each cookie reads as Flask reads it."""
    ours, flasks = make_app(), make_app()
    flasks.session_interface = SecureCookieSessionInterface()
    cookies = []
    for n in range(cookie_count):
        client = ours.test_client()
        client.post(f"/set?n={n}")
        cookies.append(cookie_of(client))
    cookies += [cookie[:-1] for cookie in cookies]
    for _ in range(2):
        for cookie in cookies:
            assert read_with(ours, cookie) == read_with(flasks, cookie)


def test_the_application_uses_it(app):
    assert isinstance(app.session_interface, RememberingSessionInterface)
