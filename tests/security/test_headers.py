"""Security headers, cookie flags and error pages on every kind of response (issue 6).

The headers are set in panel/web.py (helper F's); these tests check them from the outside
on pages, redirects, errors, downloads and the health check, over HTTP and HTTPS.
"""

from __future__ import annotations

import io
import secrets

import pytest

from tests.security.conftest import csrf_of


def forced_error(app):
    """A route that fails with an exception carrying a secret, to see what the 500 page shows."""

    def explode():
        raise RuntimeError("secret-detail-1234 in /srv/panel/app.py line 42")

    app.add_url_rule("/__explode", "explode_for_test", explode)


def responses(app, clients):
    forced_error(app)
    anonymous, admin = clients["anonymous"], clients["admin"]
    return {
        "page": anonymous.get("/"),
        "redirect": anonymous.get("/staff/"),
        "not found": anonymous.get("/finns-inte"),
        "csrf error": anonymous.post("/panel/me", data={"email": "a@example.se"}),
        "form error": anonymous.post("/panel/me", data={"email": "", "csrf_token": csrf_of(anonymous, "/panel/me")}),
        "too large": anonymous.post("/panel/join", data={"x": (io.BytesIO(b"a" * (6 << 20)), "a.csv")},
                                    content_type="multipart/form-data"),
        "bad link": anonymous.get(f"/s/{secrets.token_urlsafe(32)}"),
        "forbidden": clients["committee"].get("/staff/users"),
        "staff page": admin.get("/staff/users"),
        "health": anonymous.get("/healthz"),
        "static": anonymous.get("/static/panel.css"),
        "server error": anonymous.get("/__explode"),
        "resident download": clients["resident"].get("/panel/me/export.json"),
    }


def test_every_kind_of_response_carries_the_security_headers(app, clients):
    for name, response in responses(app, clients).items():
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, name
        script = next((part for part in csp.split(";") if part.strip().startswith(("script-src", "default-src"))), "")
        assert script and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, name
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("Referrer-Policy") == "no-referrer", name
        assert "Strict-Transport-Security" not in headers, f"{name}: HSTS over plain HTTP"


def test_the_server_error_page_shows_no_details(app, clients):
    response = responses(app, clients)["server error"]
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    for leak in ("secret-detail-1234", "Traceback", "RuntimeError", "/srv/panel", "line 42", "werkzeug"):
        assert leak not in text


def test_hsts_over_https(app, client):
    response = client.get("/", base_url="https://panel.test")
    assert "max-age=" in response.headers.get("Strict-Transport-Security", "")


def test_a_forwarded_proto_from_an_untrusted_client_is_ignored(app, client):
    """With no trusted proxy configured, X-Forwarded-* from the client change nothing."""
    response = client.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert "Strict-Transport-Security" not in response.headers


def test_a_spoofed_forwarded_for_does_not_escape_a_rate_limit(app, client, session):
    app.config["PANEL_BAD_LINK_MAX"] = 2
    for n in range(2):
        client.get(f"/panel/me/{secrets.token_urlsafe(32)}", headers={"X-Forwarded-For": f"198.51.100.{n}"})
    response = client.get(f"/panel/me/{secrets.token_urlsafe(32)}", headers={"X-Forwarded-For": "198.51.100.99"})
    assert response.status_code == 429


def session_cookie(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_the_session_cookie_is_httponly_and_samesite(app, client):
    cookie = session_cookie(client.get("/panel/me"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_is_secure_when_configured(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    cookie = session_cookie(client.get("/panel/me", base_url="https://panel.test"))
    assert "Secure" in cookie


@pytest.mark.parametrize("path", ["/panel/me/export.json"])
def test_personal_downloads_are_not_cached(clients, path):
    response = clients["resident"].get(path)
    assert response.status_code == 200
    assert "no-store" in response.headers.get("Cache-Control", "")
