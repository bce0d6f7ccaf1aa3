"""Crash safety: SIGKILL gunicorn workers in the middle of a registration rush and a scan burst.

Starts everything itself and stops by itself (``.venv/bin/python bench/crash.py``); the
same scenario, smaller and bounded by counts instead of seconds, is the test
tests/fault/test_crash_safety.py, which imports it from here.

1. resets the PostgreSQL database (schema ``public`` dropped and recreated), migrates it,
   and seeds (in a subprocess with the server's environment: fixed fake keys,
   ``FUNRUN_RATE_LIMITS=off``) a tour of three events: ``crash-hot`` with a small quota so
   the rush spills into its waitlist, ``crash-open`` with room for everyone, and
   ``crash-scan`` with confirmed runners (bulk ``seed_runners``), plus a volunteer
   assigned to it and an API token;
2. serves funrun from gunicorn (sync workers, loopback, small ``--graceful-timeout``);
3. the registration rush: client threads, each with its own HTTP connection, register
   distinct people over both events; meanwhile a worker that is serving a request (found
   through /proc, read while the workers are stopped: a child of the master holding the
   connection of a client still waiting for its answer) is SIGKILLed every N
   acknowledged answers or every T seconds, and every few kills all the workers at once;
   the master starts new ones. A client whose connection dies retries the same body, as
   a real client would: the answer is then a 201 or the 409 of a duplicate;
4. the scan burst: the same with check-ins of signed bib QR codes over three stations
   (each pair scanned once, some scanned again later with a new ``client_ref``), retries
   with the same ``client_ref``;
5. stops gunicorn, waits for the database to go idle and checks in SQL that every answer
   a client saw acknowledged is stored as acknowledged, that nothing is half-written and
   that quota, counters, bibs, waitlist and check-in uniqueness hold (:func:`check_all`);
6. writes ``bench/results/crash-<timestamp>.json``, prints a table and exits 1 if an
   invariant failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration import (
    BENCH_SIGNING_KEY,
    EVENT_COUNTS_SQL,
    HOST,
    ROOT,
    Check,
    Server,
    counter_checks,
    ensure_database,
    funrun_env,
    machine,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench_crash"

HOT_EVENT = "crash-hot"
OPEN_EVENT = "crash-open"
SCAN_EVENT = "crash-scan"
STATIONS = ("pickup", "start", "finish")
VOLUNTEER = "volunteer.crash@funrun.test"
RACE_DAY = date(2027, 3, 7)

#: A client gives up on one request after this many attempts (each a new connection).
MAX_ATTEMPTS = 8
#: Seconds a client waits for an answer before treating the connection as dead.
REQUEST_TIMEOUT = 30.0
#: What a client sees when the worker serving it dies: a reset, an early EOF, a timeout.
CONNECTION_ERRORS = (OSError, http.client.HTTPException)
#: Share of scans that re-scan a pair this client already saw checked in (new client_ref).
REPEAT_SHARE = 0.2
#: Share of pairs handed out twice in a row: two devices scanning one bib at once.
TWIN_SHARE = 0.1


# --- set-up ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What the seed made: the scan event, its runners' bibs, the volunteer's token."""

    scan_event_id: int
    prefix: str
    bibs: list[int]
    token: str


def prepare_database(database_url: str, hot_quota: int, runners: int) -> Seeded:
    """Empty schema, migrations, then the tour, runners and token (subprocesses)."""
    ensure_database(database_url)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    env = funrun_env(database_url)
    run_quietly([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env)
    spec = json.dumps({"hot_quota": hot_quota, "runners": runners})
    out = run_quietly([sys.executable, str(Path(__file__).resolve()), "--internal-seed", spec], env)
    return Seeded(**json.loads(out.strip().splitlines()[-1]))


def run_quietly(command: list[str], env: dict[str, str]) -> str:
    """Run a set-up command; its output, shown only if it fails."""
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[1:4]} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def internal_seed(spec: dict[str, int]) -> None:
    """Run inside the app's environment: the three events, the runners, volunteer, token."""
    from funrun import create_app
    from funrun.accounts.services import create_api_token, create_user
    from funrun.demo.services import seed_runners
    from funrun.events.models import Event, Tour
    from funrun.extensions import db

    runners = spec["runners"]
    app = create_app()
    with app.app_context():
        tour = Tour(slug="crash-tour", name="Crash tour", organiser="Bench")
        db.session.add(tour)
        db.session.flush()

        def event(slug: str, prefix: str, quota: int) -> Event:
            made = Event(
                tour_id=tour.id,
                slug=slug,
                city=slug.title(),
                name=f"Fun Run {slug}",
                date=RACE_DAY,
                start_time=datetime(2000, 1, 1, 6).time(),
                venue="Lapangan",
                quota=quota,
                bib_prefix=prefix,
                bib_first=1,
                bib_next=1,
                bib_last=99_999,
            )
            db.session.add(made)
            return made

        scan = event(SCAN_EVENT, "SCN", runners)
        db.session.commit()
        # Only the scan event exists yet, so seed_runners (weighted by quota) puts every
        # runner there, all confirmed.
        seed_runners(runners)
        event(HOT_EVENT, "HOT", spec["hot_quota"])
        event(OPEN_EVENT, "OPN", 90_000)
        db.session.commit()
        user = create_user(VOLUNTEER, "volunteer", event_slugs=[SCAN_EVENT])
        token = create_api_token(user)
        bibs = list(
            db.session.scalars(
                text(
                    "SELECT bib_number FROM registrations WHERE event_id = :e"
                    " AND status = 'confirmed' ORDER BY bib_number"
                ),
                {"e": scan.id},
            )
        )
        seeded = Seeded(scan.id, scan.bib_prefix, bibs, token)
    print(json.dumps(asdict(seeded)))


