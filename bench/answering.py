"""Answering-page throughput under gunicorn, as a ratio to a bare Flask + Jinja page.

Run by hand (not a test):

    .venv/bin/python bench/answering.py
    .venv/bin/python bench/answering.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_answering \\
        --seconds 20 --clients 8

For PostgreSQL the named database is created when missing, and its tables are dropped
and created again (never point this at a database you care about). Without
``--database-url`` it uses SQLite in a temporary folder (the issue's goal is on PostgreSQL).

Both applications are served the same way: gunicorn on 127.0.0.1 with the same worker
class, workers and threads (``--workers``, ``--threads``), and driven by the same client:
``--clients`` threads in this process, each with one keep-alive connection, looping for
``--seconds`` after a warm-up. gunicorn's workers share one listening socket and a
keep-alive connection stays with the worker that accepted it, so the connections are
spread evenly over the workers before the clock starts (a client whose connection went
to a worker that already has its share connects again; the owner of each connection is
read from /proc). Without that, one run could put all eight on one worker and the next
four on each, and the bare page's throughput differed by a factor of two between such
runs. One *cycle* is a GET of a page and a POST of its form:

- bare: a Flask app with one Jinja template (a heading and a small form); the GET renders
  it, the POST reads the form and redirects. No database, no sessions, no CSRF.
- bare + one statement (for reference, not the goal): the same page, its GET also reading a
  row and its POST updating it, one statement each on a connection from the application's
  pool (``panel.db.make_engine``) in autocommit: the least a page that saves must add.
- answering: ``GET /s/answer/vardag`` (the first page of the example survey: single choice
  with "annat", a 1-5 scale with "vet ej", yes/no) and its POST with valid answers, which
  validates the form, saves the page into the respondent's draft, commits and redirects.
  Each client is its own respondent (started through the real landing page beforehand),
  so clients do not wait for each other's row locks.

Printed: cycles per second of each, the ratio answering / bare (goal >= 0.5), latency
percentiles, the gunicorn workers' CPU time per cycle (from /proc; less disturbed than
throughput when other work shares the machine) and the load average.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL = 0.5
ANSWERS = {"transport": "buss", "trygghet_kvall": "4", "bibliotek": "yes", "nav": "next"}

BARE_APP = textwrap.dedent('''
    from flask import Flask, redirect, render_template, request
    from jinja2 import DictLoader

    app = Flask(__name__)
    PAGE = """<!doctype html>
    <html lang="sv"><head><meta charset="utf-8"><title>{{ title }}</title></head>
    <body><main><h1>{{ title }}</h1>
    <form method="post" action="">
    {% for question in questions %}
      <fieldset><legend>{{ question.text }}</legend>
      {% for value, label in question.options %}
        <label><input type="radio" name="{{ question.key }}" value="{{ value }}"> {{ label }}</label>
      {% endfor %}
      </fieldset>
    {% endfor %}
    <button type="submit" name="nav" value="next">Nästa</button>
    </form></main></body></html>"""
    QUESTIONS = [
        {"key": "transport", "text": "Hur tar du dig oftast till arbete eller skola?",
         "options": [("bil", "Bil"), ("buss", "Buss"), ("cykel", "Cykel"), ("till_fots", "Till fots")]},
        {"key": "trygghet_kvall", "text": "Hur trygg känner du dig när du går ensam ute på kvällen?",
         "options": [(str(n), str(n)) for n in range(1, 6)]},
        {"key": "bibliotek", "text": "Har du besökt något av kommunens bibliotek?",
         "options": [("yes", "Ja"), ("no", "Nej")]},
    ]

    app.jinja_loader = DictLoader({"page.html": PAGE})  # compiled once, cached, as files are

    @app.route("/page", methods=["GET", "POST"])
    def page():
        if request.method == "POST":
            request.form.get("transport")
            return redirect("/page")
        return render_template("page.html", title="Trygghet och service i kommunen", questions=QUESTIONS)

    app.view_functions["page"] = page  # the bare page's route, this view
''')


# The bare page with what a page that saves must do at least: one statement per request (the
# GET reads a row, the POST updates it) on a pooled connection in autocommit. Not part of
# the goal; printed so that the answering page's ratio can be read against it.
BARE_DB_APP = textwrap.dedent('''
    import os

    from flask import redirect, render_template, request
    from sqlalchemy import text

    from bare_app import QUESTIONS, app as bare
    from panel.db import make_engine

    app = bare
    # The application's engine (its pool and SQLite settings), in autocommit.
    engine = make_engine(os.environ["DATABASE_URL"]).execution_options(isolation_level="AUTOCOMMIT")
    READ = text("SELECT value FROM bench_bare_row WHERE id = 1")
    WRITE = text("UPDATE bench_bare_row SET value = :value WHERE id = 1")

    def page():
        with engine.connect() as connection:
            if request.method == "POST":
                connection.execute(WRITE, {"value": request.form.get("transport")})
                return redirect("/page")
            connection.execute(READ).first()
        return render_template("page.html", title="Trygghet och service i kommunen", questions=QUESTIONS)

    app.view_functions["page"] = page  # the bare page's route, this view
''')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def build(url: str, respondents: int) -> list[str]:
    """Fresh tables, the example survey (open), ``respondents`` members with invitations; the tokens."""
    from sqlalchemy import text

    from panel.app import create_app
    from panel.db import Base, utcnow
    from panel.extensions import db
    from panel.models import District, Member
    from surveys.answering.services import token_digest
    from surveys.definition import definition_to_dict, load_definition
    from surveys.fielding.models import Invitation
    from surveys.models import Survey

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.test_request_context():  # reading the survey file speaks Swedish, as on a page
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        Base.metadata.create_all(engine)
        with engine.begin() as conn:  # the row of the bare page with a database
            conn.execute(text("DROP TABLE IF EXISTS bench_bare_row"))
            conn.execute(text("CREATE TABLE bench_bare_row (id INTEGER PRIMARY KEY, value VARCHAR(40))"))
            conn.execute(text("INSERT INTO bench_bare_row (id, value) VALUES (1, 'bil')"))
        session = db.session
        example = (ROOT / "surveys" / "examples" / "medborgarpanel_exempel.yaml").read_text(encoding="utf-8")
        survey = Survey(title="Bench", definition=definition_to_dict(load_definition(example)), status="open")
        district = District(code="0980", name="Visby")
        session.add_all([survey, district])
        session.flush()
        tokens = []
        for i in range(respondents):
            member = Member(email=f"boende{i}@example.se", birth_year=1950 + i % 50, gender="kvinna",
                            district_id=district.id, status="active", confirmed_at=utcnow())
            session.add(member)
            session.flush()
            token = secrets.token_urlsafe(32)
            session.add(Invitation(survey_id=survey.id, member_id=member.id, token_digest=token_digest(token),
                                   language="sv", gender="kvinna", age_group="45-54", district_code="0980"))
            tokens.append(token)
        session.commit()
    engine.dispose()
    return tokens


class Client:
    """One keep-alive connection that remembers the session cookie."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def local_port(self) -> int | None:
        sock = self.connection.sock
        return sock.getsockname()[1] if sock is not None else None

    def reconnect(self) -> None:
        self.connection.close()
        self.connection.connect()

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read().decode("utf-8")
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    if not match:
        raise SystemExit("no CSRF token on the page")
    return match.group(1) or match.group(2)


