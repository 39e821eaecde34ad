"""Production set-up: health endpoint, proxy headers, HSTS, cookies, session lifetime,
and (on PostgreSQL) the deployment as the README describes it, with real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from panel.app import create_app
from tests.conftest import ON_POSTGRES, POSTGRES_URL, csrf_token, free_port
from tests.factories import PASSWORD, make_staff

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- health endpoint


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_with_a_reason_when_the_database_is_down(tmp_path):
    # A database that cannot be opened: a SQLite file inside a directory that does not exist
    # (on PostgreSQL: a port where nothing listens).
    url = (f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2" if ON_POSTGRES
           else f"sqlite:///{tmp_path / 'missing' / 'dir' / 'db.sqlite'}")
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": url})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "reason": "database unavailable"}


# ---------------------------------------------------------------- proxy, HSTS, cookies


def _app(database_url, **overrides):
    config = {"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": database_url}
    config.update(overrides)
    return create_app(config)


def test_forwarded_headers_are_ignored_without_trusted_proxies(app):
    seen = {}

    @app.get("/_probe")
    def probe():
        from flask import request

        seen.update(addr=request.remote_addr, secure=request.is_secure)
        return "ok"

    response = app.test_client().get("/_probe", headers={"X-Forwarded-For": "203.0.113.9",
                                                         "X-Forwarded-Proto": "https"})
    assert seen == {"addr": "127.0.0.1", "secure": False}
    assert "Strict-Transport-Security" not in response.headers


def test_one_trusted_proxy_gives_client_address_scheme_and_hsts(database_url):
    app = _app(database_url, PANEL_TRUSTED_PROXIES=1, PANEL_HSTS_SECONDS=600)
    seen = {}

    @app.get("/_probe")
    def probe():
        from flask import request

        seen.update(addr=request.remote_addr, secure=request.is_secure)
        return "ok"

    # The client forged a first X-Forwarded-For; the one proxy appended the real address.
    response = app.test_client().get("/_probe", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9",
                                                         "X-Forwarded-Proto": "https"})
    assert seen == {"addr": "203.0.113.9", "secure": True}
    assert response.headers["Strict-Transport-Security"] == "max-age=600"


def test_hsts_can_be_switched_off(database_url):
    app = _app(database_url, PANEL_HSTS_SECONDS=0)
    response = app.test_client().get("/healthz", base_url="https://panel.test")
    assert "Strict-Transport-Security" not in response.headers


def test_audit_log_records_the_client_address_behind_the_proxy(database_url, session, app):
    from sqlalchemy import select

    from panel.models import AuditEvent

    proxied = _app(database_url, PANEL_TRUSTED_PROXIES=1)
    user = make_staff(session)
    session.commit()
    client = proxied.test_client()
    token = csrf_token(client, "/staff/login")
    client.post("/staff/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token},
                headers={"X-Forwarded-For": "198.51.100.7"})
    session.expire_all()
    assert session.scalars(select(AuditEvent.remote_addr)).all() == ["198.51.100.7"]


def test_session_cookie_flags_follow_the_base_url(monkeypatch):
    from panel import config

    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    monkeypatch.setenv("PANEL_BASE_URL", "https://panel.kommun.se")
    settings = config.from_environment()
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True and settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("PANEL_BASE_URL", "http://127.0.0.1:5000")
    assert config.from_environment()["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    assert config.from_environment()["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("PANEL_STAFF_SESSION_MINUTES", "30")
    assert config.from_environment()["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=30)


def test_staff_login_cookie_is_secure_httponly_lax_and_expires(database_url, session, app):
    https = _app(database_url, SESSION_COOKIE_SECURE=True, PERMANENT_SESSION_LIFETIME=timedelta(minutes=30))
    user = make_staff(session)
    session.commit()
    client = https.test_client()
    page = client.get("/staff/login", base_url="https://panel.test").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/staff/login", base_url="https://panel.test",
                           data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    from email.utils import parsedate_to_datetime

    from panel.db import utcnow

    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert timedelta(minutes=29) < expires - utcnow() <= timedelta(minutes=30)


def test_staff_session_ends_after_the_lifetime(database_url, session, app):
    short = _app(database_url, PERMANENT_SESSION_LIFETIME=timedelta(seconds=1))
    user = make_staff(session)
    session.commit()
    client = short.test_client()
    token = csrf_token(client, "/staff/login")
    client.post("/staff/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert client.get("/staff/").status_code == 200
    time.sleep(2.2)  # the signed cookie's timestamp is now older than the lifetime
    assert client.get("/staff/").status_code == 302


# ---------------------------------------------------------------- the deployment, as the README says


class _Process:
    def __init__(self, args, env, log: Path):
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()
        return self.popen.returncode


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def deploy_database():
    name = f"panel_deploy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class _AsIfBehindNginx:
    """Requests to gunicorn with the headers deploy/nginx/medborgarpanel.conf sets (https,
    the client's address), keeping the session cookie as a browser on https would."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie: str | None = None

    def request(self, method: str, path: str, form: dict[str, str] | None = None):
        import http.client
        import urllib.parse

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        headers = {"Host": "panel.test", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5",
                   "X-Forwarded-Host": "panel.test"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text_ = response.read().decode("utf-8", errors="replace")
            response_headers = response.headers
        finally:
            conn.close()
        if response_headers.get("Set-Cookie"):
            self.cookie = response_headers["Set-Cookie"].split(";", 1)[0]
        return response.status, response_headers, text_


@pytest.mark.skipif(not ON_POSTGRES, reason="the production set-up runs on PostgreSQL (set DATABASE_URL)")
def test_production_setup_serves_and_sends_mail(deploy_database, smtp_server, tmp_path):
    """db upgrade, gunicorn with deploy/gunicorn.conf.py and 4 workers, 2 dispatchers and one
    pass of the scheduled jobs, all on 127.0.0.1: /healthz, then a sign-up whose email arrives."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": deploy_database, "SECRET_KEY": "deploy-test-secret",
           "PANEL_BASE_URL": "https://panel.test", "PANEL_INSTANCE_PATH": str(tmp_path / "instance"),
           "PANEL_TRUSTED_PROXIES": "1", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port),
           "MAIL_DEFAULT_SENDER": "Medborgarpanelen <panel@example.se>", "PANEL_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "4", "PANEL_THREADS": "2", "PYTHONPATH": str(ROOT)}
    medborgarpanel = str(VENV_BIN / "medborgarpanel")
    upgrade = subprocess.run([medborgarpanel, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    engine = create_engine(deploy_database)
    with engine.begin() as conn:
        district_id = conn.scalar(text("INSERT INTO district (code, name) VALUES ('0980-01', 'Visby') RETURNING id"))
    engine.dispose()

    processes = []
    try:
        web = _Process([str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                        "panel.app:create_app()"], env, tmp_path / "gunicorn.log")
        processes.append(web)
        for n in (1, 2):
            processes.append(_Process([medborgarpanel, "mail", "dispatch", "--interval", "0.5",
                                       "--worker-id", f"test:{n}"], env, tmp_path / f"dispatch{n}.log"))
        proxy = _AsIfBehindNginx(port)

        def healthy() -> bool:
            assert web.popen.poll() is None, web.log()
            try:
                return proxy.request("GET", "/healthz")[0] == 200
            except OSError:
                return False

        _wait(healthy, 60, "gunicorn's /healthz")
        status, headers, body = proxy.request("GET", "/healthz")
        assert json.loads(body) == {"status": "ok"}
        assert "max-age=" in headers["Strict-Transport-Security"]  # https as told by the trusted proxy
        children = Path(f"/proc/{web.popen.pid}/task/{web.popen.pid}/children")
        _wait(lambda: len(children.read_text().split()) >= 4, 30, "four gunicorn workers")
        assert len(children.read_text().split()) == 4, web.log()

        status, headers, page = proxy.request("GET", "/panel/join")
        assert status == 200
        assert "Secure" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        terms = re.search(r'name="terms_version" type="hidden" value="([^"]+)"', page).group(1)
        status, headers, page = proxy.request("POST", "/panel/join", {
            "csrf_token": token, "email": "ny.medlem@example.se", "birth_year": "1985", "gender": "kvinna",
            "district": str(district_id), "language": "sv", "accept_terms": "y", "terms_version": terms})
        assert status == 302 and headers["Location"].endswith("/panel/join/sent"), page[:3000]

        _wait(lambda: smtp_server.to("ny.medlem@example.se"), 30, "the confirmation email")
        message = smtp_server.to("ny.medlem@example.se")[0]
        body = message.get_body(("plain",)).get_content()
        assert "https://panel.test/panel/confirm/" in body  # links from PANEL_BASE_URL, not the request

        jobs = subprocess.run([medborgarpanel, "jobs", "run"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert jobs.returncode == 0, jobs.stdout + jobs.stderr
        assert "fielding-tick: ran, retention: ran, results-compact: ran" in jobs.stdout
    finally:
        codes = [process.stop() for process in processes]
    assert codes[0] == 0, processes[0].log()  # gunicorn stops cleanly on SIGTERM
