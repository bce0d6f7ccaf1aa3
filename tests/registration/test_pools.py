"""Place pools (issue 21): places kept for non-members and partners' runners, taken in the
place rule's one statement, given back to their pool, flowing to everyone at a set time.

On the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL: the one-statement
path); the race between pool and general runners is in test_pools_concurrency.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from funrun.dbtypes import utcnow
from funrun.events.models import Event, EventStatus
from funrun.extensions import db
from funrun.groups.bulk import ImportRef, hold_chunk
from funrun.groups.checking import _checked
from funrun.people.crypto import data_cipher
from funrun.registration import pools
from funrun.registration.models import Pool, Registration, RegistrationStatus
from funrun.registration.services import cancel, current_privacy_notice, event_terms, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload
from tests.groups.held_rows import make_import, make_partner
from tests.registration.pool_rows import enrol_directly

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
MEMBER = {"member": True, "kpj_number": "12345678901"}


@pytest.fixture
def signup(app):
    """Register runner ``index`` for ``event`` (a non-member unless ``payload`` says)."""
    notice = current_privacy_notice("id")

    def _signup(event: Event, index: int, **kw: Any) -> Registration:
        data = clean_registration(person_payload(index, **kw.pop("payload", {})), event)
        made = register(event, data, notice=notice, **kw).registration
        return db.session.get(Registration, made.id)

    return _signup


def fresh(event: Event) -> Event:
    db.session.expire_all()
    return db.session.get(Event, event.id)


def pools_of(event: Event) -> tuple[int, int, int]:
    """(confirmed_count, pool_non_member_taken, pool_partner_taken) as stored now."""
    event = fresh(event)
    return event.confirmed_count, event.pool_non_member_taken, event.pool_partner_taken


def agree(event: Event) -> None:
    """The event row's pool counters agree with the registrations that hold pool places."""
    counts = pools.taken_counts(event.id)
    assert pools_of(event)[1:] == (counts[Pool.NON_MEMBER], counts[Pool.PARTNER])


def test_who_belongs_to_which_pool():
    assert pools.pool_for(False, None, False, None) == Pool.NON_MEMBER
    assert pools.pool_for(True, None, False, None) is None
    assert pools.pool_for(False, "12345678901", False, None) is None
    assert pools.pool_for(False, None, True, None) is None  # enrolled on record
    assert pools.pool_for(False, None, False, 7) == Pool.PARTNER  # a partner's runner
    assert pools.pool_for(True, "12345678901", True, 7) == Pool.PARTNER


def test_a_non_member_takes_a_pool_place_and_a_member_a_general_one(app, make_event, signup):
    event = make_event(quota=4, pool_non_member=2)
    runner = signup(event, 1)
    assert (runner.status, runner.pool, runner.bib_number) == (CONFIRMED, Pool.NON_MEMBER, 1)
    member = signup(event, 2, payload=MEMBER)
    assert (member.status, member.pool, member.bib_number) == (CONFIRMED, None, 2)
    assert pools_of(event) == (2, 1, 0)
    agree(event)


def test_a_member_is_waitlisted_when_only_pool_places_are_left(app, make_event, signup):
    event = make_event(quota=3, pool_non_member=2)
    assert signup(event, 1, payload=MEMBER).status == CONFIRMED  # the one general place
    assert fresh(event).remaining == 0
    assert fresh(event).status(utcnow()) == EventStatus.FULL  # for the general public
    terms, _notice = event_terms(event.slug, "id")
    assert terms.full and terms.non_member_left == 2
    late = signup(event, 2, payload=MEMBER)
    assert (late.status, late.waitlist_seq, late.pool) == (WAITLISTED, 1, None)
    # A non-member still gets a pool place (the cached terms said "full": the write knows).
    runner = signup(event, 3)
    assert (runner.status, runner.pool) == (CONFIRMED, Pool.NON_MEMBER)
    assert pools_of(event) == (2, 1, 0)
    agree(event)


