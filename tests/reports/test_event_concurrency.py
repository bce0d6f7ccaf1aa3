"""Quota edits racing registrations, on PostgreSQL and SQLite: never oversold, no gaps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from funrun.events.editing import EventData, EventEditError, update_event
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import RegistrationStatus
from funrun.registration.services import current_privacy_notice
from tests.registration.test_concurrency import (  # noqa: F401  (fixtures reused here)
    _apps,
    conc_app,
    make_event,
    payloads,
    register_job,
    registrations,
    run_together,
    setup,
    stored_event,
)


def _data(event: Event, quota: int) -> EventData:
    return EventData(
        city=event.city,
        name=event.name,
        date=event.date,
        start_time=event.start_time,
        timezone=event.timezone,
        venue=event.venue,
        quota=quota,
        bib_prefix=event.bib_prefix,
        bib_first=event.bib_first,
        bib_last=event.bib_last,
        bib_colour=event.bib_colour,
        shirt_sizes=list(event.shirt_sizes),
        min_age=event.min_age,
        max_age=event.max_age,
        registration_open=True,
        registration_opens_at=None,
        registration_closes_at=None,
    )


def quota_job(event_id: int, quota: int) -> Callable[[], Any]:
    """A job setting the quota through the organiser's edit; the runners it promoted."""

    def job() -> tuple[str, int]:
        event = db.session.get(Event, event_id)
        try:
            return "changed", len(update_event(event, _data(event, quota)))
        except EventEditError:
            return "refused", 0

    return job


def test_quota_edits_racing_a_rush_never_oversell(conc_app, setup):  # noqa: F811
    event_id = make_event(quota=10)
    notice_id = current_privacy_notice("id").id
    jobs: list[Callable[[], Any]] = [
        register_job(event_id, d, notice_id) for d in payloads(event_id, range(60))
    ]
    # Raises and lowerings, spread through the rush; a lowering below the confirmed
    # runners at that moment must be refused, never applied.
    for position, quota in ((5, 20), (15, 12), (25, 30), (35, 8), (45, 25), (55, 40)):
        jobs.insert(position, quota_job(event_id, quota))

    results = run_together(conc_app, jobs)

    errors = [value for kind, value in results if kind != "ok"]
    assert errors == []
    rows = registrations(event_id)
    event = stored_event(event_id)
    confirmed = [r for r in rows if r.status == RegistrationStatus.CONFIRMED]
    waitlisted = [r for r in rows if r.status == RegistrationStatus.WAITLISTED]
    assert len(rows) == 60
    assert event.confirmed_count == len(confirmed) <= event.quota
    # Bibs 1..n with no gap or double; the waitlist in order, each place filled in turn.
    assert sorted(r.bib_number for r in confirmed) == list(range(1, len(confirmed) + 1))
    assert event.bib_next == len(confirmed) + 1
    seqs = sorted(r.waitlist_seq for r in rows if r.waitlist_seq is not None)
    assert seqs == list(range(1, len(seqs) + 1))
    # Nobody waits while a place is free.
    assert not waitlisted or event.confirmed_count == event.quota
    # Promoted runners are the earliest of the waitlist.
    promoted = [r.waitlist_seq for r in confirmed if r.waitlist_seq is not None]
    still = [r.waitlist_seq for r in waitlisted]
    assert not promoted or not still or max(promoted) < min(still)
