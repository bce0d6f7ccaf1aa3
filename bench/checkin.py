"""Benchmark: bib scans per second at the check-in API, against a bare Flask ceiling.

Starts everything itself and stops by itself (``.venv/bin/python bench/checkin.py``):

1. creates the PostgreSQL database ``funrun_bench_checkin`` if missing, resets its schema
   ``public``, runs the migrations, seeds the 2015 tour and keeps only Jakarta, raised to
   20,000 places, then bulk-seeds 20,000 confirmed runners there (``seed_runners``), a
   volunteer assigned to Jakarta and an API token for them;
2. signs every runner's QR payload with the same FUNRUN_SIGNING_KEY the server uses, and
   before each wrk run writes the scans it will send, one JSON body a line: first scans,
   typed bib numbers (``42``, ``JKT0042``...), repeats of bibs already scanned at that
   station, forged codes (one character changed), unknown bibs, codes signed for another
   event, and client_ref replays (a body sent again verbatim);
3. serves funrun and ``bench/ceiling_app.py`` with the same gunicorn settings (sync
   workers, 2 x cores + 1, loopback only) and loads them in turn from wrk (32
   connections), rounds interleaved: ``/hello`` (the ceiling), ``SELECT 1``, and the scans
   (``POST /api/v1/events/jakarta-2015/checkins``, bench/checkin.lua);
4. checks in SQL afterwards: at most one active check-in per registration and station,
   scan_log rows == scans answered (replays log nothing; plus at most the requests wrk
   abandoned in flight), every check-in logged once and belonging to a confirmed runner;
   exits 1 if one fails;
5. writes ``bench/results/checkin-<timestamp>.json`` and prints a table.

Non-2xx answers are expected (404 unknown, 422 forged, 409 wrong event): they are counted
by status and by the ``result`` of the body, not treated as errors.

The helpers (gunicorn, CPU accounting, medians, table) come from bench/registration.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration import (  # bench/ is not a package: found through sys.path
    BENCH_SIGNING_KEY,
    HOST,
    ROOT,
    Check,
    Load,
    Server,
    ensure_database,
    find_wrk,
    funrun_env,
    machine,
    print_table,
    running,
    summarise,
)
from registration import (
    run_wrk as run_wrk_once,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "checkin.lua"

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench_checkin"
EVENT = "jakarta-2015"
STATIONS = ("pickup", "start", "finish")
VOLUNTEER = "volunteer.bench@funrun.test"

GOAL_RATIO = 0.20
GOAL_P99_MS = 50.0

#: The planned mix of scans (fractions of the lines sent).
MIX = {
    "first": 0.50,  # a QR never scanned at this station: 201
    "typed": 0.10,  # a typed bib number never scanned at this station: 201
    "repeat": 0.20,  # a QR already scanned at this station, new client_ref: 200
    "forged": 0.08,  # a QR with one character changed: 422
    "unknown": 0.04,  # a bib number nobody has (typed, or genuinely signed): 404
    "wrong_event": 0.03,  # genuinely signed for another event: 409
    "replay": 0.05,  # an earlier body resent verbatim (same client_ref): its first answer
}
#: A repeat or replay refers to a line at least this many lines earlier (already answered).
GAP = 600
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# --- set-up ----------------------------------------------------------------------------


def prepare_database(database_url: str, runners: int) -> dict[str, Any]:
    """Empty schema, migrations, then the seed (in a subprocess with the server's env)."""
    ensure_database(database_url)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    env = funrun_env(database_url)
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--internal-seed", str(runners)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seeded = json.loads(done.stdout.strip().splitlines()[-1])
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return seeded


def internal_seed(runners: int) -> None:
    """Run inside the app's environment: the event, its runners, a volunteer and a token."""
    from funrun import create_app
    from funrun.accounts.services import create_api_token, create_user
    from funrun.demo.services import seed_runners, seed_tour
    from funrun.extensions import db

    app = create_app()
    with app.app_context():
        seed_tour()
        # Only the loaded event stays, so seed_runners (weighted by quota) puts every
        # runner there; nothing refers to the other events yet.
        db.session.execute(text("DELETE FROM events WHERE slug != :slug"), {"slug": EVENT})
        db.session.execute(
            text("UPDATE events SET quota = :n, bib_last = :last WHERE slug = :slug"),
            {"n": runners, "last": max(runners, 9999), "slug": EVENT},
        )
        db.session.commit()
        seed_runners(runners)
        user = create_user(VOLUNTEER, "volunteer", event_slugs=[EVENT])
        token = create_api_token(user)
        event = db.session.execute(
            text(
                "SELECT e.id, e.bib_prefix, e.confirmed_count,"
                " (SELECT count(*) FROM registrations r WHERE r.event_id = e.id"
                "  AND r.status = 'confirmed') AS confirmed,"
                " (SELECT min(bib_number) FROM registrations r WHERE r.event_id = e.id) AS lo,"
                " (SELECT max(bib_number) FROM registrations r WHERE r.event_id = e.id) AS hi"
                " FROM events e WHERE e.slug = :slug"
            ),
            {"slug": EVENT},
        ).one()
    print(
        json.dumps(
            {
                "event_id": event.id,
                "prefix": event.bib_prefix,
                "confirmed_count": event.confirmed_count,
                "confirmed": event.confirmed,
                "bib_min": event.lo,
                "bib_max": event.hi,
                "token": token,
            }
        )
    )


# --- the scans -------------------------------------------------------------------------


@dataclass
class Line:
    kind: str
    body: str
    pair: tuple[int, str] | None = None  # (bib, station) a first or typed scan checks in


@dataclass
class ScanPlan:
    """Plans the scans of every wrk run, remembering what earlier runs really sent."""

    event_id: int
    prefix: str
    bibs: range
    seed: int = 2015
    rng: random.Random = field(init=False)
    signer: Any = field(init=False)
    payloads: dict[int, str] = field(init=False)
    pool: list[tuple[int, str]] = field(init=False)
    scanned: list[tuple[int, str]] = field(default_factory=list)  # sent first/typed scans
    bodies: list[str] = field(default_factory=list)  # every sent body, for replays
    planned: Counter = field(default_factory=Counter)  # kinds of the lines really sent
    runs: int = 0

    def __post_init__(self) -> None:
        from funrun.bibs.signing import signer_from_config

        self.rng = random.Random(self.seed)
        self.signer = signer_from_config({"FUNRUN_SIGNING_KEY": BENCH_SIGNING_KEY})
        self.payloads = {bib: self.signer.sign(self.event_id, bib) for bib in self.bibs}
        self.pool = [(bib, station) for bib in self.bibs for station in STATIONS]
        self.rng.shuffle(self.pool)

    def _body(self, code: str, station: str, ref: str, *, typed: bool = False) -> str:
        body = {"code": code, "station": station, "client_ref": ref}
        if typed:
            # A typed bib checks in once the volunteer compared the ID card (issue 15): the
            # desk's second request, the one that checks in, is what is measured here.
            body |= {"method": "typed", "id_checked": True}
        return json.dumps(body)

    def _typed(self, bib: int) -> str:
        return self.rng.choice(
            [str(bib), f"{bib:04d}", f"{self.prefix}{bib:04d}", f"{self.prefix.lower()}-{bib:04d}"]
        )

    def _forge(self, payload: str) -> str:
        """One character changed: in the signature, or a digit of the bib number."""
        if self.rng.random() < 0.8:
            at = len(payload) - 1 - self.rng.randrange(103)
            alphabet = B32
        else:
            at = payload.rindex(":") - 1
            alphabet = "0123456789"
        new = self.rng.choice([c for c in alphabet if c != payload[at]])
        return payload[:at] + new + payload[at + 1 :]

    def make_run(self, count: int) -> list[Line]:
        """``count`` lines for the next wrk run, drawn in MIX proportions."""
        self.runs += 1
        kinds, weights = list(MIX), list(MIX.values())
        lines: list[Line] = []
        taken: list[tuple[int, str]] = []  # pairs of this run's earlier lines
        high = self.bibs.stop + 20_000
        for i in range(count):
            ref = f"r{self.runs}-{i}"
            kind = self.rng.choices(kinds, weights)[0]
            old_pairs = len(self.scanned) + max(len(taken) - GAP, 0)
            old_bodies = len(self.bodies) + max(len(lines) - GAP, 0)
            if (kind == "repeat" and old_pairs == 0) or (kind == "replay" and old_bodies == 0):
                kind = "first"  # nothing old enough yet
            if kind in ("first", "typed") and not self.pool:
                kind = "repeat"  # every runner is checked in at every station
            station = self.rng.choice(STATIONS)
            if kind in ("first", "typed"):
                pair = self.pool.pop()
                taken.append(pair)
                code = self.payloads[pair[0]] if kind == "first" else self._typed(pair[0])
                lines.append(
                    Line(kind, self._body(code, pair[1], ref, typed=kind == "typed"), pair)
                )
            elif kind == "repeat":
                n = self.rng.randrange(old_pairs)
                bib, station = (
                    self.scanned[n] if n < len(self.scanned) else taken[n - len(self.scanned)]
                )
                lines.append(Line(kind, self._body(self.payloads[bib], station, ref)))
            elif kind == "replay":
                n = self.rng.randrange(old_bodies)
                body = self.bodies[n] if n < len(self.bodies) else lines[n - len(self.bodies)].body
                lines.append(Line(kind, body))
            elif kind == "forged":
                code = self._forge(self.payloads[self.rng.choice(self.bibs)])
                lines.append(Line(kind, self._body(code, station, ref)))
            elif kind == "unknown":
                bib = self.rng.randrange(self.bibs.stop, high)
                typed = self.rng.random() >= 0.5
                code = f"{self.prefix}{bib}" if typed else self.signer.sign(self.event_id, bib)
                lines.append(Line(kind, self._body(code, station, ref, typed=typed)))
            else:  # wrong_event
                code = self.signer.sign(self.event_id + 1000, self.rng.choice(self.bibs))
                lines.append(Line(kind, self._body(code, station, ref)))
        return lines

    def commit(self, lines: list[Line], sent_per_thread: list[int]) -> None:
        """Keep what wrk really sent; give the unsent first scans back to the pool."""
        threads = len(sent_per_thread)
        for i, line in enumerate(lines):
            thread, position = i % threads, i // threads
            # A thread that wrapped round sent every one of its lines at least once.
            if position < sent_per_thread[thread]:
                self.planned[line.kind] += 1
                self.bodies.append(line.body)
                if line.pair is not None:
                    self.scanned.append(line.pair)
            elif line.pair is not None:
                self.pool.append(line.pair)
        self.rng.shuffle(self.pool)


# --- load ------------------------------------------------------------------------------


@dataclass
class ScanLoad(Load):
    results: dict[str, int] = field(default_factory=dict)
    replayed: int = 0
    wrapped: int = 0
    lines: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            **super().figures(),
            "results": dict(sorted(self.results.items())),
            "replayed": self.replayed,
            "wrapped": self.wrapped,
            "lines_prepared": self.lines,
        }


