"""Real processes on 127.0.0.1 for the load and fault tests (and bench/load.py).

- ``Gunicorn``: the application served by gunicorn from the venv, as in production.
- ``Dispatcher``: ``medborgarpanel mail dispatch`` as a process of its own.
- ``FaultySMTP``: an aiosmtpd server that records Message-IDs and can answer 4xx/5xx,
  or be stopped and started again on the same port (unreachable server).
- ``OwnPostgres``: a throwaway PostgreSQL cluster (initdb + pg_ctl as the ``postgres``
  user) that a test may stop and start without disturbing anybody else's database.
- ``Browser``: a keep-alive HTTP client with a cookie, as one resident's browser.
- ``resident_plan`` / ``answer_survey`` / ``run_residents``: residents answering the
  example survey with seeded random answers, and what the stored response must be.
"""

from __future__ import annotations

import asyncio
import glob
import http.client
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SENDER = "Medborgarpanelen <panel@example.se>"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def app_environment(database_url: str, instance: Path, **extra: Any) -> dict[str, str]:
    """The environment a production process gets (config.py reads it)."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "production-test-secret",
           "PANEL_INSTANCE_PATH": str(instance), "PANEL_BASE_URL": "http://panel.test",
           "MAIL_SERVER": "127.0.0.1", "MAIL_DEFAULT_SENDER": SENDER, "PYTHONPATH": str(ROOT)}
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Process:
    """A child process whose output goes to a log file (read it when a test fails)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no released rows, as a power cut of that process."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log.close()
        return self.process.returncode


class Gunicorn(Process):
    """``gunicorn -w N -k gthread 'panel.app:create_app()'`` on a free port; ready when /healthz is."""

    def __init__(self, database_url: str, instance: Path, *, workers: int = 4, threads: int = 4,
                 preload: bool = True, **env: Any) -> None:
        if not (BIN / "gunicorn").exists():
            import pytest

            pytest.skip("gunicorn is not installed in this environment: pip install -e '.[test,production]'")
        self.port = free_port()
        instance.mkdir(parents=True, exist_ok=True)
        # The production settings (deploy/gunicorn.conf.py: gthread, preload, gc.freeze, access
        # log) when they are there; the port, workers and threads from here. --preload: the app
        # (and its imports, ~3 s of CPU) is loaded once and the workers are forked from it;
        # create_app opens no database connection, so no connection crosses the fork.
        config = ROOT / "deploy" / "gunicorn.conf.py"
        super().__init__(
            [str(BIN / "gunicorn"), *(["-c", str(config)] if config.exists() else []),
             "-b", f"127.0.0.1:{self.port}", "-w", str(workers), "-k", "gthread",
             "--threads", str(threads), "--graceful-timeout", "10", "--log-level", "warning",
             *(["--preload"] if preload else []), "panel.app:create_app()"],
            app_environment(database_url, instance, **env), instance / "gunicorn.log")
        try:
            wait_for(self._healthy, 90, f"gunicorn on port {self.port}", interval=0.2)
            # /healthz answers as soon as one worker runs; the master may still be forking the rest.
            wait_for(lambda: len(self.worker_pids()) >= workers, 60, f"{workers} gunicorn workers", interval=0.1)
        except BaseException as error:
            output = self.log()
            self.stop()  # never leave a server behind
            if isinstance(error, Exception):
                raise AssertionError(f"{error}\ngunicorn's output:\n{output}") from error
            raise

    def _healthy(self) -> bool:
        if not self.alive():
            raise AssertionError(f"gunicorn exited:\n{self.log()}")
        probe = Browser(self.port, timeout=5)
        try:
            return probe.get("/healthz").status == 200
        except OSError:
            return False
        finally:
            probe.close()

    def worker_pids(self) -> set[int]:
        try:
            return {int(pid) for pid in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()}
        except OSError:
            return set()


class Dispatcher(Process):
    """``medborgarpanel mail dispatch`` against ``smtp_port``."""

    def __init__(self, database_url: str, instance: Path, smtp_port: int, *, name: str,
                 batch_size: int = 200, interval: float = 0.2, once: bool = False) -> None:
        instance.mkdir(parents=True, exist_ok=True)
        args = [str(BIN / "medborgarpanel"), "mail", "dispatch", "--batch-size", str(batch_size),
                "--interval", str(interval), "--worker-id", name]
        super().__init__(args + (["--once"] if once else []),
                         app_environment(database_url, instance, MAIL_PORT=smtp_port, MAIL_TIMEOUT=5),
                         instance / f"dispatcher-{name}.log")


