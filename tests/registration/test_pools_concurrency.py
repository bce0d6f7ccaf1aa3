"""Place pools under real concurrency on PostgreSQL: non-members, members and partners'
runners racing for the last places (and cancelling), each thread on its own connection.

No pool is ever oversold, a general place never goes to a pool's place, the totals are
exact, and the event row's pool counters agree with the registrations holding them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from funrun.accounts.models import Role, User
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration import pools
from funrun.registration.models import Pool, PrivacyNotice, Registration, RegistrationStatus
from funrun.registration.services import cancel, current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload, truncate_all
from tests.registration.test_concurrency import (
    _migrated_app,
    make_event,
    registrations,
    run_together,
    stored_event,
)

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
ACTIVE = (RegistrationStatus.CONFIRMED, RegistrationStatus.HELD)
MEMBER = {"member": True, "kpj_number": "12345678901"}


@pytest.fixture(scope="module")
def _apps() -> Iterator[dict[str, Flask]]:
    apps: dict[str, Flask] = {}
    yield apps
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def pg(_apps: dict[str, Flask], separate_postgres_url: Callable[[str], str]) -> Iterator[Flask]:
    """An app on a PostgreSQL database of its own (made once for the module), in an app
    context on the main thread, emptied after the test."""
    if "pg" not in _apps:
        _apps["pg"] = _migrated_app(separate_postgres_url("pools_conc"))
    app = _apps["pg"]
    with app.app_context():
        yield app
        db.session.remove()
    truncate_all(app)


def register_job(event_id: int, body: dict[str, Any], notice_id: int, partner: int | None):
    """A job registering ``body`` (through the partner when given)."""

    def job() -> str:
        event = db.session.get(Event, event_id)
        data = clean_registration(body, event)
        notice = db.session.get(PrivacyNotice, notice_id)
        return register(event, data, notice=notice, partner_id=partner).registration.status

    return job


def people(partner_id: int) -> list[tuple[dict[str, Any], int | None, str]]:
    """30 non-members, 30 members and 12 partners' runners; the members' jobs first (the
    first threads start with them), so members race for places the pools keep."""
    crowd = []
    for i in range(72):
        if i % 6 == 5:
            crowd.append((person_payload(i, **MEMBER), partner_id, "partner"))
        elif i % 2:
            crowd.append((person_payload(i, **MEMBER), None, "member"))
        else:
            crowd.append((person_payload(i), None, "non_member"))
    return sorted(crowd, key=lambda runner: runner[2] != "member")


def check_pools(event_id: int) -> Event:
    """The rules every moment must keep: counters agree with rows, pools never oversold,
    a pool's places held only by its runners."""
    event = stored_event(event_id)
    rows = registrations(event_id)
    active = [r for r in rows if r.status in ACTIVE]
    assert event.confirmed_count == len(active) <= event.quota
    assert 0 <= event.pool_non_member_taken <= event.pool_non_member
    assert 0 <= event.pool_partner_taken <= event.pool_partner
    counts = pools.taken_counts(event_id)
    assert (event.pool_non_member_taken, event.pool_partner_taken) == (
        counts[Pool.NON_MEMBER],
        counts[Pool.PARTNER],
    )
    for r in active:
        if r.pool == Pool.NON_MEMBER:
            assert not r.is_member and r.kpj_number is None and r.partner_id is None
        if r.pool == Pool.PARTNER:
            assert r.partner_id is not None
    bibs = [r.bib_number for r in rows if r.bib_number is not None]
    assert len(bibs) == len(set(bibs)) and sorted(bibs) == list(range(1, event.bib_next))
    seqs = sorted(r.waitlist_seq for r in rows if r.waitlist_seq is not None)
    assert seqs == list(range(1, event.waitlist_seq + 1))
    return event


def belongs(registration: Registration, pool: Pool) -> bool:
    """The registration is one of ``pool``'s runners (these runners have no enrolment)."""
    partner = registration.partner_id
    return pools.pool_for(registration.is_member, registration.kpj_number, False, partner) == pool


def test_the_last_places_raced_for_never_oversell_a_pool(pg):
    partner = User(email="p@ojek.example", role=Role.PARTNER, organisation="Ojek")
    db.session.add(partner)
    db.session.commit()
    event_id = make_event(quota=20, pool_non_member=8, pool_partner=4)
    notice_id = current_privacy_notice("id").id
    crowd = people(partner.id)
    jobs = [register_job(event_id, body, notice_id, by) for body, by, _kind in crowd]
    results = run_together(pg, jobs)
    assert [r for r in results if r[0] != "ok"] == []
    event = check_pools(event_id)
    # Every kind of runner asked for more than there was: every place is taken.
    assert (event.confirmed_count, event.pool_non_member_taken, event.pool_partner_taken) == (
        20,
        8,
        4,
    )
    rows = registrations(event_id)
    assert Counter(r.status for r in rows) == {CONFIRMED: 20, WAITLISTED: 52}
    general = [r for r in rows if r.status == CONFIRMED and r.pool is None]
    assert len(general) == 8
    # Nobody was waitlisted while a place of their own pool was free: every pool is full.
    assert event.remaining == 0


def test_cancels_racing_registrations_keep_every_pool_exact(pg):
    partner = User(email="p@ojek.example", role=Role.PARTNER, organisation="Ojek")
    db.session.add(partner)
    db.session.commit()
    event_id = make_event(quota=12, pool_non_member=5, pool_partner=3)
    notice_id = current_privacy_notice("id").id
    crowd = people(partner.id)
    first, rest = crowd[:36], crowd[36:]
    results = run_together(pg, [register_job(event_id, b, notice_id, by) for b, by, _ in first])
    assert [r for r in results if r[0] != "ok"] == []
    check_pools(event_id)
    holders = [r.id for r in registrations(event_id) if r.status == CONFIRMED]

    def cancel_job(registration_id: int) -> Callable[[], Any]:
        return lambda: len(cancel(db.session.get(Registration, registration_id)))

    jobs = [cancel_job(rid) for rid in holders[::2]]
    jobs += [register_job(event_id, b, notice_id, by) for b, by, _ in rest]
    results = run_together(pg, jobs)
    assert [r for r in results if r[0] != "ok"] == []
    event = check_pools(event_id)
    assert event.confirmed_count == 12  # the waitlist is long enough to fill every freed place
    waiting = [r for r in registrations(event_id) if r.status == WAITLISTED]
    # A pool place is kept only while no runner of that pool waits.
    for pool in Pool:
        left = getattr(event, f"pool_{pool.value}") - getattr(event, f"pool_{pool.value}_taken")
        if left:
            assert [r.id for r in waiting if belongs(r, pool)] == []
