"""Shared pieces for the personal-data tests: an old event and a newer one, with runners
checked in, waitlisted, cancelled, enrolled and exported."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from funrun.bibs.services import payload_for
from funrun.enrolment.export import create_batch
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import Registration
from funrun.registration.services import cancel
from funrun.reports.figures import tour_figures
from tests.audit.conftest import audit_rows  # noqa: F401  (reused by the tests)
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    _fast_password_hashes,
    login,
    make_staff,
)
from tests.conftest import person_payload
from tests.enrolment.conftest import (  # noqa: F401  (fixtures reused here)
    add_runner,
    enrol_body,
    on_finale_day,
    schedules,
)

API = "/api/v1"
#: "Today" for the purge: the 2015 event is long past, the 2026 one is still to come.
TODAY = date(2026, 11, 30)
#: A fixed clock for the figures (no-shows depend on it).
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def figures() -> dict[str, Any]:
    """Every figure of the dashboard, the stats API and the totals files, read fresh."""
    db.session.rollback()
    body = tour_figures(NOW).as_json()
    del body["generated_at"]
    return body


@dataclass
class Tour:
    """What the scenario made: events, registration ids and the NIKs used."""

    old: Event
    new: Event
    old_ids: list[int] = field(default_factory=list)
    #: The person registered in both events: (old registration id, new registration id).
    both: tuple[int, int] = (0, 0)
    enrolled_id: int = 0
    niks: dict[int, str] = field(default_factory=dict)


def scan(client: Any, staff: Any, event: Event, registration: Registration) -> None:
    """Check a runner in at pickup by their bib's QR."""
    response = client.post(
        f"{API}/events/{event.slug}/checkins",
        json={"code": payload_for(registration)},
        headers=staff.headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.fixture
def tour(client, make_event, make_staff, add_runner, on_finale_day) -> Tour:  # noqa: F811
    """An old event (13 Dec 2015: full, a waitlist, a cancellation, check-ins, an enrolment
    already exported) and a newer one (13 Dec 2026) sharing one runner."""
    old = make_event(slug="old-2015", city="Jakarta", date=date(2015, 12, 13), quota=4)
    new = make_event(slug="new-2026", city="Bandung", date=date(2026, 12, 13), quota=5)
    staff = make_staff("organiser")
    made = Tour(old=old, new=new)
    regs = []
    for i in range(6):
        member = i == 1
        index = 5000 + i
        r = add_runner(
            old,
            index,
            member=member,
            kpj_number="12345678901" if member else None,
            email=f"runner{i}@example.org",
            shirt_size=("S", "M", "L")[i % 3],
            occupation="Pedagang",
            emergency_contact="Ibu Sri",
            emergency_phone="081234000111",
        )
        made.niks[r.id] = person_payload(index)["nik"]
        regs.append(r)
    made.old_ids = [r.id for r in regs]
    # Four confirmed, two waitlisted; one confirmed cancels, the head moves up.
    cancel(db.session.get_one(Registration, regs[3].id))
    db.session.rollback()
    for r in regs[:3]:
        scan(client, staff, old, db.session.get_one(Registration, r.id))
    # Runner 0 (checked in, not a member) enrols; the batch goes out.
    runner = db.session.get_one(Registration, regs[0].id)
    response = client.post(
        f"{API}/events/{old.slug}/enrolments",
        json=enrol_body(code=payload_for(runner)),
        headers=staff.headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    made.enrolled_id = regs[0].id
    assert create_batch(user_id=None) is not None
    # Runner 2 registers again for the newer event.
    again = add_runner(new, 5002, email="runner2@example.org")
    made.both = (regs[2].id, again.id)
    add_runner(new, 5100)
    db.session.rollback()
    return made


def person_of(registration_id: int) -> Person:
    """The person behind a registration, read fresh."""
    db.session.rollback()
    return db.session.get_one(Registration, registration_id).person


def registrations_of(event: Event) -> list[Registration]:
    """An event's registrations, read fresh."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Registration).where(Registration.event_id == event.id).order_by(Registration.id)
        )
    )