# --------------------------------------------------------------------------- SMTP

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


class FaultHandler:
    """Records (Message-ID, recipient) of every accepted message; answers what it is told.

    ``reject``: recipient -> reply to RCPT TO (e.g. "550 5.1.1 No such user");
    ``temporary``: when set, every RCPT TO gets this reply (e.g. "451 4.3.0 Try later");
    ``hold_from``: when set, a message that arrives once that many have been accepted gets no
    reply until ``release`` is set: its sender waits in the middle of sending it (``holding``
    counts the waiting senders).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, str]] = []
        self.refused: list[tuple[str, str]] = []
        self.reject: dict[str, str] = {}
        self.temporary: str | None = None
        self.hold_from: int | None = None
        self.release = threading.Event()
        self.holding = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.temporary or self.reject.get(address)
        if reply:
            with self.lock:
                self.refused.append((address, reply))
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            hold = self.hold_from is not None and len(self.accepted) >= self.hold_from and not self.release.is_set()
            self.holding += hold
        if hold:
            try:
                while not self.release.is_set():
                    await asyncio.sleep(0.005)
            finally:  # also when the sender's connection is lost (aiosmtpd cancels the handler)
                with self.lock:
                    self.holding -= 1
        match = _MESSAGE_ID.search(envelope.content)
        message_id = match.group(1).decode() if match else "<none>"
        with self.lock:
            self.accepted.extend((message_id, rcpt) for rcpt in envelope.rcpt_tos)
        return "250 Message accepted for delivery"


class FaultySMTP:
    def __init__(self, port: int | None = None) -> None:
        self.handler = FaultHandler()
        self.port = port or free_port()
        self.controller = None

    def start(self) -> FaultySMTP:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def accepted(self) -> list[tuple[str, str]]:
        with self.handler.lock:
            return list(self.handler.accepted)

    @property
    def refused(self) -> list[tuple[str, str]]:
        with self.handler.lock:
            return list(self.handler.refused)

    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.accepted)

    def hold_from(self, count: int) -> None:
        """Leave senders waiting for the reply to any message after the first ``count``."""
        with self.handler.lock:
            self.handler.release.clear()
            self.handler.hold_from = count

    def holding(self) -> int:
        """How many senders are waiting for a reply now."""
        with self.handler.lock:
            return self.handler.holding

    def release(self) -> None:
        """Answer the waiting senders and stop holding; return once none waits any more."""
        with self.handler.lock:
            self.handler.hold_from = None
        self.handler.release.set()
        deadline = time.monotonic() + 30
        while self.holding() and time.monotonic() < deadline:
            time.sleep(0.005)


# --------------------------------------------------------------------------- PostgreSQL of our own

def postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def own_postgres_unavailable() -> str | None:
    """Why a throwaway cluster cannot be made here, or None."""
    if postgres_binaries() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed under /usr/lib/postgresql"
    if os.geteuid() != 0:
        return "starting a throwaway PostgreSQL cluster as the postgres user needs root (runuser)"
    if shutil.which("runuser") is None:
        return "runuser is not available"
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres OS user"
    return None


class OwnPostgres:
    """A PostgreSQL cluster in a temporary folder on a free port, run as the postgres user.

    Only this cluster is ever stopped: other tests' databases live on the shared server.
    """

    def __init__(self) -> None:
        self.bin = postgres_binaries()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="medborgarpanel-pg-", dir="/tmp"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self._as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, args: list[str]) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *args], cwd=self.folder,
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                           "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects every client and shuts down (what a restart does);
        ``immediate`` is a crash."""
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


