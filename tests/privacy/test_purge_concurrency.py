"""PostgreSQL: a runner registering again while the purge runs keeps their identity."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, text

from funrun.extensions import db
from funrun.privacy.services import PurgeCounts, purge
from funrun.registration.models import Registration
from tests.privacy.conftest import TODAY, person_of


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
        # What a registration's person upsert does: lock the row, then add the place.
        conn.execute(text("SELECT id FROM people WHERE id = :id FOR UPDATE"), {"id": person_id})
        conn.execute(
            text(
                "INSERT INTO registrations (event_id, person_id, status, manage_token_hash,"
                " full_name, phone, shirt_size, is_member, privacy_notice_id, consent_at,"
                " source, locale, created_at, updated_at)"
                " SELECT :new, person_id, 'waitlisted', 'again-' || id, full_name, phone,"
                " shirt_size, is_member, privacy_notice_id, consent_at, source, locale,"
                " created_at, updated_at FROM registrations WHERE id = :old"
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
