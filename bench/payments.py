"""Benchmark: ``flask payments import`` of a 1,000,000-row payment file on PostgreSQL.

``.venv/bin/python bench/payments.py`` (``--help`` for options). It stops by itself:

1. resets the PostgreSQL database ``funrun_bench_payments`` exactly as ``bench/reports.py``
   prepares its own (``seed-demo --runners 100000``, race-day shape: a third of the
   checked-in non-members enrolled); ``--keep`` reuses it as it is;
2. writes payment files from the enrolments (fixed seed): every member's months from the
   first covered month on, until the file has ``--rows`` rows, with about 1% of rows
   wrong on purpose (unknown participant numbers, a month before the first covered
   month, the same member and month twice, malformed months, amounts of 0);
3. runs ``flask --app wsgi payments import FILE --report REPORT`` in a child process for
   a 100,000-row file and then the full file (the payments of the first removed between),
   then the full file again (answered from the first import), each timed from the
   command's start to its exit, with the child's peak RSS (``wait4``);
4. checks the outcome: the accepted and refused counts are the ones the file was made
   with, the report has one line per row, the payments table holds the accepted rows,
   and the repeat changed nothing (exit 1 otherwise);
5. writes ``bench/results/payments-<timestamp>.json`` and prints a table against the goal
   (1,000,000 rows in under 2 minutes). Goals are reported, not enforced.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration import funrun_env  # bench/ is not a package: found through sys.path
from reports import machine, prepare_database

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench_payments"
GOAL_S = 120.0
#: After the reports' race-day shape, every other non-member enrols too (on the event's
#: date: their first covered month is the race's), so the file has members enough.
MORE_MEMBERS = """
INSERT INTO enrolments (participant_number, person_id, registration_id, event_id,
  full_name, birth_place, mother_maiden_name, address, phone, occupation,
  declared_income, income_basis, programmes, months, payment_channel, schedule_id,
  reliefs, jkk, jkm, jht, monthly_total, amount_due, sponsor_amount, valid_from,
  paid_until, enrolment_notice_id, consent_at, source, created_at)
SELECT '9' || lpad(r.id::text, 10, '0'), r.person_id, r.id, r.event_id, r.full_name,
       'Jakarta', 'Sri Wahyuni', 'Jl. Bench No. 1', r.phone, 'ojek_driver',
       1000000, 1000000, 'JKK,JKM', 1, 'cash',
       (SELECT min(id) FROM contribution_schedules), '', 10000, 6800, 0, 16800,
       16800, 0, e.date, e.date + 30, r.privacy_notice_id, r.created_at, 'desk', r.created_at
FROM registrations r JOIN events e ON e.id = r.event_id
WHERE NOT r.is_member AND r.status <> 'cancelled'
  AND NOT EXISTS (SELECT 1 FROM enrolments x WHERE x.person_id = r.person_id)
