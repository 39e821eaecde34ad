"""Dispatchers killed with SIGKILL in the middle of a 5,000-email send-out, then a restart.

Two ``medborgarpanel mail dispatch`` processes share the queue (as in production). One is
killed after 1,500 messages have arrived, the other after 3,000. So that each kill lands
in the middle of a batch whatever the machine's load, the SMTP server then stops answering
until every running dispatcher waits for the reply to a message (it has sent the message's
final "." and holds the rest of its claimed batch); the victim is killed then, and the server
answers again. Their claimed rows stay ``sending``; once the lease has passed (moved back
here instead of waited for: ten minutes) a restarted dispatcher queues them again and sends
everything left.

The bound, from panel/mail/dispatcher.py: the final "." that makes the server accept
message n+1 is written only after "message n was sent" is committed, so at the moment of a
kill at most ONE message has been accepted by the server without being recorded as sent
(the one whose commit was in flight). Every other claimed row was either recorded, or never
got its final ".", and the server discarded it. So after k kills at most k messages arrive
twice (each exactly twice, with the same Message-ID), and each of them was a row the killed
dispatcher still held.
"""

from __future__ import annotations

import collections
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from panel.db import utcnow
from panel.models import OutboxMessage
from tests.production.harness import Dispatcher, wait_for

EMAILS = 5000
KILL_AT = (1500, 3000)


def queue(session, count: int) -> None:
    session.execute(insert(OutboxMessage), [
        {"kind": "invitation", "to_address": f"boende{n}@example.se", "subject": "Inbjudan till enkät – åäö",
         "body_text": f"Hej!\n\nSvara här: http://panel.test/s/token{n}\n",
         "body_html": f'<p>Hej!</p><p><a href="http://panel.test/s/token{n}">Svara</a></p>',
         "headers": "", "priority": 1}
        for n in range(count)
    ])
    session.commit()


def test_dispatchers_killed_mid_batch_then_restarted_send_every_email_at_most_one_twice_per_kill(
        app, session, database_url, instance, smtp):
    queue(session, EMAILS)
    row_of = dict(session.execute(select(OutboxMessage.to_address, OutboxMessage.id)).all())
    dispatchers = [Dispatcher(database_url, instance, smtp.port, name=f"d{n}", batch_size=200) for n in range(2)]
    held_when_killed: dict[str, set[int]] = {}
    try:
        for victim, threshold in zip(dispatchers, KILL_AT):
            smtp.hold_from(threshold)
            running = [process for process in dispatchers if process.alive()]
            wait_for(lambda: smtp.holding() >= len(running) or not victim.alive(), 120,
                     f"{len(running)} dispatchers waiting after {threshold} messages "
                     f"({smtp.count()} arrived, {smtp.holding()} waiting)", interval=0.01)
            assert victim.alive(), f"dispatcher exited by itself:\n{victim.log()}"
            victim.kill()
            smtp.release()
            session.expire_all()
            held_when_killed[victim.log_path.stem] = set(session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status == "sending",
                                               OutboxMessage.claimed_by == victim.log_path.stem.split("-", 1)[1])))
    finally:
        for process in dispatchers:
            if process.alive():
                process.kill()
            process.stop()
    arrived_before_restart = smtp.count()
    assert arrived_before_restart < EMAILS, "the kills came before the end of the send-out"
    # Each victim was killed while it waited in the middle of a batch: it still held rows.
    assert all(held_when_killed.values()), (
        f"a killed dispatcher held no rows: { {k: len(v) for k, v in held_when_killed.items()} }\n"
        + "\n".join(f"--- {process.log_path.stem}:\n{process.log()[-3000:]}" for process in dispatchers))

    # The lease (10 minutes) passes; a restarted dispatcher sends the rest and exits.
    session.execute(update(OutboxMessage).where(OutboxMessage.status == "sending")
                    .values(claimed_at=utcnow() - timedelta(minutes=11)))
    session.commit()
    restarted = Dispatcher(database_url, instance, smtp.port, name="restarted", batch_size=500, once=True)
    try:
        restarted.process.wait(timeout=120)
    finally:
        restarted.stop()
    assert restarted.process.returncode == 0, restarted.log()
    assert "stale claim(s) requeued" in restarted.log()

    accepted = smtp.accepted
    per_recipient = collections.Counter(rcpt for _mid, rcpt in accepted)
    per_message_id = collections.Counter(mid for mid, _rcpt in accepted)
    assert set(per_recipient) == set(row_of), "every email arrived"
    assert len(per_message_id) == EMAILS, "one Message-ID per outbox row"
    twice = {row_of[rcpt]: n for rcpt, n in per_recipient.items() if n > 1}
    print(f"arrived before the restart: {arrived_before_restart}; held by the killed dispatchers: "
          f"{ {k: len(v) for k, v in held_when_killed.items()} }; sent twice: {twice}")
    assert len(twice) <= len(KILL_AT), f"at most one duplicate per kill: {twice}"
    assert set(twice.values()) <= {2}
    held = set().union(*held_when_killed.values())
    assert set(twice) <= held, "a duplicate is always a row a killed dispatcher held"
    for mid, rcpt in accepted:  # a repeat carries the same Message-ID as the first copy
        assert per_message_id[mid] == per_recipient[rcpt]

    session.expire_all()
    assert dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()) \
        == {"sent": EMAILS}
