"""Never twice: a dispatcher killed mid-batch, and two dispatchers racing on PostgreSQL."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import sessionmaker

from panel.db import make_engine, utcnow
from panel.mail import dispatcher
from panel.mail.smtp import MailSettings
from panel.models import OutboxMessage
from tests.conftest import ON_POSTGRES

ROOT = Path(__file__).resolve().parents[3]

DISPATCHER = """
import sys, threading
from panel.app import create_app
from panel.mail import dispatcher
from panel.mail.smtp import MailSettings
app = create_app({"SECRET_KEY": "x", "DATABASE_URL": sys.argv[1], "MAIL_PORT": int(sys.argv[2]),
                  "MAIL_DEFAULT_SENDER": "Medborgarpanelen <panel@example.se>"})
dispatcher.run(app.extensions["database"], MailSettings.from_config(app.config), batch_size=int(sys.argv[3]),
               interval=0.1, worker_id="doomed")
"""


def queue(session, count: int) -> None:
    session.execute(insert(OutboxMessage), [
        {"kind": "invitation", "to_address": f"boende{n}@example.se", "subject": "Inbjudan – åäö",
         "body_text": f"Hej {n}!\n", "body_html": f"<p>Hej {n}!</p>", "headers": "", "priority": 1}
        for n in range(count)
    ])
    session.commit()


def message_ids(smtp_server) -> collections.Counter:
    return collections.Counter(str(m["Message-ID"]) for m in smtp_server.messages)


def test_a_dispatcher_killed_mid_batch_then_restarted_sends_every_email_at_most_one_twice(
        app, session, smtp_server, database_url):
    queue(session, 400)
    process = subprocess.Popen([sys.executable, "-c", DISPATCHER, database_url, str(smtp_server.port), "400"],
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while len(smtp_server.messages) < 120:
            assert process.poll() is None, "the dispatcher exited by itself"
            assert time.monotonic() < deadline, "the dispatcher sent nothing"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    arrived_before = len(smtp_server.messages)
    session.expire_all()
    states = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    assert states.get("sending", 0) > 0, "killed mid-batch: rows still claimed by the dead dispatcher"
    assert arrived_before < 400

    # Restarted after the lease: the dead dispatcher's claims go back to the queue.
    restarted = dispatcher.dispatch_due(app, clock=lambda: utcnow() + dispatcher.LEASE + timedelta(seconds=1))

    counts = message_ids(smtp_server)
    assert len(counts) == 400, "every email arrives"
    duplicates = {mid: n for mid, n in counts.items() if n > 1}
    assert len(duplicates) <= 1 and all(n == 2 for n in duplicates.values()), duplicates
    assert restarted.reclaimed == states["sending"]
    session.expire_all()
    assert session.scalar(select(func.count()).where(OutboxMessage.status != "sent")) == 0


@pytest.mark.postgres_only
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL row locking (FOR UPDATE SKIP LOCKED); "
                                            "SQLite has a single writer, run one dispatcher there")
def test_two_dispatchers_at_once_send_every_row_exactly_once(app, session, smtp_server, database_url):
    queue(session, 3000)
    settings = MailSettings.from_config(app.config)
    errors = []

    def worker(name: str) -> None:
        engine = make_engine(database_url)  # an engine and connections of its own
        try:
            sessions = sessionmaker(bind=engine, expire_on_commit=False)
            while dispatcher.dispatch_once(sessions, settings, batch_size=100, worker_id=name).claimed:
                pass
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors

    counts = message_ids(smtp_server)
    assert len(counts) == 3000 and set(counts.values()) == {1}, "every row exactly once"
    session.expire_all()
    by_worker = dict(session.execute(
        select(OutboxMessage.claimed_by, func.count()).where(OutboxMessage.status == "sent")
        .group_by(OutboxMessage.claimed_by)).all())
    assert sum(by_worker.values()) == 3000
    assert set(by_worker) == {"worker-0", "worker-1"}, f"both dispatchers worked: {by_worker}"