def start_server(database_url: str, workers: int, log_path: Path) -> Server:
    """gunicorn on a free loopback port: sync workers, a short graceful stop."""
    server = Server(
        "funrun",
        "wsgi:app",
        ROOT,
        funrun_env(database_url),
        workers,
        "/api/v1/events",
        log_path,
        extra_args=["--graceful-timeout", "5", "--timeout", "30"],
    )
    try:
        server.start()
    except BaseException:
        server.stop()  # a master that never answered is still running: stop it too
        raise
    return server


# --- workers, seen through /proc --------------------------------------------------------


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (gunicorn's workers, for its master)."""
    try:
        # One file (Linux 3.5+); gunicorn forks from its main thread.
        listed = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        listed = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    found = []
    for child in listed:
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces or parentheses: the fields follow the last ')'.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(child)
    return found


def accepted(port: int) -> dict[str, int]:
    """Established TCP connections to local ``port``: socket inode -> the client's port."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "01":
                found[cols[9]] = int(cols[2].rsplit(":", 1)[1], 16)
    return found


def client_ports(pid: int, connections: dict[str, int]) -> set[int]:
    """The client ports of the ``connections`` process ``pid`` holds (a worker's)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    ports = set()
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in connections:
            ports.add(connections[target[8:-1]])
    return ports


def _signal_all(pids: list[int], signum: int) -> list[int]:
    """Send ``signum`` to each of ``pids``; those still alive to receive it."""
    reached = []
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
        reached.append(pid)
    return reached


# --- clients ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients of one phase saw (updated under the phase's lock)."""

    attempts: int = 0  # HTTP requests sent
    answers: int = 0  # HTTP answers received
    acks: int = 0  # answers that acknowledge the request's work (201/200 as expected)
    connection_errors: int = 0
    retried: int = 0  # requests that needed more than one attempt
    gave_up: int = 0
    statuses: Counter = field(default_factory=Counter)


class Client:
    """One client's own HTTP connection, re-opened after the server closed or lost it."""

    def __init__(self, port: int, awaiting: set[int], token: str | None = None) -> None:
        self.port = port
        #: Local ports of the clients waiting for an answer (shared by a phase's clients).
        self.awaiting = awaiting
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST JSON; the status and the JSON answer. Connection errors propagate."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
        waiting = None
        try:
            self.conn.request("POST", path, json.dumps(body), self.headers)
            waiting = self.conn.sock.getsockname()[1]
            self.awaiting.add(waiting)
            response = self.conn.getresponse()
            raw = response.read()
        except BaseException:
            self.close()
            raise
        finally:
            self.awaiting.discard(waiting)  # type: ignore[arg-type]
        if response.will_close:
            self.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"unparsed": raw[:200].decode("latin-1")}
        return response.status, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Phase:
    """Client threads working through a phase, and a killer thread shooting workers."""

    def __init__(
        self,
        name: str,
        server: Server,
        clients: int,
        *,
        kill_every_acks: int | None = None,
        kill_every_seconds: float | None = None,
        max_kills: int | None = None,
        kill_all_every: int | None = None,
        seconds: float | None = None,
        deadline: float = 120.0,
    ) -> None:
        self.name = name
        self.server = server
        self.clients = clients
        self.kill_every_acks = kill_every_acks
        self.kill_every_seconds = kill_every_seconds
        self.max_kills = max_kills
        self.kill_all_every = kill_all_every
        self.seconds = seconds  # None: until the work runs out
        self.deadline = deadline
        self.lock = threading.Lock()
        self.tally = Tally()
        self.kills: list[dict[str, Any]] = []
        self.kills_planned = 0
        self.awaiting: set[int] = set()
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.elapsed = 0.0
        self.timed_out = False
        self.errors: list[str] = []

    # -- what a client does, written by the subclass --

    def work(self, index: int, client: Client) -> None:
        raise NotImplementedError

    # -- shared bookkeeping --

    def send(
        self, client: Client, path: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], int] | None:
        """POST until an answer arrives (retrying like a real client); None if it gave up.

        Returns the status, the answer and the number of attempts it took.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with self.lock:
                self.tally.attempts += 1
            try:
                status, data = client.post(path, body)
            except CONNECTION_ERRORS:
                with self.lock:
                    self.tally.connection_errors += 1
                time.sleep(0.02 * attempt)
                continue
            with self.lock:
                self.tally.answers += 1
                self.tally.statuses[str(status)] += 1
                if attempt > 1:
                    self.tally.retried += 1
            return status, data, attempt
        with self.lock:
            self.tally.gave_up += 1
        return None

    def acked(self) -> None:
        """Count an acknowledged answer; every ``kill_every_acks`` of them, kill a worker.

        The kill is made by the client that counted, before it sends anything else, so
        the count of kills does not depend on how fast the machine is.
        """
        with self.lock:
            self.tally.acks += 1
            acks = self.tally.acks
            due = (
                self.kill_every_acks is not None
                and acks % self.kill_every_acks == 0
                and (self.max_kills is None or self.kills_planned < self.max_kills)
            )
            if due:
                self.kills_planned += 1
                ordinal = self.kills_planned
        if due:
            self.kill(ordinal, acks, time.monotonic() - self.started)

    def run(self) -> None:
        """Run the clients and the killer until the work is done (or the time is up)."""
        started = self.started = time.monotonic()
        threads = [
            threading.Thread(target=self._client, args=(i,), name=f"{self.name}-{i}")
            for i in range(self.clients)
        ]
        killer = threading.Thread(target=self._killer, name=f"{self.name}-killer")
        for thread in threads:
            thread.start()
        killer.start()
        for thread in threads:
            thread.join(max(self.deadline - (time.monotonic() - started), 0.1))
        if any(thread.is_alive() for thread in threads):
            self.timed_out = True
        self.stop.set()
        for thread in threads:
            thread.join()
        killer.join()
        self.elapsed = time.monotonic() - started

    def over(self, started: float) -> bool:
        """Whether a client should stop taking new work."""
        if self.stop.is_set():
            return True
        return self.seconds is not None and time.monotonic() - started >= self.seconds

    def _client(self, index: int) -> None:
        client = Client(self.server.port, self.awaiting, getattr(self, "token", None))
        try:
            self.work(index, client)
        except Exception as error:  # a bug in the scenario must show, not hang the phase
            with self.lock:
                self.errors.append(f"client {index}: {error!r}")
        finally:
            client.close()

    def _killer(self) -> None:
        """SIGKILL a worker every ``kill_every_seconds`` while the clients run."""
        if self.kill_every_seconds is None:
            return
        next_time = self.kill_every_seconds
        while not self.stop.wait(max(next_time - (time.monotonic() - self.started), 0)):
            with self.lock:
                if self.max_kills is not None and self.kills_planned >= self.max_kills:
                    return
                self.kills_planned += 1
                ordinal, acks = self.kills_planned, self.tally.acks
            self.kill(ordinal, acks, time.monotonic() - self.started)
            next_time += self.kill_every_seconds

    def kill(self, ordinal: int, acks: int, at: float) -> None:
        """Kill a worker serving a request (after a second of looking, any worker).

        The workers are stopped (SIGSTOP) before their connections are read, so the one
        found holding a waiting client's connection is still holding it when it dies: a
        scan is answered in about a millisecond, less than reading /proc takes, and a
        worker looked at while running has often answered before the kill lands. Those
        not killed are let go on (SIGCONT).

        Every ``kill_all_every``-th kill takes every worker at once: the master then has
        none left to serve while it starts new ones.
        """
        master = self.server.process.pid if self.server.process else None
        if master is None:
            return
        everyone = bool(self.kill_all_every) and ordinal % self.kill_all_every == 0
        look_until = time.monotonic() + 1.0
        busy: list[int] = []
        while True:
            workers = _signal_all(children(master), signal.SIGSTOP)
            waiting = set(self.awaiting)
            if waiting:
                connections = {
                    inode: port
                    for inode, port in accepted(self.server.port).items()
                    if port in waiting
                }
                busy = [pid for pid in workers if client_ports(pid, connections) & self.awaiting]
            if busy or time.monotonic() >= look_until or self.stop.is_set():
                break
            _signal_all(workers, signal.SIGCONT)
            time.sleep(0.001)
        one = [random.choice(busy or workers)] if workers else []
        victims = workers if everyone else one
        killed = _signal_all(victims, signal.SIGKILL)
        _signal_all([pid for pid in workers if pid not in killed], signal.SIGCONT)
        if not killed:
            return
        with self.lock:
            self.kills.append(
                {
                    "ordinal": ordinal,  # kills may overlap: the list is in finishing order
                    "pids": killed,
                    "serving": sum(1 for pid in killed if pid in busy),
                    "all_workers": everyone,
                    "after_acks": acks,
                    "at_s": round(at, 3),
                }
            )

    def figures(self) -> dict[str, Any]:
        t = self.tally
        return {
            "phase": self.name,
            "seconds": round(self.elapsed, 2),
            "clients": self.clients,
            "requests_sent": t.attempts,
            "answers": t.answers,
            "acknowledged": t.acks,
            "connection_errors": t.connection_errors,
            "retried_requests": t.retried,
            "gave_up": t.gave_up,
            "statuses": dict(sorted(t.statuses.items())),
            "kills": len(self.kills),
            "workers_killed": sum(len(k["pids"]) for k in self.kills),
            "killed_while_serving": sum(k["serving"] for k in self.kills),
            "kill_log": sorted(self.kills, key=lambda k: k["ordinal"]),
            "timed_out": self.timed_out,
            "client_errors": self.errors,
        }


# --- the registration rush -------------------------------------------------------------


def person(n: int) -> dict[str, Any]:
    """The registration body of synthetic person ``n`` (a distinct NIK and email per n)."""
    born = date(1970, 1, 2) + timedelta(days=n % 9000)
    female = n % 2 == 1
    day = born.day + (40 if female else 0)
    # Region 317499: seed_runners' synthetic NIKs use other regions.
    nik = f"317499{day:02d}{born.month:02d}{born.year % 100:02d}{1 + n // 9000:04d}"
    return {
        "full_name": ("Siti Rahmawati" if female else "Budi Santoso"),
        "nik": nik,
        "birth_date": born.isoformat(),
        "gender": "F" if female else "M",
        "phone": f"0812{n:08d}",
        "email": f"crash{n}@example.com",
        "shirt_size": "M",
        "member": False,
        "consent": True,
    }


class Rush(Phase):
    """Registrations of distinct people over the hot and the open event."""

    def __init__(self, server: Server, clients: int, people: int | None, **kw: Any) -> None:
        super().__init__("registration rush", server, clients, **kw)
        self.people = people  # None: as many as the time allows
        self.next_person = 0
        #: email -> what the client was told: ("created", answer) / ("duplicate", answer)
        #: after a retry / ("gave_up", None) / ("unexpected", status and answer)
        self.outcomes: dict[str, tuple[str, Any]] = {}
        self.slugs: dict[str, str] = {}

    def work(self, index: int, client: Client) -> None:
        started = time.monotonic()
        while not self.over(started):
            with self.lock:
                n = self.next_person
                if self.people is not None and n >= self.people:
                    return
                self.next_person += 1
            body = person(n)
            slug = HOT_EVENT if n % 2 == 0 else OPEN_EVENT
            self.slugs[body["email"]] = slug
            sent = self.send(client, f"/api/v1/events/{slug}/registrations", body)
            if sent is None:
                self.outcomes[body["email"]] = ("gave_up", None)
                continue
            status, data, attempts = sent
            if status == 201:
                self.outcomes[body["email"]] = ("created", data["registration"])
                self.acked()
            elif status == 409 and data.get("type", "").endswith("duplicate-registration"):
                # Only a retry may meet itself: its first attempt was stored unanswered.
                kind = "duplicate" if attempts > 1 else "unexpected"
                self.outcomes[body["email"]] = (kind, {"status": status, "answer": data})
                if attempts > 1:
                    self.acked()
            else:
                self.outcomes[body["email"]] = ("unexpected", {"status": status, "answer": data})

    def figures(self) -> dict[str, Any]:
        kinds = Counter(kind for kind, _ in self.outcomes.values())
        return {**super().figures(), "people": len(self.outcomes), "outcomes": dict(kinds)}


# --- the scan burst --------------------------------------------------------------------


@dataclass
class ScanAck:
    """A check-in answer a client saw: what it scanned and what it was told."""

    client_ref: str
    bib: int
    station: str
    kind: str  # "first", "twin" (two devices at once: either may win) or "repeat"
    status: int
    result: str
    checkin_id: int | None
    replayed: bool
    attempts: int


class Burst(Phase):
    """Scans of signed bibs at three stations; some pairs by two devices at once, some
    scanned again later."""

    def __init__(
        self, server: Server, clients: int, seeded: Seeded, scans: int | None, **kw: Any
    ) -> None:
        super().__init__("scan burst", server, clients, **kw)
        from funrun.bibs.signing import signer_from_config

        self.token = seeded.token
        self.path = f"/api/v1/events/{SCAN_EVENT}/checkins"
        signer = signer_from_config({"FUNRUN_SIGNING_KEY": BENCH_SIGNING_KEY})
        self.codes = {bib: signer.sign(seeded.scan_event_id, bib) for bib in seeded.bibs}
        rng = random.Random(2015)
        pairs = [(bib, station) for bib in seeded.bibs for station in STATIONS]
        rng.shuffle(pairs)
        #: Handed out from the end; a twinned pair twice in a row, to two clients.
        self.pairs: list[tuple[int, str]] = []
        self.twinned: set[tuple[int, str]] = set()
        for pair in pairs:
            self.pairs.append(pair)
            if rng.random() < TWIN_SHARE:
                self.pairs.append(pair)
                self.twinned.add(pair)
        self.scans = scans  # None: as many as the time (and the pairs) allow
        self.taken = 0  # scans handed out
        self.acks_seen: list[ScanAck] = []
        self.sent_refs: set[str] = set()
        self.first_sent: set[tuple[int, str]] = set()
        self.unexpected: list[dict[str, Any]] = []
        self.gave_up_refs: list[str] = []

    def work(self, index: int, client: Client) -> None:
        rng = random.Random(index)
        mine: list[tuple[int, str]] = []  # pairs this client saw checked in
        started = time.monotonic()
        seq = 0
        while not self.over(started):
            kind = "repeat" if mine and rng.random() < REPEAT_SHARE else "first"
            with self.lock:
                if self.scans is not None and self.taken >= self.scans:
                    return
                if kind == "first":
                    if not self.pairs:
                        if not mine:
                            return
                        kind = "repeat"
                    else:
                        pair = self.pairs.pop()
                        self.first_sent.add(pair)
                        if pair in self.twinned:
                            kind = "twin"
                self.taken += 1
            if kind == "repeat":
                pair = rng.choice(mine)
            seq += 1
            ref = f"c{index}-{seq}"
            self.sent_refs.add(ref)
            bib, station = pair
            body = {"code": self.codes[bib], "station": station, "client_ref": ref}
            sent = self.send(client, self.path, body)
            if sent is None:
                self.gave_up_refs.append(ref)
                continue
            status, data, attempts = sent
            result = data.get("result", "")
            expected = {
                "first": {(201, "checked_in")},
                "twin": {(201, "checked_in"), (200, "already_checked_in")},
                "repeat": {(200, "already_checked_in")},
            }[kind]
            if (status, result) not in expected:
                self.unexpected.append({"client_ref": ref, "status": status, "answer": data})
                continue
            self.acks_seen.append(
                ScanAck(
                    ref,
                    bib,
                    station,
                    kind,
                    status,
                    result,
                    data.get("checkin_id"),
                    bool(data.get("replayed")),
                    attempts,
                )
            )
            self.acked()
            if kind != "repeat":
                mine.append(pair)

    def figures(self) -> dict[str, Any]:
        return {
            **super().figures(),
            "pairs_scanned_first": len(self.first_sent),
            "acknowledged_by_kind": dict(Counter(a.kind for a in self.acks_seen)),
            "twin_answers": dict(Counter(a.result for a in self.acks_seen if a.kind == "twin")),
            "replayed_answers": sum(1 for a in self.acks_seen if a.replayed),
            "unexpected": len(self.unexpected),
        }


# --- checks ----------------------------------------------------------------------------


def wait_idle(database_url: str, timeout: float = 15.0) -> None:
    """Wait until no other session runs a statement: a killed worker's last one finishes."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            busy = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
                    " AND backend_type = 'client backend'"
                )
            )
            conn.rollback()
            if not busy:
                break
            time.sleep(0.1)
    engine.dispose()


