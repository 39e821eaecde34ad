"""The database: a declarative base and a session scoped to the Flask app context.

Plain SQLAlchemy 2.0, no Flask-SQLAlchemy: models import only SQLAlchemy, services
receive a ``Session`` and never commit, and the view or CLI command that called them
owns the transaction (``db.session.commit()``).
"""

from __future__ import annotations

import select
from datetime import datetime, timezone

from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Aware UTC now; use as a column default (pass the function, never call it)."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware.

    SQLite drops the offset; PostgreSQL keeps it. Both come back as aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10)
    event.listen(engine, "checkout", _discard_closed_connection)
    return engine


def _discard_closed_connection(dbapi_connection, _record, _proxy) -> None:
    """Replace a pooled connection the server has closed, before it is used.

    What ``pool_pre_ping`` does with a round trip on every checkout, for the price of a
    poll of the socket: a server that restarts, or ends a backend, sends its last message
    and closes the connection, so an idle connection with something to read is dead
    (raising DisconnectionError makes the pool open a new one). A connection lost without
    a word (a network failure) fails on first use instead; the pool then renews all the
    connections it held.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("the pooled database connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the database closed the pooled connection")


class Database:
    """Engine per application, one session per application context."""

    def __init__(self) -> None:
        self.session: scoped_session[Session] = scoped_session(
            self._new_session, scopefunc=lambda: id(app_ctx._get_current_object())
        )

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["database"] = sessionmaker(bind=engine, expire_on_commit=False)
        app.teardown_appcontext(self._remove)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["database"].kw["bind"]

    def get_or_404(self, model, ident):
        """The row with this primary key, or a 404 page."""
        from flask import abort

        row = self.session.get(model, ident)
        if row is None:
            abort(404)
        return row

    def _new_session(self) -> Session:
        return current_app.extensions["database"]()

    def _remove(self, _exc: BaseException | None) -> None:
        self.session.remove()


def uses_psycopg(bind: Engine | Connection) -> bool:
    """Whether ``bind`` runs on psycopg (PostgreSQL), whose own cursor :func:`run_on_driver` uses."""
    dialect = bind.dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def run_on_driver(connection: Connection, sql: str, parameters: dict, *, fetch: str | None = None):
    """Run compiled ``sql`` on the database driver's own cursor, in ``connection``'s transaction.

    For the busiest statements (answering pages, the mail dispatcher), where SQLAlchemy's
    result handling costs as much as the query. A transaction is begun as
    ``Connection.execute`` would (unless in autocommit), so that ``connection.commit()``
    commits it. ``fetch``: "one" (the first row), "all" (every row), or None (the number
    of rows changed). Errors are SQLAlchemy's, as from ``Connection.execute``, and a
    connection found lost is invalidated.
    """
    if not connection.in_transaction() and connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        connection.begin()
    dialect = connection.dialect
    driver_connection = connection.connection.driver_connection
    try:
        with driver_connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            if fetch == "one":
                return cursor.fetchone()
            if fetch == "all":
                return cursor.fetchall()
            return cursor.rowcount
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, driver_connection, None)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=dialect) from error
