"""Benchmark: a partner's group import of 100,000 members, from upload to done.

Starts everything itself and stops by itself (``.venv/bin/python bench/groups.py``):

1. resets the PostgreSQL database ``funrun_bench_groups`` (schema ``public`` dropped and
   recreated), runs the migrations and ``flask seed-demo`` (no runners), makes a partner
   account and its API token with the CLI, and sizes two events: Medan (quota 10,000) for
   a 10,000-member warm-up import, Jakarta (quota 95,000, bibs up to 99,999) for the
   100,000-member one, so its last 5,000 members go to the waitlist;
2. writes the two CSV files (valid, distinct NIKs agreeing with birth dates and genders,
   an e-mail each: every held member's invitation is queued as in production), and the
   100,000 members again as one JSON body for Surabaya (quota 95,000 too);
3. for each import: serves funrun with gunicorn (sync workers, loopback) and starts one
   ``flask worker`` beside it, POSTs the CSV (streamed from the file), polls
   ``GET /api/v1/imports/{id}`` every half second printing the progress, and measures the
   wall time from the upload's first byte to ``done``, the upload's own time, and the peak
   resident memory (``VmHWM``) of the worker and of the web worker that took the upload;
   the 10,000-member run beside the 100,000-member one shows whether memory grows with
   the file (it must not: rows are streamed, never all held);
4. checks the database afterwards (the quota full and never over, bibs 1..quota without a
   gap or a repeat, the rest waitlisted in order, the counters agreeing with the rows,
   one invitation per held member, the body deleted) and exits 1 if anything fails;
5. writes the figures to ``bench/results/groups-<timestamp>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration import (  # bench/ is not a package: found through sys.path
    HOST,
    ROOT,
    Server,
    ensure_database,
    funrun_env,
    machine,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench_groups"
GOAL_SECONDS = 60.0
PARTNER = "bench@aggregator.example"
#: (event, quota, members, format): the warm-up, the measured import, the same as JSON.
RUNS = (
    ("medan-2015", 10_000, 10_000, "csv"),
    ("jakarta-2015", 95_000, 100_000, "csv"),
    ("surabaya-2015", 95_000, 100_000, "json"),
)
COLUMNS = ("full_name", "nik", "birth_date", "gender", "phone", "email", "shirt_size", "member")


def nik(born: date, gender: str, region: int, serial: int) -> str:
    """A NIK that agrees with the birth date and gender (tests/conftest.py make_nik)."""
    day = born.day + (40 if gender == "F" else 0)
    return f"{region:06d}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def member_rows(members: int, offset: int) -> Any:
    """``members`` valid, distinct members (``offset`` keeps two files apart)."""
    first = date(1970, 1, 1)
    for n in range(offset, offset + members):
        born = first + timedelta(days=n % 10_000)  # 1970 to 1997: adults on race day
        gender = "F" if n % 2 else "M"
        yield (
            "Siti Rahmawati" if gender == "F" else "Budi Santoso",
            nik(born, gender, 317401 + n // 100_000, 1 + (n // 10_000) % 9_999),
            born.isoformat(),
            gender,
            f"0812{n:08d}",
            f"member{n}@example.com",
            "ML"[n % 2],
            "false",
        )


def write_csv(path: Path, members: int, offset: int) -> int:
    """The members as CSV; the file's size."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(member_rows(members, offset))
    return path.stat().st_size


def write_json(path: Path, members: int, offset: int, key: str) -> int:
    """The members as the JSON body (``member`` a boolean); the file's size."""
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"import_key": key})[:-1] + ', "members": [\n')
        for n, row in enumerate(member_rows(members, offset)):
            body = dict(zip(COLUMNS, row, strict=True))
            body["member"] = False
            out.write(("," if n else "") + json.dumps(body) + "\n")
        out.write("]}\n")
    return path.stat().st_size


