"""Benchmark: a ballot of 100,000 entries drawn on PostgreSQL, then checked by the script.

Starts everything itself and stops by itself (``.venv/bin/python bench/ballot.py``):

1. resets the PostgreSQL database ``funrun_bench_ballot`` (schema ``public`` dropped and
   recreated) and runs the migrations; makes one ballot event (quota 20,000, of which
   5,000 kept for non-members; its seed committed as the event form commits it);
2. seeds the entries the short way (the seeding is not what is measured): one
   ``INSERT ... SELECT generate_series`` of 100,000 people and one of their entries
   (numbered 1..100,000, status ``entered``, each with an e-mail address so every draw
   message is queued; a third of them members with a KPJ number), the event's entry
   counter set and its entry window closed a minute ago;
3. draws as ``flask --app wsgi ballot draw bench`` does (``funrun.ballot.draw.draw``, in
   this process), timing its wall time (the goal: under 10 s) and the CPU seconds of this
   process and of its PostgreSQL backend (/proc), which the machine's other load does not
   change, with the load average before it;
4. downloads ``/events/bench/ballot.csv`` and runs ``scripts/verify_ballot.py`` on it with
   the published seed and hash (a subprocess, as anyone would), which must say OK;
5. checks the database: ranks 1..100,000, the quota full and never over, bibs 1..20,000
   without a gap, the waitlist 1..80,000 in draw order, the non-member pool full of
   non-members, one message per entrant; exits 1 if anything fails or the goal is missed;
6. writes the figures to ``bench/results/ballot-<timestamp>.json`` and prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration import ROOT, ensure_database, funrun_env, machine

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench_ballot"
GOAL_SECONDS = 10.0
SCRIPT = ROOT / "scripts" / "verify_ballot.py"
ENTRIES = 100_000
QUOTA = 20_000
NON_MEMBER_POOL = 5_000

SEED_SQL = [
    """INSERT INTO people (nik_hash, nik_encrypted, birth_date, gender, created_at)
       SELECT encode(sha256(('bench-nik-' || n)::bytea), 'hex'), '\\x00'::bytea,
              date '1980-01-01' + (n % 9000), CASE WHEN n % 2 = 0 THEN 'M' ELSE 'F' END, now()
       FROM generate_series(1, :entries) AS n""",
    """INSERT INTO registrations (event_id, person_id, status, entry_number,
         manage_token_hash, full_name, phone, email, shirt_size, is_member, kpj_number,
         consent_at, source, locale, created_at, updated_at)
       SELECT :event, p.id, 'entered', p.id - :first + 1,
              encode(sha256(('bench-token-' || p.id)::bytea), 'hex'),
              'Pelari ' || p.id, '+62812' || lpad(p.id::text, 8, '0'),
              'runner' || p.id || '@example.com', 'M',
              p.id % 3 = 0, CASE WHEN p.id % 3 = 0 THEN lpad(p.id::text, 11, '1') END,
              now(), 'web', CASE WHEN p.id % 5 = 0 THEN 'en' ELSE 'id' END, now(), now()
       FROM people p ORDER BY p.id""",
    """UPDATE events SET ballot_entries = :entries,
         registration_closes_at = now() - interval '1 minute' WHERE id = :event""",
    "ANALYZE",
]


def prepare(database_url: str) -> tuple[int, str]:
    """Empty schema, migrations, the ballot event and its entries; (event id, seed hash)."""
    ensure_database(database_url)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    env = funrun_env(database_url, messages="on")
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    event_id, sha = _make_event(env)
    started = time.monotonic()
    with engine.begin() as conn:
        first = None
        for statement in SEED_SQL:
            if first is None and "registrations" in statement:
                first = conn.scalar(text("SELECT min(id) FROM people"))
            conn.execute(text(statement), {"entries": ENTRIES, "event": event_id, "first": first})
    print(f"  seeded {ENTRIES:,} entries in {time.monotonic() - started:.1f} s")
    engine.dispose()
    return event_id, sha


def _make_event(env: dict[str, str]) -> tuple[int, str]:
    """The ballot event, made through the models with the seed committed as the form does."""
    os.environ.update(env)
    from funrun import create_app
    from funrun.ballot.seed import commit_seed
    from funrun.events.models import Event, Opening, Tour
    from funrun.extensions import db

    app = create_app()
    with app.app_context():
        tour = Tour(slug="bench-tour", name="Bench Tour", organiser="Bench")
        db.session.add(tour)
        db.session.flush()
        now = datetime.now(UTC)
        event = Event(
            tour_id=tour.id,
            slug="bench",
            city="Bench",
            name="Fun Run Bench",
            date=date.today() + timedelta(days=60),
            start_time=clock(6, 0),
            venue="Alun-alun",
            quota=QUOTA,
            pool_non_member=NON_MEMBER_POOL,
            bib_prefix="BCH",
            bib_first=1,
            bib_last=99_999,
            bib_next=1,
            registration_opens_at=now - timedelta(days=7),
            registration_closes_at=now + timedelta(days=1),
        )
        commit_seed(event)
        event.opening = Opening.BALLOT.value
        db.session.add(event)
        db.session.commit()
        result = event.id, event.ballot_seed_sha256 or ""
        db.session.remove()
        db.engine.dispose()
    return result


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def draw(database_url: str, event_id: int) -> dict[str, Any]:
    """The draw, as ``flask ballot draw`` runs it (funrun.ballot.draw.draw), timed: its
    wall time, and the CPU seconds of this process and of its PostgreSQL backend (what
    the machine's other load cannot change)."""
    os.environ.update(funrun_env(database_url, messages="on"))
    from sqlalchemy import text as sql_text

    from funrun import create_app
    from funrun.ballot.draw import draw as run_draw
    from funrun.extensions import db

    app = create_app()
    with app.app_context():
        backend = int(db.session.scalar(sql_text("SELECT pg_backend_pid()")))
        server, client, started = _cpu_seconds(backend), time.process_time(), time.monotonic()
        result = run_draw(event_id)
        wall = time.monotonic() - started
        client = time.process_time() - client
        server = _cpu_seconds(backend) - server
        seed = result.seed
        summary = (
            f"{result.entries:,} entries: {result.confirmed:,} confirmed, "
            f"{result.waitlisted:,} waitlisted, {result.withdrawn:,} withdrawn"
        )
        db.session.remove()
        db.engine.dispose()
    return {
        "output": summary,
        "draw_seconds": round(wall, 2),
        "client_cpu_seconds": round(client, 2),
        "server_cpu_seconds": round(server, 2),
        "seed": seed,
    }


def download_results(database_url: str, path: Path) -> float:
    """The public results file, as a client gets it (the app's own test client)."""
    os.environ.update(funrun_env(database_url, messages="on"))
    from funrun import create_app

    app = create_app()
    started = time.monotonic()
    response = app.test_client().get("/events/bench/ballot.csv")
    assert response.status_code == 200, response.status
    path.write_bytes(response.get_data())
    return time.monotonic() - started


def verify(seed: str, sha: str, path: Path) -> dict[str, Any]:
    """scripts/verify_ballot.py on the downloaded file (standard library only: -I)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), "--seed", seed, "--sha256", sha, str(path)],
        capture_output=True,
        text=True,
    )
    return {
        "returncode": done.returncode,
        "output": (done.stdout + done.stderr).strip(),
        "seconds": round(time.monotonic() - started, 2),
    }


CHECKS = {
    "ranks 1..N": """SELECT count(*) = :entries AND min(ballot_rank) = 1
        AND max(ballot_rank) = :entries AND count(DISTINCT ballot_rank) = :entries
        FROM registrations""",
    "quota full, bibs 1..quota": """SELECT count(*) = :quota AND min(bib_number) = 1
        AND max(bib_number) = :quota FROM registrations WHERE status = 'confirmed'""",
    "bibs in draw order": """SELECT bool_and(bib_number = rn) FROM (SELECT bib_number,
        row_number() OVER (ORDER BY ballot_rank) AS rn FROM registrations
        WHERE status = 'confirmed') x""",
    "waitlist in draw order": """SELECT bool_and(waitlist_seq = rn) AND count(*) = :rest
        FROM (SELECT waitlist_seq, row_number() OVER (ORDER BY ballot_rank) AS rn
        FROM registrations WHERE status = 'waitlisted') x""",
    "event counters": """SELECT confirmed_count = :quota AND bib_next = :quota + 1
        AND waitlist_seq = :rest AND pool_non_member_taken = :pool
        AND ballot_drawn_at IS NOT NULL AND ballot_seed IS NOT NULL FROM events""",
    "non-member pool": """SELECT count(*) = :pool FROM registrations
        WHERE pool = 'non_member' AND NOT is_member AND kpj_number IS NULL""",
    "one message each": """SELECT count(*) = :entries AND count(DISTINCT registration_id)
        = :entries FROM messages WHERE kind IN ('ballot_won', 'ballot_waitlisted')""",
}


def check(database_url: str) -> dict[str, bool]:
    engine = create_engine(database_url)
    params = {"entries": ENTRIES, "quota": QUOTA, "rest": ENTRIES - QUOTA}
    params["pool"] = NON_MEMBER_POOL
    with engine.connect() as conn:
        found = {name: bool(conn.scalar(text(sql), params)) for name, sql in CHECKS.items()}
    engine.dispose()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    print(f"ballot of {ENTRIES:,} entries, {QUOTA:,} places ({NON_MEMBER_POOL:,} non-members')")
    event_id, sha = prepare(args.database_url)
    load = os.getloadavg()[0]
    drawn = draw(args.database_url, event_id)
    print(f"  drawn: {drawn['output']}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ballot-bench.csv"
        download = download_results(args.database_url, path)
        size = path.stat().st_size
        verified = verify(drawn["seed"], sha, path)
    checks = check(args.database_url)
    figures = {
        "entries": ENTRIES,
        "quota": QUOTA,
        "draw_seconds": drawn["draw_seconds"],
        "client_cpu_seconds": drawn["client_cpu_seconds"],
        "server_cpu_seconds": drawn["server_cpu_seconds"],
        "load_before": round(load, 2),
        "results_csv_seconds": round(download, 2),
        "results_csv_bytes": size,
        "verify_seconds": verified["seconds"],
        "verify_output": verified["output"],
        "checks": checks,
        "event_id": event_id,
        "machine": machine(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"ballot-{stamp}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"  draw: {drawn['draw_seconds']:.2f} s (goal < {GOAL_SECONDS:.0f} s), load {load:.2f}")
    print(
        f"  CPU: PostgreSQL's backend {drawn['server_cpu_seconds']:.2f} s, "
        f"this process {drawn['client_cpu_seconds']:.2f} s"
    )
    print(f"  results file: {size / 1e6:.1f} MB in {download:.2f} s")
    print(f"  verify_ballot.py: {verified['seconds']:.2f} s, exit {verified['returncode']}:")
    for line in verified["output"].splitlines():
        print(f"    {line}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    failed = (
        not all(checks.values())
        or verified["returncode"] != 0
        or drawn["draw_seconds"] >= GOAL_SECONDS
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
