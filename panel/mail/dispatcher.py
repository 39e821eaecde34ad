"""The outbox dispatcher: claim due rows, send them over one SMTP connection, record each outcome.

One round (``dispatch_once``):

1. Rows left in ``sending`` by a dispatcher that died (claimed longer ago than the
   lease, 10 minutes) go back to ``queued``.
2. Up to ``batch_size`` due rows are claimed in one statement and committed. On
   PostgreSQL: ``UPDATE ... SET status='sending', claimed_by=<worker> WHERE id =
   ANY(ARRAY(SELECT id ... ORDER BY priority, next_attempt_at LIMIT n FOR UPDATE
   SKIP LOCKED)) RETURNING ...``: several dispatchers skip each other's rows, and
   the subquery reads only the first n entries of the due index. SQLite has a
   single writer; the same subquery as a CTE, and the statement is atomic there.
3. The rows are sent over one SMTP connection. Each outcome is committed on its
   own, on a second database connection, while the next message's MAIL, RCPT and
   DATA are already going back and forth with the mail server. The message and the
   final "." that makes the server accept it (message n+1) are only written after
   "message n was sent" is committed. On PostgreSQL (psycopg) the outcome is sent
   without waiting and its answer read just before that write; elsewhere a second
   thread commits it.
4. Temporary failures (4xx, timeouts, connection refused or lost) go back to the
   queue with exponential back-off (1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h)
   and become ``failed`` after MAX_ATTEMPTS; permanent ones (5xx about the
   recipient or the message, a header with a line break) are ``failed`` at once
   with ``last_error``. One bad address never stops the batch.

What a crash can duplicate: a dispatcher killed at any instant (SIGKILL, power
loss of the dispatcher host) leaves at most ONE message that the SMTP server
accepted but the outbox does not record as sent: the one whose "sent" commit was
in progress. Its row is still ``sending``; after the lease it is queued again
and sent a second time, with the same Message-ID (many mailbox providers then
show it once). Every other claimed row was either recorded, or never got its
final ".", which makes the server discard it. A restarted dispatcher (or any
other) therefore sends every email, and none twice except that one per killed
dispatcher. Sending also stops, and the rest of the batch is released, when the
lease is close to running out, so a slow batch is never sent twice by two workers.

What a crash of the database server can duplicate: the "sent" records are
committed without waiting for the database's disk (PostgreSQL's
``synchronous_commit = off`` on the recording connection only; SQLite's
``synchronous = NORMAL`` in WAL mode). Such a commit is visible at once and
survives anything that happens to the dispatcher, so the bound above is unchanged.
Only if the database server itself, or its machine, crashes are the last commits
lost: on PostgreSQL up to three times ``wal_writer_delay`` (200 ms by default), so
up to about 0.6 s of sending, several hundred emails at full speed to a local
relay. Those rows come back as ``sending``, are queued again after the lease, and
their emails arrive twice, with the same Message-ID; none is lost (the claims are
committed as the database is configured). The same holds for a failover to a
standby: asynchronous commits do not wait for synchronous replicas either.
MAIL_DURABLE_OUTCOMES=true (MailSettings.durable_outcomes) makes each record wait
for the disk and removes that window; the flush overlaps the next message's MAIL, RCPT and DATA, but on the
test machine it still cost about a fifth of the throughput to a local relay
(bench/RESULTS.md, 2026-11-23). No email lost either way and duplicates only after
a crash of the database server: so the default is not to wait.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from enum import Enum
from select import POLLIN, POLLOUT, poll
from typing import Any

from sqlalchemy import Connection, Engine, any_, bindparam, func, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql import Executable
from sqlalchemy.orm import Session, sessionmaker

from panel.db import run_on_driver, uses_psycopg, utcnow
from panel.mail.compose import Outgoing, UnsafeMessage, compose, envelope_address, sender_header
from panel.mail.smtp import DeliveryAborted, DeliveryFailed, MailSettings, SMTPConnection, describe
from panel.mail.outbox import fill_body, fill_headers
from panel.models import OutboxMessage
from panel.models.outbox import OutboxBody, OutboxStatus

log = logging.getLogger("panel.mail")

LEASE = timedelta(minutes=10)
BACKOFF = (
    timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=6), timedelta(hours=12), timedelta(hours=24),
)
MAX_ATTEMPTS = len(BACKOFF) + 1  # then failed: about 45 hours after the first attempt
_table = OutboxMessage.__table__
_c = _table.c
_bodies = OutboxBody.__table__


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1-based)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def default_worker_id() -> str:
    """host:pid:random, so a restarted process on the same host is a different worker."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0  # temporary failure: queued again for later
    failed: int = 0  # permanent failure, or out of attempts
    released: int = 0  # claimed but not tried (stop asked for, lease running out): queued again
    reclaimed: int = 0  # stale claims of a dispatcher that died: queued again
    smtp_error: str | None = None  # the mail server could not be reached
    seconds: float = 0.0

    def __iadd__(self, other: DispatchStats) -> DispatchStats:
        for f in fields(self):
            if f.name == "smtp_error":
                self.smtp_error = other.smtp_error or self.smtp_error
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def summary(self) -> str:
        rate = f", {self.sent / self.seconds:.0f}/s" if self.sent and self.seconds else ""
        text = (f"claimed {self.claimed}: sent {self.sent}, retry later {self.retried}, "
                f"failed {self.failed}, released {self.released}{rate}")
        if self.reclaimed:
            text += f"; {self.reclaimed} stale claim(s) requeued"
        if self.smtp_error:
            text += f"; mail server: {self.smtp_error}"
        return text


