"""Scans under real concurrency: many threads, each on its own connection, at once.

PostgreSQL runs in a database of its own (``<test database>_checkin``); the same-bib and
same-client_ref races also run on a SQLite file. Threads call the scan service directly,
each in its own app context (its own session and connection), released by a barrier.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from funrun.accounts.models import User
from funrun.bibs.signing import bib_signer
from funrun.checkin.models import CheckIn, ScanLog
from funrun.checkin.services import scan
from funrun.dbtypes import utcnow
from funrun.events.models import Event, Tour
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.services import current_privacy_notice, hash_token
from tests.checkin.conftest import desk_fields
from tests.conftest import build_app, reset_database, truncate_all

THREADS = 16
ENGINE_OPTIONS = {"pool_size": THREADS + 4, "max_overflow": 0}


@pytest.fixture(scope="module")
def _apps() -> Iterator[dict[str, Flask]]:
    apps: dict[str, Flask] = {}
    yield apps
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


def _app_for(kind: str, request: pytest.FixtureRequest, apps: dict[str, Flask], tmp) -> Flask:
    if kind not in apps:
        if kind == "postgresql":
            url = request.getfixturevalue("separate_postgres_url")("checkin")
        else:
            url = f"sqlite:///{Path(tmp.mktemp('checkin')) / 'checkin.sqlite3'}"
        reset_database(url)
        app = build_app(url, SQLALCHEMY_ENGINE_OPTIONS=ENGINE_OPTIONS)
        with app.app_context():
            upgrade()
            db.session.remove()
        apps[kind] = app
    return apps[kind]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, _apps, tmp_path_factory) -> Iterator[Flask]:
    """A dedicated app on SQLite, then on PostgreSQL; emptied after each test."""
    app = _app_for(request.param, request, _apps, tmp_path_factory)
    with app.app_context():
        yield app
        db.session.remove()
    truncate_all(app)


@pytest.fixture
def pg(request, _apps, tmp_path_factory) -> Iterator[Flask]:
    """The dedicated PostgreSQL app only."""
    app = _app_for("postgresql", request, _apps, tmp_path_factory)
    with app.app_context():
        yield app
        db.session.remove()
    truncate_all(app)


# --- arranging -------------------------------------------------------------------------


def make_event(quota: int) -> int:
    tour = Tour(slug="race", name="Race day", organiser="Test")
    db.session.add(tour)
    db.session.flush()
    event = Event(
        tour_id=tour.id,
        slug="solo",
        city="Solo",
        name="Fun Run Solo",
        date=date(2026, 12, 13),
        start_time=time(6, 0),
        venue="Manahan",
        quota=quota,
        bib_prefix="SOC",
        bib_first=1,
        bib_next=quota + 1,
        confirmed_count=quota,
    )
    db.session.add(event)
    db.session.commit()
    return event.id


def add_confirmed(event_id: int, n: int) -> list[int]:
    """``n`` confirmed runners with bibs 1..n, inserted in bulk (the race is the scan)."""
    notice = current_privacy_notice("id")
    people = [
        {
            "nik_hash": f"{i:064x}",
            "nik_encrypted": b"x",
            "birth_date": date(1990, 1, 1),
            "gender": "M",
        }
        for i in range(1, n + 1)
    ]
    person_ids = list(db.session.scalars(insert(Person).returning(Person.id), people))
    now = utcnow()
    rows = [
        {
            "event_id": event_id,
            "person_id": person_id,
            "status": RegistrationStatus.CONFIRMED,
            "bib_number": number,
            "manage_token_hash": hash_token(f"token-{number}"),
            "full_name": f"Runner {number}",
            "phone": "+6281200000000",
            "shirt_size": "M",
            "is_member": False,
            "privacy_notice_id": notice.id,
            "consent_at": now,
            "source": "web",
            "locale": "id",
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
        }
        for number, person_id in enumerate(person_ids, start=1)
    ]
    ids = list(db.session.scalars(insert(Registration).returning(Registration.id), rows))
    db.session.commit()
    return ids


def make_volunteers(n: int) -> list[int]:
    users = [User(email=f"v{i}@example.org", role="volunteer") for i in range(n)]
    db.session.add_all(users)
    db.session.commit()
    return [u.id for u in users]


# --- running threads -------------------------------------------------------------------


def run_together(app: Flask, jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run ``jobs`` on THREADS threads released together; every job's value, in order.

    Each thread has its own app context (own session); each holds its own connection at
    the barrier, so all are connected before the first scan starts.
    """
    db.session.rollback()
    barrier = threading.Barrier(THREADS, timeout=60)
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []
    connections: set[int] = set()
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with app.app_context():
            # The session's connection, held through the barrier and used by the first job.
            conn = db.session.connection()
            with lock:
                connections.add(id(conn.connection.dbapi_connection))
            barrier.wait()
            for index in range(offset, len(jobs), THREADS):
                try:
                    results[index] = jobs[index]()
                except Exception as exc:  # checked by the caller
                    errors.append(exc)
                finally:
                    db.session.remove()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool), "a thread hung"
    assert errors == []
    assert len(connections) == THREADS, "threads shared connections"
    return results