def check_registrations(conn: Any, rush: Rush) -> list[Check]:
    """Every acknowledged registration stored as acknowledged; counters; nothing half-made."""
    checks = counter_checks(conn.execute(text(EVENT_COUNTS_SQL)).all())
    rows = conn.execute(
        text(
            """
            SELECT r.id, r.email, e.slug, r.status, r.bib_number, r.waitlist_seq,
                   CASE WHEN r.status = 'waitlisted' THEN row_number() OVER (
                       PARTITION BY r.event_id, r.status ORDER BY r.waitlist_seq) END,
                   r.person_id
            FROM registrations r JOIN events e ON e.id = r.event_id
            WHERE e.slug IN (:hot, :open)
            """
        ),
        {"hot": HOT_EVENT, "open": OPEN_EVENT},
    ).all()
    by_id = {row[0]: row for row in rows}
    by_email: dict[str, list[Any]] = {}
    for row in rows:
        by_email.setdefault(row[1], []).append(row)

    bad: list[str] = []
    for email, (kind, answer) in rush.outcomes.items():
        if kind != "created":
            continue
        row = by_id.get(answer["id"])
        told = (
            answer["event"],
            answer["status"],
            answer["bib_number"],
            answer["waitlist_position"],
        )
        if row is None:
            bad.append(f"{email}: acknowledged id {answer['id']} not stored")
        elif row[1] != email or (row[2], row[3], row[4], row[6]) != told:
            bad.append(f"{email}: told {told}, stored {(row[1], row[2], row[3], row[4], row[6])}")
    checks.append(
        Check(
            "every acknowledged registration (201) stored with its event, status, bib, place",
            not bad,
            "; ".join(bad[:5])
            if bad
            else f"{sum(k == 'created' for k, _ in rush.outcomes.values())} ok",
        )
    )

    duplicates = [e for e, (kind, _) in rush.outcomes.items() if kind == "duplicate"]
    bad = [
        f"{e}: {len(by_email.get(e, []))} rows" for e in duplicates if len(by_email.get(e, [])) != 1
    ]
    checks.append(
        Check(
            "a retry answered 409 duplicate: its first attempt is stored, once",
            not bad,
            "; ".join(bad[:5]) if bad else f"{len(duplicates)} ok",
        )
    )

    sent = set(rush.outcomes)
    twice = [e for e, found in by_email.items() if len(found) > 1]
    strangers = [e for e in by_email if e not in sent]
    wrong_event = [e for e, found in by_email.items() if found[0][2] != rush.slugs.get(e)]
    lost = [
        e
        for e, (kind, _) in rush.outcomes.items()
        if kind in ("created", "duplicate") and e not in by_email
    ]
    unanswered = [e for e, (kind, _) in rush.outcomes.items() if kind == "gave_up"]
    stored_unanswered = [e for e in unanswered if e in by_email]
    problems = (
        ([f"{len(twice)} people registered twice"] if twice else [])
        + ([f"{len(strangers)} rows of people never sent"] if strangers else [])
        + ([f"{len(wrong_event)} rows at the wrong event"] if wrong_event else [])
        + ([f"{len(lost)} acknowledged people without a row"] if lost else [])
    )
    checks.append(
        Check(
            "one row per person sent, at their event; rows = acknowledged + given-up-but-stored",
            not problems and len(rows) == len(sent) - len(unanswered) + len(stored_unanswered),
            "; ".join(problems)
            or f"{len(rows)} rows for {len(sent)} people ({len(unanswered)} gave up, "
            f"{len(stored_unanswered)} of them stored anyway)",
        )
    )
    unexpected = [(e, a) for e, (kind, a) in rush.outcomes.items() if kind == "unexpected"]
    checks.append(
        Check(
            "no unexpected answer (every answer a 201, or a 409 duplicate after a retry)",
            not unexpected and not rush.errors,
            f"{len(unexpected)} unexpected, e.g. {unexpected[:2]}; {rush.errors[:2]}"
            if unexpected or rush.errors
            else "ok",
        )
    )

    half = conn.execute(
        text(
            """
            SELECT
              (SELECT count(*) FROM people p WHERE NOT EXISTS (
                   SELECT 1 FROM registrations r WHERE r.person_id = p.id)),
              (SELECT count(*) FROM registrations r WHERE NOT EXISTS (
                   SELECT 1 FROM people p WHERE p.id = r.person_id)),
              (SELECT count(*) FROM registrations r WHERE r.consent_at IS NULL
                   OR NOT EXISTS (SELECT 1 FROM privacy_notices n
                                  WHERE n.id = r.privacy_notice_id)),
              (SELECT count(*) FROM registrations r WHERE r.manage_token_hash IS NULL
                   OR (r.status = 'confirmed') <> (r.bib_number IS NOT NULL)
                   OR (r.status = 'waitlisted') <> (r.waitlist_seq IS NOT NULL))
            """
        )
    ).one()
    labels = (
        "people without a registration",
        "registrations without their person",
        "registrations without their consent record",
        "registrations with a status that disagrees with bib/waitlist number",
    )
    bad = [f"{n} {label}" for n, label in zip(half, labels, strict=True) if n]
    checks.append(
        Check(
            "nothing half-written (person, registration, consent)", not bad, "; ".join(bad) or "ok"
        )
    )
    hot = next(r for r in conn.execute(text(EVENT_COUNTS_SQL)).all() if r.slug == HOT_EVENT)
    checks.append(
        Check(
            f"{HOT_EVENT} filled and spilled into its waitlist",
            hot.confirmed_count == hot.quota and hot.waitlisted > 0,
            f"{hot.confirmed_count}/{hot.quota} confirmed, {hot.waitlisted} waitlisted",
            invariant=False,
        )
    )
    return checks