# The recorder's commits need to survive the dispatcher being killed, which they
# do without waiting for the disk: PostgreSQL's asynchronous commit and SQLite's
# synchronous=NORMAL in WAL mode keep every commit through a crash of the dispatcher,
# and lose the last fraction of a second only if the database server itself (or its
# machine) crashes (see the module docstring; MAIL_DURABLE_OUTCOMES=true waits).
# Set on the recorder's own connection only, and undone before it goes back to the pool.
def _fast_commit(connection: Connection) -> str | None:
    """Switch ``connection`` to commits that do not wait for the disk; return the SQL that undoes it."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET synchronous_commit TO off")
        return "RESET synchronous_commit"
    if dialect == "sqlite" and connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal":
        previous = int(connection.exec_driver_sql("PRAGMA synchronous").scalar())
        connection.exec_driver_sql("PRAGMA synchronous = NORMAL")
        return f"PRAGMA synchronous = {previous}"
    return None


# On PostgreSQL with psycopg, the statements of the claim and the outcomes run on the
# driver's own cursor: SQLAlchemy compiles each once (below), and psycopg prepares it
# on the server after a few runs. SQLAlchemy's execution and result handling cost the
# sending thread and the recording thread about three times what the statement itself
# costs the client (about 120 us against 50 us an outcome, 40 us against 5 us per
# claimed row); and both threads share one GIL with the SMTP conversation. Elsewhere
# (SQLite) the statements go through ``Connection.execute`` as usual.
_NO_SORT = "SET LOCAL enable_sort = off"
_compiled: dict[tuple[Executable | str, str], tuple[str, dict[str, Any]] | None] = {}


def _compile(statement: Executable | str, connection: Connection) -> tuple[str, dict[str, Any]] | None:
    """(SQL, the values of its constant parameters), or None for a statement that SQLAlchemy
    must render at each execution (a list parameter: ``IN (...)``)."""
    key = (statement, connection.dialect.name)
    if key not in _compiled:
        if isinstance(statement, str):
            _compiled[key] = (statement, {})
        else:
            compiled = statement.compile(dialect=connection.dialect)
            constants = {name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required}
            constants = {name: value.value if isinstance(value, Enum) else value for name, value in constants.items()}
            _compiled[key] = None if compiled.post_compile_params else (str(compiled), constants)
    return _compiled[key]


def _run(connection: Connection, statement: Executable | str, params: dict[str, Any], *, fetch: bool = False):
    """Run ``statement`` in ``connection``'s transaction (or in autocommit, when the connection
    is): the rows as tuples when ``fetch``, else the number of rows changed. Errors are
    SQLAlchemy's, as from ``Connection.execute``, and a connection found lost is invalidated."""
    compiled = _compile(statement, connection) if uses_psycopg(connection) else None
    if compiled is None:
        if isinstance(statement, str):
            result = connection.exec_driver_sql(statement)
        else:
            result = connection.execute(statement, params)
        return [tuple(row) for row in result] if fetch else result.rowcount
    sql, constants = compiled
    return run_on_driver(connection, sql, {**constants, **params} if constants else params,
                         fetch="all" if fetch else None)


