"""medborgarpanel mail dispatch / status / retry / purge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from panel.db import utcnow
from panel.models import OutboxMessage
from tests.conftest import free_port
from tests.panel.mail.conftest import make_row, make_rows


def test_dispatch_once_sends_everything_due_and_reports(runner, session, smtp_server):
    make_rows(session, 5)
    smtp_server.handler.refuse["boende3@example.se"] = "550 5.1.1 no such user"

    result = runner.invoke(args=["mail", "dispatch", "--once", "--batch-size", "2"])

    assert result.exit_code == 0, result.output
    assert "sent 4, retry later 0, failed 1" in result.output
    assert result.output.count("claimed") == 3  # three rounds of at most 2
    assert len(smtp_server.messages) == 4


def test_dispatch_once_with_the_server_down_says_so(app, runner, session, smtp_server):
    make_rows(session, 2)
    app.config["MAIL_PORT"] = free_port()
    result = runner.invoke(args=["mail", "dispatch", "--once"])
    assert result.exit_code == 0
    assert "could not be reached" in result.output and "retry later 2" in result.output
    assert session.scalar(select(func.count()).where(OutboxMessage.status == "queued")) == 2


def test_status_counts_and_lists_failures(runner, session):
    make_rows(session, 2)
    make_row(session, 9, to="fel@example.se", status="failed", attempts=1, last_error="550 5.1.1 no such user")
    session.commit()
    result = runner.invoke(args=["mail", "status"])
    assert result.exit_code == 0, result.output
    assert "  queued: 2" in result.output and "  failed: 1" in result.output
    assert "fel@example.se" in result.output and "550 5.1.1 no such user" in result.output


def test_status_warns_when_mail_has_waited_long(runner, session):
    make_row(session, next_attempt_at=utcnow() - timedelta(hours=2))
    session.commit()
    result = runner.invoke(args=["mail", "status"])
    assert "is a dispatcher running?" in result.output


def test_retry_and_purge(runner, session):
    failed = make_row(session, 1, status="failed", attempts=8, last_error="x")
    old = make_row(session, 2, status="sent", sent_at=utcnow() - timedelta(days=40))
    new = make_row(session, 3, status="sent", sent_at=utcnow() - timedelta(days=1))
    session.commit()
    old_id, new_id = old.id, new.id

    assert runner.invoke(args=["mail", "retry"]).exit_code != 0  # ids or --all
    assert "Queued 1" in runner.invoke(args=["mail", "retry", str(failed.id)]).output
    assert "Deleted 1" in runner.invoke(args=["mail", "purge", "--days", "30"]).output

    session.expire_all()
    assert (failed.status, failed.attempts) == ("queued", 0)
    assert session.get(OutboxMessage, old_id) is None and session.get(OutboxMessage, new_id) is not None
