"""Dispatcher throughput against a plain smtplib loop, both to a local aiosmtpd sink.

Run by hand (not a test):

    .venv/bin/python bench/dispatch.py                       # SQLite in a temporary folder
    .venv/bin/python bench/dispatch.py -n 5000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

The sink runs in a separate process (as a real mail server would), answers 250 to
everything and keeps nothing. Timings over the same N messages:

- smtplib, prebuilt: one connection, ``sendmail`` of message bytes built before the
  clock starts. Pure SMTP time: the strictest baseline.
- smtplib, EmailMessage (--with-emailmessage): one connection, each message built
  with the standard library (text + HTML alternative) and sent with
  ``send_message``: what a plain loop written by hand would do.
- dispatcher: N rows queued in the outbox (not timed), then ``dispatch_once``
  rounds until all are sent: claiming, composing, sending, one commit per message.
  By default the rows share one body and its List-Unsubscribe headers, with each row's
  two links put in when sent, as a survey send-out queues them; ``--own-bodies``
  gives each row a body of its own, as single emails (confirmations) are queued.

The goal is dispatcher / strictest baseline >= 0.7. Each pair runs back to back and
gives its own ratio, so that other load on the machine affects both sides alike.

Measured 2026-11-22 on a 2-core VM (load average 1-3), N = 5000, batch 200:
SQLite: ratio median 0.86 (0.78-0.93, dispatcher 470-550 msg/s);
PostgreSQL 15 on the same host: median 0.79 (0.72-0.83, 400-510 msg/s);
a loop building each EmailMessage: 185 msg/s. With the machine saturated
by other work (load 7 on 2 cores) the ratio falls to about 0.5: the dispatcher
spends about 0.5 ms more CPU a message (compose, database writes) than the loop.
2026-11-23 (claim and outcomes on psycopg's own calls, no recording thread on PostgreSQL):
see "Dispatcher on PostgreSQL, 2026-11-23" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SINK = """
import sys, time
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""

LINK = "https://panel.example.se/s/3q2-Xk9fG0aL7wP4mZt8rYb1nC6vD5eH2jK0sQ9uW4o"
UNSUBSCRIBE = "https://panel.example.se/avsluta/abcdefghijklmnop"
SUBJECT = "Inbjudan: Vad tycker du om kollektivtrafiken i Gävle? – svara före fredag"
TEXT = ("Hej!\n\nDu är med i medborgarpanelen och vi vill gärna veta vad du tycker om "
        "kollektivtrafiken. Det tar ungefär fem minuter att svara.\n\n"
        "Svara här: https://panel.example.se/s/3q2-Xk9fG0aL7wP4mZt8rYb1nC6vD5eH2jK0sQ9uW4o\n\n"
        "Vill du inte få fler inbjudningar? https://panel.example.se/avsluta/abcdefghijklmnop\n\n"
        "Hälsningar\nMedborgarpanelen i Gävle kommun\n")
HTML = ("<!doctype html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>Inbjudan</title></head>"
        "<body><p>Hej!</p><p>Du är med i medborgarpanelen och vi vill gärna veta vad du tycker om "
        "kollektivtrafiken. Det tar ungefär fem minuter att svara.</p>"
        "<p><a href=\"https://panel.example.se/s/3q2-Xk9fG0aL7wP4mZt8rYb1nC6vD5eH2jK0sQ9uW4o\">Svara på enkäten</a></p>"
        "<p>Hälsningar<br>Medborgarpanelen i Gävle kommun</p></body></html>")
SENDER = "Medborgarpanelen <panel@example.se>"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stdlib_message(i: int) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = SENDER
    message["To"] = f"boende{i}@example.se"
    message["Subject"] = SUBJECT
    message["Message-ID"] = f"<bench.{i}@example.se>"
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    return message


def smtplib_prebuilt(port: int, n: int) -> float:
    messages = [stdlib_message(i).as_bytes() for i in range(n)]
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        started = time.perf_counter()
        for i, data in enumerate(messages):
            smtp.sendmail("panel@example.se", [f"boende{i}@example.se"], data)
        return time.perf_counter() - started


def smtplib_building(port: int, n: int) -> float:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        started = time.perf_counter()
        for i in range(n):
            smtp.send_message(stdlib_message(i))
        return time.perf_counter() - started


