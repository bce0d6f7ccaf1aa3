"""The quota under real concurrency: many threads, each on its own connection, at once.

Every test runs on PostgreSQL (a database of its own, ``<test database>_conc``) and on a
SQLite file. Threads call the services directly, each inside its own app context (its
own session and connection), released together by a barrier.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from funrun.events.models import Event, Tour
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import PrivacyNotice, Registration, RegistrationStatus
from funrun.registration.services import (
    DuplicateRegistration,
    cancel,
    current_privacy_notice,
    find_by_token,
    manage_token_for,
    new_submission_ref,
    register,
    resent_registration,
    waitlist_position,
)
from funrun.registration.validation import RegistrationData, clean_registration
from tests.conftest import build_app, person_payload, reset_database, truncate_all

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
CANCELLED = RegistrationStatus.CANCELLED
THREADS = 16
ENGINE_OPTIONS = {"pool_size": 24, "max_overflow": 0, "pool_pre_ping": True}


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _apps() -> Iterator[dict[str, Flask]]:
    """Apps built on first use, one per database kind, kept for the module."""
    apps: dict[str, Flask] = {}
    yield apps
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


def _migrated_app(url: str) -> Flask:
    reset_database(url)
    app = build_app(url, SQLALCHEMY_ENGINE_OPTIONS=ENGINE_OPTIONS)
    with app.app_context():
        upgrade()
        db.session.remove()
    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def conc_app(
    request: pytest.FixtureRequest,
    _apps: dict[str, Flask],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Flask]:
    """A dedicated app and database for concurrency, emptied after each test."""
    kind = request.param
    if kind not in _apps:
        if kind == "postgresql":
            url = request.getfixturevalue("separate_postgres_url")("conc")
        else:
            path: Path = tmp_path_factory.mktemp("conc") / "conc.sqlite3"
            url = f"sqlite:///{path}"
        _apps[kind] = _migrated_app(url)
    app = _apps[kind]
    yield app
    truncate_all(app)


@pytest.fixture
def setup(conc_app: Flask) -> Iterator[None]:
    """An app context for arranging and inspecting, on the main thread."""
    with conc_app.app_context():
        yield
        db.session.remove()


def make_event(**kw: Any) -> int:
    """An event in the concurrency database; returns its id."""
    tour = db.session.scalar(select(Tour).where(Tour.slug == "conc"))
    if tour is None:
        tour = Tour(slug="conc", name="Concurrency", organiser="Test")
        db.session.add(tour)
        db.session.flush()
    number = (db.session.scalar(select(func.count()).select_from(Event)) or 0) + 1
    fields: dict[str, Any] = {
        "tour_id": tour.id,
        "slug": f"conc-{number}",
        "city": f"City {number}",
        "name": f"Concurrency {number}",
        "date": date(2026, 12, 13),
        "start_time": time(6, 0),
        "venue": "Lapangan",
        "quota": 10,
        "bib_prefix": "CON",
        "bib_first": 1,
        "bib_next": kw.get("bib_first", 1),
    }
    fields.update(kw)
    event = Event(**fields)
    db.session.add(event)
    db.session.commit()
    return event.id


def payloads(event_id: int, indexes: range) -> list[RegistrationData]:
    """Cleaned registrations for distinct people, made before the threads start."""
    event = db.session.get(Event, event_id)
    return [clean_registration(person_payload(i), event) for i in indexes]


# --- running threads -------------------------------------------------------------------


def run_together(
    app: Flask, jobs: list[Callable[[], Any]], threads: int = THREADS
) -> list[tuple[str, Any]]:
    """Run ``jobs`` on ``threads`` threads released at once; ("ok", value) or ("error", exc).

    Each thread has its own app context, so its own session and pooled connection. Every
    thread first holds a connection while waiting at the barrier, so all of them are
    connected when the first job starts.
    """
    db.session.rollback()  # the main thread holds no transaction while they run
    barrier = threading.Barrier(threads, timeout=60)
    results: list[tuple[str, Any]] = [("missing", None)] * len(jobs)
    connections: set[int] = set()
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with app.app_context():
            with db.engine.connect() as conn:
                with lock:
                    connections.add(id(conn.connection.dbapi_connection))
                barrier.wait()
            for index in range(offset, len(jobs), threads):
                try:
                    results[index] = ("ok", jobs[index]())
                except Exception as exc:  # recorded and checked by the test
                    results[index] = ("error", exc)
                finally:
                    db.session.remove()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool), "a thread hung"
    assert len(connections) == threads, "threads shared connections"
    return results


def register_job(event_id: int, data: RegistrationData, notice_id: int) -> Callable[[], Any]:
    """A job registering ``data``; returns (status, bib_number, waitlist_seq)."""

    def job() -> tuple[str, int | None, int | None]:
        event = db.session.get(Event, event_id)
        notice = db.session.get(PrivacyNotice, notice_id)
        reg = register(event, data, notice=notice).registration
        return reg.status, reg.bib_number, reg.waitlist_seq

    return job


def cancel_job(registration_id: int) -> Callable[[], Any]:
    """A job cancelling one registration; returns the promoted (waitlist_seq, bib) pairs."""

    def job() -> list[tuple[int, int]]:
        promoted = cancel(db.session.get(Registration, registration_id))
        return [(p.waitlist_seq, p.bib_number) for p in promoted]

    return job


def registrations(event_id: int) -> list[Registration]:
    db.session.rollback()  # a fresh snapshot: SQLite's WAL keeps the old one otherwise
    return list(db.session.scalars(select(Registration).where(Registration.event_id == event_id)))


def stored_event(event_id: int) -> Event:
    db.session.rollback()
    return db.session.get(Event, event_id)


def oks(results: list[tuple[str, Any]]) -> list[Any]:
    errors = [value for kind, value in results if kind != "ok"]
    assert errors == []
    return [value for _kind, value in results]


# --- the quota under a rush ------------------------------------------------------------


def test_rush_of_three_times_the_quota(conc_app, setup):
    quota, attempts, bib_first = 50, 150, 101
    event_id = make_event(quota=quota, bib_first=bib_first)
    notice_id = current_privacy_notice("id").id
    jobs = [register_job(event_id, d, notice_id) for d in payloads(event_id, range(attempts))]

    outcomes = oks(run_together(conc_app, jobs))

    statuses = Counter(status for status, _bib, _seq in outcomes)
    assert statuses == {CONFIRMED: quota, WAITLISTED: attempts - quota}
    rows = registrations(event_id)
    assert len(rows) == attempts
    assert db.session.scalar(select(func.count()).select_from(Person)) == attempts
    confirmed = [r for r in rows if r.status == CONFIRMED]
    waitlisted = [r for r in rows if r.status == WAITLISTED]
    assert len(confirmed) == quota
    assert sorted(r.bib_number for r in confirmed) == list(range(bib_first, bib_first + quota))
    assert all(r.waitlist_seq is None for r in confirmed)
    assert len(waitlisted) == attempts - quota
    assert sorted(r.waitlist_seq for r in waitlisted) == list(range(1, attempts - quota + 1))
    assert all(r.bib_number is None for r in waitlisted)
    # What each caller was told is what was stored.
    assert sorted(outcomes, key=repr) == sorted(
        ((r.status, r.bib_number, r.waitlist_seq) for r in rows), key=repr
    )
    event = stored_event(event_id)
    assert event.confirmed_count == quota
    assert event.bib_next == bib_first + quota
    assert event.waitlist_seq == attempts - quota


def test_a_rush_onto_the_waitlist_tells_each_runner_their_own_position(conc_app, setup):
    """Each answer's position is read by the statement that took the number: on
    PostgreSQL most of them waited for the event row while others' numbers were
    committed, which their snapshot does not show. Every runner is still told a
    different position, their number less those who left the waitlist before them."""
    quota, before, rush = 2, 3, 64
    event_id = make_event(quota=quota)
    notice = current_privacy_notice("id")
    event = db.session.get(Event, event_id)
    made = [register(event, d, notice=notice) for d in payloads(event_id, range(quota + before))]
    assert [m.snapshot.waitlist_position for m in made[quota:]] == [1, 2, 3]
    cancel(made[quota + 1].registration)  # waitlist number 2 leaves: 3 is now second
    notice_id = notice.id

    def job(data: RegistrationData) -> Callable[[], Any]:
        def run() -> tuple[int | None, int | None]:
            stored = db.session.get(Event, event_id), db.session.get(PrivacyNotice, notice_id)
            new = register(stored[0], data, notice=stored[1])
            return new.snapshot.waitlist_seq, new.snapshot.waitlist_position

        return run

    told = oks(run_together(conc_app, [job(d) for d in payloads(event_id, range(100, 100 + rush))]))

    assert sorted(seq for seq, _position in told) == list(range(before + 1, before + rush + 1))
    assert all(position == seq - 1 for seq, position in told), sorted(told)
    answered = {seq: position for seq, position in told}
    assert all(
        answered[r.waitlist_seq] == waitlist_position(r)
        for r in registrations(event_id)
        if r.waitlist_seq in answered
    )


def test_concurrent_cancellations_are_filled_from_the_waitlist_in_order(conc_app, setup):
    quota, waiting = 16, 20
    event_id = make_event(quota=quota)
    notice = current_privacy_notice("id")
    event = db.session.get(Event, event_id)
    for data in payloads(event_id, range(quota + waiting)):
        register(event, data, notice=notice)
    first_confirmed = sorted(
        (r for r in registrations(event_id) if r.status == CONFIRMED), key=lambda r: r.bib_number
    )
    assert [r.bib_number for r in first_confirmed] == list(range(1, quota + 1))
    jobs = [cancel_job(r.id) for r in first_confirmed]

    promoted_per_cancel = oks(run_together(conc_app, jobs))

    # Each cancellation freed one place and handed it to the head of the waitlist.
    assert all(len(promoted) == 1 for promoted in promoted_per_cancel)
    promoted = sorted(pair for batch in promoted_per_cancel for pair in batch)
    # Heads in waitlist order, each with a new bib in that same order.
    assert promoted == [(seq, quota + seq) for seq in range(1, quota + 1)]
    rows = registrations(event_id)
    by_status = Counter(r.status for r in rows)
    assert by_status == {CONFIRMED: quota, CANCELLED: quota, WAITLISTED: waiting - quota}
    assert sorted(r.waitlist_seq for r in rows if r.status == WAITLISTED) == list(
        range(quota + 1, waiting + 1)
    )
    # Cancelled runners keep (retire) their bibs; no bib was handed out twice.
    assert sorted(r.bib_number for r in rows if r.status == CANCELLED) == list(range(1, quota + 1))
    bibs = [r.bib_number for r in rows if r.bib_number is not None]
    assert sorted(bibs) == list(range(1, 2 * quota + 1))
    event = stored_event(event_id)
    assert event.confirmed_count == quota
    assert event.bib_next == 2 * quota + 1


def test_registrations_and_cancellations_at_once_leave_no_place_empty(conc_app, setup):
    quota, cancels, newcomers = 20, 12, 60
    event_id = make_event(quota=quota)
    notice = current_privacy_notice("id")
    event = db.session.get(Event, event_id)
    for data in payloads(event_id, range(quota)):
        register(event, data, notice=notice)
    to_cancel = [r.id for r in registrations(event_id)][:cancels]
    jobs = [cancel_job(rid) for rid in to_cancel]
    jobs += [
        register_job(event_id, d, notice.id)
        for d in payloads(event_id, range(quota, quota + newcomers))
    ]
    # Interleave the two kinds so both run at the same time.
    jobs = [job for pair in zip(jobs[:cancels], jobs[cancels:], strict=False) for job in pair] + (
        jobs[2 * cancels :]
    )
    assert len(jobs) == cancels + newcomers

    oks(run_together(conc_app, jobs))

    rows = registrations(event_id)
    confirmed = [r for r in rows if r.status == CONFIRMED]
    waitlisted = [r for r in rows if r.status == WAITLISTED]
    event = stored_event(event_id)
    # More newcomers than freed places: the event ends full, with a waitlist behind it.
    assert len(confirmed) == event.confirmed_count == quota
    assert len(rows) == quota + newcomers
    assert len(waitlisted) == quota + newcomers - cancels - quota
    # Waitlist numbers are gap-free, and everyone promoted joined before everyone waiting.
    joined = sorted(r.waitlist_seq for r in rows if r.waitlist_seq is not None)
    assert joined == list(range(1, event.waitlist_seq + 1))
    promoted = [r.waitlist_seq for r in confirmed if r.waitlist_seq is not None]
    if promoted and waitlisted:
        assert max(promoted) < min(r.waitlist_seq for r in waitlisted)
    bibs = [r.bib_number for r in rows if r.bib_number is not None]
    assert len(bibs) == len(set(bibs)) == event.bib_next - 1
    assert sorted(bibs) == list(range(1, event.bib_next))


# --- one NIK, many submissions ---------------------------------------------------------


@pytest.mark.parametrize("known_person", [False, True], ids=["new-person", "known-person"])
def test_same_nik_at_once_gives_exactly_one_registration(conc_app, setup, known_person):
    event_id = make_event(quota=5)
    notice = current_privacy_notice("id")
    data = payloads(event_id, range(1))[0]
    if known_person:
        # Registered elsewhere already: the race is on the registration, not the person.
        other_id = make_event(quota=5)
        register(db.session.get(Event, other_id), data, notice=notice)
    jobs = [register_job(event_id, data, notice.id) for _ in range(8)]

    results = run_together(conc_app, jobs, threads=8)

    kinds = Counter("ok" if kind == "ok" else type(value).__name__ for kind, value in results)
    assert kinds == {"ok": 1, "DuplicateRegistration": 7}
    assert all(isinstance(value, DuplicateRegistration) for kind, value in results if kind != "ok")
    rows = registrations(event_id)
    assert len(rows) == 1
    assert (rows[0].status, rows[0].bib_number) == (CONFIRMED, 1)
    assert db.session.scalar(select(func.count()).select_from(Person)) == 1
    event = stored_event(event_id)
    # The refused attempts rolled their counters back: no gaps.
    assert (event.confirmed_count, event.bib_next, event.waitlist_seq) == (1, 2, 0)


def test_one_form_sent_at_once_many_times_makes_one_registration(conc_app, setup):
    """A runner taps "Register" again and again on a slow network: registered once, and
    every sending opens that registration. Then, back on the same form, friends are
    registered while the runner's last taps still arrive: each friend apart, with a link
    of their own (the form's id belongs to the registration it made first)."""
    event_id = make_event(quota=20)
    notice_id = current_privacy_notice("id").id
    runner, *friends = payloads(event_id, range(4))
    ref = new_submission_ref()

    def send(data: RegistrationData) -> Callable[[], Any]:
        def job() -> tuple[str, str | None]:
            event = db.session.get(Event, event_id)
            notice = db.session.get(PrivacyNotice, notice_id)
            try:
                return "new", register(event, data, notice=notice, submission=ref).manage_token
            except DuplicateRegistration:  # what the form then does
                return "resent", resent_registration(event_id, data.nik, ref)

        return job

    taps = oks(run_together(conc_app, [send(runner) for _ in range(THREADS)]))
    later = oks(run_together(conc_app, [send(runner)] * 4 + [send(f) for f in friends], 7))

    assert Counter(kind for kind, _token in taps) == {"new": 1, "resent": THREADS - 1}
    runner_tokens = {token for _kind, token in taps + later[:4]}
    assert runner_tokens == {manage_token_for(ref)}
    assert all(kind == "resent" for kind, _token in later[:4])
    assert all(kind == "new" for kind, _token in later[4:])
    assert len({token for _kind, token in later[4:]} | runner_tokens) == 4
    rows = registrations(event_id)
    assert len(rows) == 4 and stored_event(event_id).confirmed_count == 4
    assert sorted(r.bib_number for r in rows) == [1, 2, 3, 4]
    for kind, token in taps + later:
        found = find_by_token(token)
        assert found is not None and found.event_id == event_id, kind
