"""Benchmark: public API registrations per second under a rush, against a bare Flask ceiling.

Starts everything itself and stops by itself (``make bench``, or
``.venv/bin/python bench/registration.py``):

1. resets the PostgreSQL database ``funrun_bench`` (schema ``public`` dropped and
   recreated), runs the migrations and ``flask seed-demo``, then lowers one event's quota
   (Batam, 300) so the rush overflows it into its waitlist, and raises the quotas of the
   other events under load so they stay open for the whole run;
2. serves funrun and ``bench/ceiling_app.py`` with the same gunicorn settings (sync
   workers, 2 x cores + 1, loopback only);
3. measures the cold rush first (``--cold-rush``, 10 s; 0 skips): registrations on the
   freshly migrated, empty registrations and people tables, analysed as such, through new
   workers whose connections make their prepared plans now, as at a registration opening;
   its p99 is reported apart and is not part of the rounds;
4. loads them in turn from wrk (32 connections), rounds interleaved: the bare ``/hello``
   ceiling, one ``SELECT 1``, and registrations of distinct valid people spread over six
   events (bench/registration.lua builds each body). ``--messages on`` (the default, as in
   production) serves funrun with ``FUNRUN_MESSAGES=on`` and gives every body an e-mail
   address, so each registration queues its message row in the same statement;
   ``--messages off`` serves it with messages off and no addresses, to compare;
5. checks the database afterwards (quota never exceeded, counters agree with the rows, bib
   numbers and waitlist order gap-free, every 201 stored) and exits 1 if anything fails;
6. writes the figures to ``bench/results/registration-<timestamp>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "registration.lua"
HOST = "127.0.0.1"  # load is only ever pointed at loopback

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench"
# Fixed, obviously fake keys: the bench database holds synthetic people only.
BENCH_SECRET_KEY = "funrun-bench-secret-key-not-secret"
BENCH_DATA_KEY = base64.urlsafe_b64encode(b"funrun-bench-data-key-not-secret").decode()
BENCH_SIGNING_KEY = base64.urlsafe_b64encode(b"funrun-bench-signing-key-not-sec").decode()

HOT_EVENT = "batam-2015"
OPEN_EVENTS = ("medan-2015", "makassar-2015", "surabaya-2015", "bandung-2015", "jakarta-2015")

GOAL_RATIO = 0.10
GOAL_P99_MS = 100.0
#: Issue 18: the rush with messages on (each registration queues its e-mail).
GOAL_RATIO_MESSAGES = 0.12
BUSY_WARNING = 0.10  # share of the CPU taken by other processes that makes a run suspect


# --- set-up ----------------------------------------------------------------------------


def find_wrk() -> str:
    """The wrk binary, or exit with how to install it."""
    found = shutil.which("wrk") or ("/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None)
    if found is None:
        print(
            "bench/registration.py needs wrk (the HTTP load generator).\n"
            "Install it with:  sudo apt-get install wrk",
            file=sys.stderr,
        )
        sys.exit(2)
    return found


def funrun_env(database_url: str, messages: str | None = None) -> dict[str, str]:
    """The environment funrun's CLI and server run with during the benchmark
    (``messages``: ``FUNRUN_MESSAGES``, else as the caller's environment says)."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(
        DATABASE_URL=database_url,
        FUNRUN_ENV="development",
        SECRET_KEY=BENCH_SECRET_KEY,
        FUNRUN_DATA_KEY=BENCH_DATA_KEY,
        FUNRUN_SIGNING_KEY=BENCH_SIGNING_KEY,
        FUNRUN_RATE_LIMITS="off",
        PYTHONDONTWRITEBYTECODE="1",
        # The funrun of the tree this script is in, even when run from a copy or worktree.
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    if messages is not None:
        env["FUNRUN_MESSAGES"] = messages
    return env


def ensure_database(database_url: str) -> None:
    """Create the bench database if it does not exist (never touches any other)."""
    url = make_url(database_url)
    name = url.database or ""
    if not name.startswith(("funrun_bench", "test")):
        sys.exit(f"refusing to wipe {name!r}: a bench database's name starts with funrun_bench")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            print(f"  created database {name}")
    admin.dispose()


def prepare_database(database_url: str, hot_quota: int, open_quota: int) -> None:
    """Empty schema, migrations, the demo tour, then the quotas this benchmark needs."""
    ensure_database(database_url)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    env = funrun_env(database_url)
    for args in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET quota = :quota WHERE slug = :slug"),
            {"quota": hot_quota, "slug": HOT_EVENT},
        )
        for slug in OPEN_EVENTS:
            conn.execute(
                text("UPDATE events SET quota = :quota, bib_last = :last WHERE slug = :slug"),
                # Bibs are capped at 99,999 (ck_events_bib_range).
                {"quota": open_quota, "last": 99_999, "slug": slug},
            )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- CPU accounting (Linux /proc) -------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0.0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLOCK_TICKS, idle / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    workers: float
    postgres: float
    busy: float
    idle: float

    @classmethod
    def take(cls, worker_pids: list[int]) -> CpuSnapshot:
        busy, idle = machine_cpu()
        return cls(
            workers=sum(process_cpu(pid) for pid in worker_pids),
            postgres=sum(process_cpu(pid) for pid in postgres_pids()),
            busy=busy,
            idle=idle,
        )


