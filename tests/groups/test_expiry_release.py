"""Held places past their deadline go back (issue 20): the worker cancels them with the
one cancel rule (the waitlist's head promoted and told), queues HOLD_EXPIRED, once.

The worker tests run on the suite's database (SQLite, or PostgreSQL with
TEST_DATABASE_URL); two workers at once run with real threads on PostgreSQL (a database
of its own, ``<test database>_expiry``) and on a SQLite file.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from funrun.dbtypes import utcnow
from funrun.events.models import Event, Tour
from funrun.extensions import db
from funrun.groups import expiry
from funrun.jobs.worker import Worker
from funrun.messages.models import Message, MessageKind
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import build_app, person_payload, reset_database
from tests.groups.held_rows import make_held, make_import, make_partner

HELD, CONFIRMED = RegistrationStatus.HELD, RegistrationStatus.CONFIRMED
WAITLISTED, CANCELLED = RegistrationStatus.WAITLISTED, RegistrationStatus.CANCELLED


def kinds(registration_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(Message.kind)
            .where(Message.registration_id == registration_id)
            .order_by(Message.id)
        )
    )


def waitlist(event: Event, first: int, count: int) -> list[int]:
    """``count`` runners registered on a full event: waitlisted, in order."""
    notice = current_privacy_notice("id")
    ids = []
    for index in range(first, first + count):
        body = person_payload(index, email=f"wait{index}@example.com")
        made = register(event, clean_registration(body, event), notice=notice)
        assert made.snapshot.status == WAITLISTED
        ids.append(made.snapshot.id)
    return ids


def run_worker(app: Flask) -> None:
    """``flask worker --burst``: the timed work (reminders, holds), then the messages."""
    db.session.rollback()
    Worker(app).run(burst=True)
    db.session.rollback()


def test_the_worker_releases_expired_holds_once_and_promotes_the_waitlist(
    app: Flask, make_event: Callable[..., Event]
):
    event = make_event(quota=3)
    partner = make_partner()
    batch = make_import(event, partner)
    past = utcnow() - timedelta(minutes=5)
    late = make_held(event.id, batch.id, partner.id, 1, expires_at=past)
    later = make_held(event.id, batch.id, partner.id, 2, expires_at=past)
    in_time = make_held(event.id, batch.id, partner.id, 3)
    [first, second, third] = waitlist(event, 10, 3)

    run_worker(app)

    for held in (late, later):
        row = db.session.get_one(Registration, held.id)
        assert row.status == CANCELLED and row.cancelled_at is not None
        assert row.consent_at is None
        assert kinds(held.id) == [MessageKind.HOLD_EXPIRED]
    assert db.session.get_one(Registration, in_time.id).status == HELD
    promoted = [db.session.get_one(Registration, i) for i in (first, second)]
    assert [r.status for r in promoted] == [CONFIRMED, CONFIRMED]  # the head first
    assert all(MessageKind.PROMOTED in kinds(r.id) for r in promoted)
    assert db.session.get_one(Registration, third).status == WAITLISTED
    db.session.refresh(event)
    assert event.confirmed_count == 3  # the two freed places went to the waitlist
    sent = db.session.scalar(select(func.count(Message.id)))

    # Again: nothing is due, nothing changes.
    run_worker(app)
    assert expiry.release_due() == 0
    assert db.session.scalar(select(func.count(Message.id))) == sent
    db.session.refresh(event)
    assert event.confirmed_count == 3


def test_more_holds_than_a_batch_are_all_released_in_one_round(
    app: Flask, make_event: Callable[..., Event], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(expiry, "BATCH", 2)
    event = make_event(quota=5)
    partner = make_partner()
    batch = make_import(event, partner)
    past = utcnow() - timedelta(minutes=1)
    for index in range(5):
        make_held(event.id, batch.id, partner.id, index, expires_at=past)
    assert expiry.release_due() == 5
    db.session.refresh(event)
    assert event.confirmed_count == 0


def test_the_deadline_is_the_moment_it_passes(app: Flask, make_event: Callable[..., Event]):
    event = make_event(quota=2)
    partner = make_partner()
    batch = make_import(event, partner)
    deadline = utcnow() + timedelta(hours=1)
    held = make_held(event.id, batch.id, partner.id, 1, expires_at=deadline)
    assert expiry.release_due(deadline - timedelta(seconds=1)) == 0
    assert expiry.release_due(deadline) == 1
    assert expiry.release_due(deadline + timedelta(days=1)) == 0
    db.session.rollback()
    assert db.session.get_one(Registration, held.id).status == CANCELLED
    db.session.refresh(event)
    assert event.confirmed_count == 0


# --- two workers at once ---------------------------------------------------------------

ENGINE_OPTIONS = {"pool_size": 6, "max_overflow": 0, "pool_pre_ping": True}
HOLDS, WAITING, QUOTA = 30, 20, 40


@pytest.fixture(params=["sqlite", "postgresql"])
def own_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own (threads need their own connections)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("separate_postgres_url")("expiry")
    else:
        url = f"sqlite:///{tmp_path / 'expiry.sqlite3'}"
    reset_database(url)
    app = build_app(url, SQLALCHEMY_ENGINE_OPTIONS=ENGINE_OPTIONS)
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_two_workers_at_once_release_each_hold_exactly_once(own_app: Flask):
    with own_app.app_context():
        tour = Tour(slug="t", name="T", organiser="T")
        db.session.add(tour)
        db.session.flush()
        event = Event(
            tour_id=tour.id,
            slug="solo",
            city="Solo",
            name="Fun Run Solo",
            date=date(2030, 12, 13),
            start_time=time(6, 0),
            venue="Stadion",
            quota=QUOTA,
            bib_prefix="SLO",
            bib_first=1,
            bib_last=9999,
            bib_next=1,
        )
        db.session.add(event)
        db.session.commit()
        partner = make_partner()
        batch = make_import(event, partner)
        past = utcnow() - timedelta(minutes=1)
        holds = [
            make_held(event.id, batch.id, partner.id, i, expires_at=past) for i in range(HOLDS)
        ]
        kept = [make_held(event.id, batch.id, partner.id, HOLDS + i) for i in range(QUOTA - HOLDS)]
        waiting = waitlist(event, 200, WAITING)
        event_id = event.id
        db.session.remove()

    barrier = threading.Barrier(2)
    released: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with own_app.app_context():
                barrier.wait()
                released.append(expiry.release_due())
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(released) == HOLDS  # each expired hold released by exactly one worker

    with own_app.app_context():
        event = db.session.get_one(Event, event_id)
        statuses = Counter(
            db.session.scalars(select(Registration.status).where(Registration.event_id == event_id))
        )
        assert statuses[CANCELLED] == HOLDS
        assert statuses[HELD] == len(kept)
        assert statuses[CONFIRMED] == WAITING  # the whole waitlist moved up
        assert event.confirmed_count == statuses[CONFIRMED] + statuses[HELD] <= event.quota
        expired = Counter(
            db.session.scalars(
                select(Message.registration_id).where(
                    Message.kind == MessageKind.HOLD_EXPIRED.value
                )
            )
        )
        assert set(expired) == {h.id for h in holds} and set(expired.values()) == {1}
        bibs = list(
            db.session.scalars(select(Registration.bib_number).where(Registration.id.in_(waiting)))
        )
        assert None not in bibs and len(set(bibs)) == WAITING
        assert min(bibs) > QUOTA  # new bibs: the released holds' numbers stay retired
        db.session.remove()


def test_a_confirmation_racing_the_expiry_ends_one_way_only(own_app: Flask):
    """The member confirms just before the deadline while a worker, just after it,
    releases the place: per hold exactly one of them wins (row locks), never both."""
    from funrun.groups.confirming import Answer, confirm

    with own_app.app_context():
        tour = Tour(slug="t", name="T", organiser="T")
        db.session.add(tour)
        db.session.flush()
        event = Event(
            tour_id=tour.id,
            slug="solo",
            city="Solo",
            name="Fun Run Solo",
            date=date(2030, 12, 13),
            start_time=time(6, 0),
            venue="Stadion",
            quota=20,
            bib_prefix="SLO",
            bib_first=1,
            bib_last=9999,
            bib_next=1,
        )
        db.session.add(event)
        db.session.commit()
        partner = make_partner()
        batch = make_import(event, partner)
        deadline = utcnow() + timedelta(hours=1)
        holds = [
            make_held(event.id, batch.id, partner.id, i, expires_at=deadline) for i in range(20)
        ]
        notice_id = current_privacy_notice("id").id
        event_id = event.id
        db.session.remove()

    confirmed: list[int] = []
    released: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def member() -> None:
        try:
            with own_app.app_context():
                barrier.wait()
                for held in holds:
                    answer = confirm(held.id, notice_id, deadline - timedelta(microseconds=1))
                    if answer == Answer.CONFIRMED:
                        confirmed.append(held.id)
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    def worker() -> None:
        try:
            with own_app.app_context():
                barrier.wait()
                for held in reversed(holds):
                    if expiry.expire_one(held.id, deadline):
                        released.append(held.id)
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=member), threading.Thread(target=worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not set(confirmed) & set(released)
    assert set(confirmed) | set(released) == {h.id for h in holds}
    with own_app.app_context():
        rows = {
            r.id: r
            for r in db.session.scalars(
                select(Registration).where(Registration.event_id == event_id)
            )
        }
        assert {i for i, r in rows.items() if r.status == CONFIRMED} == set(confirmed)
        assert {i for i, r in rows.items() if r.status == CANCELLED} == set(released)
        assert all(rows[i].consent_at is not None for i in confirmed)
        assert all(rows[i].consent_at is None for i in released)
        event = db.session.get_one(Event, event_id)
        assert event.confirmed_count == len(confirmed)
        db.session.remove()
