"""The dispatcher's outcomes on PostgreSQL run as statements it prepared on pooled
connections; psycopg may drop them (DEALLOCATE ALL after a rollback that follows its own
prepared statements). An email the server accepted is then still recorded once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from panel.models import OutboxMessage
from tests.conftest import ON_POSTGRES
from tests.panel.mail.conftest import make_rows

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="prepared outcome statements: PostgreSQL")


def drop_prepared_statements_of_pooled_connections(engine, count: int) -> None:
    """What psycopg does to a pooled connection another user rolled back: DEALLOCATE ALL."""
    connections = [engine.connect() for _ in range(count)]
    try:
        for connection in connections:
            connection.connection.driver_connection.cursor().execute("SELECT 1", prepare=True)
            connection.exec_driver_sql("SELECT 1")
            connection.rollback()
    finally:
        for connection in connections:
            connection.close()


def test_outcomes_are_recorded_after_psycopg_dropped_the_prepared_statements(app, session, dispatch, smtp_server):
    make_rows(session, 3)
    assert dispatch(batch_size=50).sent == 3
    engine = app.extensions["database"].kw["bind"]
    drop_prepared_statements_of_pooled_connections(engine, engine.pool.checkedin() or 1)
    rows = make_rows(session, 3)
    second = dispatch(batch_size=50)
    assert second.sent == 3
    session.expire_all()
    assert {session.get(OutboxMessage, row.id).status for row in rows} == {"sent"}
    assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}
    assert len(smtp_server.messages) == 6, "each email once"
