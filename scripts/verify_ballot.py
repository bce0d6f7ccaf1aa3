#!/usr/bin/env python3
"""Check a funrun ballot draw yourself (Python 3.10+, nothing to install).

The procedure, exactly as the app draws:

1. Before entries open, the event page publishes SHA-256(seed): the SHA-256 of the
   seed's 64 hexadecimal characters (as ASCII), in hexadecimal. After the draw it
   publishes the seed; ``--sha256`` checks that the two agree (the seed was not changed).
2. Every entry has a number, given when it was sent (1, 2, 3, ... in the event).
3. An entry's key is SHA-256 of the ASCII text ``<seed>:<entry number>`` (for example
   ``3f9c...e1:42``), in lowercase hexadecimal.
4. The draw order is the entry numbers sorted by key, smallest first (two equal keys,
   never seen in practice, by entry number). Rank 1 is the first drawn. Every entry
   number is ranked, withdrawn entries too.
5. In that order the winners got the places, the others the waitlist.

Usage:

    python3 scripts/verify_ballot.py --seed SEED --sha256 HASH ballot-jakarta.csv
    python3 scripts/verify_ballot.py --seed SEED --entries 1-5000     # print the order

The results file is the event's ``/events/<slug>/ballot.csv`` (``rank,entry_number,
outcome``). Exit code 0 when everything matches, 1 when anything does not, 2 for a
file or arguments that cannot be read.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
from collections.abc import Iterable

OUTCOMES = {"confirmed", "waitlisted", "withdrawn"}


def seed_hash(seed: str) -> str:
    """The published commitment: SHA-256 of the seed's text."""
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def entry_key(seed: str, entry_number: int) -> str:
    """The entry's key in the draw."""
    return hashlib.sha256(f"{seed}:{entry_number}".encode("ascii")).hexdigest()


def draw_order(seed: str, entry_numbers: Iterable[int]) -> list[int]:
    """The entry numbers in draw order."""
    return sorted(entry_numbers, key=lambda number: (entry_key(seed, number), number))


def read_results(path: str) -> list[tuple[int, int, str]]:
    """(rank, entry_number, outcome) rows of a results CSV, in file order."""
    if path == "-":
        return _rows(sys.stdin)
    with open(path, newline="", encoding="utf-8") as handle:
        return _rows(handle)


def _rows(handle: Iterable[str]) -> list[tuple[int, int, str]]:
    """The rows of an open results file."""
    rows = []
    reader = csv.DictReader(handle)
    missing = {"rank", "entry_number"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"the file has no column {', '.join(sorted(missing))}")
    for line, row in enumerate(reader, start=2):
        try:
            rank, number = int(row["rank"]), int(row["entry_number"])
        except (TypeError, ValueError):
            message = f"line {line}: rank and entry_number must be whole numbers"
            raise ValueError(message) from None
        rows.append((rank, number, (row.get("outcome") or "").strip()))
    return rows


def parse_entries(text: str) -> list[int]:
    """Entry numbers written as ``1-500`` or ``1,2,7`` (or both: ``1-10,15``)."""
    numbers = []
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ValueError(f"not an entry number or range: {part!r}")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        numbers.extend(range(first, last + 1))
    return numbers


def check(seed: str, rows: list[tuple[int, int, str]]) -> list[str]:
    """What is wrong with published ``rows`` under ``seed`` (nothing: an empty list)."""
    problems = []
    numbers = [number for _, number, _ in rows]
    if len(set(numbers)) != len(numbers):
        problems.append("an entry number appears more than once")
    ranks = sorted(rank for rank, _, _ in rows)
    if ranks != list(range(1, len(rows) + 1)):
        problems.append("the ranks are not 1, 2, 3, ... without gaps")
    bad = sorted({outcome for _, _, outcome in rows if outcome and outcome not in OUTCOMES})
    if bad:
        problems.append(f"unknown outcomes: {', '.join(bad)}")
    published = [number for _, number, _ in sorted(rows)]
    expected = draw_order(seed, numbers)
    for rank, (got, want) in enumerate(zip(published, expected, strict=True), start=1):
        if got != want:
            problems.append(f"rank {rank}: published entry {got}, the procedure gives {want}")
            break
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", help="the results CSV (- for standard input)")
    parser.add_argument("--seed", required=True, help="the seed published after the draw")
    parser.add_argument("--sha256", help="the seed's SHA-256 published before entries opened")
    parser.add_argument("--entries", help="entry numbers instead of a file: 1-500 or 1,2,7")
    args = parser.parse_args(argv)
    seed = args.seed.strip()
    if not re.fullmatch(r"[0-9a-f]{64}", seed):
        print("the seed must be 64 lowercase hexadecimal characters", file=sys.stderr)
        return 2
    failed = False
    if args.sha256:
        if seed_hash(seed) == args.sha256.strip().lower():
            print("commitment: OK (SHA-256 of the seed is the published hash)")
        else:
            print(f"commitment: MISMATCH (SHA-256 of the seed is {seed_hash(seed)})")
            failed = True
    if args.results is None and args.entries is None:
        return 1 if failed else 0
    try:
        if args.results is not None:
            rows = read_results(args.results)
        else:
            numbers = parse_entries(args.entries)
            rows = [(rank, n, "") for rank, n in enumerate(draw_order(seed, numbers), 1)]
            for rank, number, _ in rows:
                print(f"{rank},{number}")
    except (OSError, ValueError) as exc:
        print(f"cannot read the entries: {exc}", file=sys.stderr)
        return 2
    problems = check(seed, rows)
    counts = {outcome: 0 for outcome in sorted(OUTCOMES)}
    for _, _, outcome in rows:
        counts[outcome] = counts.get(outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if outcome and n)
    if problems:
        for problem in problems:
            print(f"order: MISMATCH: {problem}")
        return 1
    said = f": {summary}" if summary else ""
    print(f"order: OK ({len(rows)} entries in the order the procedure gives{said})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