def dispatcher_run(port: int, n: int, database_url: str, batch_size: int, shared: bool = True,
                   durable: bool = False) -> tuple[float, int]:
    from sqlalchemy import func, insert, select

    from panel.db import Base, make_engine, utcnow
    from panel.mail.dispatcher import dispatch_once
    from panel.mail.outbox import LINK_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, list_unsubscribe_headers
    from panel.mail.smtp import MailSettings
    from panel.models import OutboxMessage
    from panel.models.outbox import OutboxBody
    from sqlalchemy.orm import sessionmaker

    tables = [OutboxMessage.__table__, OutboxBody.__table__]
    engine = make_engine(database_url)
    Base.metadata.drop_all(engine, tables=tables)
    Base.metadata.create_all(engine, tables=tables)
    with engine.begin() as conn:
        if shared:  # as a survey send-out queues them: one shared body, each row its address and links
            body_id = conn.execute(insert(OutboxBody).returning(OutboxBody.id), {
                "body_text": TEXT.replace(LINK, LINK_PLACEHOLDER).replace(UNSUBSCRIBE, UNSUBSCRIBE_PLACEHOLDER),
                "body_html": HTML.replace(LINK, LINK_PLACEHOLDER),
                "headers": list_unsubscribe_headers(UNSUBSCRIBE_PLACEHOLDER), "send_out": "bench"}).scalar_one()
            due = utcnow()  # one next_attempt_at for the whole send-out, as surveys.fielding queues it
            rows = [{"kind": "survey_invitation", "to_address": f"boende{i}@example.se", "subject": SUBJECT,
                     "body_text": "", "body_html": "", "headers": "", "priority": 1, "body_id": body_id,
                     "next_attempt_at": due,
                     "link": f"{LINK[:-8]}{i:08d}", "unsubscribe_link": f"{UNSUBSCRIBE[:-8]}{i:08d}"}
                    for i in range(n)]
        else:  # each row with a body of its own
            rows = [{"kind": "invitation", "to_address": f"boende{i}@example.se", "subject": SUBJECT,
                     "body_text": TEXT, "body_html": HTML, "priority": 1,
                     "headers": "List-Unsubscribe: <https://panel.example.se/avsluta/abcdefghijklmnop>\n"
                                "List-Unsubscribe-Post: List-Unsubscribe=One-Click"} for i in range(n)]
        conn.execute(insert(OutboxMessage), rows)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    settings = MailSettings(host="127.0.0.1", port=port, sender=SENDER,
                            **({"durable_outcomes": True} if durable else {}))  # (older code has no such field)
    started = time.perf_counter()
    while dispatch_once(sessions, settings, batch_size=batch_size).claimed:
        pass
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        sent = conn.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent"))
    Base.metadata.drop_all(engine, tables=tables)
    engine.dispose()
    return elapsed, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3,
                        help="pairs of (smtplib loop, dispatcher) run back to back; each pair gives a ratio")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    parser.add_argument("--with-emailmessage", action="store_true", help="also time the EmailMessage loop (slow)")
    parser.add_argument("--own-bodies", action="store_true",
                        help="rows with bodies of their own (default: one shared body, as survey send-outs queue them)")
    parser.add_argument("--durable-outcomes", action="store_true",
                        help="record outcomes with commits that wait for the disk (MAIL_DURABLE_OUTCOMES=true)")
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    n = args.n
    pairs, building = [], None
    try:
        assert sink.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory() as folder:
            url = args.database_url or f"sqlite:///{folder}/bench.sqlite"
            dispatcher_run(port, 100, url, args.batch_size)  # warm up: imports, connections
            for _ in range(args.repeat):
                # Back to back, so that a busy moment on the machine hits both alike.
                baseline = smtplib_prebuilt(port, n)
                elapsed, sent = dispatcher_run(port, n, url, args.batch_size, shared=not args.own_bodies,
                                               durable=args.durable_outcomes)
                if sent != n:
                    raise SystemExit(f"only {sent} of {n} were marked sent")
                pairs.append((baseline, elapsed))
            if args.with_emailmessage:
                building = smtplib_building(port, n)
    finally:
        sink.stdin.close()
        sink.wait(timeout=10)
    ratios = sorted(baseline / elapsed for baseline, elapsed in pairs)
    print(f"{n} messages to a local aiosmtpd sink; database {url.split(':')[0]}, batch size {args.batch_size}, "
          f"{'bodies of their own' if args.own_bodies else 'one shared body (survey send-out)'}"
          f"{', durable outcomes' if args.durable_outcomes else ''}")
    for i, (baseline, elapsed) in enumerate(pairs, 1):
        print(f"  pair {i}: smtplib loop (prebuilt bytes) {n / baseline:5.0f} msg/s, dispatcher {n / elapsed:5.0f} msg/s,"
              f" ratio {baseline / elapsed:.2f}")
    if building is not None:
        print(f"  smtplib loop building each EmailMessage: {n / building:5.0f} msg/s")
    print(f"  ratio dispatcher / smtplib loop: median {ratios[len(ratios) // 2]:.2f}, best {ratios[-1]:.2f}"
          f"  (goal >= 0.7)")


if __name__ == "__main__":
    main()