def test_a_full_pool_sends_its_runners_to_general_places_then_the_waitlist(app, make_event, signup):
    event = make_event(quota=3, pool_non_member=1)
    first, second, third = (signup(event, i) for i in (1, 2, 3))
    assert [(r.status, r.pool) for r in (first, second, third)] == [
        (CONFIRMED, Pool.NON_MEMBER),
        (CONFIRMED, None),
        (CONFIRMED, None),
    ]
    fourth = signup(event, 4)
    assert fourth.status == WAITLISTED and fourth.pool is None
    assert pools_of(event) == (3, 1, 0)


def test_an_enrolled_person_is_no_non_member(app, make_event, signup):
    elsewhere = make_event(quota=5)
    enrol_directly(signup(elsewhere, 1, payload=MEMBER))
    event = make_event(quota=2, pool_non_member=1)
    # Declares no KPJ number here, but an enrolment is on record for the NIK.
    runner = signup(event, 1)
    assert (runner.status, runner.pool) == (CONFIRMED, None)
    other = signup(event, 2)  # the pool's place is still there for a real non-member
    assert (other.status, other.pool) == (CONFIRMED, Pool.NON_MEMBER)
    late = signup(event, 3, payload=MEMBER)
    assert late.status == WAITLISTED


def test_an_enrolled_person_is_waitlisted_while_only_the_pool_has_places(app, make_event, signup):
    elsewhere = make_event(quota=5)
    enrol_directly(signup(elsewhere, 1, payload=MEMBER))
    event = make_event(quota=1, pool_non_member=1)
    runner = signup(event, 1)
    assert runner.status == WAITLISTED
    assert pools_of(event) == (0, 0, 0)


def test_a_partners_runner_takes_the_partner_pool(app, make_event, signup):
    partner = make_partner()
    event = make_event(quota=3, pool_partner=1, pool_non_member=1)
    brought = signup(event, 1, partner_id=partner.id, payload=MEMBER)
    assert (brought.status, brought.pool) == (CONFIRMED, Pool.PARTNER)
    alone = signup(event, 2)
    assert alone.pool == Pool.NON_MEMBER
    assert signup(event, 3, partner_id=partner.id).pool is None  # the partner pool is full
    assert pools_of(event) == (3, 1, 1)
    agree(event)


def test_pools_flow_at_the_set_time_and_the_worker_promotes_into_them(app, make_event, signup):
    now = utcnow()
    event = make_event(quota=3, pool_non_member=2, pools_flow_at=now + timedelta(hours=1))
    signup(event, 1, payload=MEMBER)
    waiting = [signup(event, i, payload=MEMBER, now=now) for i in (2, 3, 4)]
    assert [r.status for r in waiting] == [WAITLISTED] * 3
    assert pools.flow_due(now) == 0  # not yet
    later = now + timedelta(hours=1, minutes=1)
    # Flowed, not yet promoted into: the waitlist comes first, a newcomer (a non-member:
    # the pool is closed) joins it behind the others.
    assert (
        fresh(event).remaining_at(later) == 0
        and fresh(event).pool_left("non_member", later) is None
    )
    newcomer = signup(event, 5, now=later)
    assert (newcomer.status, newcomer.waitlist_seq) == (WAITLISTED, 4)
    assert pools.flow_due(later) == 1
    rows = [db.session.get(Registration, r.id) for r in (*waiting, newcomer)]
    assert [(r.status, r.bib_number, r.pool) for r in rows] == [
        (CONFIRMED, 2, None),
        (CONFIRMED, 3, None),
        (WAITLISTED, None, None),
        (WAITLISTED, None, None),
    ]
    assert fresh(event).pools_flowed_at is not None and fresh(event).reserved(later) == 0
    assert pools.flow_due(later + timedelta(minutes=5)) == 0  # once
    assert pools_of(event) == (3, 0, 0)


def test_after_the_flow_a_member_takes_what_the_pool_kept(app, make_event, signup):
    now = utcnow()
    event = make_event(
        quota=2, pool_non_member=1, pools_flow_at=now - timedelta(minutes=1), pools_flowed_at=now
    )
    signup(event, 1, payload=MEMBER)
    member = signup(event, 2, payload=MEMBER)
    assert (member.status, member.pool) == (CONFIRMED, None)
    non_member = signup(event, 3)
    assert non_member.status == WAITLISTED  # no pool any more, no place left


