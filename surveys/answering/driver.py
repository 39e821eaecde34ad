"""The statements of every question page, sent through the database driver's own cursor.

A question page runs one SELECT (and, when saved, one UPDATE) built with SQLAlchemy Core.
On PostgreSQL with psycopg, SQLAlchemy's handling of the result -- for which psycopg
builds a description object per column, 17 here -- cost twice as much as the query:
so SQLAlchemy compiles the statement (once per dialect) and psycopg runs it on the
connection SQLAlchemy checked out, in its transaction. The values are those SQLAlchemy
gives: psycopg decodes JSON, and the caller names the timestamp columns to put in UTC
(as :class:`panel.db.UTCDateTime` does). Errors come out as SQLAlchemy's exceptions, as
from ``Connection.execute``, and a connection found lost is invalidated. On other
databases (SQLite) the statements simply go through ``Connection.execute``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timezone
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable

from panel.db import run_on_driver, uses_psycopg

# Compiled SQL per statement (the statements are built once, at import) and dialect.
_sqls: dict[tuple[Executable, str, str, tuple[str, ...]], str] = {}


def first_row(connection: Connection, statement: Executable, parameters: dict[str, Any], *,
              datetimes: Iterable[int] = ()) -> Sequence[Any] | None:
    """The first row of a SELECT; the columns at the ``datetimes`` positions are aware UTC datetimes."""
    if not uses_psycopg(connection):
        return connection.execute(statement, parameters).first()
    row = _run(connection, statement, parameters, (), fetch=True)
    if row is None:
        return None
    row = list(row)
    for index in datetimes:
        if row[index] is not None:
            row[index] = row[index].astimezone(timezone.utc)
    return row


def execute(connection: Connection, statement: Executable, parameters: dict[str, Any], *,
            columns: tuple[str, ...] = (), json: Iterable[str] = ()) -> int:
    """Run an UPDATE whose SET clause is ``columns`` (named as in ``parameters``); ``json``
    names the parameters holding JSON values. The number of rows it changed."""
    if not uses_psycopg(connection):
        return connection.execute(statement, parameters).rowcount
    from psycopg.types.json import Json

    parameters = {**parameters, **{name: Json(parameters[name]) for name in json}}
    return _run(connection, statement, parameters, columns, fetch=False)


def _run(connection: Connection, statement: Executable, parameters: dict[str, Any], columns: tuple[str, ...],
         *, fetch: bool):
    dialect = connection.dialect
    key = (statement, dialect.name, dialect.driver, columns)
    sql = _sqls.get(key)
    if sql is None:
        sql = _sqls[key] = str(statement.compile(dialect=dialect, column_keys=list(columns) or None))
    return run_on_driver(connection, sql, parameters, fetch="one" if fetch else None)
