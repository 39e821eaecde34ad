"""How many emails a SIGKILLed dispatcher sends twice: many kills at random moments.

Run by hand (tests/production/test_dispatcher_crash.py asserts the bound in CI):

    .venv/bin/python bench/faults.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_faults
    .venv/bin/python bench/faults.py --database-url ... --kills 20 --emails 2000

The named database is created when missing and its tables are dropped and created again.
Each round queues ``--emails`` messages, starts ``medborgarpanel mail dispatch`` (a process
of its own) against a local SMTP server, SIGKILLs it once a random number of messages
(uniform between 5 % and 95 % of the round) has arrived, lets the lease pass (the claims are
moved back by 11 minutes instead of waiting 10), and sends the rest with the same dispatcher
code in this process. It counts, per kill, the messages that arrived twice (same Message-ID)
and checks that every message arrived. The design's bound (panel/mail/dispatcher.py) is one
per kill: the message whose "sent" commit was in flight. A larger count exits with status 1.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="postgresql+psycopg://... (emptied!)")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()

    from sqlalchemy import delete, func, insert, select, update
    from sqlalchemy.orm import sessionmaker

    from bench.load import prepare
    from panel.db import make_engine, utcnow
    from panel.mail import dispatcher
    from panel.mail.smtp import MailSettings
    from panel.models import OutboxMessage
    from tests.production.harness import SENDER, Dispatcher, FaultySMTP, wait_for

    prepare(args.database_url)
    engine = make_engine(args.database_url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    rng = random.Random(args.seed)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as folder:
        for round_ in range(args.kills):
            smtp = FaultySMTP().start()
            with sessions() as session:
                session.execute(delete(OutboxMessage))
                session.execute(insert(OutboxMessage), [
                    {"kind": "invitation", "to_address": f"boende{n}@example.se", "subject": "Inbjudan",
                     "body_text": f"Hej {n}!\n", "body_html": f"<p>Hej {n}!</p>", "headers": "", "priority": 1}
                    for n in range(args.emails)])
                session.commit()
            kill_at = rng.randint(args.emails // 20, args.emails * 19 // 20)
            process = Dispatcher(args.database_url, Path(folder), smtp.port, name=f"victim{round_}", batch_size=200)
            try:
                wait_for(lambda: smtp.count() >= kill_at or not process.alive(), 120, f"{kill_at} messages", 0.001)
                if not process.alive():
                    raise SystemExit(f"the dispatcher exited by itself:\n{process.log()}")
                process.kill()
            finally:
                process.stop()
            arrived = smtp.count()
            with sessions() as session:
                held = session.scalar(select(func.count()).where(OutboxMessage.status == "sending"))
                session.execute(update(OutboxMessage).where(OutboxMessage.status == "sending")
                                .values(claimed_at=utcnow() - timedelta(minutes=11)))
                session.commit()
            settings = MailSettings(host="127.0.0.1", port=smtp.port, sender=SENDER)
            while dispatcher.dispatch_once(sessions, settings, batch_size=500).claimed:
                pass
            smtp.stop()
            per_id = collections.Counter(mid for mid, _rcpt in smtp.accepted)
            twice = sum(1 for n in per_id.values() if n == 2)
            more = sum(1 for n in per_id.values() if n > 2)
            complete = len(per_id) == args.emails
            rows.append((round_, kill_at, arrived, held, twice, more, complete))
            print(f"kill {round_ + 1:2d}: at {arrived:5d} arrived, {held:3d} rows held by the dead dispatcher; "
                  f"sent twice: {twice}; every email arrived: {complete}", flush=True)
    engine.dispose()
    duplicates = [r[4] + r[5] for r in rows]
    print(f"{len(rows)} kills in {time.perf_counter() - started:.0f} s: duplicates per kill "
          f"{dict(sorted(collections.Counter(duplicates).items()))} (max {max(duplicates)}); "
          f"all complete: {all(r[6] for r in rows)}; load average now {os.getloadavg()[0]:.1f}")
    return 0 if max(duplicates) <= 1 and all(r[6] for r in rows) and not any(r[5] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