def test_a_cancelled_pool_place_goes_back_to_its_pool_and_its_first_runner(app, make_event, signup):
    event = make_event(quota=2, pool_non_member=1)
    pooled = signup(event, 1)
    signup(event, 2, payload=MEMBER)
    member_waiting = signup(event, 3, payload=MEMBER)  # first in the waitlist
    runner_waiting = signup(event, 4)  # a non-member behind them
    assert (member_waiting.waitlist_seq, runner_waiting.waitlist_seq) == (1, 2)
    promoted = cancel(pooled)
    assert [r.id for r in promoted] == [runner_waiting.id]
    runner_waiting = db.session.get(Registration, runner_waiting.id)
    assert (runner_waiting.status, runner_waiting.pool) == (CONFIRMED, Pool.NON_MEMBER)
    assert db.session.get(Registration, member_waiting.id).status == WAITLISTED
    assert pools_of(event) == (2, 1, 0)
    agree(event)


def test_a_cancelled_pool_place_is_kept_when_no_runner_of_the_pool_waits(app, make_event, signup):
    event = make_event(quota=2, pool_non_member=1)
    pooled = signup(event, 1)
    signup(event, 2, payload=MEMBER)
    member_waiting = signup(event, 3, payload=MEMBER)
    assert cancel(pooled) == []
    assert db.session.get(Registration, member_waiting.id).status == WAITLISTED
    assert pools_of(event) == (1, 0, 0)
    assert signup(event, 4).pool == Pool.NON_MEMBER  # the pool's runner still finds it


def test_a_freed_general_place_goes_to_the_first_waitlisted(app, make_event, signup):
    event = make_event(quota=2, pool_non_member=1)
    signup(event, 1)
    general = signup(event, 2, payload=MEMBER)
    runner_waiting = signup(event, 3)  # a non-member first: the pool was full
    member_waiting = signup(event, 4, payload=MEMBER)
    assert cancel(general)[0].id == runner_waiting.id
    assert db.session.get(Registration, runner_waiting.id).pool is None
    assert db.session.get(Registration, member_waiting.id).status == WAITLISTED
    assert pools_of(event) == (2, 1, 0)


def group_members(event: Event, indexes: range) -> list[Any]:
    """Members of a partner's group (no consent: theirs to give), checked as the import does."""
    cipher, members = data_cipher(), []
    for row in indexes:
        body = {k: v for k, v in person_payload(row).items() if k != "consent"}
        member, errors = _checked(event, body, cipher)
        assert member is not None, errors
        members.append(replace(member, row=row))
    return members


def test_a_partners_group_takes_the_partner_pool_first(app, make_event):
    partner = make_partner()
    event = make_event(quota=5, pool_partner=2, pool_non_member=1)
    group = make_import(event, partner)
    members = group_members(event, range(1, 6))
    result = hold_chunk(ImportRef.of(group), members, [], rows=5, now=utcnow())
    # 2 from the partner pool, the 2 general places, then the waitlist: the non-member
    # pool's place is not the group's (its members are the partner's runners).
    assert (result.held, result.waitlisted) == (4, 1)
    rows = db.session.scalars(
        select(Registration).where(Registration.event_id == event.id).order_by(Registration.id)
    ).all()
    assert [(r.status, r.bib_number, r.pool) for r in rows] == [
        ("held", 1, Pool.PARTNER),
        ("held", 2, Pool.PARTNER),
        ("held", 3, None),
        ("held", 4, None),
        ("waitlisted", None, None),
    ]
    assert pools_of(event) == (4, 0, 2)
    assert fresh(event).remaining == 0  # the non-member pool keeps the last place
    agree(event)


def test_a_held_group_place_released_goes_back_to_the_partner_pool(app, make_event, signup):
    partner = make_partner()
    event = make_event(quota=2, pool_partner=1)
    group = make_import(event, partner)
    hold_chunk(ImportRef.of(group), group_members(event, range(1, 2)), [], rows=1, now=utcnow())
    held = db.session.scalar(select(Registration).where(Registration.event_id == event.id))
    assert held.pool == Pool.PARTNER
    signup(event, 2, payload=MEMBER)
    waiting_member = signup(event, 3, payload=MEMBER)
    waiting_partner = signup(event, 4, partner_id=partner.id)
    assert [r.id for r in cancel(held)] == [waiting_partner.id]
    assert db.session.get(Registration, waiting_member.id).status == WAITLISTED
    assert pools_of(event) == (2, 0, 1)
    agree(event)


