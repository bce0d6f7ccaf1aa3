"""A web worker that serves pages and the roster CSV loads none of the heavy optional code.

Every gunicorn worker holds its own copy of whatever it imports (issue 16, point 9: the
roster CSV under 100 MB). Migrations (Alembic, Mako), PDFs (reportlab), QR drawing
(zxing-cpp), the XLSX writer, the message senders (httpx) and, without REDIS_URL, the
Redis client are imported where they are used, so a worker that never does those things
never pays for them. The checks run in a fresh interpreter: this test process has
imported everything long ago.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Loaded only by what needs them (migrating, PDFs, QR codes, XLSX files, sending; the
#: opening queue and shared rate limits, which the embedded default runs without).
HEAVY = (
    "alembic",
    "flask_migrate",
    "mako",
    "reportlab",
    "zxingcpp",
    "xlsxwriter",
    "httpx",
    "redis",
)

WORKER = """
import json, re, sys
from wsgi import app
from funrun.accounts.services import create_user
from funrun.extensions import db

HEAVY = sys.argv[1:]
with app.app_context():
    create_user("memory-organiser@example.org", "organiser", password="correct horse battery")
    db.session.commit()
client = app.test_client()
statuses = [client.get("/").status_code, client.get("/api/v1/events").status_code]
page = client.get("/login").get_data(as_text=True)
token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
signed_in = client.post("/login", data={
    "email": "memory-organiser@example.org", "password": "correct horse battery",
    "csrf_token": token,
})
roster = client.get("/staff/roster.csv")
body = roster.get_data(as_text=True)
print(json.dumps({
    "statuses": statuses,
    "sign_in": signed_in.status_code,
    "roster": [roster.status_code, roster.mimetype, body.splitlines()[0].split(",")[:2]],
    "loaded": sorted(name for name in HEAVY if name in sys.modules),
}))
"""


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def child_env(database_url: str) -> dict[str, str]:
    """A child's environment: the testing configuration on ``database_url``, without
    Redis (the embedded default; rate limits then count in memory)."""
    inherited = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
    return {
        **inherited,
        "FUNRUN_ENV": "testing",
        "TEST_DATABASE_URL": database_url,  # what the testing configuration reads
        "PYTHONPATH": str(ROOT),
    }


def test_pages_and_the_roster_csv_load_no_heavy_optional_code(app, database_url, tmp_path):
    done = run([sys.executable, "-c", WORKER, *HEAVY], child_env(database_url), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["statuses"] == [200, 200]
    assert seen["sign_in"] == 302  # signed in: on to the staff pages
    assert seen["roster"] == [200, "text/csv", ["event", "city"]]
    assert seen["loaded"] == []


def test_flask_db_upgrade_still_migrates_a_new_database(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    env = child_env(f"sqlite:///{database}")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    upgraded = run([*flask, "db", "upgrade"], env, ROOT)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    current = run([*flask, "db", "current"], env, ROOT)
    assert current.returncode == 0, current.stderr[-3000:]
    assert "(head)" in current.stdout + current.stderr
    assert database.stat().st_size > 0
