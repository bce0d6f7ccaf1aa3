"""Crash safety: gunicorn workers SIGKILLed in the middle of a registration rush and a scan burst.

A real gunicorn (sync workers) on a database of its own, driven by many client threads
over HTTP, each on its own connection; workers serving a request are killed several
times in each phase and the master restarts them. Clients retry a dead connection like
a real client. Afterwards every answer a client saw acknowledged must be in the
database as acknowledged, nothing half-written, quota and counters intact.

The scenario is bench/crash.py's (run there larger, for seconds instead of counts); this
test bounds it by counts (kills after N acknowledged answers), so its outcome does not
depend on the machine's speed. PostgreSQL only: the hot paths under test are its
one-statement writes.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.postgres


def _crash() -> ModuleType:
    """bench/crash.py (bench/ is scripts, not a package: imported through sys.path)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("crash")


def test_acknowledged_work_survives_killed_workers(
    separate_postgres_url: Callable[[str], str], tmp_path: Path
) -> None:
    crash = _crash()
    settings = crash.Settings(
        database_url=separate_postgres_url("crash"),
        log_path=tmp_path / "gunicorn.log",
        workers=3,
        clients=12,
        hot_quota=150,
        runners=200,
        people=400,  # half to the hot event: 150 confirmed, 50 waitlisted
        scans=600,
        kill_every_acks=75,
        max_kills=4,
        kill_all_every=4,
        deadline=90.0,
    )
    outcome = crash.run_scenario(settings)
    report = (
        "\n".join(f"{'ok' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in outcome.checks)
        + f"\nlog: {settings.log_path}"
    )

    failed = [c for c in outcome.checks if not c.ok]
    assert not failed, report
    rush, burst = outcome.rush, outcome.burst
    # The kills happened, several per phase, while requests were being served: without
    # them this test would prove nothing.
    assert len(rush.kills) == len(burst.kills) == 4, report
    # The fourth kill of each phase took every worker at once.
    assert rush.kills[3]["all_workers"] and burst.kills[3]["all_workers"], report
    assert rush.tally.connection_errors + burst.tally.connection_errors >= 1, report
    # Every person and scan was answered in the end (retries got through).
    assert rush.tally.gave_up == burst.tally.gave_up == 0, report
    assert len(rush.outcomes) == 400
    assert len(burst.acks_seen) == 600
