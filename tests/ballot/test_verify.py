"""scripts/verify_ballot.py, run as anyone would run it (a subprocess, the standard library
only), against the published results file and seed of a real draw."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from funrun.ballot.draw import draw
from funrun.ballot.order import draw_order
from funrun.events.models import Event
from funrun.extensions import db
from tests.ballot.conftest import API, close_entries, enter_many

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_ballot.py"


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    # -I: isolated (no site-packages, no current directory): only the standard library.
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def drawn(client, make_ballot, tmp_path):
    """A drawn ballot of 9 entries (one withdrawn): its seed, hash and results file."""
    event = make_ballot(quota=3)
    bodies = enter_many(client, event, 9)
    token = bodies[4]["registration"]["manage_token"]
    assert client.post(f"{API}/registrations/{token}/cancel").status_code == 200
    close_entries(event)
    result = draw(event.id)
    sha = db.session.get(Event, event.id).ballot_seed_sha256
    path = tmp_path / "ballot.csv"
    path.write_bytes(client.get(f"/events/{event.slug}/ballot.csv").get_data())
    return result.seed, sha, path


def test_the_script_recomputes_the_published_order(drawn):
    seed, sha, path = drawn
    run = verify("--seed", seed, "--sha256", sha, str(path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "commitment: OK" in run.stdout
    assert "order: OK (9 entries" in run.stdout
    assert "3 confirmed" in run.stdout and "5 waitlisted" in run.stdout
    assert "1 withdrawn" in run.stdout


def test_a_changed_order_a_wrong_seed_or_hash_fails(drawn, tmp_path):
    seed, sha, path = drawn
    lines = path.read_text().splitlines()
    # Two entries swapped (a winner moved down): the order no longer matches.
    first, second = lines[1].split(","), lines[2].split(",")
    lines[1] = ",".join([first[0], second[1], first[2]])
    lines[2] = ",".join([second[0], first[1], second[2]])
    forged = tmp_path / "forged.csv"
    forged.write_text("\n".join(lines) + "\n")
    run = verify("--seed", seed, str(forged))
    assert run.returncode == 1 and "order: MISMATCH" in run.stdout
    other_seed = "0" * 64
    run = verify("--seed", other_seed, "--sha256", sha, str(path))
    assert run.returncode == 1 and "commitment: MISMATCH" in run.stdout
    run = verify("--seed", seed, "--sha256", "f" * 64, str(path))
    assert run.returncode == 1 and "commitment: MISMATCH" in run.stdout


def test_bad_arguments_and_files_exit_2(drawn, tmp_path):
    seed, _sha, path = drawn
    assert verify("--seed", "not-a-seed", str(path)).returncode == 2
    junk = tmp_path / "junk.csv"
    junk.write_text("rank,entry_number\n1,abc\n")
    assert verify("--seed", seed, str(junk)).returncode == 2
    assert verify("--seed", seed, str(tmp_path / "missing.csv")).returncode == 2


def test_a_list_of_entry_numbers_prints_the_apps_order():
    seed = "ab" * 32
    run = verify("--seed", seed, "--entries", "1-40,45")
    assert run.returncode == 0, run.stderr
    printed = [int(line.split(",")[1]) for line in run.stdout.splitlines() if "," in line]
    printed = printed[:41]
    assert printed == draw_order(seed, [*range(1, 41), 45])