class _Recorder:
    """Commits outcomes in order on a thread and a database connection of its own,
    one transaction per message.

    ``wait()`` returns once everything submitted is committed, and raises if any
    of it failed (then every later ``wait()`` raises too). The statements are
    built once (below) and only their parameters change, which keeps this thread's
    CPU time, and so its competition with the sending thread for the GIL, small.
    """

    def __init__(self, engine: Engine, durable: bool = False) -> None:
        self._engine = engine
        self._durable = durable
        self._connection: Connection | None = None
        self._undo: str | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-recorder")
        self._pending: list[Future[None]] = []
        self._error: BaseException | None = None

    def _connect(self) -> Connection:
        # Autocommit: each outcome is one UPDATE, one round trip, its own transaction.
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._undo = None if self._durable else _fast_commit(connection)
        return connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._undo:
                connection.exec_driver_sql(self._undo)
                connection.commit()
        except Exception:  # a connection in an unknown state is not put back into the pool
            connection.invalidate()
        finally:
            connection.close()

    def _execute(self, statement, params: dict, what: str) -> None:
        if self._connection is None:
            self._connection = self._connect()
        try:
            rowcount = _run(self._connection, statement, params)
            if self._connection.in_transaction():
                self._connection.commit()  # ends SQLAlchemy's logical transaction; the database has committed
        except BaseException:
            self._connection.rollback()
            raise
        if rowcount == 0:
            log.warning("%s: the row was no longer claimed by this dispatcher (lease expired?)", what)

    def submit(self, outcome: tuple, what: str) -> None:
        if self._error is not None:
            raise self._error
        statement, params = outcome
        self._pending.append(self._pool.submit(self._execute, statement, params, what))

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            try:
                future.result()
            except BaseException as error:
                self._error = self._error or error
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.submit(self._disconnect).result()
            self._pool.shutdown()


def _missing_statement() -> type[Exception]:
    from psycopg import errors

    return errors.InvalidSqlStatementName


