"""The results file through gunicorn (two sync workers on loopback): 404 before the draw,
the whole file after it, cacheable, and the script checks what the server sent."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from funrun.ballot.draw import draw
from tests.ballot.conftest import close_entries, enter_many
from tests.ballot.test_verify import SCRIPT
from tests.servers import gunicorn, server_env


def test_the_results_file_through_gunicorn(client, make_ballot, database_url, tmp_path):
    event = make_ballot(quota=40)
    slug, sha = event.slug, event.ballot_seed_sha256
    enter_many(client, event, 120)
    close_entries(event)
    with gunicorn(server_env(database_url), workers=2) as base_url:
        with pytest.raises(urllib.error.HTTPError) as before:
            urllib.request.urlopen(f"{base_url}/events/{slug}/ballot.csv", timeout=30)
        assert before.value.code == 404
        before.value.close()  # an HTTPError holds the answer's socket
        seed = draw(event.id).seed
        with urllib.request.urlopen(f"{base_url}/events/{slug}/ballot.csv", timeout=30) as got:
            assert got.status == 200
            assert got.headers["Content-Type"].startswith("text/csv")
            assert got.headers["Cache-Control"] == "public, max-age=300"
            body = got.read()
        with urllib.request.urlopen(f"{base_url}/events/{slug}", timeout=30) as page:
            assert seed in page.read().decode().replace("<wbr>", "")
    assert len(body.splitlines()) == 121
    path = tmp_path / "served.csv"
    path.write_bytes(body)
    run = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), "--seed", seed, "--sha256", sha, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "order: OK (120 entries" in run.stdout and "40 confirmed" in run.stdout
