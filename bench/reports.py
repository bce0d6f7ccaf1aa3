"""Benchmark: the organiser's reports with 100,000 registrations over the 11 cities.

``.venv/bin/python bench/reports.py`` (``--help`` for options). It stops by itself:

1. resets the PostgreSQL database ``funrun_bench_reports`` (created when missing; its
   schema ``public`` is dropped), runs ``flask db upgrade`` and
   ``flask seed-demo --runners 100000`` (the 2015 tour, bulk synthetic registrations:
   quotas fill, the rest waitlisted), then in SQL gives it race-day shape: 80% of the
   confirmed runners checked in at pickup (spread over 05:00-07:00 at each venue), 3% of
   the registrations cancelled, a third of the checked-in non-members enrolled, and a
   payment file paying 80%, 60% and 45% of them their first three months;
2. measures, each variant in a fresh child process (so every peak RSS is its own), for
   3 rounds with the variants' order rotated:
   - ``dashboard figures``: ``tour_figures()``, what ``GET /api/v1/stats`` answers
     (median of 9 calls after one warm-up); ``dashboard page data``: the figures plus
     the chart series and geometry the dashboard page draws;
   - ``totals export``: the per-city totals as CSV and as XLSX;
   - ``roster CSV``: the whole tour's roster (every registration) through the same
     generator the download streams, to a file; ``roster XLSX`` likewise;
   - ``roster CSV, all rows at once``: the reference, the same query read with
     ``.all()`` before writing (what streaming avoids);
   - ``funnel``: ``funnel_rows`` per city, aggregator and sponsor (median of 9 calls
     each after one warm-up; the variant's time is the slowest of the three);
3. checks the outputs agree: the roster CSV has one line per registration, and the
   totals CSV's tour row equals the figures (exits 1 otherwise);
4. writes ``bench/results/reports-<timestamp>.json`` and prints a table against the
   goals (dashboard figures under 200 ms; roster CSV of 100,000 rows under 3 s with peak
   memory under 100 MB). Goals are reported, not enforced: the machines are shared.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registration import (  # bench/ is not a package: found through sys.path
    ensure_database,
    funrun_env,
)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_bench_reports"

VARIANTS = (
    "dashboard_figures",
    "dashboard_page",
    "totals_export",
    "roster_csv",
    "roster_xlsx",
    "roster_csv_all_at_once",
    "funnel",
)
GOAL_DASHBOARD_MS = 200.0
GOAL_ROSTER_S = 3.0
GOAL_ROSTER_MB = 100.0


# --- set-up ----------------------------------------------------------------------------


#: Race-day shape, in SQL after the bulk seed (fixed seed: the same rows every run).
SHAPE_SQL = [
    "SELECT setseed(0.2015)",
    # 3% of the registrations cancelled (their bibs retired, as cancel() does).
    """UPDATE registrations SET status = 'cancelled', cancelled_at = created_at
       WHERE id % 33 = 0""",
    """UPDATE events e SET confirmed_count = (
         SELECT count(*) FROM registrations r
         WHERE r.event_id = e.id AND r.status = 'confirmed')""",
    # 80% of the confirmed runners collect their pack between 05:00 and 07:00 local time.
    """INSERT INTO checkins (event_id, registration_id, station, checked_in_at)
       SELECT r.event_id, r.id, 'pickup',
              (e.date + time '05:00') AT TIME ZONE e.timezone
                + make_interval(secs => floor(random() * 7200))
       FROM registrations r JOIN events e ON e.id = r.event_id
       WHERE r.status = 'confirmed' AND random() < 0.8
         AND NOT EXISTS (SELECT 1 FROM checkins x WHERE x.registration_id = r.id)""",
    # A third of the checked-in non-members enrol at the venue.
    """INSERT INTO enrolments (participant_number, person_id, registration_id, event_id,
         full_name, birth_place, mother_maiden_name, address, phone, occupation,
         declared_income, income_basis, programmes, months, payment_channel, schedule_id,
         reliefs, jkk, jkm, jht, monthly_total, amount_due, sponsor_amount, valid_from,
         paid_until, enrolment_notice_id, consent_at, source, created_at)
       SELECT '9' || lpad(r.id::text, 10, '0'), r.person_id, r.id, r.event_id, r.full_name,
              'Jakarta', 'Sri Wahyuni', 'Jl. Bench No. 1', r.phone, 'ojek_driver',
              1000000, 1000000, 'JKK,JKM', 1, 'cash',
              (SELECT min(id) FROM contribution_schedules), '', 10000, 6800, 0, 16800,
              16800, 0, e.date, e.date + 30, r.privacy_notice_id, c.checked_in_at, 'desk',
              c.checked_in_at
       FROM registrations r
       JOIN events e ON e.id = r.event_id
       JOIN checkins c ON c.registration_id = r.id
       WHERE NOT r.is_member AND random() < 0.34
         AND NOT EXISTS (SELECT 1 FROM enrolments x WHERE x.person_id = r.person_id)""",
    # The scheme's payment file: 80% of the new members pay their first month, 60% the
    # second, 45% the third (the funnel's last steps). The NOT EXISTS: seed-demo already
    # checked in, enrolled and paid for a few dozen of the first city's runners.
    """INSERT INTO payment_files (filename, sha256, status, rows, accepted, refused,
         created_at)
       VALUES ('bench.csv', repeat('0', 64), 'done', 0, 0, 0, now())""",
    """INSERT INTO payments (enrolment_id, month, month_number, amount, file_id)
       SELECT en.id, (date_trunc('month', en.valid_from) + make_interval(months => m.n))::date,
              m.n + 1, 16800, (SELECT min(id) FROM payment_files)
       FROM enrolments en CROSS JOIN (VALUES (0, 0.8), (1, 0.6), (2, 0.45)) AS m(n, share)
       WHERE random() < m.share
         AND NOT EXISTS (SELECT 1 FROM payments x WHERE x.enrolment_id = en.id)""",
    "ANALYZE",
]


def prepare_database(database_url: str, runners: int) -> dict[str, int]:
    """Empty schema, migrations, the tour with ``runners`` registrations, race-day shape."""
    ensure_database(database_url)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    env = funrun_env(database_url)
    for args in (["db", "upgrade"], ["seed-demo", "--runners", str(runners)]):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with engine.begin() as conn:
        for statement in SHAPE_SQL:
            conn.execute(text(statement))
    with engine.connect() as conn:
        counts = {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("registrations", "checkins", "enrolments")
        }
    engine.dispose()
    return counts


# --- one measurement, in a child process ------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory now, MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(variant: str, out_dir: Path) -> dict[str, Any]:
    """Run one variant in this (fresh) process and return its figures.

    Each variant imports what it uses, after the app: a variant's peak RSS holds the app
    and its own code, not another variant's (the XLSX writer, the dashboard's series).
    """
    from funrun import create_app
    from funrun.extensions import db
    from funrun.reports.roster_files import RosterWords, roster_csv, roster_events

    app = create_app()
    result: dict[str, Any] = {"variant": variant}
    with app.test_request_context("/", headers={"Accept-Language": "id"}):
        db.session.execute(text("SELECT 1"))
        base = rss_mb()
        result["rss_before_mb"] = round(base, 1)
        started = time.perf_counter()
        if variant in ("dashboard_figures", "dashboard_page"):
            from funrun.reports.dashboard import dashboard
            from funrun.reports.figures import tour_figures

            call = tour_figures if variant == "dashboard_figures" else dashboard
            call()  # warm-up: statement caches, first connection
            times = []
            for _ in range(9):
                t0 = time.perf_counter()
                call()
                times.append((time.perf_counter() - t0) * 1000)
            result["median_ms"] = round(statistics.median(times), 1)
            result["max_ms"] = round(max(times), 1)
            figures = tour_figures()
            result["totals"] = figures.as_json()["totals"]
        elif variant == "funnel":
            from funrun.payments.funnel import VIEWS, funnel_rows

            for view in VIEWS:
                funnel_rows(view)  # warm-up
                times = []
                for _ in range(9):
                    t0 = time.perf_counter()
                    funnel_rows(view)
                    times.append((time.perf_counter() - t0) * 1000)
                result[f"{view}_ms"] = round(statistics.median(times), 1)
            result["median_ms"] = max(result[f"{view}_ms"] for view in VIEWS)
            result["funnel_rows"] = {view: len(funnel_rows(view)) for view in VIEWS}
        elif variant == "totals_export":
            from funrun.reports.exports import totals_csv
            from funrun.reports.exports import totals_xlsx as write_totals_xlsx
            from funrun.reports.figures import tour_figures

            figures = tour_figures()
            t0 = time.perf_counter()
            text_csv = totals_csv(figures)
            with (out_dir / "totals.xlsx").open("wb") as target:
                write_totals_xlsx(figures, target)
            result["median_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            result["with_figures_ms"] = round((time.perf_counter() - started) * 1000, 1)
            result["tour_row"] = list(csv.DictReader(text_csv.splitlines()))[-1]
            result["totals"] = figures.as_json()["totals"]
        elif variant == "roster_csv":
            warm_up(roster_csv)
            started = time.perf_counter()
            with (out_dir / "roster.csv").open("w", encoding="utf-8", newline="") as target:
                for chunk in roster_csv(db.engine, roster_events(), RosterWords.now()):
                    target.write(chunk)
            with (out_dir / "roster.csv").open(encoding="utf-8") as written:
                result["rows"] = sum(1 for _ in written) - 1
        elif variant == "roster_xlsx":
            from funrun.reports.roster_files import roster_xlsx

            warm_up(roster_csv)
            started = time.perf_counter()
            with (out_dir / "roster.xlsx").open("wb") as target:
                events = roster_events()
                connection = db.session.connection()
                result["rows"] = roster_xlsx(connection, events, target, title="Roster")
        elif variant == "roster_csv_all_at_once":
            from funrun.reports.roster_files import roster_query

            warm_up(roster_csv)
            started = time.perf_counter()
            rows = []
            for event in roster_events():
                rows.extend(db.session.execute(roster_query(event.id)).all())
            with (out_dir / "roster-all.csv").open("w", encoding="utf-8", newline="") as target:
                writer = csv.writer(target, lineterminator="\r\n")
                for row in rows:
                    writer.writerow(list(row))
            result["rows"] = len(rows)
        else:
            raise SystemExit(f"unknown variant {variant}")
        result["wall_s"] = round(time.perf_counter() - started, 3)
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
        result["growth_mb"] = round(peak_rss_mb() - base, 1)
    return result


def warm_up(roster_csv: Any) -> None:
    """One small event's roster first, as a server process that has answered before:
    statements compiled and cached, mappers configured (about a second, once)."""
    from funrun.events.models import Event
    from funrun.extensions import db
    from funrun.reports.roster_files import RosterWords, roster_events

    smallest = db.session.scalars(select(Event.id).order_by(Event.quota, Event.id).limit(1)).one()
    for _chunk in roster_csv(db.engine, roster_events(smallest), RosterWords.now()):
        pass
    db.session.rollback()


def run_child(variant: str, database_url: str, out_dir: Path) -> dict[str, Any]:
    """One variant in a fresh interpreter; its JSON line back."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--out", str(out_dir)],
        cwd=ROOT,
        env=funrun_env(database_url),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the whole run ---------------------------------------------------------------------


