"""Benchmark: the worker's instructions per check-in scan, counted by valgrind, for A/B.

``.venv/bin/python bench/scan_cost.py [--against DIR]`` (``--help`` for options).

bench/checkin.py measures scans a second against a "hello" ceiling, which is the figure
that matters on race morning, but on a shared 2-core machine two runs of it differ by
10-15%: too much to tell whether a change made a scan 5% dearer. This counts instead what
the machine's load cannot change: the instructions the worker's process executes per scan
(``valgrind --tool=callgrind``), with PostgreSQL in its own process (not counted).

For each checkout (this one, or ``--checkout DIR``; and ``--against`` another, e.g. a
``git worktree`` of 27afc24 with ``.venv`` linked to this one's):

1. a PostgreSQL database of its own (``funrun_bench_scancost_<path's hash>``) gets its
   migrations and bench/checkin.py's seed (20,000 runners at Jakarta, a volunteer's API
   token);
2. in a child process under callgrind, that checkout's ``create_app()`` answers the scan
   mix of that checkout's bench/checkin.py (first scans, typed bibs, repeats, replays,
   forged, unknown, another event's) through the WSGI app (the view, the statement on
   the fast path, the JSON answer: what a gunicorn worker runs, less gunicorn), 600 scans
   to warm up (then the start-up's objects are frozen out of the garbage collector's
   rounds), then ``--scans`` more; the check-ins and scan log are emptied first, so both
   counts see the same answers; PYTHONHASHSEED is fixed;
3. it is run with two counts, and the difference divided by the difference in scans is
   the instructions of one scan (start-up and warm-up cancel out).

The answers' status counts of each run are printed: the two checkouts must answer the
same mix (they do for 27afc24 and later: the same seed, the same plan of scans).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Scans answered before counting: every kind of scan has run (and compiled what it
#: compiles) before the measured ones.
WARM_UP = 600


def inner(database_url: str, scans: int, prepare: bool) -> None:
    """In the checkout's directory: prepare the database, or answer ``scans`` scans."""
    root = Path.cwd()
    sys.path[:0] = [str(root / "bench"), str(root)]
    import checkin as bench  # the checkout's own bench/checkin.py
    from registration import funrun_env

    seeded_file = Path(tempfile.gettempdir()) / f"{database_url.rsplit('/', 1)[1]}.json"
    if prepare:
        seeded_file.write_text(json.dumps(bench.prepare_database(database_url, 20_000)))
        return
    seeded = json.loads(seeded_file.read_text())
    os.environ.update(funrun_env(database_url))
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE checkins, scan_log CASCADE"))
    engine.dispose()
    from werkzeug.test import EnvironBuilder

    from funrun import create_app

    app = create_app()
    plan = bench.ScanPlan(
        seeded["event_id"], seeded["prefix"], range(seeded["bib_min"], seeded["bib_max"] + 1)
    )
    lines = plan.make_run(WARM_UP + scans)
    path = f"/api/v1/events/{bench.EVENT}/checkins"
    headers = {"Authorization": "Bearer " + seeded["token"]}
    statuses: Counter[str] = Counter()

    def scan(body: str) -> str:
        environ = EnvironBuilder(
            path=path, method="POST", data=body, headers=headers, content_type="application/json"
        ).get_environ()
        seen: list[str] = []
        b"".join(app(environ, lambda status, _headers, _exc=None: seen.append(status)))
        return seen[0]

    for line in lines[:WARM_UP]:
        scan(line.body)
    # What start-up made is left out of the collector's rounds: a full collection of its
    # 165,000 objects falls in one run's measured scans and not in the other's at random
    # (tens of millions of instructions), which the difference would count as scans'.
    gc.collect()
    gc.freeze()
    for line in lines[WARM_UP:]:
        statuses[scan(line.body)] += 1
    print("STATUSES " + json.dumps(dict(sorted(statuses.items()))))


def counted(checkout: Path, database_url: str, scans: int) -> tuple[int, dict[str, int]]:
    """Instructions of the whole child for ``scans`` scans (after the warm-up), and its
    answers' status counts."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                str(checkout / ".venv" / "bin" / "python"),
                str(Path(__file__).resolve()),
                "--inner",
                database_url,
                str(scans),
            ],
            cwd=checkout,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts each run
        )
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
    found = re.search(r"^STATUSES (.*)$", done.stdout, re.MULTILINE)
    if summary is None or found is None:
        raise SystemExit(f"no count from {checkout}:\n{done.stdout}\n{done.stderr[-2000:]}")
    return int(summary.group(1)), json.loads(found.group(1))


def measure(checkout: Path, database_url: str, low: int, high: int) -> dict[str, Any]:
    subprocess.run(
        [
            str(checkout / ".venv" / "bin" / "python"),
            str(Path(__file__).resolve()),
            "--inner",
            database_url,
            "0",
            "--prepare",
        ],
        cwd=checkout,
        check=True,
        capture_output=True,
    )
    few, few_statuses = counted(checkout, database_url, low)
    many, many_statuses = counted(checkout, database_url, high)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True
    ).stdout.strip()
    return {
        "checkout": str(checkout),
        "commit": head,
        "instructions_per_scan": round((many - few) / (high - low)),
        "statuses": many_statuses,
        "statuses_fewer": few_statuses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="default: this one")
    parser.add_argument("--against", type=Path, help="another checkout to count too")
    parser.add_argument("--scans", default="300,900", help="the two counts (default 300,900)")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--inner", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        inner(args.inner[0], int(args.inner[1]), args.prepare)
        return 0
    low, high = (int(n) for n in args.scans.split(","))
    checkouts = [args.checkout.resolve()] + ([args.against.resolve()] if args.against else [])
    rows = []
    for checkout in checkouts:
        named = hashlib.sha1(str(checkout).encode()).hexdigest()[:8]
        url = f"{args.database_url}/funrun_bench_scancost_{named}"
        rows.append(measure(checkout, url, low, high))
        row = rows[-1]
        print(
            f"{row['commit']:>10} {row['instructions_per_scan']:>12,} instructions a scan"
            f"  answers {row['statuses']}",
            flush=True,
        )
    if len(rows) == 2:
        if rows[0]["statuses"] != rows[1]["statuses"]:
            print("the two checkouts answered differently: the counts compare different work")
        ratio = rows[0]["instructions_per_scan"] / rows[1]["instructions_per_scan"]
        print(f"this checkout / {rows[1]['commit']}: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
