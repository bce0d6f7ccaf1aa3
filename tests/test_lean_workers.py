"""A serving process loads only what serving needs.

Every gunicorn worker holds its own copy of whatever the app imports. Flask-Migrate
(Alembic, Mako, Pygments: ~11 MB) is loaded only by ``flask db`` and by code that
migrates; reportlab only when a PDF is made; cryptography (~8 MB) only for a PEM signing
key or a CPU without AES instructions, never when a worker encrypts a NIK or signs and
verifies a bib.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKER = """
import json, sys
from wsgi import app
client = app.test_client()
status = client.get("/api/v1/events").status_code
cipher, signer = app.extensions["funrun_data_cipher"], app.extensions["funrun_bib_signer"]
assert cipher.decrypt(cipher.encrypt("3174011708850001")) == "3174011708850001"
assert signer.verify(signer.sign(1, 2), 1).verdict == "valid"
heavy = ("alembic", "flask_migrate", "mako", "reportlab", "cryptography")
print(json.dumps({"status": status, "loaded": sorted(n for n in heavy if n in sys.modules)}))
"""


def run_python(code: str, database_url: str, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "TEST_DATABASE_URL": database_url,  # what the testing configuration reads
        "FUNRUN_ENV": "testing",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_serving_process_loads_no_migration_pdf_or_cryptography_code(app, database_url, tmp_path):
    seen = run_python(WORKER, database_url, tmp_path)
    assert seen == {"status": 200, "loaded": []}


def test_flask_db_still_runs_every_migration_command(runner):
    # Alembic prints to the process's own stdout, out of the runner's reach: exit codes.
    for command in (["db", "current"], ["db", "heads"], ["db", "check"]):
        done = runner.invoke(args=command)
        assert done.exit_code == 0, (command, done.output, done.exception)
    listed = runner.invoke(args=["db", "--help"])
    assert listed.exit_code == 0
    for command in ("upgrade", "downgrade", "migrate", "current", "history"):
        assert command in listed.output
    wrong = runner.invoke(args=["db", "no-such-command"])
    assert wrong.exit_code != 0
