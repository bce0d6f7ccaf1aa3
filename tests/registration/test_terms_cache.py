"""Remembered event terms (``funrun.registration.terms_cache``) never decide a place.

On PostgreSQL the API's registration reuses an event's terms for a few seconds. These
tests change the event behind the cache's back, as another process's edit would, and
check that the write itself still refuses a closed event and still fills a place the
remembered terms called full.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select, update

from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration import terms_cache
from funrun.registration.models import Registration
from tests.conftest import person_payload


def post(client, slug: str, index: int):
    return client.post(f"/api/v1/events/{slug}/registrations", json=person_payload(index))


def behind_the_cache(event_id: int, **values) -> None:
    """Change the event row as another process would: this process is not told."""
    db.session.execute(update(Event).where(Event.id == event_id).values(**values))
    db.session.commit()


def stored(event_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(Registration).where(Registration.event_id == event_id)
    )


def test_terms_are_remembered_for_the_rush(app: Flask, make_event, postgres_url):
    assert app.config["FUNRUN_TERMS_CACHE_SECONDS"] > 0
    event = make_event(slug="rush", quota=5)
    client = app.test_client()
    assert post(client, "rush", 1).status_code == 201  # stores the notice's text
    assert post(client, "rush", 2).status_code == 201
    assert [key[1] for key in terms_cache._remembered] == ["rush"]
    # A slug naming nothing is never remembered: made-up URLs cannot grow the cache.
    for n in range(20):
        assert post(client, f"nowhere-{n}", n).status_code == 404
    assert [key[1] for key in terms_cache._remembered] == ["rush"]
    assert stored(event.id) == 2


def test_a_closed_event_refuses_whatever_the_process_remembers(
    app: Flask, make_event, postgres_url
):
    event = make_event(slug="closing", quota=5)
    client = app.test_client()
    assert post(client, "closing", 1).status_code == 201  # the terms are remembered now
    behind_the_cache(event.id, registration_open=False)
    refused = post(client, "closing", 2)
    assert refused.status_code == 409
    assert refused.get_json()["type"].endswith("registration-closed")
    behind_the_cache(
        event.id, registration_open=True, registration_closes_at=utcnow() - timedelta(minutes=1)
    )
    assert post(client, "closing", 3).status_code == 409
    behind_the_cache(
        event.id, registration_closes_at=None, registration_opens_at=utcnow() + timedelta(days=1)
    )
    assert post(client, "closing", 4).status_code == 409
    assert stored(event.id) == 1  # nothing half-written by the refusals


def test_a_place_freed_behind_the_cache_is_still_taken(app: Flask, make_event, postgres_url):
    event = make_event(slug="full", quota=1)
    client = app.test_client()
    assert post(client, "full", 1).get_json()["registration"]["status"] == "confirmed"
    # Read while full: the next write tries the waitlist first.
    first_wait = post(client, "full", 2).get_json()["registration"]
    assert (first_wait["status"], first_wait["waitlist_position"]) == ("waitlisted", 1)
    behind_the_cache(event.id, quota=3)  # raised elsewhere, without promoting anyone
    # The remembered terms still say full; the waitlist statement refuses to queue
    # while a place is free, so the place is taken.
    taken = post(client, "full", 3).get_json()["registration"]
    assert taken["status"] == "confirmed"
    assert taken["bib"].endswith("0002")


def test_an_edit_in_this_process_is_seen_at_once(app: Flask, make_event, postgres_url):
    from funrun.events.editing import set_registration_open

    event = make_event(slug="edited", quota=5, registration_open=False)
    client = app.test_client()
    assert post(client, "edited", 1).status_code == 409  # closed terms remembered
    set_registration_open(db.session.get(Event, event.id), True)
    assert post(client, "edited", 2).status_code == 201


def test_terms_without_their_stored_notice_are_not_remembered(app: Flask, make_event, postgres_url):
    """A registration opening on a fresh database: the notice's current text is not stored
    yet. Remembering the terms without it would send every registration of the next
    seconds through the ORM to look it up (seen as the cold rush's p99)."""
    from funrun.registration.models import PrivacyNotice
    from funrun.registration.terms import event_terms

    make_event(slug="fresh", quota=5)
    db.session.execute(db.delete(PrivacyNotice))
    db.session.commit()
    with app.test_request_context("/"):
        event, notice = event_terms("fresh", "id")
        assert event is not None and notice is None
        assert terms_cache._remembered == {}
        assert post(app.test_client(), "fresh", 1).status_code == 201  # stores the notice
        event, notice = event_terms("fresh", "id")
        assert notice is not None
        assert [key[1] for key in terms_cache._remembered] == ["fresh"]
