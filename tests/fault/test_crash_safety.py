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
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from funrun.accounts.services import create_api_token, create_user
from funrun.bibs.signing import bib_signer
from funrun.checkin.models import CheckIn, ScanLog
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload

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

    failed = [c for c in outcome.checks if c.invariant and not c.ok]
    assert not failed, report
    spilled = next(c for c in outcome.checks if c.name.endswith("spilled into its waitlist"))
    assert spilled.ok, report  # the waitlist path ran under the kills too
    rush, burst = outcome.rush, outcome.burst
    # The kills happened, several per phase, while requests were being served: without
    # them this test would prove nothing.
    assert len(rush.kills) == len(burst.kills) == 4, report
    # The fourth kill of each phase took every worker at once.
    assert [k["ordinal"] for k in rush.kills if k["all_workers"]] == [4], report
    assert [k["ordinal"] for k in burst.kills if k["all_workers"]] == [4], report
    # Killed while a client waited for its answer: each such kill cuts a request. The
    # killer stops the workers before it looks, so what it finds is still so when it
    # kills (looking at running workers, the kills of a scan burst answered in about a
    # millisecond landed between requests: 0 of 4 in most runs, and one fresh-clone CI
    # failed below); with a second to look, each kill finds a worker serving. What
    # proves requests were cut in each phase is that its clients saw their connections die.
    assert all(sum(k["serving"] for k in p.kills) >= 1 for p in (rush, burst)), report
    assert rush.tally.connection_errors >= 1 and burst.tally.connection_errors >= 1, report
    # Every person and scan was answered in the end (retries got through).
    assert rush.tally.gave_up == burst.tally.gave_up == 0, report
    assert len(rush.outcomes) == 400
    assert len(burst.acks_seen) == 600


def test_a_retry_after_a_kill_between_the_scan_and_its_pointer_names_the_check_in(
    app: Flask,
    client: FlaskClient,
    make_event: Callable[..., Event],
    postgres_url: str,
) -> None:
    """The one scan write that takes two statements, cut between them by a kill.

    When another device checks the runner in while a scan's statement runs, the statement
    answers "already checked in" without seeing that check-in (it is not in its
    snapshot); a second statement then points the scan-log row at it. A worker killed
    between the two (or during the first: the database finishes it anyway) leaves the row
    without its pointer, and the client's retry (same client_ref) is answered from that
    row: it must still name the check-in. bench/crash.py's two-devices-at-once scans hit
    this about once in thirty runs of the test above before the fix.
    """
    event = make_event(slug="solo", bib_prefix="SOC", quota=5)
    notice = current_privacy_notice("id")
    data = clean_registration(person_payload(1), event)
    runner = register(event, data, notice=notice).snapshot
    user = create_user("volunteer-crash@example.org", "volunteer", event_slugs=["solo"])
    headers = {"Authorization": f"Bearer {create_api_token(user)}"}
    code = bib_signer().sign(event.id, runner.bib_number)
    url = "/api/v1/events/solo/checkins"

    first = client.post(url, json={"code": code, "client_ref": "dev-a-1"}, headers=headers)
    assert first.status_code == 201, first.get_json()
    checkin_id = first.get_json()["checkin_id"]
    # What the killed worker of device B left: its scan statement committed the log row
    # (already checked in, no pointer); the update that sets the pointer never ran.
    db.session.execute(
        insert(ScanLog).values(
            event_id=event.id,
            user_id=user.id,
            station="pickup",
            client_ref="dev-b-1",
            result="already_checked_in",
            code_kind="qr",
            registration_id=runner.id,
            checkin_id=None,
            bib_number=runner.bib_number,
            received_at=utcnow(),
        )
    )
    db.session.commit()

    retry = client.post(url, json={"code": code, "client_ref": "dev-b-1"}, headers=headers)
    assert retry.status_code == 200, retry.get_json()
    body = retry.get_json()
    assert body["result"] == "already_checked_in" and body["replayed"] is True
    assert body["checkin_id"] == checkin_id
    assert body["first_by"] == "volunteer-crash@example.org" and body["first_at"]
    # The retry also completed the row the kill left half-written.
    db.session.rollback()
    logged = db.session.scalar(select(ScanLog.checkin_id).where(ScanLog.client_ref == "dev-b-1"))
    assert logged == checkin_id
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1
