"""Pooled PostgreSQL connections the server has closed are replaced before use (panel/db.py),
without a round trip per checkout: a terminated backend, as in a restart, costs no request."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from panel.db import make_engine
from tests.conftest import ON_POSTGRES, POSTGRES_URL

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (DATABASE_URL=postgresql+psycopg://...)")


def test_a_connection_the_server_ended_is_replaced_at_checkout():
    engine = make_engine(POSTGRES_URL)
    admin = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        with admin.connect() as connection:  # as a restart does to every backend
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": first})
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        engine.dispose()
        admin.dispose()


def test_a_live_pooled_connection_is_kept_and_costs_no_query():
    engine = make_engine(POSTGRES_URL)
    statements: list[str] = []
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) == first
        assert statements == ["SELECT pg_backend_pid()"], "no ping before the query"
    finally:
        engine.dispose()
