"""Benchmark: one worker sends 5,000 confirmation e-mails (each with its bib PDF) over SMTP.

Starts everything itself and stops by itself (``.venv/bin/python bench/messages.py``):

1. resets the PostgreSQL database ``funrun_bench_messages`` (schema ``public`` dropped and
   recreated), runs the migrations and ``flask seed-demo``, opens five events wide;
2. seeds ``--count`` confirmed registrations, each with an e-mail address, through the
   real registration path (``POST /api/v1/events/<slug>/registrations`` in a Flask test
   client, messages on): each one's ``confirmed`` message is queued by the registration
   statement itself, as in production;
3. starts a counting SMTP sink (aiosmtpd, ``bench/smtp_sink.py``) in a process of its own;
4. runs ``flask --app wsgi worker --burst`` once with ``FUNRUN_SMTP_URL`` pointing at the
   sink, timed from its start to the last message recorded ``sent`` (and to its exit);
5. checks that the sink received exactly ``--count`` messages, each Message-ID once, and
   that every message row is ``sent``; exits 1 otherwise;
6. writes the figures to ``bench/results/messages-<timestamp>.json`` and prints them.

``--profile`` runs the worker under cProfile and prints where its time went (rendering,
the bib PDF, SMTP, the database), best with a smaller ``--count``.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration import (  # bench/ is not a package: found through sys.path
    HOST,
    OPEN_EVENTS,
    ROOT,
    ensure_database,
    free_port,
    funrun_env,
    machine,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench_messages"
GOAL_SECONDS = 60.0
#: cProfile entries summed into "where the time goes" (file suffix, function name).
PROFILE_PARTS = {
    "claim (SKIP LOCKED batch)": ("funrun/messages/sending.py", "claim"),
    "facts (registration, event, manage link)": ("funrun/messages/facts.py", "facts_for"),
    "bib PDF": ("funrun/messages/sending.py", "_bib_pdf"),
    "render (text, HTML)": ("funrun/messages/rendering.py", "render"),
    "build the MIME message": ("funrun/messages/mail.py", "build"),
    "SMTP send (incl. build)": ("funrun/messages/mail.py", "send"),
    "record the outcome (commit)": ("funrun/messages/sending.py", "_record"),
    "send_one (all of the above but claim)": ("funrun/messages/sending.py", "send_one"),
    "worker run (total)": ("funrun/jobs/worker.py", "run"),
}


# --- set-up ----------------------------------------------------------------------------


def prepare(database_url: str) -> None:
    """Empty schema, migrations, the demo tour; the loaded events opened wide."""
    ensure_database(database_url)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    env = funrun_env(database_url, "on")
    for args in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with engine.begin() as conn:
        for slug in OPEN_EVENTS:
            conn.execute(
                text("UPDATE events SET quota = 50000, bib_last = 99999 WHERE slug = :slug"),
                {"slug": slug},
            )
    engine.dispose()


FIRST = (
    ("Budi", "Agus", "Rudi", "Andi", "Joko", "Hendra", "Yusuf", "Dedi"),
    ("Siti", "Dewi", "Rina", "Ayu", "Fitri", "Lestari", "Intan", "Nur"),
)
LAST = ("Santoso", "Wijaya", "Saputra", "Hidayat", "Siregar", "Nasution", "Lubis")


def body(n: int) -> dict[str, Any]:
    """A valid registration for distinct person ``n`` (NIK agrees with birth and gender)."""
    born = datetime(1970, 1, 2, tzinfo=UTC).toordinal() + n % 10000
    birth = datetime.fromordinal(born).date()
    female = n % 2 == 1
    nik_day = birth.day + (40 if female else 0)
    serial = 1 + n // 10000
    nik = f"317409{nik_day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"
    return {
        "full_name": f"{FIRST[female][n % 8]} {LAST[n // 2 % 7]}",
        "nik": nik,
        "birth_date": birth.isoformat(),
        "gender": "F" if female else "M",
        "phone": f"0813{n:08d}",
        "email": f"runner{n}@example.com",
        "shirt_size": "M",
        "member": False,
        "consent": True,
    }


def seed(count: int) -> None:
    """In a child process with the bench environment: ``count`` registrations through the
    API, every one confirmed with its message queued."""
    from funrun import create_app

    app = create_app()
    client = app.test_client()
    for n in range(count):
        slug = OPEN_EVENTS[n % len(OPEN_EVENTS)]
        answer = client.post(f"/api/v1/events/{slug}/registrations", json=body(n))
        if answer.status_code != 201:
            sys.exit(f"registration {n}: {answer.status_code} {answer.get_data(as_text=True)}")


def run_seed(database_url: str, count: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--seed", str(count)],
        cwd=ROOT,
        env=funrun_env(database_url, "on"),
        check=True,
    )
    return time.perf_counter() - started


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the SMTP sink exited")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the SMTP sink is not listening on {port}")


# --- the run ---------------------------------------------------------------------------


def table_counts(database_url: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(text("SELECT status, count(*) FROM messages GROUP BY status")).all()
        )
        first, last = conn.execute(text("SELECT min(sent_at), max(sent_at) FROM messages")).one()
        registrations = conn.scalar(
            text("SELECT count(*) FROM registrations WHERE status = 'confirmed'")
        )
    engine.dispose()
    return {
        "statuses": statuses,
        "first_sent": first,
        "last_sent": last,
        "confirmed": registrations,
    }


def run_worker(
    database_url: str, smtp_port: int, log: Path, profile: Path | None
) -> tuple[float, float, int]:
    """The worker, once, burst: (wall clock at its start, seconds to its exit, exit code)."""
    env = funrun_env(database_url, "on")
    env["FUNRUN_SMTP_URL"] = f"smtp://{HOST}:{smtp_port}?tls=none"
    prefix = [sys.executable]
    if profile is not None:
        prefix += ["-m", "cProfile", "-o", str(profile)]
    command = [*prefix, "-m", "flask", "--app", "wsgi", "worker", "--burst"]
    with log.open("wb") as out:
        started_wall = time.time()
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        elapsed = time.perf_counter() - started
    return started_wall, elapsed, done.returncode


def profile_parts(path: Path, count: int) -> dict[str, dict[str, float]]:
    """Cumulative seconds (and ms per message) of the parts in :data:`PROFILE_PARTS`."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    out = {}
    for label, (suffix, name) in PROFILE_PARTS.items():
        seconds = sum(
            entry[3]
            for (filename, _line, function), entry in stats.items()
            if function == name and filename.endswith(suffix)
        )
        out[label] = {
            "seconds": round(seconds, 3),
            "ms_per_message": round(seconds * 1000 / count, 3),
        }
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--count", type=int, default=5000, help="confirmation e-mails to send")
    parser.add_argument("--profile", action="store_true", help="run the worker under cProfile")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # the seeding child
    args = parser.parse_args(argv)
    if "@" in args.database_url and not args.database_url.split("@", 1)[1].startswith(
        ("127.0.0.1", "localhost", "[::1]")
    ):
        parser.error("the bench database must be on this machine (127.0.0.1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.seed is not None:
        seed(args.seed)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    info = machine()

    print(f"preparing {args.database_url} (schema reset, migrations, seed-demo) ...")
    prepare(args.database_url)
    seed_seconds = run_seed(args.database_url, args.count)
    before = table_counts(args.database_url)
    print(
        f"  {args.count:,} registrations through the API in {seed_seconds:.1f} s; "
        f"messages {before['statuses']}"
    )

    port = free_port()
    sink_out = RESULTS_DIR / f"messages-{stamp}-sink.json"
    sink = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "smtp_sink.py"), str(port), str(sink_out)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    profile = RESULTS_DIR / f"messages-{stamp}.prof" if args.profile else None
    try:
        wait_for_port(port, sink)
        started_wall, worker_seconds, code = run_worker(
            args.database_url, port, RESULTS_DIR / f"messages-{stamp}-worker.log", profile
        )
    finally:
        os.killpg(sink.pid, signal.SIGTERM)
        sink.wait(timeout=30)
    received = json.loads(sink_out.read_text())
    after = table_counts(args.database_url)
    last = after["last_sent"]
    to_last = last.timestamp() - started_wall if last is not None else float("nan")
    sending = (last - after["first_sent"]).total_seconds() if last is not None else float("nan")

    checks = [
        ("the worker exited 0", code == 0, f"exit code {code}"),
        (
            f"the SMTP server received exactly {args.count:,} messages",
            received["messages"] == args.count,
            f"{received['messages']:,} received",
        ),
        (
            "each Message-ID once",
            received["distinct_ids"] == received["messages"] and not received["repeated_ids"],
            f"{received['distinct_ids']:,} distinct, repeated {received['repeated_ids'] or 0}",
        ),
        (
            f"{args.count:,} messages 'sent' in the table, nothing else",
            after["statuses"] == {"sent": args.count},
            str(after["statuses"]),
        ),
    ]
    rate = args.count / to_last if to_last == to_last and to_last > 0 else 0.0
    goal_met = to_last < GOAL_SECONDS and all(ok for _n, ok, _d in checks)
    result: dict[str, Any] = {
        "benchmark": "messages",
        "timestamp": stamp,
        "machine": info,
        "count": args.count,
        "seed_seconds": round(seed_seconds, 2),
        "seconds_to_last_sent": round(to_last, 3),
        "seconds_first_to_last_sent": round(sending, 3),
        "worker_seconds_to_exit": round(worker_seconds, 3),
        "messages_per_s": round(rate, 1),
        "smtp": {k: v for k, v in received.items() if k not in ("first", "last")},
        "mean_message_kb": round(received["bytes"] / max(received["messages"], 1) / 1024, 1),
        "profiled": args.profile,
        "goal": {"seconds_below": GOAL_SECONDS, "met": goal_met},
        "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks],
    }
    if profile is not None:
        result["profile"] = profile_parts(profile, args.count)
    out = RESULTS_DIR / f"messages-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")

    print(
        f"worker: {args.count:,} e-mails in {to_last:.1f} s from its start to the last "
        f"recorded sent ({rate:,.0f} messages/s; first to last sent {sending:.1f} s; "
        f"process exited after {worker_seconds:.1f} s)"
    )
    print(
        f"SMTP: {received['messages']:,} messages, {received['connections']} connections, "
        f"{result['mean_message_kb']} kB each on average"
    )
    if profile is not None:
        print("where the worker's time went (cProfile, cumulative):")
        for label, part in result["profile"].items():
            print(f"  {label:<40}{part['seconds']:>8.2f} s {part['ms_per_message']:>8.2f} ms/msg")
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(15)
    print("checks:")
    for name, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    print(
        f"goal (under {GOAL_SECONDS:.0f} s{', profiled: not comparable' if args.profile else ''}"
        f"): {'met' if goal_met else 'MISSED'}"
    )
    print(f"figures written to {out.relative_to(ROOT)}")
    return 0 if all(ok for _n, ok, _d in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
