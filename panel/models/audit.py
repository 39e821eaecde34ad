"""The audit log: what staff did, append-only.

No route edits or deletes a row, and the database refuses UPDATE and DELETE on the table
(triggers created right after the table, by ``create_all`` and by Alembic migrations alike;
see ``install_append_only_guard``). ``detail`` holds identifiers and counts, never the
personal data of residents.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DDL, Integer, String, Table, event
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow

AUDIT_TABLE = "audit_event"


class AuditEvent(Base):
    """One staff action (or a failed staff login): who, what, on which object, when, from where."""

    __tablename__ = AUDIT_TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The staff account (no foreign key: the log outlives deleted accounts) and its
    # email at the time, so the row still says who it was.
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


# Database-side guard: the application never updates or deletes audit rows, and neither
# may anything else that connects with the application's credentials by mistake.
_PG_FUNCTION = DDL(
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_event is append-only (%% refused)', TG_OP; END; "
    "$$ LANGUAGE plpgsql"
)
_PG_TRIGGER = DDL(
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
)
_SQLITE_TRIGGERS = [
    DDL(
        f"CREATE TRIGGER audit_event_no_{op.lower()} BEFORE {op} ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    )
    for op in ("UPDATE", "DELETE")
]


def install_append_only_guard(target: Table, connection, **_kw) -> None:
    """Create the triggers that refuse UPDATE and DELETE on the audit table.

    Listens on every ``Table`` (not only this model's), so it also runs when an Alembic
    migration creates the table with ``op.create_table``: autogenerate does not carry
    triggers, but the migration fires the same DDL events as ``create_all``.
    """
    if target.name != AUDIT_TABLE:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(_PG_FUNCTION)
        connection.execute(_PG_TRIGGER)
    elif dialect == "sqlite":
        for ddl in _SQLITE_TRIGGERS:
            connection.execute(ddl)


def remove_append_only_guard(target: Table, connection, **_kw) -> None:
    """After the table is dropped (a downgrade), drop PostgreSQL's trigger function too."""
    if target.name == AUDIT_TABLE and connection.dialect.name == "postgresql":
        connection.execute(DDL("DROP FUNCTION IF EXISTS audit_event_append_only()"))


if not event.contains(Table, "after_create", install_append_only_guard):
    event.listen(Table, "after_create", install_append_only_guard)
if not event.contains(Table, "after_drop", remove_append_only_guard):
    event.listen(Table, "after_drop", remove_append_only_guard)
