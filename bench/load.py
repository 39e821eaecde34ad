"""Load: many residents answering the same survey at once through gunicorn on PostgreSQL.

Run by hand (tests/production/test_load.py runs a shorter version in CI):

    .venv/bin/python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_load
    .venv/bin/python bench/load.py --database-url ... --residents 600 --concurrency 32 --workers 4 --threads 4

The named database is created when missing and its tables are dropped and created again
(never point this at a database you care about). The application is served by gunicorn
from the venv with the production settings of deploy/gunicorn.conf.py (gthread, preload,
gc.freeze, access log) and ``--workers`` x ``--threads`` on 127.0.0.1.

Each resident is a client thread with its own keep-alive connection and cookie, walking
the example survey (surveys/examples/medborgarpanel_exempel.yaml) as a browser does:
GET the personal link, POST the start button, GET /s/answer (redirect), then GET + POST
each page the survey shows (2 or 3 pages: the library page only after "yes"), GET the thanks
page: 9-11 requests. The answers are seeded random (``--seed``), including a unique free
text, so every stored response can be matched with what its client sent. ``--concurrency``
residents are answering at any moment; a finished one is replaced by the next. ``--warmup``
residents answer first, unmeasured (each worker compiles its templates on first use).

Printed, and written as JSON to ``--out``: requests per second and completed surveys per
second over the whole run, latency percentiles (p50/p95/p99/max) overall and per kind of
request, the status codes, the load average before and after; then the check that every
completed submission is stored exactly once and nothing else (responses == completions ==
residents who saw the thanks page, and the stored answers equal the sent ones as a multiset).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prepare(url: str) -> None:
    """Create the database if missing; drop and create every table."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    import panel.models  # noqa: F401  (every table in the metadata)
    import surveys.models  # noqa: F401
    from panel.db import Base

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    engine.dispose()


def verify(url: str, survey_id: int, work, result) -> dict:
    """Every completed submission stored exactly once, with the answers sent, and nothing else."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from surveys.answering.models import Completion, SurveyResponse
    from surveys.fielding.models import Invitation

    engine = create_engine(url)
    with Session(engine) as session:
        stored = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)).all()
        completions = session.scalar(select(func.count()).select_from(Completion))
        completed = session.scalar(select(func.count()).where(Invitation.survey_id == survey_id,
                                                              Invitation.completed_at.is_not(None)))
        canonical = lambda answers: json.dumps(answers, sort_keys=True, ensure_ascii=False)  # noqa: E731
        sent = collections.Counter(canonical(plan.expected) for (_token, plan), outcome
                                   in zip(work, result.outcomes) if outcome.completed)
        got = collections.Counter(canonical(r.answers) for r in stored)
    engine.dispose()
    return {"responses": len(stored), "completions": completions, "completed_invitations": completed,
            "thanks_pages": result.completed, "answers_match": got == sent,
            "ok": len(stored) == completions == completed == result.completed and got == sent}


def server_cpu_seconds(server) -> float:
    """User + system CPU time of gunicorn's workers so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in server.worker_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="postgresql+psycopg://... (emptied!)")
    parser.add_argument("--residents", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32, help="residents answering at the same time")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--warmup", type=int, default=16,
                        help="residents answering first, not measured (templates compiled, pools filled)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the load benchmark runs on PostgreSQL (several workers write at once)")

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from tests.production.harness import Gunicorn, build_survey, resident_plan, run_residents

    prepare(args.database_url)
    engine = create_engine(args.database_url)
    with Session(engine) as session:
        survey_id, tokens = build_survey(session, args.warmup + args.residents)
        session.commit()
    engine.dispose()
    rng = random.Random(args.seed)
    work = [(token, resident_plan(rng, n)) for n, token in enumerate(tokens)]

    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        server = Gunicorn(args.database_url, Path(folder) / "instance", workers=args.workers, threads=args.threads)
        try:
            warm = run_residents(server.port, work[:args.warmup], min(args.concurrency, max(args.warmup, 1)))
            load_before, cpu_before = os.getloadavg(), server_cpu_seconds(server)
            result = run_residents(server.port, work[args.warmup:], args.concurrency)
            load_after, cpu_after = os.getloadavg(), server_cpu_seconds(server)
        finally:
            server.stop()
    summary = result.summary()
    summary["server_cpu_ms_per_request"] = (cpu_after - cpu_before) * 1000 / max(summary["requests"], 1)
    everything = type(result)(warm.outcomes + result.outcomes, result.seconds, args.concurrency)
    check = verify(args.database_url, survey_id, work, everything)
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count(),
              "gunicorn": f"deploy/gunicorn.conf.py, gthread, {args.workers} workers x {args.threads} threads, --preload",
              "load_average_before": load_before, "load_average_after": load_after, **summary, "check": check}

    print(f"{report['date']}; {report['gunicorn']}; {args.residents} residents, {args.concurrency} at a time; "
          f"PostgreSQL; {os.cpu_count()} cores")
    print(f"{summary['requests']} requests in {summary['seconds']:.1f} s: {summary['requests_per_second']:.1f} "
          f"requests/s, {summary['completions_per_second']:.2f} completed surveys/s; statuses {summary['statuses']}")
    print(f"gunicorn workers' CPU: {summary['server_cpu_ms_per_request']:.1f} ms per request "
          "(less disturbed by other work on the machine than the wall-clock figures)")
    print(f"{'request':12} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, q in summary["latency_ms"].items():
        print(f"{kind:12} {q['n']:6d} {q['p50']:8.0f} {q['p95']:8.0f} {q['p99']:8.0f} {q['max']:8.0f}")
    print("load average before: {:.1f} {:.1f} {:.1f}, after: {:.1f} {:.1f} {:.1f}".format(*load_before, *load_after))
    print(f"stored exactly once: {check}")
    if summary["errors"]:
        print("errors:", *summary["errors"], sep="\n  ")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if check["ok"] and not summary["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