def check_scans(conn: Any, burst: Burst) -> list[Check]:
    """Every acknowledged check-in stored, logged once, one per runner and station."""
    checkins = {
        row[0]: row
        for row in conn.execute(
            text(
                """
                SELECT c.id, r.bib_number, c.station, c.undone_at IS NULL, c.event_id = r.event_id
                FROM checkins c JOIN registrations r ON r.id = c.registration_id
                JOIN events e ON e.id = c.event_id WHERE e.slug = :slug
                """
            ),
            {"slug": SCAN_EVENT},
        ).all()
    }
    logs = {
        row[0]: row
        for row in conn.execute(
            text(
                "SELECT l.client_ref, l.result, l.checkin_id FROM scan_log l"
                " JOIN events e ON e.id = l.event_id WHERE e.slug = :slug"
            ),
            {"slug": SCAN_EVENT},
        ).all()
    }
    active = {(row[1], row[2]): row[0] for row in checkins.values() if row[3]}
    checks: list[Check] = []

    for status, name in (
        (
            201,
            "every acknowledged check-in (201) is the active one of its bib and station, "
            "logged under its client_ref",
        ),
        (
            200,
            "every acknowledged 'already checked in' (200: re-scans, the slower of two "
            "devices) names that same check-in, logged under its client_ref",
        ),
    ):
        bad = []
        acks = [a for a in burst.acks_seen if a.status == status]
        for ack in acks:
            want = active.get((ack.bib, ack.station))
            log = logs.get(ack.client_ref)
            if want is None or ack.checkin_id != want:
                bad.append(
                    f"{ack.client_ref} ({ack.kind}, attempt {ack.attempts}): told check-in "
                    f"{ack.checkin_id}, active {want}"
                )
            elif log is None or log[1:] != (ack.result, ack.checkin_id):
                bad.append(f"{ack.client_ref} ({ack.kind}, attempt {ack.attempts}): log {log}")
        checks.append(Check(name, not bad, "; ".join(bad[:5]) if bad else f"{len(acks)} ok"))
    acked_pairs = {(a.bib, a.station) for a in burst.acks_seen}
    doubled = conn.scalar(
        text(
            "SELECT count(*) FROM (SELECT 1 FROM checkins WHERE undone_at IS NULL"
            " GROUP BY registration_id, station HAVING count(*) > 1) d"
        )
    )
    missing = [pair for pair in acked_pairs if pair not in active]
    strangers = [pair for pair in active if pair not in burst.first_sent]
    checks.append(
        Check(
            "exactly one active check-in per runner and station scanned, none for others",
            not doubled and not missing and not strangers,
            f"{doubled} doubled, {len(missing)} acknowledged pairs without one, "
            f"{len(strangers)} pairs never scanned"
            if doubled or missing or strangers
            else f"{len(active)} check-ins for {len(burst.first_sent)} pairs scanned",
        )
    )
    logged = Counter(log[2] for log in logs.values() if log[1] == "checked_in")
    unlogged = [cid for cid in checkins if logged[cid] != 1]
    orphan_logs = [
        ref
        for ref, log in logs.items()
        if (log[2] is not None and log[2] not in checkins)
        or (log[1] in ("checked_in", "already_checked_in") and log[2] is None)
    ]
    checks.append(
        Check(
            "nothing half-written: every check-in has exactly one checked_in scan-log row, "
            "every checked_in/already row names its check-in",
            not unlogged and not orphan_logs,
            f"{len(unlogged)} check-ins not logged once, {len(orphan_logs)} log rows without "
            f"their check-in, e.g. {orphan_logs[:3]}"
            if unlogged or orphan_logs
            else f"{len(checkins)} ok",
        )
    )
    twice = conn.scalar(
        text(
            "SELECT count(*) FROM (SELECT 1 FROM scan_log WHERE client_ref IS NOT NULL"
            " GROUP BY event_id, client_ref HAVING count(*) > 1) d"
        )
    )
    unknown_refs = [ref for ref in logs if ref not in burst.sent_refs]
    acked_refs = {a.client_ref for a in burst.acks_seen}
    unlogged_acks = [ref for ref in acked_refs if ref not in logs]
    checks.append(
        Check(
            "no client_ref counted twice; every logged client_ref was sent, every acked one logged",
            not twice and not unknown_refs and not unlogged_acks,
            f"{twice} client_refs twice, {len(unknown_refs)} unknown, "
            f"{len(unlogged_acks)} acknowledged but not logged"
            if twice or unknown_refs or unlogged_acks
            else f"{len(logs)} log rows, {len(acked_refs)} acknowledged",
        )
    )
    checks.append(
        Check(
            "no unexpected answer (201 first scans, 200 re-scans)",
            not burst.unexpected and not burst.errors,
            f"{len(burst.unexpected)} unexpected, e.g. {burst.unexpected[:2]}; {burst.errors[:2]}"
            if burst.unexpected or burst.errors
            else "ok",
        )
    )
    return checks