# --------------------------------------------------------------------------- HTTP

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    if not match:
        raise AssertionError(f"no CSRF token on the page:\n{page[:2000]}")
    return match.group(1) or match.group(2)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Browser:
    """One resident's browser: a keep-alive connection and the session cookie."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.port, self.timeout = port, timeout
        self.connection: http.client.HTTPConnection | None = None
        self.cookie = ""

    def request(self, method: str, path: str, form: dict | list | None = None) -> Response:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            began = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: reconnect once, as browsers do.
                self.close()
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - began
            cookie = response.getheader("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()},
                            data.decode("utf-8", "replace"), seconds)
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict | list) -> Response:
        return self.request("POST", path, form)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# --------------------------------------------------------------------------- residents

ORDER = ("skola", "aldreomsorg", "kollektivtrafik", "trygghet", "miljo", "kultur")


def _scale(raw: str) -> int | str | None:
    if raw == "":
        return None
    return raw if raw == "dont_know" else int(raw)


@dataclass
class Plan:
    """What one resident types on each page of the example survey, and the stored answers it must give."""

    pages: dict[str, dict[str, Any]]
    expected: dict[str, Any]


def resident_plan(rng: random.Random, number: int) -> Plan:
    transport = rng.choice(["bil", "buss", "cykel", "till_fots"])
    trygghet = rng.choice(["1", "2", "3", "4", "5", "dont_know"])
    bibliotek = rng.choice(["yes", "no"])
    pages: dict[str, dict[str, Any]] = {
        "vardag": {"transport": transport, "trygghet_kvall": trygghet, "bibliotek": bibliotek}}
    expected: dict[str, Any] = {"transport": transport, "trygghet_kvall": _scale(trygghet), "bibliotek": bibliotek}
    if bibliotek == "yes":
        matrix = {item: rng.choice(["", "1", "2", "3", "4", "5", "dont_know"])
                  for item in ("oppettider", "utbud", "personal")}
        visits = rng.randint(1, 365)
        pages["biblioteken"] = {**{f"bibliotek_nojdhet-{k}": v for k, v in matrix.items() if v},
                                "bibliotek_besok": str(visits)}
        expected["bibliotek_nojdhet"] = {k: _scale(v) for k, v in matrix.items() if v} or None
        expected["bibliotek_besok"] = visits
    chosen = rng.sample(ORDER, rng.randint(1, 3))
    recommend = rng.choice([""] + [str(n) for n in range(11)])
    text = f"Svar nummer {number}: fler cykelbanor och längre öppettider på fritidsgården ({rng.random():.6f})"
    last = {"prioriteringar": chosen, "rekommendera": recommend, "synpunkter": text}
    expected.update({"prioriteringar": [v for v in ORDER if v in chosen], "rekommendera": _scale(recommend),
                     "synpunkter": text})
    if transport == "buss":
        last["buss_forbattring"] = f"Fler turer på kvällen, resident {number}"
        expected["buss_forbattring"] = last["buss_forbattring"]
    pages["prioriteringar"] = last
    return Plan(pages, expected)


@dataclass
class Outcome:
    """What one resident's browser saw."""

    completed: bool = False  # reached the thanks page after the last POST
    requests: list[tuple[str, int, float]] = field(default_factory=list)  # (kind, status, seconds)
    error: str | None = None


def _kind(method: str, path: str) -> str:
    if path.startswith("/s/answer/"):
        return f"{method} page"
    if path == "/s/answer":
        return "GET resume"
    if path == "/s/thanks":
        return "GET thanks"
    return f"{method} link"


def answer_survey(port: int, token: str, plan: Plan) -> Outcome:
    """Open the link, start, answer every page the survey shows, reach the thanks page."""
    outcome = Outcome()
    browser = Browser(port)

    def call(method: str, path: str, form=None, expect: tuple[int, ...] = (200,)) -> Response:
        response = browser.request(method, path, form)
        outcome.requests.append((_kind(method, path), response.status, response.seconds))
        if response.status not in expect:
            raise AssertionError(f"{method} {path}: {response.status} (expected {expect})")
        return response

    try:
        landing = call("GET", f"/s/{token}")
        started = call("POST", f"/s/{token}", {"csrf_token": csrf_of(landing.text), "language": "sv"}, (302,))
        path = call("GET", started.location, expect=(302,)).location
        for _ in range(len(plan.pages) + 1):
            if path == "/s/thanks":
                break
            key = path.rsplit("/", 1)[1]
            if key not in plan.pages:
                raise AssertionError(f"the survey showed page {key!r}, which this resident should not see")
            page = call("GET", path)
            saved = call("POST", path, {"csrf_token": csrf_of(page.text), "nav": "next", **plan.pages[key]}, (302,))
            path = saved.location
        if path != "/s/thanks":
            raise AssertionError(f"ended at {path}, not the thanks page")
        thanks = call("GET", "/s/thanks")
        outcome.completed = "Dina svar är sparade" in thanks.text
        if not outcome.completed:
            raise AssertionError("the thanks page does not thank")
    except (AssertionError, OSError) as error:
        outcome.error = f"{type(error).__name__}: {error}"
    finally:
        browser.close()
    return outcome