# --- servers ---------------------------------------------------------------------------


@dataclass
class Server:
    """One gunicorn (sync workers, loopback) started and stopped by this script."""

    name: str
    app: str
    chdir: Path
    env: dict[str, str]
    workers: int
    ready_path: str
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    #: More gunicorn options (e.g. ``--graceful-timeout``), put before the app.
    extra_args: list[str] = field(default_factory=list)

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "sync",
            "--workers",
            str(self.workers),
            "--bind",
            f"{HOST}:{self.port}",
            "--chdir",
            str(self.chdir),
            "--log-level",
            "warning",
            *self.extra_args,
            self.app,
        ]
        log = self.log_path.open("ab")
        # A session of its own: stop() signals its whole process group, by id.
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + 60
        url = f"http://{HOST}:{self.port}{self.ready_path}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: not answering {url} after 60 s; see {self.log_path}")

    def stop(self) -> None:
        """Graceful stop (in-flight requests finish), then kill if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]


@contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            server.stop()


# --- load ------------------------------------------------------------------------------


@dataclass
class Load:
    """What one wrk run measured, with the per-thread tallies from registration.lua."""

    variant: str
    seconds: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    sent: int
    ids: list[int]
    cpu: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def own_cpu_ms(self) -> float:
        """CPU ms per request spent by this benchmark's own processes (server, database, wrk)."""
        own = self.cpu["workers"] + self.cpu["postgres"] + self.cpu["wrk"]
        return own * 1000 / max(self.requests, 1)

    @property
    def others_share(self) -> float:
        """Fraction of the machine's CPU that went to other people's processes meanwhile."""
        total = sum(self.cpu.values())
        return self.cpu["other"] / total if total else 0.0

    @property
    def non_2xx(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.statuses.items()) if not k.startswith("2")}

    def figures(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "req_per_s": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "statuses": dict(sorted(self.statuses.items())),
            "non_2xx": self.non_2xx,
            "socket_errors": {k: v for k, v in self.socket_errors.items() if k != "status"},
            "sent": self.sent,
            "cpu_seconds": self.cpu,
            "cpu_ms_per_request": self.cpu_per_request(),
        }

    def cpu_per_request(self) -> dict[str, float]:
        """CPU milliseconds per answered request, by who spent them."""
        return {k: round(v * 1000 / max(self.requests, 1), 3) for k, v in self.cpu.items()}


@dataclass
class Variant:
    name: str
    server: Server
    path: str
    mode: str  # "register" or "get"