def scan_job(
    event_id: int,
    code: str,
    user_id: int,
    *,
    station: str = "pickup",
    client_ref: str | None = None,
) -> Callable[[], dict[str, Any]]:
    def job() -> dict[str, Any]:
        outcome = scan(
            db.session.get(Event, event_id),
            code,
            user=db.session.get(User, user_id),
            station=station,
            client_ref=client_ref,
            device=f"device-{user_id}",
            **desk_fields(code),
        )
        return {**outcome.as_json(), "status": outcome.http_status}

    return job


def stored(model: type) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- the races -------------------------------------------------------------------------


def test_same_bib_at_once_makes_one_checkin(any_db):
    event_id = make_event(quota=5)
    [runner, *_others] = add_confirmed(event_id, 5)
    users = make_volunteers(THREADS)
    payload = bib_signer().sign(event_id, 1)
    # Half scan the QR, half type the bib: the same runner either way.
    jobs = [
        scan_job(event_id, payload if n % 2 else "SOC 0001", user_id)
        for n, user_id in enumerate(users)
    ]

    answers = run_together(any_db, jobs)

    results = Counter(answer["result"] for answer in answers)
    assert results == {"checked_in": 1, "already_checked_in": THREADS - 1}
    [winner] = [a for a in answers if a["result"] == "checked_in"]
    assert winner["status"] == 201
    assert {a["checkin_id"] for a in answers} == {winner["checkin_id"]}
    assert {a["registration"]["id"] for a in answers} == {runner}
    winner_email = f"v{users.index(db.session.get(CheckIn, winner['checkin_id']).scanned_by_id)}"
    assert all(a["first_by"].startswith(winner_email + "@") for a in answers if a["status"] == 200)
    assert stored(CheckIn) == 1
    assert stored(ScanLog) == THREADS
    logs = db.session.scalars(select(ScanLog)).all()
    assert {log.checkin_id for log in logs} == {winner["checkin_id"]}
    assert Counter(log.result for log in logs) == results


def test_same_client_ref_at_once_is_answered_once(any_db):
    event_id = make_event(quota=3)
    [runner, *_others] = add_confirmed(event_id, 3)
    users = make_volunteers(THREADS)
    # The same queued scan, resent by a flaky connection from every thread at once.
    jobs = [scan_job(event_id, "1", user_id, client_ref="phone-9:scan-0001") for user_id in users]

    answers = run_together(any_db, jobs)

    assert stored(ScanLog) == 1
    assert stored(CheckIn) == 1
    [log] = db.session.scalars(select(ScanLog)).all()
    assert (log.result, log.client_ref, log.registration_id) == (
        "checked_in",
        "phone-9:scan-0001",
        runner,
    )
    # Everyone got the one answer; only the scan that was stored is not a replay.
    assert Counter(a["replayed"] for a in answers) == {False: 1, True: THREADS - 1}
    without_flag = [{k: v for k, v in a.items() if k != "replayed"} for a in answers]
    assert all(a == without_flag[0] for a in without_flag)
    assert without_flag[0]["result"] == "checked_in"
    assert without_flag[0]["status"] == 201
    assert without_flag[0]["checkin_id"] == log.checkin_id


def test_burst_of_scans_counts_each_runner_once(pg):
    runners_n, per_thread = 200, 50
    event_id = make_event(quota=runners_n)
    runner_ids = add_confirmed(event_id, runners_n)
    users = make_volunteers(THREADS)
    signer = bib_signer()
    rng = random.Random(20261213)
    plan: list[tuple[int, str]] = []  # (bib, station)
    jobs = []
    for n in range(THREADS * per_thread):
        bib = rng.randint(1, runners_n)
        # Some runners are scanned again and again (and at several stations).
        if rng.random() < 0.3:
            bib = rng.randint(1, 20)
        station = rng.choice(("pickup", "pickup", "start"))
        code = signer.sign(event_id, bib) if rng.random() < 0.5 else f"soc-{bib:04d}"
        plan.append((bib, station))
        jobs.append(scan_job(event_id, code, users[n % THREADS], station=station))

    answers = run_together(pg, jobs)

    distinct = set(plan)
    results = Counter(answer["result"] for answer in answers)
    assert results == {"checked_in": len(distinct), "already_checked_in": len(plan) - len(distinct)}
    assert len(distinct) < len(plan)  # the burst really repeated runners
    db.session.rollback()
    rows = db.session.execute(select(CheckIn.registration_id, CheckIn.station)).all()
    assert len(rows) == len(set(rows)) == len(distinct)
    by_id = dict(zip(range(1, runners_n + 1), runner_ids, strict=True))
    assert set(rows) == {(by_id[bib], station) for bib, station in distinct}
    assert stored(ScanLog) == len(plan)
    # Each check-in was announced as such exactly once.
    announced = Counter(a["checkin_id"] for a in answers if a["result"] == "checked_in")
    assert set(announced.values()) == {1}
    assert len(announced) == len(distinct)