def prepare_database(database_url: str) -> str:
    """Empty schema, migrations, the demo tour, the events' sizes; the partner's token."""
    ensure_database(database_url)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    env = funrun_env(database_url)

    def flask(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    flask("db", "upgrade")
    flask("seed-demo")
    flask("users", "create", PARTNER, "--role", "partner")
    token = flask("tokens", "create", PARTNER).strip().splitlines()[-1]
    with engine.begin() as conn:
        for slug, quota, _members, _format in RUNS:
            conn.execute(
                text(
                    "UPDATE events SET quota = :quota, bib_first = 1, bib_next = 1, "
                    "bib_last = 99999, registration_open = true, "
                    "registration_closes_at = NULL WHERE slug = :slug"
                ),
                {"quota": quota, "slug": slug},
            )
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return token


def status_kb(pid: int, key: str) -> int:
    """A /proc/<pid>/status figure in KiB (VmRSS, VmHWM), 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def api(port: int, path: str, token: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        **kwargs,
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, json.loads(response.read())


def run_import(
    database_url: str, token: str, slug: str, csv_path: Path, log_dir: Path, body_format: str
) -> dict[str, Any]:
    """Serve, upload, let the worker import, poll to done; the figures."""
    env = funrun_env(database_url, messages="on")
    server = Server(
        name="funrun",
        app="wsgi:app",
        chdir=ROOT,
        env=env,
        workers=2,
        ready_path="/api/v1/events",
        log_path=log_dir / "gunicorn.log",
        extra_args=["--timeout", "120"],
    )
    server.start()
    worker_log = (log_dir / "worker.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=ROOT,
        env=env,
        stdout=worker_log,
        stderr=worker_log,
        start_new_session=True,
    )
    try:
        time.sleep(2)  # the worker up and polling
        web_pids = server.worker_pids()
        web_before = {pid: status_kb(pid, "VmRSS") for pid in web_pids}
        worker_before = status_kb(worker.pid, "VmRSS")
        size = csv_path.stat().st_size
        started = time.monotonic()
        with csv_path.open("rb") as body:
            status, answer = api(
                server.port,
                f"/api/v1/events/{slug}/group-registrations",
                token,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "text/csv" if body_format == "csv" else "application/json",
                    "Content-Length": str(size),
                    **({"Import-Key": f"bench-{slug}"} if body_format == "csv" else {}),
                },
            )
        uploaded = time.monotonic() - started
        if status != 202:
            raise RuntimeError(f"upload answered {status}: {answer}")
        import_id = answer["import"]["id"]
        print(f"  uploaded {size / 1e6:.1f} MB in {uploaded:.2f} s: import {import_id}")
        worker_peak = 0
        last = None
        while True:
            worker_peak = max(worker_peak, status_kb(worker.pid, "VmHWM"))
            _status, polled = api(server.port, f"/api/v1/imports/{import_id}", token)
            progress = polled["import"]
            shown = (progress["status"], progress["processed_rows"])
            if shown != last:
                elapsed = time.monotonic() - started
                print(
                    f"  {elapsed:6.1f} s  {progress['status']:8} {progress['processed_rows']:>7,}"
                    f" / {progress['total_rows']:,}  accepted {progress['accepted']:,}"
                    f"  refused {progress['refused_count']:,}"
                )
                last = shown
            if progress["status"] in ("done", "failed"):
                break
            if time.monotonic() - started > 600:
                raise RuntimeError("the import did not finish in 10 minutes")
            time.sleep(0.5)
        wall = time.monotonic() - started
        worker_peak = max(worker_peak, status_kb(worker.pid, "VmHWM"))
        web_peaks = {pid: status_kb(pid, "VmHWM") for pid in web_pids}
        return {
            "event": slug,
            "format": body_format,
            "members": progress["total_rows"],
            "bytes": size,
            "import_id": import_id,
            "status": progress["status"],
            "accepted": progress["accepted"],
            "waitlisted": progress["waitlisted"],
            "refused": progress["refused_count"],
            "upload_s": round(uploaded, 2),
            "wall_s": round(wall, 2),
            "worker_rss_before_mb": round(worker_before / 1024, 1),
            "worker_peak_rss_mb": round(worker_peak / 1024, 1),
            "web_rss_before_mb": round(max(web_before.values(), default=0) / 1024, 1),
            "web_peak_rss_mb": round(max(web_peaks.values(), default=0) / 1024, 1),
        }
    finally:
        try:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(worker.pid, signal.SIGKILL)
        worker_log.close()
        server.stop()


def check_database(database_url: str, runs: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """What must hold after the imports."""
    engine = create_engine(database_url)
    checks: list[tuple[str, bool]] = []
    with engine.connect() as conn:
        for run, (slug, quota, members, _format) in zip(runs, RUNS, strict=True):
            event = conn.execute(
                text(
                    "SELECT id, confirmed_count, bib_next, waitlist_seq FROM events WHERE slug = :s"
                ),
                {"s": slug},
            ).one()
            rows = conn.execute(
                text(
                    "SELECT status, count(*), min(bib_number), max(bib_number), "
                    "count(DISTINCT bib_number), min(waitlist_seq), max(waitlist_seq), "
                    "count(DISTINCT waitlist_seq) FROM registrations WHERE event_id = :e "
                    "GROUP BY status"
                ),
                {"e": event.id},
            ).all()
            by = {row[0]: row for row in rows}
            held = by.get("held")
            waiting = by.get("waitlisted")
            placed = min(quota, members)
            checks.append((f"{slug}: import done", run["status"] == "done"))
            checks.append(
                (
                    f"{slug}: {placed:,} held with bibs 1..{placed:,}, none twice",
                    held is not None and tuple(held[1:5]) == (placed, 1, placed, placed),
                )
            )
            extra = members - placed
            checks.append(
                (
                    f"{slug}: {extra:,} waitlisted in order",
                    extra == 0
                    or (
                        waiting is not None
                        and tuple(waiting[1:2]) + tuple(waiting[5:8]) == (extra, 1, extra, extra)
                    ),
                )
            )
            checks.append(
                (
                    f"{slug}: counters agree (confirmed {placed:,}, waitlist {extra:,})",
                    (event.confirmed_count, event.bib_next, event.waitlist_seq)
                    == (placed, placed + 1, extra),
                )
            )
            invites = conn.scalar(
                text("SELECT count(*) FROM messages WHERE kind = 'group_invite' AND event_id = :e"),
                {"e": event.id},
            )
            checks.append((f"{slug}: one invitation per held member", invites == placed))
            body = conn.scalar(
                text("SELECT body_path FROM group_imports WHERE id = :i"), {"i": run["import_id"]}
            )
            checks.append((f"{slug}: the body deleted", body is None))
    engine.dispose()
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    print(f"preparing {args.database_url.rsplit('/', 1)[-1]} ...")
    token = prepare_database(args.database_url)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="funrun-bench-groups-") as tmp:
        work = Path(tmp)
        for number, (slug, _quota, members, body_format) in enumerate(RUNS):
            path = work / f"{slug}.{body_format}"
            if body_format == "csv":
                write_csv(path, members, offset=number * 1_000_000)
            else:
                write_json(path, members, offset=number * 1_000_000, key=f"bench-{slug}")
            print(f"import of {members:,} members into {slug} ({body_format}):")
            runs.append(run_import(args.database_url, token, slug, path, work, body_format))
        checks = check_database(args.database_url, runs)
    print()
    print(
        f"{'format':>6} {'members':>8} {'MB':>6} {'upload':>8} {'to done':>8} {'worker peak':>12} "
        f"{'web peak':>9} {'web before':>11}"
    )
    for run in runs:
        print(
            f"{run['format']:>6} {run['members']:>8,} {run['bytes'] / 1e6:>6.1f} "
            f"{run['upload_s']:>7.2f}s "
            f"{run['wall_s']:>7.1f}s {run['worker_peak_rss_mb']:>9.1f} MB "
            f"{run['web_peak_rss_mb']:>6.1f} MB {run['web_rss_before_mb']:>8.1f} MB"
        )
    measured = runs[1]  # the 100,000-member CSV
    goal = measured["wall_s"] < GOAL_SECONDS
    print(
        f"goal: 100,000 members from upload to done under {GOAL_SECONDS:.0f} s: "
        f"{'met' if goal else 'NOT met'} ({measured['wall_s']:.1f} s)"
    )
    for name, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"groups-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "runs": runs,
                "checks": dict(checks),
                "goal_met": goal,
                "machine": machine(),
                "load": os.getloadavg(),
            },
            indent=2,
        )
    )
    print(f"figures in {out.relative_to(ROOT)}")
    return 0 if all(ok for _name, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