class Loader:
    """Runs wrk against one variant; numbers every run so generated people never repeat."""

    def __init__(
        self, wrk: str, threads: int, connections: int, events: list[str], email: bool = False
    ) -> None:
        self.wrk = wrk
        self.threads = threads
        self.connections = connections
        self.events = events
        #: Every registration body carries an e-mail address (registration.lua).
        self.email = email
        self.batch = 0

    def run(self, variant: Variant, seconds: int) -> Load:
        self.batch += 1
        if self.batch > 99:
            raise RuntimeError("more than 99 wrk runs: the NIK region code would repeat")
        env = dict(os.environ)
        env.update(
            BENCH_MODE=variant.mode,
            BENCH_BATCH=str(self.batch),
            BENCH_EVENTS=",".join(self.events),
            BENCH_EMAIL="1" if self.email else "0",
        )
        command = [
            self.wrk,
            "--threads",
            str(self.threads),
            "--connections",
            str(self.connections),
            "--duration",
            f"{seconds}s",
            "--timeout",
            "10s",
            "--script",
            str(LUA_SCRIPT),
            f"http://{HOST}:{variant.server.port}{variant.path}",
        ]
        raw, cpu = run_wrk(command, env, variant.server)
        statuses: Counter[str] = Counter()
        ids: list[int] = []
        sent = 0
        for thread in raw["threads"]:
            statuses.update(thread["statuses"])
            ids.extend(thread["ids"])
            sent += thread["sent"]
        latency = raw["latency_us"]
        return Load(
            variant=variant.name,
            seconds=raw["duration_us"] / 1e6,
            requests=raw["requests"],
            p50_ms=latency["p50"] / 1000,
            p90_ms=latency["p90"] / 1000,
            p99_ms=latency["p99"] / 1000,
            max_ms=latency["max"] / 1000,
            statuses=dict(statuses),
            socket_errors=raw["errors"],
            sent=sent,
            ids=ids,
            cpu={k: round(v, 3) for k, v in cpu.items()},
        )