def check_all(
    database_url: str,
    rush: Rush,
    burst: Burst,
    master_alive: bool,
    workers_after: int,
    workers: int,
) -> list[Check]:
    """Every invariant after the kills (the server is stopped, the database idle)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        checks = check_registrations(conn, rush) + check_scans(conn, burst)
    engine.dispose()
    phases = (rush, burst)
    checks.append(
        Check(
            "the phases finished (no client hung)",
            not any(p.timed_out for p in phases),
            ", ".join(f"{p.name}: {p.elapsed:.1f} s" for p in phases),
        )
    )
    checks.append(
        Check(
            "gunicorn's master survived and restarted every killed worker",
            master_alive and workers_after == workers,
            f"master {'alive' if master_alive else 'gone'}, {workers_after}/{workers} workers "
            f"after {sum(len(k['pids']) for p in phases for k in p.kills)} were killed",
        )
    )
    checks.append(
        Check(
            "clients saw connections die (kills landed mid-request)",
            all(p.tally.connection_errors for p in phases),
            ", ".join(f"{p.name}: {p.tally.connection_errors}" for p in phases),
            invariant=False,
        )
    )
    return checks


# --- the scenario ----------------------------------------------------------------------


@dataclass
class Settings:
    """One run's sizes: counts (the test) or seconds (the benchmark), and the kills."""

    database_url: str
    log_path: Path
    workers: int = 3
    clients: int = 16
    hot_quota: int = 150
    runners: int = 300
    people: int | None = 600
    scans: int | None = 900
    seconds: float | None = None
    kill_every_acks: int | None = 100
    kill_every_seconds: float | None = None
    max_kills: int | None = 4
    #: Every n-th kill takes all the workers at once.
    kill_all_every: int | None = 4
    deadline: float = 120.0


