"""Inserting tens of thousands of rows at the speed of the database driver.

Sending 50,000 invitations writes 50,000 outbox rows (about 3 kB each) and 50,000
invitations in one transaction. SQLAlchemy's executemany builds and type-processes a
parameter dictionary per row, which costs more than the database's own work here, so
:func:`insert_rows` hands the driver plain tuples instead: ``COPY ... FROM STDIN`` on
PostgreSQL (psycopg, with lz4 for the long texts where the server has it), ``executemany`` on SQLite, and SQLAlchemy's ordinary bulk insert
on anything else. Values that are the same in every row (timestamps, the survey id) are
given once as ``constants`` and converted once with the column's own type, so what is
stored is exactly what the ORM would store.

Ids for rows that others must point at are taken in advance by :func:`next_ids`.

Reading works the same way: :func:`fetch_rows` returns a large SELECT's rows as the
driver gives them, without SQLAlchemy's per-row result processing (a third of a second
for the 55,000 members a send-out reads), and :func:`result_value` converts the few
values that need the column type's conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Select, Table, func, insert, select, text
from sqlalchemy.orm import Session


def _dialect(session: Session):
    return session.get_bind().dialect


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Iterable[tuple],
                constants: Mapping[str, Any] | None = None) -> None:
    """INSERT ``rows`` (tuples of plain str/int/None values, in ``columns`` order) into ``table``.

    Per-row values are stored as given; ``constants`` go into every row, converted by
    the column's type first (so a datetime is stored as the ORM would store it).
    ``rows`` may be a generator: on PostgreSQL the server stores the first rows while
    the rest are being made.
    """
    constants = dict(constants or {})
    names = [*columns, *constants]
    dialect = _dialect(session)
    if (dialect.name, dialect.driver) not in (("sqlite", "pysqlite"), ("postgresql", "psycopg")):
        batch = [dict(zip(columns, row)) for row in rows]
        if batch:
            session.execute(insert(table).values(**constants), batch)
        return
    tail = tuple(_db_value(table, name, value, dialect) for name, value in constants.items())
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    raw = session.connection().connection.driver_connection
    table_name = dialect.identifier_preparer.format_table(table)
    if dialect.name == "postgresql":
        _fast_compression(session)
        types = _binary_types(session, table, names)
        binary = " (FORMAT BINARY)" if types is not None else ""
        with raw.cursor() as cursor, cursor.copy(f"COPY {table_name} ({quoted}) FROM STDIN{binary}") as copy:
            if types is not None:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row + tail)
        return
    marks = ", ".join("?" for _ in names)
    cursor = raw.cursor()
    previous = cursor.execute("PRAGMA cache_size").fetchone()[0]
    try:
        # Tens of thousands of rows go into several indexes at random places (token digests):
        # a larger page cache for this insert keeps those pages in memory. This connection only,
        # set back before it is used for anything else.
        cursor.execute(f"PRAGMA cache_size = {min(int(previous), -_SQLITE_CACHE_KIB)}")
        cursor.executemany(f"INSERT INTO {table_name} ({quoted}) VALUES ({marks})",
                           (row + tail for row in rows) if tail else rows)
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")
        cursor.close()


_SQLITE_CACHE_KIB = 64 * 1024  # 64 MiB while a bulk insert runs

# PostgreSQL types whose binary COPY format psycopg writes from plain Python values
# (int, str, datetime, date, bool, float): the server's name -> psycopg's name.
_BINARY_TYPES = {
    "smallint": "int2", "integer": "int4", "bigint": "int8", "text": "text", "character varying": "varchar",
    "timestamp with time zone": "timestamptz", "date": "date", "boolean": "bool", "double precision": "float8",
}


def _binary_types(session: Session, table: Table, names: Sequence[str]) -> list[str] | None:
    """The psycopg type names of ``names`` in ``table`` for a binary COPY, or None when a
    column has a type not in :data:`_BINARY_TYPES` (then the text format is used).

    Binary COPY spares both sides the text: psycopg writes each value in C instead of
    formatting it, and the server reads integers and timestamps instead of parsing them
    (for 50,000 invitations about 0.2 s less CPU here and a third less on the server).
    The types are read from the database's catalogue, so they are the table's real ones.
    """
    found = dict(session.execute(text(
        "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
        "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped"),
        {"table": session.get_bind().dialect.identifier_preparer.format_table(table)}).all())
    types = [_BINARY_TYPES.get(found.get(name, "")) for name in names]
    return None if None in types else types  # type: ignore[return-value]


def _fast_compression(session: Session) -> None:
    """Compress long texts (the emails) with lz4 instead of pglz for the rest of this
    transaction, where the server has lz4: about a third less server time for a send-out.
    Either way the values read back the same."""
    has_lz4 = session.scalar(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"))
    if has_lz4:
        session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))  # ends with the transaction


def _db_value(table: Table, name: str, value: Any, dialect) -> Any:
    column_type = table.c[name].type.dialect_impl(dialect)
    processor = column_type.bind_processor(dialect)
    return processor(value) if processor else value


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` new primary keys for ``table`` (SQLite and PostgreSQL, the panel's databases).

    PostgreSQL: from the id column's sequence (safe under concurrency). SQLite: the ids
    after the largest one; call this only in a transaction that has already written, so
    it holds SQLite's single write lock and no one else can insert in between.
    """
    dialect = _dialect(session)
    if dialect.name == "postgresql":
        return list(session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": count}))
    if dialect.name == "sqlite":
        last = session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
        return list(range(last + 1, last + 1 + count))
    raise NotImplementedError(f"ids in advance on {dialect.name}: the panel runs on SQLite or PostgreSQL")


def fetch_rows(session: Session, statement: Select) -> list[tuple]:
    """The rows of ``statement`` (a SELECT without parameters) as plain tuples from the driver.

    Values come as the driver returns them: on SQLite dates and timestamps are strings.
    Convert those with :func:`result_value` where they are used.
    """
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    if compiled.params:
        raise ValueError("fetch_rows runs statements without parameters")
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled))
        return cursor.fetchall()
    finally:
        cursor.close()


def result_value(session: Session, column: Column):
    """A function turning a raw value of ``column`` (from :func:`fetch_rows`) into what the ORM returns."""
    dialect = _dialect(session)
    processor = column.type._cached_result_processor(dialect, None)
    return processor if processor is not None else (lambda value: value)
