"""Ballot events, entries through the real API, and the window closed when a test says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from funrun.ballot.seed import commit_seed
from funrun.dbtypes import utcnow
from funrun.events.models import Event, Opening
from funrun.extensions import db
from funrun.registration import terms_cache
from tests.browser.conftest import browser, live_server, phone_page  # noqa: F401
from tests.checkin.conftest import _fast_password_hashes, make_staff  # noqa: F401
from tests.conftest import person_payload

API = "/api/v1"


@pytest.fixture
def make_ballot(make_event: Callable[..., Event]) -> Callable[..., Event]:
    """A ballot event whose entries are open now (for an hour), its seed committed."""

    def _make(**kw: Any) -> Event:
        now = utcnow()
        kw.setdefault("registration_opens_at", now - timedelta(hours=1))
        kw.setdefault("registration_closes_at", now + timedelta(hours=1))
        event = make_event(**kw)
        commit_seed(event)
        event.opening = Opening.BALLOT.value
        db.session.commit()
        return event

    return _make


def enter(
    client: FlaskClient, event: Event | str, index: int, locale: str = "id", **kw: Any
) -> Any:
    """One entry through the API (its response), in ``locale``."""
    slug = event if isinstance(event, str) else event.slug
    return client.post(
        f"{API}/events/{slug}/registrations",
        json=person_payload(index, **kw),
        headers={"Accept-Language": locale},
    )


def enter_many(
    client: FlaskClient, event: Event, count: int, locale: str = "id", **kw: Any
) -> list[dict[str, Any]]:
    """``count`` entries through the API (with e-mail addresses), each answered 201."""
    slug = event.slug
    bodies = []
    for index in range(count):
        email = f"runner{index}@example.com"
        response = enter(client, slug, index, locale, email=email, **kw)
        assert response.status_code == 201, response.get_data(as_text=True)
        bodies.append(response.get_json())
    return bodies


def close_entries(event: Event) -> None:
    """The entry window closed a second ago (as if time had passed)."""
    event_id = event.id
    db.session.rollback()  # a fresh write (SQLite cannot upgrade a stale read)
    db.session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(registration_closes_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    db.session.expire_all()
    terms_cache.forget()
