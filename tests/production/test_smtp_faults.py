"""A ``medborgarpanel mail dispatch`` process against an SMTP server that misbehaves.

tests/panel/mail/test_dispatcher.py covers each rule with dispatch_once in the test process
and a clock it controls; here the dispatcher is the real long-running command, the SMTP
server refuses everything (4xx), rejects one address (5xx), is not there, and goes away in
the middle of a batch. Back-off waits (1 minute after the first failure) are not waited
for: the rows' next_attempt_at is moved to now, as if the minute had passed, and the
running dispatcher picks them up by itself.
"""

from __future__ import annotations

import collections
from datetime import timedelta

from sqlalchemy import func, insert, select, update
from werkzeug.security import generate_password_hash

from panel.db import utcnow
from panel.models import OutboxMessage, StaffUser
from tests.production.harness import Dispatcher, FaultySMTP, free_port, wait_for


def queue(session, count: int) -> dict[str, int]:
    session.execute(insert(OutboxMessage), [
        {"kind": "invitation", "to_address": f"boende{n}@example.se", "subject": "Inbjudan – åäö",
         "body_text": f"Hej {n}!\n", "body_html": f"<p>Hej {n}!</p>", "headers": "", "priority": 1}
        for n in range(count)
    ])
    session.commit()
    return dict(session.execute(select(OutboxMessage.to_address, OutboxMessage.id)).all())


def states(session) -> dict[str, int]:
    session.expire_all()
    return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def the_minute_passes(session) -> None:
    session.execute(update(OutboxMessage).where(OutboxMessage.status == "queued")
                    .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    session.commit()


def analyst_client(app, session):
    user = StaffUser(email="analytiker@kommun.test", name="Analytiker", role="analyst",
                     password_hash=generate_password_hash("x", method="pbkdf2:sha256:1"))
    session.add(user)
    session.commit()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = user.get_id()
        cookie["_fresh"] = True
    return client


def test_refusing_server_then_one_rejected_address_the_rest_goes_out_and_the_analyst_sees_it(
        app, session, database_url, instance, smtp):
    row_of = queue(session, 200)
    bad = "boende7@example.se"
    smtp.handler.temporary = "451 4.3.0 Tillfälligt fel, försök senare"
    dispatcher = Dispatcher(database_url, instance, smtp.port, name="faults", batch_size=100)
    try:
        # 4xx for everything: every row goes back to the queue with a back-off, none is lost or failed.
        wait_for(lambda: all(r.attempts == 1 for r in rows(session)), 90, "one attempt at every row", 0.2)
        now = utcnow()
        assert smtp.count() == 0
        assert states(session) == {"queued": 200}
        for row in rows(session):
            assert "451" in row.last_error
            assert now + timedelta(seconds=30) < row.next_attempt_at <= now + timedelta(minutes=1, seconds=5)

        # The server takes mail again but rejects one address for good (5xx).
        smtp.handler.temporary = None
        smtp.handler.reject[bad] = "550 5.1.1 <boende7@example.se>: Recipient address rejected: no such user"
        the_minute_passes(session)
        wait_for(lambda: states(session) == {"sent": 199, "failed": 1}, 90, "the second round", 0.2)
        assert dispatcher.alive(), dispatcher.log()
    finally:
        dispatcher.stop()
    assert dispatcher.process.returncode == 0, dispatcher.log()

    delivered = collections.Counter(rcpt for _mid, rcpt in smtp.accepted)
    assert set(delivered) == set(row_of) - {bad} and set(delivered.values()) == {1}
    failed = [r for r in rows(session) if r.status == "failed"]
    assert [r.to_address for r in failed] == [bad]
    assert failed[0].attempts == 2 and "550" in failed[0].last_error and "no such user" in failed[0].last_error
    assert [address for address, _reply in smtp.refused].count(bad) == 2  # tried twice, not again

    page = analyst_client(app, session).get("/staff/mail")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "b…7@example.se" in text and bad not in text, "the failed address, masked"
    assert "550 5.1.1" in text and "Recipient address rejected" in text
    assert "<strong>1</strong> misslyckade" in text and "<strong>199</strong> skickade" in text


def test_unreachable_server_and_a_server_that_goes_away_mid_batch(app, session, database_url, instance):
    row_of = queue(session, 1000)
    port = free_port()  # nothing listens here yet
    dispatcher = Dispatcher(database_url, instance, port, name="unreachable", batch_size=500)
    server = FaultySMTP(port)
    try:
        # Each round claims a batch, cannot connect, and defers the whole batch (the
        # dispatcher's pause between such rounds doubles: 1, 2, 4 s ...).
        wait_for(lambda: all(r.attempts == 1 and r.status == "queued" for r in rows(session)), 90,
                 "every batch deferred", 0.2)
        assert all("refused" in r.last_error for r in rows(session))
        assert all(r.next_attempt_at > utcnow() + timedelta(seconds=30) for r in rows(session))
        assert states(session) == {"queued": 1000}, "nothing failed, nothing stuck in sending"
        assert dispatcher.alive()

        # The server comes up; after a few hundred messages it goes away in the middle of a batch.
        server.start()
        the_minute_passes(session)
        wait_for(lambda: server.count() >= 300, 90, "300 messages", 0.002)
        server.stop()
        wait_for(lambda: states(session).get("sending", 0) == 0, 60, "the interrupted batch deferred", 0.2)
        assert dispatcher.alive(), dispatcher.log()
        arrived_before = server.count()
        assert arrived_before < 1000
        assert "sent" in states(session) and states(session).get("failed", 0) == 0

        # Back again, and the back-off has passed: the rest goes out.
        server.start()
        the_minute_passes(session)
        wait_for(lambda: states(session) == {"sent": 1000}, 120, "everything sent", 0.2)
        assert dispatcher.alive(), dispatcher.log()
    finally:
        dispatcher.stop()
        server.stop()
    assert "mail server unreachable" in dispatcher.log() or "connection refused" in dispatcher.log()

    delivered = collections.Counter(rcpt for _mid, rcpt in server.accepted)
    assert set(delivered) == set(row_of), "every email arrived"
    # A message the server took just as it went away may not have been confirmed: sent again.
    assert sum(n - 1 for n in delivered.values()) <= 1, {r: n for r, n in delivered.items() if n > 1}