@dataclass
class Outcome:
    rush: Rush
    burst: Burst
    checks: list[Check]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.invariant)

    def figures(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "phases": [self.rush.figures(), self.burst.figures()],
            "checks": [asdict(c) for c in self.checks],
            "ok": self.ok,
        }


def run_scenario(s: Settings) -> Outcome:
    """Prepare, serve, rush and burst with kills, stop, and check."""
    started = time.monotonic()
    seeded = prepare_database(s.database_url, s.hot_quota, s.runners)
    server = start_server(s.database_url, s.workers, s.log_path)
    kill = {
        "kill_every_acks": s.kill_every_acks,
        "kill_every_seconds": s.kill_every_seconds,
        "max_kills": s.max_kills,
        "kill_all_every": s.kill_all_every,
        "seconds": s.seconds,
        "deadline": s.deadline,
    }
    try:
        rush = Rush(server, s.clients, s.people, **kill)
        rush.run()
        burst = Burst(server, s.clients, seeded, s.scans, **kill)
        burst.run()
        # Give the master a moment to replace the last workers killed, then count them.
        master = server.process.pid if server.process else -1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(children(master)) != s.workers:
            time.sleep(0.1)
        workers_after = len(children(master))
        master_alive = server.process is not None and server.process.poll() is None
    finally:
        server.stop()
    wait_idle(s.database_url)
    checks = check_all(s.database_url, rush, burst, master_alive, workers_after, s.workers)
    return Outcome(rush, burst, checks, time.monotonic() - started)