"""
#: ``flask`` run so that the process reports its own peak RSS as it exits.
PEAK_WRAPPER = """
import atexit, resource, runpy, sys
atexit.register(lambda: print(
    "PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))
sys.argv = ["flask", *sys.argv[1:]]
runpy.run_module("flask", run_name="__main__")
"""


def month_add(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def write_file(path: Path, members: list[tuple[str, date]], rows: int, seed: int) -> dict[str, int]:
    """A payment file of ``rows`` rows; what its import must accept and refuse."""
    rng = random.Random(seed)
    expected = {"accepted": 0, "refused": 0}
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("participant_number,month,amount\r\n")
        month = 0
        while written < rows:
            for number, first in members:
                if written >= rows:
                    break
                paid = month_add(first, month)
                roll = rng.random()
                if roll < 0.002:
                    line = f"8{rng.randrange(10**9, 10**10)},{paid:%Y-%m},16800"
                elif roll < 0.004:
                    line = f"{number},{month_add(first, -1):%Y-%m},16800"
                elif roll < 0.006:
                    line = f"{number},{paid:%Y}-13,16800"
                elif roll < 0.008:
                    line = f"{number},{paid:%Y-%m},0"
                else:
                    line = f"{number},{paid:%Y-%m},16800"
                    expected["accepted"] += 1
                    if roll < 0.01 and written + 1 < rows:  # the same row twice
                        out.write(line + "\r\n")
                        written += 1
                        expected["refused"] += 1
                out.write(line + "\r\n")
                written += 1
            month += 1
    expected["refused"] += written - expected["accepted"] - expected["refused"]
    expected["rows"] = written
    return expected


def run_import(database_url: str, path: Path, report: Path) -> dict[str, Any]:
    """The command in a child process: wall time, peak RSS, its output."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", PEAK_WRAPPER, "--app", "wsgi", "payments", "import", str(path),
         "--report", str(report)],
        cwd=ROOT,
        env=funrun_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    out, err = child.communicate()
    wall = time.perf_counter() - started
    peaks = [line for line in err.splitlines() if line.startswith("PEAK_RSS_KB ")]
    usage = round(int(peaks[-1].split()[1]) / 1024, 1) if peaks else 0.0
    if child.returncode != 0:
        sys.exit(f"import failed ({child.returncode}):\n{out}\n{err}")
    return {"wall_s": round(wall, 2), "peak_rss_mb": usage, "output": out, "progress": err}


def counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        found = {
            t: int(conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0)
            for t in (
                "registrations",
                "enrolments",
                "payments",
                "payment_refusals",
                "payment_files",
            )
        }
    engine.dispose()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runners", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="reuse the database as it is")
    parser.add_argument("--out", default="/tmp/funrun-bench-payments")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    if not args.keep:
        t0 = time.perf_counter()
        prepared = prepare_database(args.database_url, args.runners)
        engine = create_engine(args.database_url)
        with engine.begin() as conn:
            conn.execute(text(MORE_MEMBERS))
            conn.execute(text("ANALYZE"))
        engine.dispose()
        prepared = counts(args.database_url)
        print(f"database ready in {time.perf_counter() - t0:.0f} s: {prepared}")
    engine = create_engine(args.database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE payments, payment_refusals, payment_files"))
        members = [
            (n, month_add(v, 0))
            for n, v in conn.execute(
                text("SELECT participant_number, valid_from FROM enrolments ORDER BY id")
            )
        ]
    print(f"{len(members):,} enrolled members")

    runs: dict[str, Any] = {}
    problems: list[str] = []
    for name, rows in (("small", args.rows // 10), ("full", args.rows), ("repeat", args.rows)):
        path = out_dir / f"payments-{rows}.csv"
        if name != "repeat":
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE payments, payment_refusals, payment_files"))
            expected = write_file(path, members, rows, seed=2015)
        before = counts(args.database_url)
        run = run_import(args.database_url, path, out_dir / f"report-{name}.csv")
        after = counts(args.database_url)
        with (out_dir / f"report-{name}.csv").open(encoding="utf-8") as report:
            run["report_rows"] = sum(1 for _ in report) - 1
        run["expected"] = expected
        run["counts"] = after
        runs[name] = run
        print(f"{name}: {rows:,} rows in {run['wall_s']:.1f} s, peak RSS {run['peak_rss_mb']} MB")
        print("  " + run["output"].strip().replace("\n", "\n  "))
        summary = f"{expected['rows']:,} rows, {expected['accepted']:,} accepted, "
        summary += f"{expected['refused']:,} refused"
        if summary not in run["output"]:
            problems.append(f"{name}: expected '{summary}' in the output")
        if run["report_rows"] != expected["rows"]:
            problems.append(f"{name}: report has {run['report_rows']} rows")
        if name == "repeat":
            if after != before or "imported before" not in run["output"]:
                problems.append("the repeat changed something or was not recognised")
        elif after["payments"] != expected["accepted"]:
            problems.append(f"{name}: {after['payments']} payments stored")
    engine.dispose()

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result_path = RESULTS_DIR / f"payments-{stamp}.json"
    load = os.getloadavg()
    result_path.write_text(
        json.dumps(
            {"when": stamp, "machine": machine(), "load": load, "members": len(members),
             "goal_s": GOAL_S, "runs": runs, "problems": problems},
            indent=1,
        )
    )  # fmt: skip
    print(f"\nload average now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"goal: {args.rows:,} rows in under {GOAL_S:.0f} s: ", end="")
    print("met" if runs["full"]["wall_s"] < GOAL_S else "MISSED", f"({runs['full']['wall_s']} s)")
    print(f"written {result_path.relative_to(ROOT)}")
    for problem in problems:
        print("CHECK FAILED:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