class _PostgresRecorder:
    """The outcomes on PostgreSQL with psycopg: the same promise as :class:`_Recorder`
    without a second thread.

    ``submit`` sends the outcome's UPDATE on a connection of its own (autocommit: the
    statement is its own transaction) and returns without waiting; the server runs and
    commits it while the next message's MAIL, RCPT and DATA go back and forth with the
    mail server. ``wait()``, called before that message's final ".", reads the answer:
    it returns once the outcome is committed, and raises if it failed (and so does every
    later call). One statement is in flight at a time. The statements are prepared on the
    connection once and their parameters sent as text, so an outcome costs this process a
    few microseconds instead of a thread switch, a GIL hand-over and SQLAlchemy's and
    psycopg's Python code (together 150-200 us per email, about a fifth of the time
    the whole exchange with a local mail server takes).
    """

    # The statements prepared on each pooled connection (as long as it lasts, unless psycopg
    # deallocates them meanwhile: then wait() prepares the one it needs again).
    _prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, engine: Engine, durable: bool = False) -> None:
        self._engine = engine
        self._durable = durable
        self._connection: Connection | None = None
        self._undo: str | None = None
        self._in_flight: tuple | None = None  # (what, params, statement name, sql, values)
        self._error: BaseException | None = None

    def _connect(self) -> Connection:
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            self._undo = None if self._durable else _fast_commit(connection)
            connection.commit()
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def submit(self, outcome: tuple, what: str) -> None:
        if self._error is not None:
            raise self._error
        self.wait()
        statement, params = outcome
        connection = self._connection or self._connect()
        form = _prepared_form(statement, connection)
        if form is None:  # a list parameter (the release at the end of a batch): run it now
            try:
                rowcount = _run(connection, statement, params)
                if connection.in_transaction():
                    connection.commit()
            except BaseException as error:
                self._error = error
                raise
            if rowcount == 0:
                log.warning("%s: no row was still claimed by this dispatcher", what)
            return
        name, sql, order, constants = form
        driver = connection.connection.driver_connection
        try:
            prepared = self._prepared.setdefault(driver, set())
            if name not in prepared:
                driver.pgconn.send_prepare(name, sql)
                self._answer(driver.pgconn)
                prepared.add(name)
            values = [_as_text(params[key] if key in params else constants[key]) for key in order]
            driver.pgconn.send_query_prepared(name, values)
            _flush(driver.pgconn)
        except BaseException as error:
            self._error = self._sqlalchemy_error(error, sql.decode(), params)
            raise self._error from error
        self._in_flight = (what, params, name, sql, values)

    def wait(self) -> None:
        if self._in_flight is not None:
            (what, params, name, sql, values), self._in_flight = self._in_flight, None
            pgconn = self._connection.connection.driver_connection.pgconn
            try:
                try:
                    rowcount = self._answer(pgconn)
                except _missing_statement() as error:
                    # Nothing ran: the connection's prepared statements are gone since this
                    # process prepared them -- psycopg runs DEALLOCATE ALL after a rollback
                    # that follows its own prepared statements, when the connection served
                    # someone else. Prepare it again and record the outcome now.
                    log.info("%s: statement %s prepared again (%s)", what, name, error)
                    pgconn.send_prepare(name, sql)
                    self._answer(pgconn)
                    pgconn.send_query_prepared(name, values)
                    _flush(pgconn)
                    rowcount = self._answer(pgconn)
            except BaseException as error:
                self._error = self._error or self._sqlalchemy_error(error, sql.decode(), params)
            else:
                if rowcount == 0:
                    log.warning("%s: the row was no longer claimed by this dispatcher (lease expired?)", what)
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        try:
            self.wait()
        finally:
            connection, self._connection = self._connection, None
            if connection is not None:
                try:
                    if self._in_flight is not None or self._error is not None:
                        connection.invalidate()  # in an unknown state: not put back into the pool
                    elif self._undo:
                        connection.exec_driver_sql(self._undo)
                        connection.commit()
                except Exception:
                    connection.invalidate()
                finally:
                    connection.close()

    @staticmethod
    def _answer(pgconn) -> int:
        """Wait for the answer to what was sent; the number of rows changed. Raises the server's error."""
        from psycopg import errors
        from psycopg.pq import ExecStatus

        rowcount, error = 0, None
        while True:
            while pgconn.is_busy():
                _wait_for(pgconn.socket, POLLIN)
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                break
            if result.status == ExecStatus.FATAL_ERROR:
                error = error or errors.error_from_result(result, encoding="utf-8")
            elif result.command_tuples is not None:
                rowcount = result.command_tuples
        if error is not None:
            raise error
        return rowcount

    def _sqlalchemy_error(self, error: BaseException, sql: str, params: dict) -> BaseException:
        """``error`` as SQLAlchemy raises it (what ``run`` expects); a lost connection is invalidated."""
        connection = self._connection
        if connection is None:
            return error
        dialect = connection.dialect
        if not isinstance(error, dialect.loaded_dbapi.Error):
            return error
        lost = connection.closed or dialect.is_disconnect(error, connection.connection.driver_connection, None)
        if lost and not connection.invalidated:
            connection.invalidate(error)
        return DBAPIError.instance(sql, params, error, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                                   dialect=dialect)


