"""Scheduled jobs: one pass runs what is due, once, even with several runners at once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update

from panel import jobs
from panel.db import utcnow
from panel.models import JobRun, OutboxMessage
from panel.models.outbox import OutboxStatus
from tests.conftest import ON_POSTGRES

ROOT = Path(__file__).resolve().parents[2]


def runs(session):
    session.expire_all()
    return {row.name: row.runs for row in session.scalars(select(JobRun))}


def _old_sent_mail(session, n=1):
    for _ in range(n):
        session.add(OutboxMessage(kind="magic_link", to_address="a@example.se", subject="s", body_text="t",
                                  body_html="h", status=OutboxStatus.SENT, sent_at=utcnow() - timedelta(days=400)))
    session.commit()


def test_one_pass_runs_each_job_and_a_second_pass_finds_nothing_due(app, session):
    _old_sent_mail(session)
    out = []
    assert jobs.run_pass(app, echo=out.append) == {"fielding-tick": "ran", "retention": "ran", "results-compact": "ran"}
    assert session.scalar(select(func.count(OutboxMessage.id))) == 0  # the retention job did its work
    assert runs(session) == {"fielding-tick": 1, "retention": 1, "results-compact": 1}
    assert jobs.run_pass(app, echo=out.append) == {"fielding-tick": "not due", "retention": "not due",
                                                      "results-compact": "not due"}
    assert runs(session) == {"fielding-tick": 1, "retention": 1, "results-compact": 1}
    row = session.get(JobRun, "retention")
    assert row.last_status == "ok" and row.last_finished_at >= row.last_started_at


def test_a_job_is_due_again_after_its_interval(app, session):
    start = utcnow()
    clock = [start]
    jobs.run_pass(app, clock=lambda: clock[0], echo=lambda _: None)
    clock[0] = start + timedelta(minutes=1)
    assert jobs.run_pass(app, clock=lambda: clock[0], echo=lambda _: None) == {
        "fielding-tick": "ran", "retention": "not due", "results-compact": "ran"}
    clock[0] = start + timedelta(hours=1)
    assert jobs.run_pass(app, clock=lambda: clock[0], echo=lambda _: None) == {
        "fielding-tick": "ran", "retention": "ran", "results-compact": "ran"}
    assert runs(session) == {"fielding-tick": 3, "retention": 2, "results-compact": 3}


def test_force_runs_jobs_that_are_not_due(app, session):
    jobs.run_pass(app, echo=lambda _: None)
    assert jobs.run_pass(app, force=True, echo=lambda _: None) == {"fielding-tick": "ran", "retention": "ran", "results-compact": "ran"}


def test_a_failing_job_is_recorded_and_the_others_still_run(app, session):
    broken = jobs.Job("broken", ("retention", "no-such-command"), timedelta(minutes=1))
    outcome = jobs.run_pass(app, jobs=(broken, jobs.JOBS[1]), echo=lambda _: None)
    assert outcome == {"broken": "failed", "retention": "ran"}
    row = session.get(JobRun, "broken")
    assert row.last_status == "failed" and "no-such-command" in row.last_error


def test_a_job_held_by_another_runner_is_skipped(app, session):
    """On PostgreSQL another connection holds the advisory lock; on SQLite, a live lease."""
    jobs.ensure_rows(session, jobs.JOBS)
    if ON_POSTGRES:
        engine = create_engine(app.config["DATABASE_URL"])
        holder = engine.connect()
        assert holder.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": jobs.lock_key("retention")})
    else:
        session.execute(update(JobRun).where(JobRun.name == "retention")
                        .values(running_since=utcnow(), runner="other-host:1"))
        session.commit()
    try:
        assert jobs.run_pass(app, echo=lambda _: None) == {"fielding-tick": "ran", "retention": "busy",
                                                          "results-compact": "ran"}
    finally:
        if ON_POSTGRES:
            holder.close()
            engine.dispose()
    if not ON_POSTGRES:  # a lease from a runner that died long ago is taken over
        session.execute(update(JobRun).where(JobRun.name == "retention")
                        .values(running_since=utcnow() - jobs.LEASE - timedelta(minutes=1)))
        session.commit()
    assert jobs.run_pass(app, echo=lambda _: None)["retention"] == "ran"
    assert runs(session) == {"fielding-tick": 1, "retention": 1, "results-compact": 1}


def test_jobs_run_command(runner, session):
    result = runner.invoke(args=["jobs", "run"])
    assert result.exit_code == 0, result.output
    assert "fielding-tick: ran, retention: ran" in result.output
    assert "sent_mail: 0 removed" in result.output  # the retention command's own report


@pytest.mark.skipif(not ON_POSTGRES, reason="several runners at once need PostgreSQL (SQLite: one host)")
def test_two_concurrent_runners_run_each_job_once(app, session):
    _old_sent_mail(session, 3)
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "x",
           "PANEL_INSTANCE_PATH": app.instance_path, "MAIL_PORT": "1"}
    command = [str(Path(sys.executable).parent / "medborgarpanel"), "jobs", "run"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert runs(session) == {"fielding-tick": 1, "retention": 1, "results-compact": 1}, outputs
    combined = "\n".join(outputs)
    assert combined.count("fielding-tick: ran") == 1 and combined.count("retention: ran") == 1, outputs
    assert combined.count("sent_mail: 3 removed") == 1, outputs
    assert session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_jobs_loop_runs_passes_until_sigterm(app, session):
    import signal
    import time

    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "x",
           "PANEL_INSTANCE_PATH": app.instance_path, "MAIL_PORT": "1"}
    command = [str(Path(sys.executable).parent / "medborgarpanel"), "jobs", "loop", "--interval", "1"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while runs(session).get("fielding-tick", 0) < 1:  # the first pass is done
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else ""
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert "Running scheduled jobs every 1 s" in output
    assert runs(session)["retention"] == 1  # hourly: once, however many passes ran
