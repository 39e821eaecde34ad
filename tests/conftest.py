"""Fixtures shared by every test: app, client, runner, session, smtp_server.

The database is SQLite (a fresh file per test) unless DATABASE_URL points at
PostgreSQL, in which case the schema is created once and every table is
truncated after each test. Mail goes to a real local SMTP server (aiosmtpd).
"""

from __future__ import annotations

import email
import email.policy
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from panel.app import create_app
from panel.db import Base

import panel.models  # noqa: F401
from tests.browser import browser, live_server, _driver  # noqa: F401  (fixtures)

try:  # surveys' tables, once that package has models
    import surveys.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = POSTGRES_URL.startswith("postgresql")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CollectingHandler:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply, to simulate rejections

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self) -> None:
        self.handler = CollectingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()
            self.handler.envelopes.clear()
        self.handler.refuse.clear()


@pytest.fixture(scope="session")
def _smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def smtp_server(_smtp: SMTPServer) -> Iterator[SMTPServer]:
    """A real SMTP server on 127.0.0.1; ``smtp_server.messages`` is what arrived."""
    _smtp.clear()
    yield _smtp
    _smtp.clear()


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[None]:
    if not ON_POSTGRES:
        yield
        return
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    engine.dispose()
    yield


def _truncate_postgres() -> None:
    engine = create_engine(POSTGRES_URL)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, _postgres_schema: None) -> str:
    return POSTGRES_URL if ON_POSTGRES else f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def app(database_url: str, tmp_path: Path, _smtp: SMTPServer):
    """The application. No app context stays pushed, so every request gets its own
    (as in production); use ``with app.app_context():`` to call services directly."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": database_url,
            "PANEL_BASE_URL": "http://panel.test",
            "PANEL_MUNICIPALITY": "Gotland",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": _smtp.port,
            "MAIL_DEFAULT_SENDER": "Medborgarpanelen <panel@example.se>",
        }
    )
    app.instance_path = str(tmp_path / "instance")
    engine = app.extensions["database"].kw["bind"]
    if not ON_POSTGRES:
        Base.metadata.create_all(engine)
    yield app
    engine.dispose()
    if ON_POSTGRES:
        _truncate_postgres()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A session of the test's own, separate from the ones requests use.

    Objects expire on commit, so reading them after a request sees fresh rows;
    call ``session.expire_all()`` to re-read without committing.
    """
    sess = app.extensions["database"](expire_on_commit=True)
    yield sess
    sess.rollback()
    sess.close()


def csrf_token(client, path: str) -> str:
    """GET a page and return the CSRF token of its first form."""
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    if not match:
        raise AssertionError(f"no CSRF token on {path}")
    return match.group(1) or match.group(2)