def print_report(outcome: Outcome) -> None:
    """A short table of both phases, then the checks."""
    print()
    print(
        f"{'phase':<19}{'s':>6}{'sent':>7}{'answers':>9}{'acked':>7}{'conn err':>10}"
        f"{'retried':>9}{'gave up':>9}{'kills':>7}{'workers':>9}{'serving':>9}"
    )
    for phase in (outcome.rush, outcome.burst):
        f = phase.figures()
        print(
            f"{f['phase']:<19}{f['seconds']:>6.1f}{f['requests_sent']:>7}{f['answers']:>9}"
            f"{f['acknowledged']:>7}{f['connection_errors']:>10}{f['retried_requests']:>9}"
            f"{f['gave_up']:>9}{f['kills']:>7}{f['workers_killed']:>9}"
            f"{f['killed_while_serving']:>9}"
        )
    r, b = outcome.rush.figures(), outcome.burst.figures()
    print(f"registration outcomes: {r['outcomes']}; statuses {r['statuses']}")
    print(
        f"scans acknowledged by kind: {b['acknowledged_by_kind']}; two devices at once: "
        f"{b['twin_answers']}; {b['replayed_answers']} answered by replay; "
        f"statuses {b['statuses']}"
    )
    print("checks:")
    for c in outcome.checks:
        mark = "ok  " if c.ok else ("FAIL" if c.invariant else "warn")
        print(f"  {mark} {c.name}: {c.detail}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seconds", type=float, default=25.0, help="length of each phase")
    parser.add_argument("--kill-every", type=float, default=2.0, help="seconds between kills")
    parser.add_argument(
        "--kill-all-every", type=int, default=5, help="every n-th kill takes all the workers"
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--hot-quota", type=int, default=300)
    parser.add_argument("--runners", type=int, default=4000)
    parser.add_argument("--internal-seed", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if make_url(args.database_url).host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the bench database must be on this machine (127.0.0.1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.internal_seed:
        internal_seed(json.loads(args.internal_seed))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    info = machine()
    settings = Settings(
        database_url=args.database_url,
        log_path=RESULTS_DIR / f"crash-{stamp}-funrun.log",
        workers=args.workers,
        clients=args.clients,
        hot_quota=args.hot_quota,
        runners=args.runners,
        people=None,
        scans=None,
        seconds=args.seconds,
        kill_every_acks=None,
        kill_every_seconds=args.kill_every,
        max_kills=None,
        kill_all_every=args.kill_all_every,
        deadline=args.seconds + 60,
    )
    print(
        f"crash safety: {args.workers} sync workers, {args.clients} clients, "
        f"{args.seconds:.0f} s rush + {args.seconds:.0f} s scan burst, a SIGKILL every "
        f"{args.kill_every:g} s; database {args.database_url} (wiped) ..."
    )
    outcome = run_scenario(settings)
    info["loadavg_end"] = os.getloadavg()
    settings_json = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()}
    result = {
        "benchmark": "crash",
        "timestamp": stamp,
        "machine": info,
        "settings": settings_json,
        **outcome.figures(),
    }
    out = RESULTS_DIR / f"crash-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(outcome)
    print(f"figures written to {out.relative_to(ROOT)}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