_PARAMETER = re.compile(r"%\((\w+)\)s")
_prepared_forms: dict[Executable, tuple[bytes, bytes, list[str], dict[str, Any]] | None] = {}


def _prepared_form(statement: Executable, connection: Connection):
    """(name, SQL with $1..$n, the parameters' names in that order, the constants' values),
    or None for a statement that needs SQLAlchemy at each execution."""
    if statement not in _prepared_forms:
        compiled = _compile(statement, connection)
        if compiled is None:
            _prepared_forms[statement] = None
        else:
            sql, constants = compiled
            order: list[str] = []

            def number(match: re.Match) -> str:
                if match.group(1) not in order:
                    order.append(match.group(1))
                return f"${order.index(match.group(1)) + 1}"

            numbered = _PARAMETER.sub(number, sql).replace("%%", "%")
            name = f"panel_outbox_{len(_prepared_forms)}_{secrets.token_hex(4)}"
            _prepared_forms[statement] = (name.encode(), numbered.encode(), order, constants)
    return _prepared_forms[statement]


def _as_text(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text format (the statements cast each one to its column's type)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        return value.isoformat().encode()
    if isinstance(value, bool):
        return b"t" if value else b"f"
    return str(value).encode()


def _wait_for(fd: int, event: int) -> None:
    poller = poll()
    poller.register(fd, event)
    poller.poll()


def _flush(pgconn) -> None:
    while pgconn.flush():
        _wait_for(pgconn.socket, POLLOUT)


def _release_stale(session: Session, now: datetime, lease: timedelta) -> int:
    result = session.execute(
        update(_table)
        .where(_c.status == OutboxStatus.SENDING, _c.claimed_at < now - lease)
        .values(status=OutboxStatus.QUEUED, claimed_by=None, claimed_at=None,
                last_error="a dispatcher stopped while holding this message; queued again")
    )
    return result.rowcount


# The rows to claim: due, in (priority, next_attempt_at) order, which is the order of
# ix_outbox_message_due, so the first batch_size entries of that index are all that
# is read. No tie-break on id: a send-out queues all its rows with one next_attempt_at,
# and "ORDER BY ..., id" would sort every one of them (50,000) for each batch.
_DUE = (
    select(_c.id)
    .where(_c.status == OutboxStatus.QUEUED, _c.next_attempt_at <= bindparam("now"))
    .order_by(_c.priority, _c.next_attempt_at)
    .limit(bindparam("batch_size"))
    .with_for_update(skip_locked=True)
)
_CLAIMED = (_c.id, _c.to_address, _c.subject, _c.body_text, _c.body_html, _c.headers, _c.attempts,
            _c.created_at, _c.priority, _c.body_id, _c.link, _c.unsubscribe_link)
_CLAIM_VALUES = {"status": OutboxStatus.SENDING, "claimed_by": bindparam("worker"), "claimed_at": bindparam("now")}
# PostgreSQL: "id = ANY(ARRAY(subquery))". The ARRAY is an InitPlan, evaluated exactly once
# (an "id IN (subquery)" may run more than once, and then claims more than batch_size
# rows), and the claimed rows are then fetched through the primary key. (A join with a
# locking CTE did that too, but PostgreSQL may join it by reading the whole table, sent
# mail included, for every batch.) The rows are locked by the subquery, so nobody else
# can change their status before this statement updates them.
_CLAIM_POSTGRES = (update(_table).where(_c.id == any_(func.array(_DUE.scalar_subquery())))
                   .values(**_CLAIM_VALUES).returning(*_CLAIMED))
# SQLite has a single writer and no arrays: the subquery as a CTE, the update atomic.
_due = _DUE.cte("due")
_CLAIM_OTHER = (update(_table).where(_c.id == _due.c.id, _c.status == OutboxStatus.QUEUED)
                .values(**_CLAIM_VALUES).returning(*_CLAIMED))


def _claim(session: Session, worker_id: str, batch_size: int, now: datetime) -> tuple[list[Outgoing], list[int]]:
    """Claim due rows: (the emails to send, the ids of claimed rows whose shared body is gone).

    ``body_id`` is not a foreign key (see the model), so a row could in principle point at
    a deleted body; such a row is marked failed with a reason instead of stopping the batch.
    """
    connection = session.connection()
    params = {"now": now, "worker": worker_id, "batch_size": batch_size}
    if uses_psycopg(connection):
        # Right after a send-out is queued, PostgreSQL has no statistics on its rows
        # (autovacuum analyzes the table later) and may estimate a handful of due rows;
        # it then reads every due row and sorts them, for each batch (about 0.1 ms of
        # the server's CPU per email at 50,000). Reading the index in order needs no sort.
        _run(connection, _NO_SORT, {})
        rows = _run(connection, _CLAIM_POSTGRES, params, fetch=True)
    else:
        rows = _run(connection, _CLAIM_OTHER, params, fetch=True)
    rows.sort(key=lambda row: (row[8], row[0]))  # (priority, id)
    shared = _shared_bodies(session, {row[9] for row in rows if row[9] is not None})
    outgoing, orphans = [], set()
    for (row_id, to_address, subject, text, html, headers, attempts, created_at, _priority, body_id, link,
         unsubscribe_link) in rows:
        headers = headers or ""
        if body_id is not None:  # bulk mail: the send-out's body and headers with this row's links put in
            if body_id not in shared:
                orphans.add(row_id)
                continue
            shared_text, shared_html, shared_headers = shared[body_id]
            text, html = fill_body(shared_text, shared_html, link, unsubscribe_link)
            headers = fill_headers(shared_headers, headers, link, unsubscribe_link)
        if created_at.tzinfo is not timezone.utc:  # psycopg gives the session's time zone
            created_at = created_at.astimezone(timezone.utc)
        outgoing.append(Outgoing(id=row_id, to_address=to_address, subject=subject, body_text=text,
                                 body_html=html, headers=headers, attempts=attempts, created_at=created_at))
    return outgoing, sorted(orphans)


def _shared_bodies(session: Session, ids: set[int]) -> dict[int, tuple[str, str, str]]:
    """The shared bodies (OutboxBody) of the claimed rows: (text, html, headers) by id, one query."""
    if not ids:
        return {}
    found = session.execute(select(_bodies.c.id, _bodies.c.body_text, _bodies.c.body_html, _bodies.c.headers)
                            .where(_bodies.c.id.in_(ids)))
    return {row.id: (row.body_text, row.body_html, row.headers or "") for row in found}


# The outcome statements, built once. Each touches the row only while this worker
# still holds the claim.
_MINE = ((_c.id == bindparam("row_id")) & (_c.claimed_by == bindparam("worker"))
         & (_c.status == OutboxStatus.SENDING))
_SENT = update(_table).where(_MINE).values(
    status=OutboxStatus.SENT, sent_at=bindparam("now"), attempts=bindparam("attempts"), last_error=None)
_FAILED = update(_table).where(_MINE).values(
    status=OutboxStatus.FAILED, attempts=bindparam("attempts"), last_error=bindparam("reason"), claimed_by=None)
_RETRY = update(_table).where(_MINE).values(
    status=OutboxStatus.QUEUED, attempts=bindparam("attempts"), next_attempt_at=bindparam("next_attempt"),
    last_error=bindparam("reason"), claimed_by=None, claimed_at=None)
_RELEASE = (update(_table)
            .where(_c.id.in_(bindparam("row_ids", expanding=True)), _c.claimed_by == bindparam("worker"),
                   _c.status == OutboxStatus.SENDING)
            .values(status=OutboxStatus.QUEUED, claimed_by=None, claimed_at=None))


def _sent(message: Outgoing, worker_id: str, now: datetime) -> tuple:
    return _SENT, {"row_id": message.id, "worker": worker_id, "now": now, "attempts": message.attempts + 1}


def _failed(message: Outgoing, worker_id: str, reason: str) -> tuple:
    return _FAILED, {"row_id": message.id, "worker": worker_id, "attempts": message.attempts + 1,
                     "reason": reason[:500]}


def _retry_or_fail(message: Outgoing, worker_id: str, reason: str, now: datetime) -> tuple[tuple, bool]:
    attempts = message.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        return _failed(message, worker_id, f"gave up after {attempts} attempts: {reason}"), False
    return (_RETRY, {"row_id": message.id, "worker": worker_id, "attempts": attempts,
                     "next_attempt": now + backoff(attempts), "reason": reason[:500]}), True


def _release(messages: list[Outgoing], worker_id: str) -> tuple:
    return _RELEASE, {"row_ids": [m.id for m in messages], "worker": worker_id}


def dispatch_once(
    sessions: sessionmaker[Session],
    settings: MailSettings,
    *,
    batch_size: int = 200,
    worker_id: str | None = None,
    lease: timedelta = LEASE,
    clock: Callable[[], datetime] = utcnow,
    stop: threading.Event | None = None,
) -> DispatchStats:
    """Claim up to ``batch_size`` due rows and send them; return what happened.

    ``sessions`` is a sessionmaker bound to an Engine (the app's is
    ``app.extensions["database"]``); the outcomes go through a second connection
    from that engine. This function owns its transactions and commits them itself, because when it
    commits is what bounds duplicates (see the module docstring). Needs no Flask
    application context, so it runs in threads and separate processes alike.
    Setting ``stop`` ends the round after the message in flight; the rest of the
    batch is released to the queue at once.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    worker_id = worker_id or default_worker_id()
    sender = sender_header(settings.sender)  # a bad MAIL_DEFAULT_SENDER fails here, before claiming
    envelope_from, domain = settings.envelope_from, settings.domain
    started = time.perf_counter()
    stats = DispatchStats()
    with sessions() as session:
        claimed_at = clock()
        stats.reclaimed = _release_stale(session, claimed_at, lease)
        pending, orphans = _claim(session, worker_id, batch_size, claimed_at)
        for row_id in orphans:
            session.execute(_FAILED, {"row_id": row_id, "worker": worker_id, "attempts": 1,
                                      "reason": "not sent: its shared body (outbox_body) no longer exists"})
        session.commit()
    stats.claimed = len(pending) + len(orphans)
    stats.failed += len(orphans)
    if not pending:
        return stats

    engine = sessions.kw["bind"]
    recorder = (_PostgresRecorder if uses_psycopg(engine) else _Recorder)(engine, settings.durable_outcomes)
    smtp = SMTPConnection(settings)
    deadline = claimed_at + lease * 0.8
    pending.reverse()  # pop() from the end, in claim order
    try:
        while pending:
            if (stop is not None and stop.is_set()) or clock() > deadline:
                break
            if not smtp.is_open:
                try:
                    smtp.open()
                except Exception as error:  # refused, timeout, TLS or login failure
                    stats.smtp_error = describe(error)
                    log.warning("mail server unreachable: %s", stats.smtp_error)
                    _defer_all(recorder, pending, worker_id, f"mail server unreachable: {stats.smtp_error}",
                               clock(), stats)
                    pending.clear()
                    break
            message = pending.pop()
            try:
                data = compose(message, sender=sender, domain=domain, date=clock())
                recipient = envelope_address(message.to_address)
            except UnsafeMessage as error:
                log.warning("outbox message %s refused: %s", message.id, error)
                recorder.submit(_failed(message, worker_id, f"not sent: {error}"), f"outbox {message.id} failed")
                stats.failed += 1
                continue
            try:
                smtp.deliver(envelope_from, recipient, data, before_accept=recorder.wait)
            except DeliveryFailed as failure:
                _record_failure(recorder, message, worker_id, failure, clock(), stats)
                continue
            except DeliveryAborted:
                pending.append(message)  # not accepted by the server; released below
                raise
            recorder.submit(_sent(message, worker_id, clock()), f"outbox {message.id} sent")
            stats.sent += 1
    finally:
        try:
            if pending:
                stats.released += len(pending)
                recorder.submit(_release(pending, worker_id), "release")
        finally:
            try:
                recorder.close()  # raises if an outcome could not be committed
            finally:
                smtp.close()
                stats.seconds = time.perf_counter() - started
    return stats


def _record_failure(recorder: _Recorder, message: Outgoing, worker_id: str, failure: DeliveryFailed,
                    now: datetime, stats: DispatchStats) -> None:
    if failure.permanent:
        log.warning("outbox message %s failed permanently: %s", message.id, failure.reason)
        recorder.submit(_failed(message, worker_id, failure.reason), f"outbox {message.id} failed")
        stats.failed += 1
        return
    outcome, will_retry = _retry_or_fail(message, worker_id, failure.reason, now)
    recorder.submit(outcome, f"outbox {message.id} retry")
    if will_retry:
        stats.retried += 1
    else:
        stats.failed += 1


def _defer_all(recorder: _Recorder, messages: list[Outgoing], worker_id: str, reason: str, now: datetime,
               stats: DispatchStats) -> None:
    failure = DeliveryFailed(reason, permanent=False)
    for message in messages:
        _record_failure(recorder, message, worker_id, failure, now, stats)


def run(
    sessions: sessionmaker[Session],
    settings: MailSettings,
    *,
    batch_size: int = 200,
    interval: float = 5.0,
    worker_id: str | None = None,
    stop: threading.Event | None = None,
    on_round: Callable[[DispatchStats], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> DispatchStats:
    """Dispatch until ``stop`` is set: a full batch is followed at once by the next,
    otherwise wait ``interval`` seconds (longer while the mail server is down, or
    the database). ``on_round`` sees every round that did something."""
    stop = stop or threading.Event()
    worker_id = worker_id or default_worker_id()
    total = DispatchStats()
    pause = interval
    while not stop.is_set():
        try:
            stats = dispatch_once(sessions, settings, batch_size=batch_size, worker_id=worker_id,
                                  clock=clock, stop=stop)
        except SQLAlchemyError as error:
            log.error("outbox dispatcher: database error, trying again shortly: %s", error)
            stop.wait(max(interval, 5.0))
            continue
        except DeliveryAborted as error:
            log.error("outbox dispatcher: could not record an outcome, stopping this batch: %s", error)
            stop.wait(max(interval, 5.0))
            continue
        total += stats
        if on_round is not None and (stats.claimed or stats.reclaimed):
            on_round(stats)
        if stats.smtp_error:
            pause = min(max(pause * 2, interval, 1.0), 60.0)  # the server is down: back off
        elif stats.claimed >= batch_size:
            pause = 0.0
        else:
            pause = interval
        if pause:
            stop.wait(pause)
    return total


def dispatch_due(app, *, batch_size: int = 500, clock: Callable[[], datetime] = utcnow) -> DispatchStats:
    """Send everything that is due now, in rounds, and return the totals (tests, the demo)."""
    sessions = app.extensions["database"]
    settings = MailSettings.from_config(app.config)
    total = DispatchStats()
    while True:
        stats = dispatch_once(sessions, settings, batch_size=batch_size, clock=clock)
        total += stats
        if stats.claimed < batch_size or stats.smtp_error:
            return total
