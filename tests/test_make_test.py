"""`make test` (what the README says to run, and what .ci/run calls) proves both databases:
the whole suite on SQLite, then with TEST_DATABASE_URL the whole suite again on
PostgreSQL; the SQLite run keeps PostgreSQL for the PostgreSQL-only tests (issue 16,
point 6)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_make_test_runs_the_suite_on_sqlite_then_on_postgresql():
    """`make -n` prints the commands: one pytest without TEST_DATABASE_URL, then one with."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = dict(os.environ, TEST_DATABASE_URL="postgresql://postgres@127.0.0.1/x")
    env.pop("TEST_POSTGRES_URL", None)
    printed = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    script = printed.replace("\\\n", " ")
    runs = [line for line in script.splitlines() if "/pytest" in line]
    assert len(runs) == 2, printed
    sqlite_run, postgres_run = runs
    assert "env -u TEST_DATABASE_URL" in sqlite_run
    assert "TEST_POSTGRES_URL=" in sqlite_run
    assert 'if [ -n "$TEST_DATABASE_URL" ]' in postgres_run
    # The shell runs the SQLite one with the PostgreSQL URL kept for the PostgreSQL-only tests.
    sqlite_env = sqlite_run.split("/pytest")[0].replace(".venv/bin", "")
    shown = subprocess.run(
        ["sh", "-c", sqlite_env + "/usr/bin/env"], env=env, capture_output=True, text=True
    ).stdout
    assert "TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1/x" in shown.splitlines()
    assert not any(line.startswith("TEST_DATABASE_URL=") for line in shown.splitlines())