def run_wrk(
    command: list[str], env: dict[str, str], server: Server
) -> tuple[dict[str, Any], dict[str, float]]:
    """Run wrk once: its ``@@BENCH`` JSON and the CPU seconds the run cost, by consumer."""
    workers = server.worker_pids()
    before = CpuSnapshot.take(workers)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    after = CpuSnapshot.take(workers)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children.ru_utime + children.ru_stime
    )
    ours = {
        "workers": after.workers - before.workers,
        "postgres": after.postgres - before.postgres,
        "wrk": wrk_cpu,
    }
    cpu = {
        **ours,
        "other": max(after.busy - before.busy - sum(ours.values()), 0.0),
        "idle": after.idle - before.idle,
    }
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("@@BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return json.loads(line.removeprefix("@@BENCH ")), cpu


# --- checks ----------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    #: False for facts about the run itself (did the rush reach the waitlist?), which
    #: are reported but do not fail the benchmark.
    invariant: bool = True


EVENT_COUNTS_SQL = """
SELECT e.slug, e.quota, e.confirmed_count, e.waitlist_seq,
       e.bib_first, e.bib_next,
       count(r.id) AS rows,
       count(r.id) FILTER (WHERE r.status = 'confirmed') AS confirmed,
       count(DISTINCT r.bib_number) FILTER (WHERE r.status = 'confirmed')
           AS bibs,
       min(r.bib_number) AS bib_min, max(r.bib_number) AS bib_max,
       count(r.id) FILTER (WHERE r.status = 'waitlisted') AS waitlisted,
       count(r.waitlist_seq) AS seqs,
       count(DISTINCT r.waitlist_seq) AS seqs_distinct,
       min(r.waitlist_seq) AS seq_min, max(r.waitlist_seq) AS seq_max
FROM events e LEFT JOIN registrations r ON r.event_id = e.id
GROUP BY e.id ORDER BY e.date
"""


def counter_checks(events: list[Any]) -> list[Check]:
    """Each event's counters against its rows (rows of :data:`EVENT_COUNTS_SQL`).

    Quota never exceeded, confirmed rows = counter = distinct bibs, bibs exactly
    bib_first..bib_next-1, waitlist numbers exactly 1..N, nobody waitlisted while places
    are free. Assumes nothing was cancelled (cancelled bibs are retired, leaving gaps).
    """
    checks: list[Check] = []

    def check(name: str, bad: list[str]) -> None:
        checks.append(Check(name, not bad, "; ".join(bad) if bad else "ok"))

    check(
        "confirmed_count <= quota",
        [
            f"{e.slug}: {e.confirmed_count} > {e.quota}"
            for e in events
            if e.confirmed_count > e.quota
        ],
    )
    check(
        "confirmed rows == confirmed_count",
        [
            f"{e.slug}: {e.confirmed} rows, counter {e.confirmed_count}"
            for e in events
            if e.confirmed != e.confirmed_count
        ],
    )
    check(
        "distinct bib numbers == confirmed_count",
        [
            f"{e.slug}: {e.bibs} bibs, counter {e.confirmed_count}"
            for e in events
            if e.bibs != e.confirmed_count
        ],
    )
    check(
        "bib numbers are bib_first..bib_next-1 (no gaps)",
        [
            f"{e.slug}: bibs {e.bib_min}..{e.bib_max}, expected {e.bib_first}..{e.bib_next - 1}"
            for e in events
            if e.confirmed
            and (
                e.bib_min != e.bib_first
                or e.bib_max != e.bib_next - 1
                or e.bibs != e.bib_next - e.bib_first
            )
        ],
    )
    check(
        "waitlist_seq is exactly 1..N per event",
        [
            f"{e.slug}: {e.seqs} seqs ({e.seqs_distinct} distinct) {e.seq_min}..{e.seq_max}, "
            f"counter {e.waitlist_seq}"
            for e in events
            if e.seqs != e.seqs_distinct
            or e.seqs != e.waitlist_seq
            or (e.seqs and (e.seq_min != 1 or e.seq_max != e.seqs))
        ],
    )
    check(
        "waitlisted only while full",
        [
            f"{e.slug}: {e.waitlisted} waitlisted with {e.confirmed_count}/{e.quota} confirmed"
            for e in events
            if e.waitlisted and e.confirmed_count < e.quota
        ],
    )

    return checks


MESSAGES_SQL = """
SELECT count(*) AS registrations,
       count(m.id) AS messages,
       count(*) FILTER (WHERE m.kind IS DISTINCT FROM
           CASE r.status WHEN 'confirmed' THEN 'confirmed' ELSE 'waitlisted' END) AS wrong_kind
FROM registrations r
LEFT JOIN messages m ON m.registration_id = r.id AND m.channel = 'email'
"""


def check_database(
    database_url: str, registration_runs: list[Load], messages: str = "off"
) -> tuple[list[Check], list]:
    """The invariants that must hold after the rush, and each event's final counts."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        events = conn.execute(text(EVENT_COUNTS_SQL)).all()
        stored_ids = set(conn.scalars(text("SELECT id FROM registrations")))
        people = conn.scalar(text("SELECT count(*) FROM people"))
        queued = conn.execute(text(MESSAGES_SQL)).one()
    engine.dispose()

    checks = counter_checks(events)

    def check(name: str, bad: list[str]) -> None:
        checks.append(Check(name, not bad, "; ".join(bad) if bad else "ok"))

    if messages == "on":
        check(
            "one queued e-mail per registration, of its kind (messages on)",
            []
            if queued.messages == queued.registrations and not queued.wrong_kind
            else [
                f"{queued.messages} messages for {queued.registrations} registrations, "
                f"{queued.wrong_kind} missing or of the wrong kind"
            ],
        )
    else:
        check(
            "no message queued (messages off)",
            [] if not queued.messages else [f"{queued.messages} messages queued"],
        )

    answered_ids = [i for run in registration_runs for i in run.ids]
    created = sum(run.statuses.get("201", 0) for run in registration_runs)
    answered = sum(sum(run.statuses.values()) for run in registration_runs)
    in_flight = sum(run.sent for run in registration_runs) - answered
    missing = set(answered_ids) - stored_ids
    unanswered = stored_ids - set(answered_ids)
    check(
        "every 201 is stored, once (no lost or doubled registrations)",
        ([f"{len(missing)} ids answered 201 but not stored"] if missing else [])
        + (
            [f"{len(answered_ids) - len(set(answered_ids))} ids answered twice"]
            if len(answered_ids) != len(set(answered_ids))
            else []
        )
        + (
            [f"{created} 201s but {len(answered_ids)} ids parsed"]
            if created != len(answered_ids)
            else []
        ),
    )
    check(
        "rows == 201 responses (+ requests still in flight when wrk stopped)",
        []
        if 0 <= len(stored_ids) - created <= max(in_flight, 0)
        else [f"{len(stored_ids)} rows, {created} 201s, at most {in_flight} in flight"],
    )
    check(
        "one person per registration (the generator never repeats a NIK)",
        [] if people == len(stored_ids) else [f"{people} people, {len(stored_ids)} rows"],
    )
    hot = next(e for e in events if e.slug == HOT_EVENT)
    overflowed = hot.confirmed_count == hot.quota and hot.waitlisted > 0
    checks.append(
        Check(
            f"{HOT_EVENT} filled and spilled into its waitlist",
            overflowed,
            f"{hot.confirmed_count}/{hot.quota} confirmed, {hot.waitlisted} waitlisted"
            + ("" if overflowed else " (the waitlist path went untested: lower --hot-quota)"),
            invariant=False,
        )
    )
    checks.append(
        Check(
            "accounting",
            True,
            f"{len(stored_ids)} rows, {created} answered 201, {len(unanswered)} stored "
            f"without an answer ({in_flight} requests were in flight when wrk stopped)",
            invariant=False,
        )
    )
    per_event = [
        {
            "slug": e.slug,
            "quota": e.quota,
            "confirmed": e.confirmed,
            "waitlisted": e.waitlisted,
            "waitlist_seq": e.waitlist_seq,
        }
        for e in events
        if e.rows
    ]
    return checks, per_event


def fit_hot_quota(args: argparse.Namespace, warm_rps: float, n_events: int) -> int:
    """Lower the hot event's quota if the rush at this speed would not fill it by half-time.

    On a slow or busy machine a fixed quota might never fill, leaving the waitlist path
    untested; the quota is set between runs, while no request is being served.
    """
    expected = warm_rps * args.rounds * args.duration / n_events
    engine = create_engine(args.database_url)
    with engine.begin() as conn:
        taken = conn.scalar(
            text("SELECT confirmed_count FROM events WHERE slug = :slug"), {"slug": HOT_EVENT}
        )
        quota = args.hot_quota
        if expected < 2 * quota:
            quota = max(taken, 1, int(expected / 2))
            conn.execute(
                text("UPDATE events SET quota = :quota WHERE slug = :slug"),
                {"quota": quota, "slug": HOT_EVENT},
            )
            print(
                f"  ({HOT_EVENT} quota lowered to {quota}: about {expected:.0f} registrations "
                "are expected there at the warm-up speed)"
            )
    engine.dispose()
    return quota


# --- report ----------------------------------------------------------------------------


def median_of(runs: list[Load], attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in runs)


def summarise(loads: dict[str, list[Load]], ceiling: str) -> dict[str, dict[str, Any]]:
    """Medians per variant, with the ratio to the ceiling (of medians, and per round)."""
    ceiling_rps = median_of(loads[ceiling], "rps")
    ceiling_cpu = median_of(loads[ceiling], "own_cpu_ms")
    out = {}
    for name, runs in loads.items():
        non_2xx: Counter[str] = Counter()
        for run in runs:
            non_2xx.update(run.non_2xx)
        out[name] = {
            "req_per_s": round(median_of(runs, "rps"), 1),
            "p50_ms": round(median_of(runs, "p50_ms"), 2),
            "p99_ms": round(median_of(runs, "p99_ms"), 2),
            "ratio_to_ceiling": round(median_of(runs, "rps") / ceiling_rps, 3),
            "ratio_per_round": [
                round(run.rps / base.rps, 3) for run, base in zip(runs, loads[ceiling], strict=True)
            ],
            "requests": sum(run.requests for run in runs),
            "non_2xx": dict(non_2xx),
            "socket_errors": sum(
                v for run in runs for k, v in run.socket_errors.items() if k != "status"
            ),
            "cpu_ms_per_request": {
                k: round(statistics.median(run.cpu_per_request()[k] for run in runs), 3)
                for k in runs[0].cpu
            },
            # The ratio an otherwise idle machine would show if both are CPU-bound: the
            # ceiling's own CPU per request over this variant's. Robust to other jobs.
            "cpu_ratio_to_ceiling": round(ceiling_cpu / median_of(runs, "own_cpu_ms"), 3),
            "others_cpu_share": round(median_of(runs, "others_share"), 3),
        }
    return out


def machine() -> dict[str, Any]:
    def output(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return ""

    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wrk": output("wrk", "--version"),
        "gunicorn": output(sys.executable, "-m", "gunicorn", "--version"),
        "loadavg_start": os.getloadavg(),
        "git_commit": output("git", "rev-parse", "--short", "HEAD"),
        "git_dirty": bool(output("git", "status", "--porcelain", "--", "funrun")),
    }


def print_table(summary: dict[str, dict[str, Any]], rounds: dict[str, list[Load]]) -> None:
    print()
    print(
        f"{'variant':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}{'cpu-ratio':>11}"
        "  non-2xx"
    )
    for name, s in summary.items():
        non = ", ".join(f"{k}: {v}" for k, v in s["non_2xx"].items()) or "0"
        if s["socket_errors"]:
            non += f" (+{s['socket_errors']} socket errors)"
        print(
            f"{name:<16}{s['req_per_s']:>9,.0f}{s['p50_ms']:>9.1f}{s['p99_ms']:>9.1f}"
            f"{s['ratio_to_ceiling']:>8.3f}{s['cpu_ratio_to_ceiling']:>11.3f}  {non}"
        )
    busy = max(s["others_cpu_share"] for s in summary.values())
    if busy > BUSY_WARNING:
        print(
            f"WARNING: other processes took up to {busy:.0%} of the CPU during these runs; "
            "req/s and latency are unreliable, 'cpu-ratio' less so. Run again when quieter."
        )
    print("CPU ms per request (medians; 'other' = rest of the machine, 'idle' = unused):")
    for name, s in summary.items():
        cpu = s["cpu_ms_per_request"]
        print(f"  {name:<16}" + "  ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print("per round (req/s):")
    for name, runs in rounds.items():
        print(f"  {name:<16}" + "".join(f"{run.rps:>9,.0f}" for run in runs))


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per variant and round")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per variant, not counted")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2 * cores + 1)
    parser.add_argument("--hot-quota", type=int, default=300, help=f"quota of {HOT_EVENT}")
    parser.add_argument(
        "--open-quota", type=int, default=50_000, help="quota of the other loaded events"
    )
    parser.add_argument(
        "--no-select1", action="store_true", help="skip the SELECT 1 reference endpoint"
    )
    parser.add_argument(
        "--messages",
        choices=("on", "off"),
        default="on",
        help="on (as production): FUNRUN_MESSAGES=on and every body has an e-mail address, "
        "so each registration queues a message; off: messages off, no addresses",
    )
    parser.add_argument(
        "--cold-rush",
        type=int,
        default=10,
        help="seconds of registrations measured first, on the freshly migrated tables and "
        "new workers, before any warm-up (a registration opening starts cold); 0 skips",
    )
    args = parser.parse_args(argv)
    if "@" in args.database_url and not args.database_url.split("@", 1)[1].startswith(
        ("127.0.0.1", "localhost", "[::1]")
    ):
        parser.error("the bench database must be on this machine (127.0.0.1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = find_wrk()
    # SIGTERM unwinds like Ctrl-C, so the servers are always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    info = machine()

    print(
        f"preparing {args.database_url} (schema reset, migrations, seed-demo); "
        f"messages {args.messages} ..."
    )
    prepare_database(args.database_url, args.hot_quota, args.open_quota)

    funrun = Server(
        "funrun",
        "wsgi:app",
        ROOT,
        funrun_env(args.database_url, args.messages),
        args.workers,
        "/api/v1/events",
        RESULTS_DIR / f"registration-{stamp}-funrun.log",
    )
    ceiling_env = dict(os.environ, BENCH_DATABASE_URL=args.database_url)
    ceiling = Server(
        "ceiling",
        "ceiling_app:app",
        BENCH_DIR,
        ceiling_env,
        args.workers,
        "/hello",
        RESULTS_DIR / f"registration-{stamp}-ceiling.log",
    )
    variants = [Variant("hello (ceiling)", ceiling, "/hello", "get")]
    if not args.no_select1:
        variants.append(Variant("SELECT 1", ceiling, "/select1", "get"))
    variants.append(Variant("registration", funrun, "/api/v1/events/-/registrations", "register"))
    events = [HOT_EVENT, *OPEN_EVENTS]
    loader = Loader(wrk, args.threads, args.connections, events, email=args.messages == "on")
    loads: dict[str, list[Load]] = {v.name: [] for v in variants}
    registration_runs: list[Load] = []
    hot_quota = args.hot_quota

    with running([funrun, ceiling]):
        print(
            f"gunicorn: {args.workers} sync workers each, funrun on :{funrun.port}, "
            f"ceiling on :{ceiling.port}; wrk {args.threads} threads, "
            f"{args.connections} connections"
        )
        cold = None
        if args.cold_rush > 0:
            # The first seconds of an opening: empty registrations and people tables
            # (analysed as such), connections and prepared plans made now.
            cold = loader.run(variants[-1], args.cold_rush)
            registration_runs.append(cold)
            print(
                f"  cold rush ({args.cold_rush} s on fresh tables) {cold.rps:>8,.0f} req/s  "
                f"p50 {cold.p50_ms:.1f} ms  p99 {cold.p99_ms:.1f} ms  non-2xx {cold.non_2xx or 0}"
            )
        for variant in variants:
            warm = loader.run(variant, args.warmup)
            if variant.mode == "register":
                registration_runs.append(warm)
                hot_quota = fit_hot_quota(args, warm.rps, len(events))
        for round_no in range(args.rounds):
            # Rotate the order each round, so no variant always runs first or last.
            shift = round_no % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                load = loader.run(variant, args.duration)
                loads[variant.name].append(load)
                if variant.mode == "register":
                    registration_runs.append(load)
                print(
                    f"  round {round_no + 1} {variant.name:<16} {load.rps:>8,.0f} req/s  "
                    f"p50 {load.p50_ms:.1f} ms  p99 {load.p99_ms:.1f} ms  "
                    f"non-2xx {load.non_2xx or 0}"
                )
    # Servers stopped gracefully: every request they accepted has finished.

    checks, per_event = check_database(args.database_url, registration_runs, args.messages)
    summary = summarise(loads, variants[0].name)
    reg = summary["registration"]
    goal_met = reg["ratio_to_ceiling"] >= GOAL_RATIO and reg["p99_ms"] < GOAL_P99_MS
    info["loadavg_end"] = os.getloadavg()

    result = {
        "benchmark": "registration",
        "timestamp": stamp,
        "machine": info,
        "settings": {
            "gunicorn": f"sync, {args.workers} workers, {HOST}",
            "wrk": {"threads": args.threads, "connections": args.connections},
            "rounds": args.rounds,
            "seconds_per_run": args.duration,
            "warmup_seconds": args.warmup,
            "events": events,
            "quotas": {HOT_EVENT: hot_quota, "others": args.open_quota},
            "messages": args.messages,
        },
        "summary": summary,
        "cold_rush": None if cold is None else {"seconds": args.cold_rush, **cold.figures()},
        "goal": {
            "ratio_at_least": GOAL_RATIO,
            "p99_ms_below": GOAL_P99_MS,
            "met": goal_met,
        },
        "checks": [c.__dict__ for c in checks],
        "events": per_event,
        "runs": {name: [run.figures() for run in runs] for name, runs in loads.items()},
    }
    out = RESULTS_DIR / f"registration-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")

    print_table(summary, loads)
    print(
        "events:",
        ", ".join(
            f"{e['slug']} {e['confirmed']}/{e['quota']} +{e['waitlisted']} waitlisted"
            for e in per_event
        ),
    )
    print("checks:")
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.invariant else "warn")
        print(f"  {mark} {c.name}: {c.detail}")
    print(
        f"goal (ratio >= {GOAL_RATIO}, p99 < {GOAL_P99_MS:.0f} ms): "
        f"{'met' if goal_met else 'MISSED'}  "
        f"(ratio {reg['ratio_to_ceiling']:.3f}, cpu-ratio {reg['cpu_ratio_to_ceiling']:.3f}, "
        f"p99 {reg['p99_ms']:.1f} ms)"
    )
    if args.messages == "on":
        met = reg["ratio_to_ceiling"] >= GOAL_RATIO_MESSAGES
        print(
            f"issue 18 goal, messages on (ratio >= {GOAL_RATIO_MESSAGES}): "
            f"{'met' if met else 'MISSED'} (ratio {reg['ratio_to_ceiling']:.3f})"
        )
    if cold is not None:
        print(
            f"cold rush, first {args.cold_rush} s on freshly migrated tables: "
            f"{cold.rps:,.0f} req/s, p50 {cold.p50_ms:.1f} ms, p99 {cold.p99_ms:.1f} ms, "
            f"non-2xx {cold.non_2xx or 0}"
        )
    print(f"figures written to {out.relative_to(ROOT)}")
    return 0 if all(c.ok for c in checks if c.invariant) else 1


if __name__ == "__main__":
    sys.exit(main())