def answering_cycle(port: int, token: str):
    """Start as a respondent through the landing page; return the GET+POST cycle."""
    client = Client(port)
    status, landing = client.request("GET", f"/s/{token}")
    assert status == 200, status
    status, _ = client.request("POST", f"/s/{token}", {"csrf_token": csrf_of(landing), "language": "sv"})
    assert status == 302, status
    status, page = client.request("GET", "/s/answer/vardag")
    assert status == 200, status
    form = {"csrf_token": csrf_of(page), **ANSWERS}

    def cycle() -> bool:
        got, _ = client.request("GET", "/s/answer/vardag")
        posted, _ = client.request("POST", "/s/answer/vardag", form)
        return got == 200 and posted == 302

    return client, cycle


def bare_cycle(port: int, _token: str):
    client = Client(port)

    def cycle() -> bool:
        got, _ = client.request("GET", "/page")
        posted, _ = client.request("POST", "/page", {k: v for k, v in ANSWERS.items()})
        return got == 200 and posted == 302

    return client, cycle


def serve(target: str, env: dict[str, str], workers: int, threads: int, cwd: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", str(workers),
         "-k", "gthread", "--threads", str(threads), "--keep-alive", "30", "--log-level", "warning", target],
        cwd=cwd, env={**os.environ, **env, "PYTHONPATH": f"{cwd}:{ROOT}"})
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"gunicorn did not start: {target}")


def workers_of(master: int) -> list[int]:
    try:
        return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def connection_owners(master: int, port: int) -> dict[int, int]:
    """{client's local port: pid of the gunicorn worker holding that connection} (Linux /proc)."""
    remote_of_inode = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == port:
                remote_of_inode[inode] = int(remote.rsplit(":", 1)[1], 16)
    owners = {}
    for pid in workers_of(master):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                remote = remote_of_inode.get(target[8:-1])
                if remote is not None:
                    owners[remote] = pid
    return owners


