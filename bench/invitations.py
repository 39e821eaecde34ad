"""Creating and queueing 50,000 survey invitations: seconds against the 5 s goal.

Run by hand (not a test):

    .venv/bin/python bench/invitations.py                      # SQLite in a temporary folder
    .venv/bin/python bench/invitations.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_invitations

For PostgreSQL the named database is created when missing, and its tables are dropped
and created again (never point this at a database you care about).

Besides the wall time, the CPU seconds of this process and (on PostgreSQL, when the
server runs on this machine) of the server's backend process are printed: on a busy
machine they show what the send-out itself costs.

Setup, not timed: a panel of N members plus 10 % who may not be invited (pending,
paused, unsubscribed), spread over 2 genders × 7 age bands × 10 districts, in three
languages; the example survey; settings for a stratified sample of exactly N with
proportional allocation. Timed: ``surveys.fielding.services.send_invitations`` (load the
panel, draw the sample, make N tokens and unsubscribe links, render each email once per
language and store it once per language as a shared outbox body with its List-Unsubscribe
headers, bulk-insert N invitations and N outbox rows holding only address, subject and the
two personal links — no ids fetched in advance: the rows are found through their bodies'
send-out label) plus the commit — what the "Skicka" button and ``medborgarpanel fielding
send`` do. The dispatcher puts each row's links into the shared body and headers when it
sends (``bench/dispatch.py``, whose default rows are made the same way).

``--runs`` repeats the whole thing (building the data again each time) and prints the
median wall time and CPU at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 5.0


def prepare_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def build(app, n: int) -> int:
    """The panel, the survey and its settings; returns the survey id."""
    from sqlalchemy import insert

    from panel.db import Base, utcnow
    from panel.extensions import db
    from panel.models import District, Member
    from surveys.authoring.services import import_survey
    from surveys.fielding import services
    from surveys.fielding.sampling import Target

    with app.test_request_context():  # the survey import speaks Swedish, as on the page
        engine = db.engine
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        session = db.session
        districts = [District(code=f"{i:04d}", name=f"Område {i}") for i in range(1, 11)]
        session.add_all(districts)
        session.flush()
        rng = random.Random(1)
        now = utcnow()
        year = now.year
        extra = n // 10
        statuses = ["active"] * n + [rng.choice(["pending", "paused", "unsubscribed"]) for _ in range(extra)]
        rows = [{
            "email": f"boende{i}@example.se",
            "birth_year": year - rng.randint(16, 90),
            "gender": rng.choice(["kvinna", "man"]),
            "district_id": rng.choice(districts).id,
            "language": rng.choice(["sv", "sv", "sv", "en", "ar"]),
            "status": status,
            "paused_until": (now + timedelta(days=30)).date() if status == "paused" else None,
            "source": "open",
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now if status != "pending" else None,
        } for i, status in enumerate(statuses)]
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Member), rows[start:start + 10_000])
        example = (ROOT / "surveys" / "examples" / "medborgarpanel_exempel.yaml").read_text(encoding="utf-8")
        survey = import_survey(session, text=example, format="yaml", title="Bench", created_by=None)
        session.flush()
        services.save_settings(session, survey, target=Target(), mode="sample", sample_size=n,
                               allocation="proportional", seed=7, contact_limit=3, contact_window_days=30,
                               reminder_after_days=7, max_reminders=1, opens_at=None,
                               closes_at=now + timedelta(days=14))
        session.commit()
        return survey.id


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process on this machine (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(url: str, n: int) -> tuple[float, float, float | None]:
    """(wall seconds, this process's CPU seconds, the PostgreSQL backend's CPU seconds)."""
    from flask_babel import force_locale
    from sqlalchemy import text

    from panel.app import create_app
    from panel.extensions import db
    from surveys.fielding import services
    from surveys.models import Survey

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "PANEL_BASE_URL": "https://panel.example.se"})
    survey_id = build(app, n)
    with app.app_context(), force_locale("sv"):  # as the CLI command
        survey = db.session.get(Survey, survey_id)
        backend = db.session.scalar(text("SELECT pg_backend_pid()")) if url.startswith("postgresql") else None
        server_before = _cpu_seconds(backend) if backend else None
        marks = []
        cpu_before, started = time.process_time(), time.perf_counter()
        result = services.send_invitations(
            db.session, survey, progress=lambda done, total: marks.append((done, time.perf_counter() - started)))
        db.session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_before
        server_after = _cpu_seconds(backend) if backend else None
    for done, at in marks:
        print(f"  queued {done:>6}/{n} at {at:5.2f} s")
    assert result.invited == n, result
    server = server_after - server_before if server_before is not None and server_after is not None else None
    return seconds, cpu, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=50_000, help="invitations to create (default 50,000)")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    parser.add_argument("--runs", type=int, default=1, help="repeat, building the data again each time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        if url.startswith("postgresql"):
            prepare_postgres(url)
        label = url.split(":")[0]
        load_before = os.getloadavg()[0]
        results = []
        for number in range(1, args.runs + 1):
            seconds, cpu, server = run(url, args.n)
            results.append((seconds, cpu, server))
            verdict = "within" if seconds <= GOAL_SECONDS else "OVER"
            print(f"{label}: created and queued {args.n} invitations in {seconds:.2f} s "
                  f"({args.n / seconds:,.0f}/s) - {verdict} the {GOAL_SECONDS:.0f} s goal (run {number})")
            server_text = f", database server process {server:.2f} s" if server is not None else ""
            print(f"  CPU: this process {cpu:.2f} s{server_text}; load average before/after "
                  f"{load_before:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
                  "(other work on the machine stretches the wall time)")
        if len(results) > 1:
            walls, cpus = sorted(r[0] for r in results), sorted(r[1] for r in results)
            servers = sorted(r[2] for r in results if r[2] is not None)
            server_text = f", database server {statistics.median(servers):.2f} s" if servers else ""
            print(f"{label}: median of {len(results)} runs {statistics.median(walls):.2f} s wall "
                  f"({walls[0]:.2f}-{walls[-1]:.2f}); CPU this process {statistics.median(cpus):.2f} s{server_text}")


if __name__ == "__main__":
    main()