def run_wrk(
    wrk: str,
    args: argparse.Namespace,
    name: str,
    server: Server,
    path: str,
    seconds: int,
    scans: Path | None = None,
    token: str = "",
    lines: int = 0,
) -> tuple[ScanLoad, list[int]]:
    """One wrk run (static GET, or the scans of ``scans``); the load and sent per thread."""
    env = dict(os.environ)
    env.update(
        BENCH_MODE="scan" if scans else "get",
        BENCH_SCANS=str(scans or ""),
        BENCH_TOKEN=token,
        BENCH_THREADS=str(args.threads),
    )
    command = [
        wrk,
        "--threads",
        str(args.threads),
        "--connections",
        str(args.connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(LUA_SCRIPT),
        f"http://{HOST}:{server.port}{path}",
    ]
    return _measure(command, env, name, server, lines)


def _measure(
    command: list[str], env: dict[str, str], name: str, server: Server, lines: int
) -> tuple[ScanLoad, list[int]]:
    raw, cpu = run_wrk_once(command, env, server)
    statuses: Counter[str] = Counter()
    results: Counter[str] = Counter()
    sent: list[int] = []
    for thread in raw["threads"]:
        statuses.update(thread["statuses"])
        results.update(thread["results"])
        sent.append(thread["sent"])
    latency = raw["latency_us"]
    load = ScanLoad(
        variant=name,
        seconds=raw["duration_us"] / 1e6,
        requests=raw["requests"],
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        statuses=dict(statuses),
        socket_errors=raw["errors"],
        sent=sum(sent),
        ids=[],
        cpu={k: round(v, 3) for k, v in cpu.items()},
        results=dict(results),
        replayed=sum(t["replayed"] for t in raw["threads"]),
        wrapped=sum(t["wrapped"] for t in raw["threads"]),
        lines=lines,
    )
    return load, sent


# --- checks ----------------------------------------------------------------------------


EXPECTED_STATUSES = {"200", "201", "404", "409", "422"}


def check_database(database_url: str, scan_runs: list[ScanLoad]) -> tuple[list[Check], dict]:
    """The invariants after the scans, and the final counts."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        doubled = conn.execute(
            text(
                "SELECT registration_id, station, count(*) FROM checkins"
                " WHERE undone_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1"
            )
        ).all()
        checkins = conn.scalar(text("SELECT count(*) FROM checkins"))
        by_station = dict(
            conn.execute(text("SELECT station, count(*) FROM checkins GROUP BY 1")).all()
        )
        log_rows = conn.scalar(text("SELECT count(*) FROM scan_log WHERE result != 'undone'"))
        log_by_result = dict(
            conn.execute(text("SELECT result, count(*) FROM scan_log GROUP BY 1")).all()
        )
        logged_checkins = conn.scalar(
            text(
                "SELECT count(DISTINCT checkin_id) FROM scan_log WHERE result = 'checked_in'"
                " AND checkin_id IS NOT NULL"
            )
        )
        orphan = conn.scalar(
            text(
                "SELECT count(*) FROM checkins c JOIN registrations r ON r.id = c.registration_id"
                " JOIN events e ON e.id = c.event_id"
                " WHERE r.status != 'confirmed' OR r.event_id != c.event_id OR e.slug != :slug"
            ),
            {"slug": EVENT},
        )
    engine.dispose()

    answered = sum(sum(run.statuses.values()) for run in scan_runs)
    replayed = sum(run.replayed for run in scan_runs)
    in_flight = sum(run.sent - sum(run.statuses.values()) for run in scan_runs)
    created = sum(
        v for run in scan_runs for k, v in run.results.items() if k == "checked_in"
    )  # first answers only (replays are "checked_in/replayed")
    statuses: Counter[str] = Counter()
    for run in scan_runs:
        statuses.update(run.statuses)
    fresh = answered - replayed

    checks = [
        Check(
            "at most one active check-in per registration and station",
            not doubled,
            "ok" if not doubled else f"{len(doubled)} doubled, e.g. {doubled[:3]}",
        ),
        Check(
            "scan_log rows == scans answered, not replays (+ in flight when wrk stopped)",
            fresh <= log_rows <= fresh + max(in_flight, 0),
            f"{log_rows} rows, {answered} answered of which {replayed} replays, "
            f"{in_flight} in flight",
        ),
        Check(
            "check-ins == 'checked_in' answers (+ in flight)",
            created <= checkins <= created + max(in_flight, 0),
            f"{checkins} check-ins, {created} answered checked_in",
        ),
        Check(
            "every check-in logged once as checked_in",
            logged_checkins == checkins == log_by_result.get("checked_in", 0),
            f"{checkins} check-ins, {log_by_result.get('checked_in', 0)} checked_in log rows "
            f"({logged_checkins} distinct)",
        ),
        Check(
            "every check-in is of a confirmed runner of the event",
            orphan == 0,
            "ok" if orphan == 0 else f"{orphan} check-ins of other runners",
        ),
        Check(
            "only expected statuses (200/201/404/409/422), no socket errors",
            set(statuses) <= EXPECTED_STATUSES
            and not any(
                v for run in scan_runs for k, v in run.socket_errors.items() if k != "status"
            ),
            ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
        ),
        Check(
            "wrk never ran out of prepared scans",
            not any(run.wrapped for run in scan_runs),
            f"{sum(run.wrapped for run in scan_runs)} requests re-sent after wrapping round",
            invariant=False,
        ),
    ]
    final = {
        "checkins": checkins,
        "checkins_by_station": by_station,
        "scan_log_by_result": log_by_result,
        "answered": answered,
        "replayed": replayed,
        "in_flight": in_flight,
        "statuses": dict(sorted(statuses.items())),
    }
    return checks, final


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runners", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per variant and round")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per variant, not counted")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2 * cores + 1)
    parser.add_argument(
        "--no-select1", action="store_true", help="skip the SELECT 1 reference endpoint"
    )
    parser.add_argument("--internal-seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    host = make_url(args.database_url).host
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the bench database must be on this machine (127.0.0.1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.internal_seed:
        internal_seed(args.internal_seed)
        return 0
    wrk = find_wrk()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    info = machine()

    print(f"preparing {args.database_url} ({args.runners:,} runners at {EVENT}) ...")
    seeded = prepare_database(args.database_url, args.runners)
    seed_ok = seeded["confirmed"] == seeded["confirmed_count"] == args.runners
    print(
        f"  {seeded['confirmed']:,} confirmed at {EVENT} (event {seeded['event_id']}), "
        f"bibs {seeded['bib_min']}..{seeded['bib_max']}"
    )
    if not seed_ok:
        print(f"the seed did not give {args.runners} confirmed runners", file=sys.stderr)
        return 1
    sys.path.insert(0, str(ROOT))
    plan = ScanPlan(
        seeded["event_id"], seeded["prefix"], range(seeded["bib_min"], seeded["bib_max"] + 1)
    )

    funrun = Server(
        "funrun",
        "wsgi:app",
        ROOT,
        funrun_env(args.database_url),
        args.workers,
        "/api/v1/events",
        RESULTS_DIR / f"checkin-{stamp}-funrun.log",
    )
    ceiling = Server(
        "ceiling",
        "ceiling_app:app",
        BENCH_DIR,
        dict(os.environ, BENCH_DATABASE_URL=args.database_url),
        args.workers,
        "/hello",
        RESULTS_DIR / f"checkin-{stamp}-ceiling.log",
    )
    variants: list[tuple[str, Server, str]] = [("hello (ceiling)", ceiling, "/hello")]
    if not args.no_select1:
        variants.append(("SELECT 1", ceiling, "/select1"))
    variants.append(("check-in scan", funrun, f"/api/v1/events/{EVENT}/checkins"))
    loads: dict[str, list[Load]] = {name: [] for name, _, _ in variants}
    scan_runs: list[ScanLoad] = []
    rate = 3000.0  # scans/s assumed until the warm-up has measured it

    with tempfile.TemporaryDirectory(prefix="funrun-checkin-") as tmp, running([funrun, ceiling]):
        print(
            f"gunicorn: {args.workers} sync workers each, funrun on :{funrun.port}, "
            f"ceiling on :{ceiling.port}; wrk {args.threads} threads, "
            f"{args.connections} connections"
        )

        def run(name: str, server: Server, path: str, seconds: int) -> ScanLoad:
            if server is not funrun:
                return run_wrk(wrk, args, name, server, path, seconds)[0]
            lines = plan.make_run(max(int(rate * seconds * 3), 2000))
            scans = Path(tmp) / f"scans-{plan.runs}.jsonl"
            scans.write_text("".join(line.body + "\n" for line in lines))
            load, sent = run_wrk(
                wrk, args, name, server, path, seconds, scans, seeded["token"], len(lines)
            )
            plan.commit(lines, sent)
            scan_runs.append(load)
            return load

        for name, server, path in variants:
            warm = run(name, server, path, args.warmup)
            if server is funrun:
                rate = max(warm.rps, 200.0)
        for round_no in range(args.rounds):
            shift = round_no % len(variants)
            for name, server, path in variants[shift:] + variants[:shift]:
                load = run(name, server, path, args.duration)
                loads[name].append(load)
                print(
                    f"  round {round_no + 1} {name:<16} {load.rps:>8,.0f} req/s  "
                    f"p50 {load.p50_ms:.1f} ms  p99 {load.p99_ms:.1f} ms  "
                    f"statuses {dict(sorted(load.statuses.items()))}"
                )
    # Servers stopped gracefully: every request they accepted has finished.

    checks, final = check_database(args.database_url, scan_runs)
    summary = summarise(loads, variants[0][0])
    scan = summary["check-in scan"]
    goal_met = scan["ratio_to_ceiling"] >= GOAL_RATIO and scan["p99_ms"] < GOAL_P99_MS
    measured = [run for run in loads["check-in scan"] if isinstance(run, ScanLoad)]
    status_totals: Counter[str] = Counter()
    result_totals: Counter[str] = Counter()
    for run in measured:
        status_totals.update(run.statuses)
        result_totals.update(run.results)
    scan["statuses"] = dict(sorted(status_totals.items()))
    scan["results"] = dict(sorted(result_totals.items()))
    scan["replayed"] = sum(run.replayed for run in measured)
    info["loadavg_end"] = os.getloadavg()
    sent_kinds = sum(plan.planned.values())

    result = {
        "benchmark": "checkin",
        "timestamp": stamp,
        "machine": info,
        "settings": {
            "gunicorn": f"sync, {args.workers} workers, {HOST}",
            "wrk": {"threads": args.threads, "connections": args.connections},
            "rounds": args.rounds,
            "seconds_per_run": args.duration,
            "warmup_seconds": args.warmup,
            "event": EVENT,
            "runners": args.runners,
            "mix_planned": MIX,
            "mix_sent": {
                k: round(v / max(sent_kinds, 1), 3) for k, v in sorted(plan.planned.items())
            },
            "gap_lines": GAP,
        },
        "summary": summary,
        "goal": {"ratio_at_least": GOAL_RATIO, "p99_ms_below": GOAL_P99_MS, "met": goal_met},
        "checks": [c.__dict__ for c in checks],
        "final": final,
        "runs": {name: [run.figures() for run in runs] for name, runs in loads.items()},
        "warmup_scan_run": scan_runs[0].figures() if scan_runs else None,
    }
    out = RESULTS_DIR / f"checkin-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")

    print_table(summary, loads)
    print(
        "scan statuses (measured rounds): "
        + ", ".join(f"{k}: {v:,}" for k, v in scan["statuses"].items())
    )
    print("scan results: " + ", ".join(f"{k}: {v:,}" for k, v in scan["results"].items()))
    print(
        "mix sent: " + ", ".join(f"{k} {v:.0%}" for k, v in result["settings"]["mix_sent"].items())
    )
    print(
        f"database: {final['checkins']:,} check-ins {final['checkins_by_station']}, "
        f"scan_log {final['scan_log_by_result']}"
    )
    print("checks:")
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.invariant else "warn")
        print(f"  {mark} {c.name}: {c.detail}")
    print(
        f"goal (ratio >= {GOAL_RATIO}, p99 < {GOAL_P99_MS:.0f} ms): "
        f"{'met' if goal_met else 'MISSED'}  "
        f"(ratio {scan['ratio_to_ceiling']:.3f}, p99 {scan['p99_ms']:.1f} ms, "
        f"p50 {scan['p50_ms']:.1f} ms, {scan['req_per_s']:,.0f} scans/s; "
        f"{statistics.median(r.rps for r in loads[variants[0][0]]):,.0f} hello/s)"
    )
    print(f"figures written to {out.relative_to(ROOT)}")
    return 0 if all(c.ok for c in checks if c.invariant) else 1


if __name__ == "__main__":
    sys.exit(main())