def spread_connections(clients: list[Client], master: int, port: int, workers: int) -> list[int]:
    """Connect the clients again until each worker holds its share of the connections;
    the number each worker holds."""
    share = -(-len(clients) // workers)  # at most this many per worker
    for _attempt in range(200):
        for client in clients:
            if client.local_port() is None:
                client.reconnect()
        deadline = time.time() + 2  # a new connection waits in the listen queue until a worker accepts it
        while True:
            owners = connection_owners(master, port)
            if all(client.local_port() in owners for client in clients) or time.time() > deadline:
                break
            time.sleep(0.01)
        held: dict[int, list[Client]] = {pid: [] for pid in workers_of(master)}
        for client in clients:
            held.setdefault(owners.get(client.local_port(), -1), []).append(client)
        crowded = [group[share:] for pid, group in held.items() if pid == -1 or len(group) > share]
        counts = sorted((len(group) for pid, group in held.items() if pid != -1), reverse=True)
        if not any(crowded) and len(counts) == workers:
            return counts
        for group in crowded:
            for client in group:
                client.connection.close()
    raise SystemExit(f"could not spread {len(clients)} connections over {workers} workers: {counts}")


def server_cpu_seconds(master: int) -> float:
    """User + system CPU time of gunicorn's workers so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = workers_of(master)
    if not children:
        return float("nan")
    total = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def drive(make_cycle, port: int, tokens: list[str], clients: int, seconds: float, warmup: float,
          master: int, workers: int) -> dict:
    made = [make_cycle(port, tokens[i]) for i in range(clients)]
    spread = spread_connections([client for client, _cycle in made], master, port, workers)
    cycles = [cycle for _client, cycle in made]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds

    def run(i: int) -> None:
        cycle = cycles[i]
        while True:
            began = time.perf_counter()
            if began >= stop_at:
                return
            ok = cycle()
            ended = time.perf_counter()
            if began >= start_at and ended <= stop_at:
                latencies[i].append(ended - began)
                failures[i] += not ok

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start_at - time.perf_counter()))
    cpu_before = server_cpu_seconds(master)
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    cpu_after = server_cpu_seconds(master)
    for thread in threads:
        thread.join()
    done = [value for values in latencies for value in values]
    quantiles = statistics.quantiles(done, n=100) if len(done) > 1 else [float("nan")] * 99
    return {"cycles": len(done), "per_second": len(done) / seconds, "failures": sum(failures),
            "p50_ms": quantiles[49] * 1000, "p95_ms": quantiles[94] * 1000,
            "cpu_ms": (cpu_after - cpu_before) * 1000 / max(len(done), 1), "spread": spread}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per application")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=8, help="client threads (each its own respondent)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-answering-") as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        if url.startswith("postgresql"):
            prepare_postgres(url)
        tokens = build(url, args.clients)
        (Path(folder) / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        (Path(folder) / "bare_db_app.py").write_text(BARE_DB_APP, encoding="utf-8")
        load_before = os.getloadavg()
        results = {}
        for name, target, make_cycle in (
            ("bare Flask + Jinja", "bare_app:app", bare_cycle),
            ("bare + one statement", "bare_db_app:app", bare_cycle),
            ("answering page", "panel.app:create_app()", answering_cycle),
        ):
            env = {"DATABASE_URL": url, "SECRET_KEY": "bench", "PANEL_INSTANCE_PATH": folder}
            process, port = serve(target, env, args.workers, args.threads, folder)
            try:
                results[name] = drive(make_cycle, port, tokens, args.clients, args.seconds, args.warmup,
                                      process.pid, args.workers)
            finally:
                process.send_signal(signal.SIGTERM)
                try:  # workers wait for idle keep-alive connections; no need to wait long
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        load_after = os.getloadavg()

    print(f"gunicorn gthread, {args.workers} workers x {args.threads} threads; {args.clients} client threads; "
          f"{args.seconds:g} s measured after {args.warmup:g} s warm-up; database {url.split(':', 1)[0]}")
    print(f"{'':22} {'cycles/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'server CPU ms/cycle':>20} {'failures':>9}"
          f" {'connections per worker':>23}   (one cycle = GET + POST)")
    for name, result in results.items():
        print(f"{name:22} {result['per_second']:9.1f} {result['p50_ms']:8.1f} {result['p95_ms']:8.1f} "
              f"{result['cpu_ms']:20.2f} {result['failures']:9d} {'/'.join(map(str, result['spread'])):>23}")
    bare, answering = results["bare Flask + Jinja"], results["answering page"]
    print(f"ratio answering / bare: {answering['per_second'] / bare['per_second']:.2f} (goal >= {GOAL}); "
          f"by server CPU per cycle: {bare['cpu_ms'] / answering['cpu_ms']:.2f}")
    with_database = results["bare + one statement"]
    print(f"for reference, bare + one statement / bare: {with_database['per_second'] / bare['per_second']:.2f}; "
          f"answering / bare + one statement: {answering['per_second'] / with_database['per_second']:.2f}")
    print("load average before: {:.1f} {:.1f} {:.1f}, after: {:.1f} {:.1f} {:.1f} on {} cores".format(
        *load_before, *load_after, os.cpu_count()))


if __name__ == "__main__":
    main()