def test_a_walk_up_takes_the_pool_before_the_walk_up_allowance(app, make_event, signup):
    event = make_event(quota=2, pool_non_member=1, walkup_allowance=1)
    signup(event, 1, payload=MEMBER)
    walkup = signup(event, 2, walkup_place=True)
    assert (walkup.status, walkup.pool) == (CONFIRMED, Pool.NON_MEMBER)
    member = signup(event, 3, payload=MEMBER, walkup_place=True)
    assert (member.status, member.pool) == (CONFIRMED, None)
    assert fresh(event).quota == 3  # the allowance's place moved into the quota


def test_through_the_api_pool_runners_and_members_get_their_places(app, client, make_event):
    """The API's path: the cached terms choose the kinds, the statement decides."""
    from funrun.accounts.services import create_api_token, create_user

    event = make_event(quota=3, pool_non_member=1, pool_partner=1)
    url = f"/api/v1/events/{event.slug}/registrations"
    partner = create_user("ops@aggregator.test", "partner")
    auth = {"Authorization": f"Bearer {create_api_token(partner)}"}

    def status(response: Any) -> tuple[str, int | None]:
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.get_json()["registration"]
        return body["status"], body["bib_number"]

    assert status(client.post(url, json=person_payload(1, **MEMBER))) == ("confirmed", 1)
    # Only kept places left: a member joins the waitlist, each pool's runner gets a place.
    assert status(client.post(url, json=person_payload(2, **MEMBER)))[0] == "waitlisted"
    assert status(client.post(url, json=person_payload(3))) == ("confirmed", 2)
    assert status(client.post(url, json=person_payload(4), headers=auth)) == ("confirmed", 3)
    assert status(client.post(url, json=person_payload(5)))[0] == "waitlisted"
    assert pools_of(event) == (3, 1, 1)
    agree(event)


def test_the_worker_promotes_into_places_that_flowed(app, make_event, signup):
    from funrun.jobs.worker import Worker

    now = utcnow()
    event = make_event(quota=2, pool_non_member=1, pools_flow_at=now + timedelta(hours=1))
    signup(event, 1, payload=MEMBER)
    waiting = signup(event, 2, payload=MEMBER, now=now)
    assert waiting.status == WAITLISTED
    db.session.execute(
        Event.__table__.update()
        .where(Event.id == event.id)
        .values(pools_flow_at=now - timedelta(minutes=1))
    )
    db.session.commit()
    Worker(app).run(burst=True)  # its periodic round: reminders, expiry, pools' flow
    promoted = db.session.get(Registration, waiting.id)
    db.session.refresh(promoted)
    assert (promoted.status, promoted.bib_number, promoted.pool) == (CONFIRMED, 2, None)
    assert fresh(event).pools_flowed_at is not None


def test_an_expired_hold_goes_back_to_the_partner_pool(app, make_event, signup):
    from funrun.groups import expiry

    partner = make_partner()
    event = make_event(quota=2, pool_partner=1)
    group = make_import(event, partner)
    now = utcnow()
    hold_chunk(ImportRef.of(group), group_members(event, range(1, 2)), [], rows=1, now=now)
    held = db.session.scalar(select(Registration).where(Registration.event_id == event.id))
    assert (held.status, held.pool) == ("held", Pool.PARTNER)
    assert pools.flow_due(now) == 0
    assert expiry.expire_one(held.id, now + timedelta(days=8))
    assert pools_of(event) == (0, 0, 0)  # the pool keeps its place again
    assert fresh(event).remaining == 1 and fresh(event).pools_left == {"partner": 1}


def test_the_quota_cannot_go_below_the_places_the_pools_keep(make_event) -> None:
    from funrun.events.services import QuotaError, set_quota

    event = make_event(quota=10, pool_non_member=4, pool_partner=3)
    with pytest.raises(QuotaError, match="7"):
        set_quota(event, 6)
    assert set_quota(event, 7) == []
    assert event.quota == 7
