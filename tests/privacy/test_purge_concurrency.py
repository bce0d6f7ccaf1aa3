"""PostgreSQL: a runner registering again while the purge runs keeps their identity."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, func, select, text

from funrun.bibs.models import PrintJob, PrintJobStatus
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.privacy.services import PurgeCounts, purge
from funrun.registration.models import Registration, RegistrationStatus
from tests.conftest import person_payload
from tests.privacy.conftest import API, TODAY, person_of


def test_a_registration_committed_during_the_purge_keeps_the_person(postgres_url, app, tour):
    """The purge waits for the person's row lock, then sees the new registration."""
    rid = tour.old_ids[1]  # only in the old event
    person_id = person_of(rid).id
    other = create_engine(postgres_url)
    results: list[PurgeCounts | BaseException] = []

    def run_purge() -> None:
        with app.app_context():
            try:
                results.append(purge(365, today=TODAY))
            except BaseException as exc:  # reported by the assertion below
                results.append(exc)
            finally:
                db.session.remove()

    with other.connect() as conn:
        # The lock the registration path takes on a known person (FOR KEY SHARE, see
        # funrun.registration.places.find_person), then the place.
        conn.execute(text("SELECT id FROM people WHERE id = :id FOR KEY SHARE"), {"id": person_id})
        conn.execute(
            text(
                "INSERT INTO registrations (event_id, person_id, status, manage_token_hash,"
                " full_name, phone, shirt_size, is_member, privacy_notice_id, consent_at,"
                " source, locale, created_at, updated_at, waitlist_seq)"
                " SELECT :new, person_id, 'waitlisted', 'again-' || id, full_name, phone,"
                " shirt_size, is_member, privacy_notice_id, consent_at, source, locale,"
                " created_at, updated_at, 1000 + id FROM registrations WHERE id = :old"
            ),
            {"new": tour.new.id, "old": rid},
        )
        worker = threading.Thread(target=run_purge)
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive()  # waiting for the person's row
        conn.commit()
    worker.join(timeout=30)
    other.dispose()
    assert not worker.is_alive()
    [counts] = results
    assert isinstance(counts, PurgeCounts), counts
    assert counts.registrations == 6 and counts.people == 4
    db.session.rollback()
    assert db.session.get_one(Registration, rid).purged_at is not None
    person = person_of(rid)
    assert person.purged_at is None and not person.nik_hash.startswith("purged:")


def _waiting_on_locks(conn) -> int:
    """How many other backends of this database wait for a lock now."""
    return conn.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    ).scalar_one()


def test_the_real_registration_racing_the_purge_never_gives_one_nik_two_places(
    postgres_url, app, client, tour
):
    """The API registration of a NIK whose person is being purged waits, then registers a
    new person: the same NIK sent again is refused, never a second place in the event.

    The purge is made to stop just before it commits (another connection holds the row of
    a batch-printed PDF the purge drops last), after it has locked and anonymised the
    person; the registration then comes in, and the purge is let go.
    """
    rid = tour.old_ids[1]  # only in the old event
    body = person_payload(5001)
    assert body["nik"] == tour.niks[rid]
    job = PrintJob(event_id=tour.old.id, status=PrintJobStatus.DONE, pdf_size=9)
    db.session.add(job)
    db.session.commit()
    job_id = job.id
    other = create_engine(postgres_url)
    purged: list[PurgeCounts | BaseException] = []
    answers: list[tuple[int, str]] = []

    def run_purge() -> None:
        with app.app_context():
            try:
                purged.append(purge(365, today=TODAY))
            except BaseException as exc:  # reported by the assertion below
                purged.append(exc)
            finally:
                db.session.remove()

    def run_registration() -> None:
        with app.app_context():
            try:
                response = app.test_client().post(
                    f"{API}/events/{tour.new.slug}/registrations", json=body
                )
                answers.append((response.status_code, response.get_data(as_text=True)))
            finally:
                db.session.remove()

    def wait_for(conn, waiting: int) -> None:
        for _ in range(300):
            if _waiting_on_locks(conn) >= waiting:
                return
            time.sleep(0.05)
        raise AssertionError(f"never {waiting} backend(s) waiting")

    with other.connect() as holder, other.connect() as watcher:
        holder.execute(text("SELECT id FROM print_jobs WHERE id = :id FOR UPDATE"), {"id": job_id})
        purging = threading.Thread(target=run_purge)
        purging.start()
        wait_for(watcher, 1)  # the purge has the person, waits for the PDF's row
        registering = threading.Thread(target=run_registration)
        registering.start()
        wait_for(watcher, 2)  # the registration waits for the person's row
        holder.commit()
    purging.join(timeout=30)
    registering.join(timeout=30)
    other.dispose()
    assert not purging.is_alive() and not registering.is_alive()
    [counts] = purged
    assert isinstance(counts, PurgeCounts), counts
    [(status, text_)] = answers
    assert status == 201, text_

    again = client.post(f"{API}/events/{tour.new.slug}/registrations", json=body)
    assert again.status_code == 409, again.get_data(as_text=True)

    db.session.rollback()
    nik_hash = data_cipher().lookup_hash(body["nik"])
    active = db.session.scalars(
        select(Registration)
        .join(Person, Person.id == Registration.person_id)
        .where(
            Registration.event_id == tour.new.id,
            Registration.status != RegistrationStatus.CANCELLED,
            Person.nik_hash == nik_hash,
        )
    ).all()
    assert len(active) == 1
    # The place belongs to a person the NIK finds, never to the anonymised one.
    assert active[0].person.purged_at is None
    assert person_of(rid).purged_at is not None
    on_purged = db.session.scalar(
        select(func.count())
        .select_from(Registration)
        .join(Person, Person.id == Registration.person_id)
        .where(Person.purged_at.is_not(None), Registration.purged_at.is_(None))
    )
    assert on_purged == 0
