"""Scheduled jobs: ``medborgarpanel jobs run`` (one pass) and ``jobs loop`` (a pass a minute).

Each job runs an existing command (so a job does exactly what an operator running that
command by hand would): the fielding tick (open and close surveys, queue reminders) every
minute, and the retention rules (sent mail, unconfirmed sign-ups, recruitment letters,
inactive members, identified survey links, answer drafts) every hour.

Safe on several hosts at once. On PostgreSQL a runner takes a session-level advisory lock
per job (``pg_try_advisory_lock``): a runner that dies releases it with its connection. On
SQLite the lock is a lease in the job's ``job_run`` row, claimed by a conditional UPDATE
(SQLite serialises writers). Under the lock the runner checks that the job is due (its
last start is at least ``every`` ago), so two runners started together run each job once;
and the jobs themselves are idempotent, so a job run twice by mistake changes nothing more.
"""

from __future__ import annotations

import os
import socket
import threading
import traceback
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask import Blueprint, Flask, current_app
from flask.cli import ScriptInfo
from sqlalchemy import Engine, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.models.jobs import JobRun

bp = Blueprint("jobs", __name__, cli_group="jobs")

# A lease older than this is taken to belong to a runner that died (SQLite only).
LEASE = timedelta(hours=2)
# Starts this close to the interval count as due (a loop sleeping 60 s drifts a little).
SLACK = timedelta(seconds=5)
_LOCK_NAMESPACE = 0x6D70  # "mp": keeps our advisory lock keys apart from other users'


@dataclass(frozen=True)
class Job:
    name: str
    command: tuple[str, ...]  # the ``medborgarpanel`` command it runs
    every: timedelta


JOBS: tuple[Job, ...] = (
    Job("fielding-tick", ("fielding", "tick"), timedelta(minutes=1)),
    Job("retention", ("retention", "run"), timedelta(hours=1)),
    Job("results-compact", ("results", "compact"), timedelta(minutes=1)),
)


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def lock_key(name: str) -> int:
    return (_LOCK_NAMESPACE << 32) | zlib.crc32(name.encode())


@contextmanager
def job_lock(engine: Engine, sessions, name: str, *, now: datetime) -> Iterator[bool]:
    """Hold the job's lock for the block; yields False when another runner has it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            got = conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)})
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
        return
    me = runner_id()
    with sessions() as session:
        claimed = session.execute(
            update(JobRun)
            .where(JobRun.name == name, or_(JobRun.running_since.is_(None), JobRun.running_since < now - LEASE))
            .values(running_since=now, runner=me)
        ).rowcount
        session.commit()
    try:
        yield claimed == 1
    finally:
        if claimed == 1:
            with sessions() as session:
                session.execute(update(JobRun).where(JobRun.name == name, JobRun.runner == me)
                                .values(running_since=None, runner=None))
                session.commit()


def ensure_rows(session: Session, jobs: tuple[Job, ...]) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for job in jobs:
        session.execute(insert(JobRun).values(name=job.name, runs=0).on_conflict_do_nothing())
    session.commit()


def is_due(row: JobRun | None, job: Job, now: datetime) -> bool:
    return row is None or row.last_started_at is None or row.last_started_at <= now - job.every + SLACK


def invoke(app: Flask, command: tuple[str, ...]) -> None:
    """Run a ``medborgarpanel`` command in this process, in a fresh app context."""
    group = app.cli
    ctx = click.Context(group, obj=ScriptInfo(create_app=lambda: app))
    for name in command[:-1]:
        group = group.get_command(ctx, name)
        if group is None:
            raise click.ClickException(f"no command {' '.join(command)}")
    cmd = group.get_command(ctx, command[-1])
    if cmd is None:
        raise click.ClickException(f"no command {' '.join(command)}")
    with app.app_context():
        cmd.main(args=[], prog_name=" ".join(command), standalone_mode=False,
                 obj=ScriptInfo(create_app=lambda: app))


def run_pass(app: Flask, *, jobs: tuple[Job, ...] = JOBS, force: bool = False,
             clock=utcnow, echo=click.echo) -> dict[str, str]:
    """Run every due job once. Returns job name -> "ran", "failed", "not due" or "busy"."""
    sessions = app.extensions["database"]
    engine = sessions.kw["bind"]
    with sessions() as session:
        ensure_rows(session, jobs)
    outcome: dict[str, str] = {}
    for job in jobs:
        now = clock()
        with job_lock(engine, sessions, job.name, now=now) as held:
            if not held:
                outcome[job.name] = "busy"
                echo(f"{job.name}: running elsewhere, skipped")
                continue
            with sessions() as session:
                row = session.get(JobRun, job.name)
                if not force and not is_due(row, job, now):
                    outcome[job.name] = "not due"
                    continue
                row.last_started_at = now
                row.runs = (row.runs or 0) + 1
                session.commit()
            echo(f"{job.name}: {' '.join(job.command)}")
            try:
                invoke(app, job.command)
            except Exception as error:  # one failing job must not stop the others
                app.logger.error("job %s failed:\n%s", job.name, traceback.format_exc())
                status, message = "failed", f"{type(error).__name__}: {error}"[:500]
            else:
                status, message = "ok", None
            with sessions() as session:
                session.execute(update(JobRun).where(JobRun.name == job.name)
                                .values(last_finished_at=clock(), last_status=status, last_error=message))
                session.commit()
            outcome[job.name] = "ran" if status == "ok" else "failed"
            if status == "failed":
                echo(f"{job.name}: FAILED {message}")
    return outcome


@bp.cli.command("run")
@click.option("--force", is_flag=True, help="Run every job now, due or not (still one runner per job).")
def run_command(force: bool) -> None:
    """Run the scheduled jobs that are due, once (for cron or a systemd timer)."""
    outcome = run_pass(current_app._get_current_object(), force=force)
    click.echo(", ".join(f"{name}: {result}" for name, result in outcome.items()))
    if "failed" in outcome.values():
        raise SystemExit(1)


@bp.cli.command("loop")
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds between passes.")
def loop_command(interval: float) -> None:
    """Run the scheduled jobs every minute until stopped (SIGTERM, Ctrl-C)."""
    import signal

    app = current_app._get_current_object()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Running scheduled jobs every {interval:g} s: {', '.join(job.name for job in JOBS)}.")
    while not stop.is_set():
        try:
            run_pass(app)
        except Exception:  # the database may be down for a moment: try again next pass
            app.logger.exception("scheduled jobs: pass failed")
        stop.wait(interval)
