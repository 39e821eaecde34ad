"""The dispatcher against a real SMTP server (aiosmtpd): what arrives, and what happens
to the rows when the server says no, or is not there at all."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, text

from panel.db import utcnow
from panel.mail import dispatcher
from panel.mail.smtp import MailSettings
from panel.models import OutboxMessage
from tests.conftest import free_port
from tests.panel.mail.conftest import HTML, make_row, make_rows


def content(message, subtype: str) -> str:
    """A part's text with the wire format's CRLF line ends turned back into LF."""
    return message.get_body((subtype,)).get_content().replace("\r\n", "\n")


def rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_queued_rows_arrive_as_utf8_multipart_alternative_with_their_headers(session, dispatch, smtp_server):
    row = make_row(session, to="åsa.öberg@example.se", text="Hej Åsa!\n.\nEn rad med bara en punkt ovan.\n")
    session.commit()

    stats = dispatch()

    assert (stats.claimed, stats.sent, stats.failed, stats.retried) == (1, 1, 0, 0)
    [message] = smtp_server.messages
    assert message["Subject"] == "Välkommen till panelen – åäö"
    assert message["From"] == "Medborgarpanelen <panel@example.se>"
    assert message["To"] == "åsa.öberg@example.se"
    assert message["List-Unsubscribe"] == "<http://panel.test/u/tok>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"] == f"<outbox.{row.id}.{int(row.created_at.timestamp())}@example.se>"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert content(message, "plain") == "Hej Åsa!\n.\nEn rad med bara en punkt ovan.\n"
    assert content(message, "html") == HTML + "\n"
    assert smtp_server.handler.envelopes == [("panel@example.se", ["åsa.öberg@example.se"])]
    [stored] = rows(session)
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 1, None)
    assert stored.sent_at is not None


def test_an_internationalised_domain_is_sent_in_its_ascii_form(session, dispatch, smtp_server):
    make_row(session, to="anna@räksmörgås.se")
    session.commit()
    dispatch()
    assert smtp_server.handler.envelopes[0][1] == ["anna@xn--rksmrgs-5wao1o.se"]


def test_temporary_refusal_is_retried_with_backoff_and_the_same_message_id(session, dispatch, smtp_server):
    make_rows(session, 3)
    smtp_server.handler.refuse["boende1@example.se"] = "451 4.7.1 try later"

    first = dispatch()

    assert (first.sent, first.retried) == (2, 1)
    later = rows(session)[1]
    assert later.status == "queued" and later.attempts == 1
    assert "451" in later.last_error and "try later" in later.last_error
    assert timedelta(seconds=50) < later.next_attempt_at - utcnow() <= timedelta(minutes=1)
    assert dispatch().claimed == 0  # not due yet

    smtp_server.handler.refuse.clear()
    second = dispatch(at=dispatch.later(minutes=2))

    assert (second.claimed, second.sent) == (1, 1)
    assert [r.status for r in rows(session)] == ["sent"] * 3
    ids = [m["Message-ID"] for m in smtp_server.to("boende1@example.se")]
    assert len(ids) == 1 and ids[0].startswith(f"<outbox.{later.id}.")


def test_permanent_refusal_fails_that_row_and_the_rest_of_the_batch_goes_out(session, dispatch, smtp_server):
    make_rows(session, 5)
    smtp_server.handler.refuse["boende2@example.se"] = "550 5.1.1 no such user"

    stats = dispatch()

    assert (stats.sent, stats.failed, stats.retried) == (4, 1, 0)
    statuses = [r.status for r in rows(session)]
    assert statuses == ["sent", "sent", "failed", "sent", "sent"]
    failed = rows(session)[2]
    assert failed.attempts == 1 and "550 5.1.1 no such user" in failed.last_error
    assert sorted(str(m["To"]) for m in smtp_server.messages) == [f"boende{n}@example.se" for n in (0, 1, 3, 4)]


def test_unreachable_server_keeps_rows_queued_with_backoff_until_it_is_back(app, session, dispatch, smtp_server):
    make_rows(session, 3)
    closed = MailSettings.from_config({**app.config, "MAIL_PORT": free_port()})

    down = dispatch(settings=closed)

    assert down.retried == 3 and down.sent == 0 and down.smtp_error
    assert all(r.status == "queued" and r.attempts == 1 and "unreachable" in r.last_error for r in rows(session))
    assert smtp_server.messages == []
    assert dispatch(settings=closed, at=dispatch.later(seconds=30)).claimed == 0  # backing off

    back = dispatch(at=dispatch.later(minutes=2))

    assert back.sent == 3
    assert len(smtp_server.messages) == 3
    assert all(r.status == "sent" and r.attempts == 2 and r.last_error is None for r in rows(session))


def test_backoff_grows_and_gives_up_after_max_attempts(session, dispatch, smtp_server):
    make_row(session)
    session.commit()
    smtp_server.handler.refuse["boende1@example.se"] = "452 4.2.2 mailbox full"
    at = utcnow()
    waits = []
    for attempt in range(1, dispatcher.MAX_ATTEMPTS + 1):
        stats = dispatch(at=at)
        assert stats.claimed == 1, f"attempt {attempt} was not due"
        [row] = rows(session)
        assert row.attempts == attempt
        if row.status == "failed":
            break
        waits.append(row.next_attempt_at - at)
        at = row.next_attempt_at
    assert row.status == "failed" and row.attempts == dispatcher.MAX_ATTEMPTS
    assert "gave up after" in row.last_error and "452" in row.last_error
    assert waits == list(dispatcher.BACKOFF)
    assert smtp_server.messages == []


def test_a_header_with_a_line_break_is_refused_and_never_sent(session, dispatch, smtp_server):
    make_row(session, 1, headers="X-Campaign: a\rBcc: victim@example.se")
    make_row(session, 2, to="eve@example.se\r\nBcc: victim@example.se")
    make_row(session, 3, subject="Hej\nBcc: victim@example.se")
    make_row(session, 4)
    session.commit()

    stats = dispatch()

    assert (stats.sent, stats.failed) == (1, 3)
    assert [r.status for r in rows(session)] == ["failed", "failed", "failed", "sent"]
    assert all("not sent" in r.last_error for r in rows(session)[:3])
    assert [str(m["To"]) for m in smtp_server.messages] == ["boende4@example.se"]
    assert all(m["Bcc"] is None for m in smtp_server.messages)
    assert all("victim" not in rcpt for _, rcpts in smtp_server.handler.envelopes for rcpt in rcpts)


def test_stale_claims_of_a_dead_dispatcher_go_back_to_the_queue(session, dispatch, smtp_server):
    now = utcnow()
    stale = make_row(session, 1, status="sending", claimed_by="dead:1:abc", claimed_at=now - timedelta(minutes=11))
    fresh = make_row(session, 2, status="sending", claimed_by="alive:2:def", claimed_at=now - timedelta(minutes=1))
    session.commit()

    stats = dispatch()

    assert stats.reclaimed == 1 and stats.sent == 1
    by_id = {r.id: r for r in rows(session)}
    assert by_id[stale.id].status == "sent"
    assert by_id[fresh.id].status == "sending" and by_id[fresh.id].claimed_by == "alive:2:def"
    assert [str(m["To"]) for m in smtp_server.messages] == ["boende1@example.se"]


def test_direct_mail_overtakes_a_bulk_send_out(session, dispatch, smtp_server):
    make_rows(session, 5, kind="invitation", priority=1)
    make_row(session, 99, kind="confirm", priority=0)
    session.commit()

    dispatch(batch_size=1)

    assert [str(m["To"]) for m in smtp_server.messages] == ["boende99@example.se"]


def test_stop_releases_the_unsent_rest_of_the_batch(app, session, smtp_server):
    third = make_rows(session, 10)[2].id
    stop = threading.Event()
    sessions = app.extensions["database"]
    settings = MailSettings.from_config(app.config)
    original = dispatcher._sent

    def sent_then_stop(message, worker_id, now):  # the stop request arrives after the third message
        if message.id == third:
            stop.set()
        return original(message, worker_id, now)

    dispatcher._sent = sent_then_stop
    try:
        stats = dispatcher.dispatch_once(sessions, settings, batch_size=10, stop=stop)
    finally:
        dispatcher._sent = original

    assert (stats.sent, stats.released) == (3, 7)
    assert [r.status for r in rows(session)] == ["sent"] * 3 + ["queued"] * 7
    assert all(r.attempts == 0 and r.claimed_by is None for r in rows(session)[3:])
    assert len(smtp_server.messages) == 3


def test_the_next_message_is_not_accepted_until_the_previous_one_is_recorded(session, dispatch, smtp_server):
    """The crash bound: if recording "sent" fails, the message in transmission is
    abandoned before its final "." and the server discards it."""
    first = make_rows(session, 3)[0].id
    original = dispatcher._sent

    def broken_database(message, worker_id, now):
        if message.id == first:
            return text("UPDATE no_such_table SET x = 1"), {}  # the database refuses to record it
        return original(message, worker_id, now)

    dispatcher._sent = broken_database
    try:
        try:
            dispatch()
        except Exception:
            pass
        else:
            raise AssertionError("a failed commit must stop the batch")
    finally:
        dispatcher._sent = original

    assert [str(m["To"]) for m in smtp_server.messages] == ["boende0@example.se"]
    # The first was sent but could not be recorded: still claimed, so it goes out again
    # after the lease (the one possible duplicate). The second was never accepted.
    assert [r.status for r in rows(session)] == ["sending"] * 3


def test_run_loop_sends_until_stopped(app, session, smtp_server):
    make_rows(session, 7)
    stop = threading.Event()
    rounds = []

    def on_round(stats):
        rounds.append(stats)
        if sum(r.sent for r in rounds) >= 7:
            stop.set()

    total = dispatcher.run(app.extensions["database"], MailSettings.from_config(app.config), batch_size=3,
                           interval=0.1, stop=stop, on_round=on_round)

    assert total.sent == 7 and [r.claimed for r in rounds] == [3, 3, 1]
    assert len(smtp_server.messages) == 7