@dataclass
class LoadResult:
    outcomes: list[Outcome]
    seconds: float
    concurrency: int

    @property
    def requests(self) -> list[tuple[str, int, float]]:
        return [request for outcome in self.outcomes for request in outcome.requests]

    @property
    def completed(self) -> int:
        return sum(outcome.completed for outcome in self.outcomes)

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for _kind_, status, _seconds in self.requests:
            counts[status] = counts.get(status, 0) + 1
        return counts

    def latency_ms(self, kind: str | None = None) -> dict[str, float]:
        values = sorted(s for k, _status, s in self.requests if kind is None or k == kind)
        if len(values) < 2:
            return {"n": len(values), "p50": float("nan"), "p95": float("nan"), "p99": float("nan"),
                    "max": float("nan")}
        q = statistics.quantiles(values, n=100, method="inclusive")
        return {"n": len(values), "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000,
                "max": values[-1] * 1000}

    def summary(self) -> dict[str, Any]:
        kinds = sorted({k for k, _s, _t in self.requests})
        return {"residents": len(self.outcomes), "completed": self.completed, "concurrency": self.concurrency,
                "seconds": self.seconds, "requests": len(self.requests),
                "requests_per_second": len(self.requests) / self.seconds,
                "completions_per_second": self.completed / self.seconds, "statuses": self.statuses(),
                "latency_ms": {"all": self.latency_ms(), **{k: self.latency_ms(k) for k in kinds}},
                "errors": [o.error for o in self.outcomes if o.error][:10]}


def run_residents(port: int, work: list[tuple[str, Plan]], concurrency: int) -> LoadResult:
    """``concurrency`` threads, each taking the next resident and answering the whole survey."""
    outcomes: list[Outcome | None] = [None] * len(work)
    lock = threading.Lock()
    queue: Iterator[int] = iter(range(len(work)))

    def worker() -> None:
        while True:
            with lock:
                index = next(queue, None)
            if index is None:
                return
            token, plan = work[index]
            outcomes[index] = answer_survey(port, token, plan)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult([o if o is not None else Outcome(error="not run") for o in outcomes],
                      time.perf_counter() - began, concurrency)


# --------------------------------------------------------------------------- data

def build_survey(session, residents: int, *, districts: int = 4) -> tuple[int, list[str]]:
    """The example survey (open, anonymous) and ``residents`` members invited to it; the links' tokens."""
    import secrets

    from panel.db import utcnow
    from panel.models import District, Member
    from surveys.answering.services import token_digest
    from surveys.definition import definition_to_dict, load_definition
    from surveys.fielding.models import Invitation
    from surveys.models import Survey

    example = (ROOT / "surveys" / "examples" / "medborgarpanel_exempel.yaml").read_text(encoding="utf-8")
    from datetime import timedelta

    survey = Survey(title="Lasttest", definition=definition_to_dict(load_definition(example)), status="open",
                    anonymous=True, closes_at=utcnow() + timedelta(days=14))
    places = [District(code=f"09{n:02d}", name=f"Område {n}") for n in range(districts)]
    session.add_all([survey, *places])
    session.flush()
    members = [Member(email=f"last{n}@example.se", birth_year=1940 + n % 60, gender=("kvinna", "man")[n % 2],
                      district_id=places[n % districts].id, status="active", confirmed_at=utcnow())
               for n in range(residents)]
    session.add_all(members)
    session.flush()
    tokens = []
    for n, member in enumerate(members):
        token = secrets.token_urlsafe(32)
        session.add(Invitation(survey_id=survey.id, member_id=member.id, token_digest=token_digest(token),
                               language="sv", gender=member.gender, age_group="45-54",
                               district_code=places[n % districts].code, sent_at=utcnow()))
        tokens.append(token)
    session.flush()
    return survey.id, tokens