def summarise(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Medians over the rounds, per variant and figure."""
    summary: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        runs = [r[variant] for r in rounds if variant in r]
        if not runs:
            continue
        keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
        summary[variant] = {k: round(statistics.median(run[k] for run in runs), 3) for k in keys}
    return summary


def print_table(summary: dict[str, dict[str, Any]], counts: dict[str, int]) -> None:
    """The figures, with the goals beside them."""
    print(
        f"\n{counts['registrations']:,} registrations, {counts['checkins']:,} check-ins, "
        f"{counts['enrolments']:,} enrolments; medians of the rounds\n"
    )
    print(f"{'variant':26} {'time':>12} {'peak RSS':>10} {'growth':>8}  goal")
    goals = {
        "dashboard_figures": f"< {GOAL_DASHBOARD_MS:.0f} ms",
        "roster_csv": f"< {GOAL_ROSTER_S:.0f} s and < {GOAL_ROSTER_MB:.0f} MB",
        "funnel": "slowest of city, aggregator, sponsor",
    }
    for variant in summary:
        s = summary[variant]
        shown = f"{s['median_ms']:.1f} ms" if "median_ms" in s else f"{s['wall_s']:.2f} s"
        print(
            f"{variant:26} {shown:>12} {s['peak_rss_mb']:>7.1f} MB {s['growth_mb']:>5.1f} MB"
            f"  {goals.get(variant, '')}"
        )


def machine() -> dict[str, Any]:
    """Where it ran."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "node": platform.node()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runners", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="reuse the database as it is")
    parser.add_argument(
        "--only", action="append", choices=VARIANTS, help="measure only these (repeatable)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child, Path(args.out))))
        return 0

    if args.keep:
        engine = create_engine(args.database_url)
        with engine.connect() as conn:
            counts = {
                t: conn.scalar(text(f"SELECT count(*) FROM {t}"))
                for t in ("registrations", "checkins", "enrolments")
            }
        engine.dispose()
    else:
        t0 = time.perf_counter()
        counts = prepare_database(args.database_url, args.runners)
        print(f"database ready in {time.perf_counter() - t0:.0f} s: {counts}")

    rounds: list[dict[str, dict[str, Any]]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="funrun-bench-reports-") as tmp:
        for index in range(args.rounds):
            chosen = tuple(v for v in VARIANTS if not args.only or v in args.only)
            order = chosen[index % len(chosen) :] + chosen[: index % len(chosen)]
            this_round = {v: run_child(v, args.database_url, Path(tmp)) for v in order}
            rounds.append(this_round)
            print(f"round {index + 1}: " + ", ".join(
                f"{v} {r.get('median_ms', r['wall_s'] * 1000):.0f} ms"
                for v, r in this_round.items()
            ))  # fmt: skip
            for name in ("roster_csv", "roster_xlsx", "roster_csv_all_at_once"):
                if name in this_round and this_round[name]["rows"] != counts["registrations"]:
                    problems.append(f"{name}: {this_round[name]['rows']} rows")
            if "totals_export" in this_round and "dashboard_figures" in this_round:
                totals = this_round["totals_export"]
                for key, value in totals["totals"].items():
                    row = totals["tour_row"]
                    if key in row and key != "conversion_rate" and int(row[key]) != value:
                        problems.append(f"totals CSV {key} {row[key]} != {value}")
                if this_round["dashboard_figures"]["totals"] != totals["totals"]:
                    problems.append("the dashboard's totals differ from the export's")
    summary = summarise(rounds)
    print_table(summary, counts)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"reports-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": machine(),
                "counts": counts,
                "goals": {
                    "dashboard_figures_ms": GOAL_DASHBOARD_MS,
                    "roster_csv_s": GOAL_ROSTER_S,
                    "roster_csv_peak_mb": GOAL_ROSTER_MB,
                },
                "summary": summary,
                "rounds": rounds,
                "problems": problems,
            },
            indent=1,
        )
    )
    print(f"\nwritten {path.relative_to(ROOT)}")
    for problem in problems:
        print("CHECK FAILED:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
