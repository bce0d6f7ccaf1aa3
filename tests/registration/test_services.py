"""Registering, waitlisting, cancelling and quota changes, on the real test database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.events.services import QuotaError, set_quota
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import PrivacyNotice, Registration, RegistrationStatus
from funrun.registration.services import (
    AlreadyCancelled,
    DuplicateRegistration,
    NewRegistration,
    RegistrationClosed,
    cancel,
    current_privacy_notice,
    find_by_token,
    hash_token,
    register,
    waitlist_position,
)
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
CANCELLED = RegistrationStatus.CANCELLED


@pytest.fixture
def notice(app) -> PrivacyNotice:
    return current_privacy_notice("id")


@pytest.fixture
def signup(notice):
    """Register runner ``index`` (a distinct NIK per index) for ``event``."""

    def _signup(event: Event, index: int, **kw: Any) -> Registration:
        overrides = kw.pop("payload", {})
        data = clean_registration(person_payload(index, **overrides), event)
        return register(event, data, notice=notice, **kw).registration

    return _signup


def count(model: type[db.Model]) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def counters(event_id: int) -> tuple[int, int, int, int]:
    """(quota, confirmed_count, bib_next, waitlist_seq) as stored now."""
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    return event.quota, event.confirmed_count, event.bib_next, event.waitlist_seq


def rows(event_id: int) -> list[Registration]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Registration).where(Registration.event_id == event_id).order_by(Registration.id)
        )
    )


# --- registering -----------------------------------------------------------------------


def test_confirmed_runners_get_bibs_in_order_from_bib_first(make_event, signup):
    event = make_event(quota=3, bib_first=100, bib_prefix="JKT")
    regs = [signup(event, i) for i in range(3)]
    assert [r.status for r in regs] == [CONFIRMED] * 3
    assert [r.bib_number for r in regs] == [100, 101, 102]
    assert [r.bib for r in regs] == ["JKT 0100", "JKT 0101", "JKT 0102"]
    assert all(r.waitlist_seq is None and r.confirmed_at is not None for r in regs)
    assert counters(event.id) == (3, 3, 103, 0)


def test_manage_token_opens_the_registration(make_event, notice):
    event = make_event()
    new = register(event, clean_registration(person_payload(1), event), notice=notice)
    assert isinstance(new, NewRegistration)
    assert new.registration.manage_token_hash == hash_token(new.manage_token)
    assert new.manage_token not in new.registration.manage_token_hash
    assert find_by_token(new.manage_token).id == new.registration.id
    # One character changed (never to itself: a token may end in "x" already).
    last = "y" if new.manage_token.endswith("x") else "x"
    assert find_by_token(new.manage_token[:-1] + last) is None
    assert find_by_token("short") is None


def test_full_event_waitlists_in_order(make_event, signup):
    event = make_event(quota=2)
    regs = [signup(event, i) for i in range(5)]
    assert [r.status for r in regs] == [CONFIRMED] * 2 + [WAITLISTED] * 3
    assert [r.bib_number for r in regs] == [1, 2, None, None, None]
    assert [r.waitlist_seq for r in regs] == [None, None, 1, 2, 3]
    assert [waitlist_position(r) for r in regs] == [None, None, 1, 2, 3]
    assert all(r.confirmed_at is None for r in regs[2:])
    assert counters(event.id) == (2, 2, 3, 3)


def test_person_is_stored_encrypted_and_hashed(app, make_event, signup):
    event = make_event()
    reg = signup(event, 7)
    person = db.session.get(Person, reg.person_id)
    nik = person_payload(7)["nik"]
    assert nik.encode() not in person.nik_encrypted
    assert nik not in person.nik_hash
    cipher = app.extensions["funrun_data_cipher"]
    assert cipher.decrypt(person.nik_encrypted) == nik
    assert person.nik_hash == cipher.lookup_hash(nik)


def test_same_nik_twice_for_one_event_is_refused_and_writes_nothing(make_event, signup):
    event = make_event(quota=1)
    signup(event, 1)
    signup(event, 2)  # waitlisted
    before = (count(Person), count(Registration), counters(event.id))
    for index in (1, 2):
        with pytest.raises(DuplicateRegistration):
            signup(event, index, payload={"phone": "0857 1234 5678"})
    # The NIK typed with separators is the same NIK.
    spaced = person_payload(1)["nik"]
    with pytest.raises(DuplicateRegistration):
        signup(
            event, 1, payload={"nik": f"{spaced[:4]} {spaced[4:8]}.{spaced[8:12]}-{spaced[12:]}"}
        )
    assert (count(Person), count(Registration), counters(event.id)) == before


def test_same_nik_may_register_for_another_event_as_one_person(make_event, signup):
    first, second = make_event(), make_event()
    a = signup(first, 3)
    b = signup(second, 3, payload={"phone": "0857 1234 5678", "shirt_size": "L"})
    assert a.person_id == b.person_id
    assert count(Person) == 1
    assert (a.event_id, b.event_id) == (first.id, second.id)
    assert (a.status, b.status) == (CONFIRMED, CONFIRMED)
    # Contact details belong to each registration.
    assert (a.phone, b.phone) == ("+628123000003", "+6285712345678")
    assert (a.shirt_size, b.shirt_size) == ("M", "L")


def test_after_cancelling_the_same_nik_can_register_again(make_event, signup):
    event = make_event(quota=5)
    old = signup(event, 4)
    old_id = old.id
    cancel(old)
    again = signup(event, 4)
    assert again.id != old_id
    assert again.status == CONFIRMED
    assert again.bib_number == 2  # bib 1 stays with the cancelled registration
    assert db.session.get(Registration, old_id).bib_number == 1
    assert count(Person) == 1
    assert count(Registration) == 2
    with pytest.raises(DuplicateRegistration):
        signup(event, 4)


NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "window",
    [
        {"registration_open": False},
        {"registration_opens_at": NOW + timedelta(seconds=1)},
        {"registration_closes_at": NOW - timedelta(days=1)},
        {"registration_closes_at": NOW},
        {
            "registration_open": False,
            "registration_opens_at": NOW - timedelta(days=1),
            "registration_closes_at": NOW + timedelta(days=1),
        },
    ],
    ids=["switched-off", "not-yet-open", "closed", "closes-now", "switch-beats-window"],
)
def test_registration_closed(make_event, signup, window):
    event = make_event(**window)
    with pytest.raises(RegistrationClosed):
        signup(event, 1, now=NOW)
    assert count(Registration) == 0
    assert count(Person) == 0
    assert counters(event.id) == (10, 0, 1, 0)


def test_registration_open_inside_the_window(make_event, signup):
    event = make_event(registration_opens_at=NOW, registration_closes_at=NOW + timedelta(days=1))
    reg = signup(event, 1, now=NOW)
    assert reg.status == CONFIRMED
    assert reg.created_at == NOW
    assert reg.consent_at == NOW


def test_registration_closed_by_default_clock(make_event, signup):
    event = make_event(registration_closes_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(RegistrationClosed):
        signup(event, 1)


# --- cancelling ------------------------------------------------------------------------


def test_cancelling_a_confirmed_place_promotes_the_waitlist_head_with_a_new_bib(make_event, signup):
    event = make_event(quota=2)
    regs = [signup(event, i) for i in range(4)]
    ids = [r.id for r in regs]
    promoted = cancel(regs[0])
    assert [p.id for p in promoted] == [ids[2]]
    gone, kept, head, second = (db.session.get(Registration, i) for i in ids)
    assert gone.status == CANCELLED
    assert gone.cancelled_at is not None
    assert gone.bib_number == 1  # retired, never handed out again
    assert kept.bib_number == 2
    assert head.status == CONFIRMED
    assert head.bib_number == 3
    assert head.confirmed_at is not None
    assert head.waitlist_seq == 1  # kept as a record of when they joined
    assert second.status == WAITLISTED
    assert waitlist_position(second) == 1
    assert counters(event.id) == (2, 2, 4, 2)
    # A new runner joins behind the waiting one.
    newcomer = signup(event, 9)
    assert (newcomer.status, newcomer.waitlist_seq) == (WAITLISTED, 3)
    assert waitlist_position(newcomer) == 2


def test_cancelled_bibs_are_never_reused(make_event, signup):
    event = make_event(quota=3)
    regs = [signup(event, i) for i in range(3)]
    for reg in regs:
        cancel(reg)
    fresh = [signup(event, i) for i in range(10, 13)]
    assert [r.bib_number for r in fresh] == [4, 5, 6]
    bibs = [r.bib_number for r in rows(event.id)]
    assert sorted(bibs) == [1, 2, 3, 4, 5, 6]


def test_cancelling_a_waitlisted_runner_promotes_nobody_and_shifts_positions(make_event, signup):
    event = make_event(quota=1)
    regs = [signup(event, i) for i in range(4)]
    ids = [r.id for r in regs]
    assert cancel(regs[2]) == []
    first, second_gone, third = (db.session.get(Registration, i) for i in ids[1:])
    assert second_gone.status == CANCELLED
    assert second_gone.bib_number is None
    assert (waitlist_position(first), waitlist_position(third)) == (1, 2)
    assert waitlist_position(second_gone) is None
    assert counters(event.id) == (1, 1, 2, 3)


def test_double_cancel_is_refused_and_changes_nothing(make_event, signup):
    event = make_event(quota=1)
    reg, waiting = signup(event, 1), signup(event, 2)
    stale = db.session.get(Registration, reg.id)
    waiting_id = waiting.id
    assert len(cancel(reg)) == 1
    after_first = counters(event.id)
    with pytest.raises(AlreadyCancelled):
        cancel(stale)
    assert counters(event.id) == after_first == (1, 1, 3, 1)
    assert db.session.get(Registration, waiting_id).bib_number == 2


# --- quota changes ---------------------------------------------------------------------


def test_raising_the_quota_promotes_as_many_as_freed_in_waitlist_order(make_event, signup):
    event = make_event(quota=2)
    regs = [signup(event, i) for i in range(6)]
    ids = [r.id for r in regs]
    promoted = set_quota(event, 4)
    assert [(p.id, p.bib_number) for p in promoted] == [(ids[2], 3), (ids[3], 4)]
    assert counters(event.id) == (4, 4, 5, 4)
    waiting = [db.session.get(Registration, i) for i in ids[4:]]
    assert [w.status for w in waiting] == [WAITLISTED, WAITLISTED]
    assert [waitlist_position(w) for w in waiting] == [1, 2]
    # More room than runners waiting: only the waiting ones move.
    promoted = set_quota(event, 10)
    assert [(p.id, p.bib_number) for p in promoted] == [(ids[4], 5), (ids[5], 6)]
    assert counters(event.id) == (10, 6, 7, 4)
    assert set_quota(event, 11) == []
    assert counters(event.id) == (11, 6, 7, 4)


def test_lowering_the_quota_below_confirmed_is_refused(make_event, signup):
    event = make_event(quota=4)
    for i in range(5):
        signup(event, i)
    before = [(r.id, r.status, r.bib_number) for r in rows(event.id)]
    with pytest.raises(QuotaError):
        set_quota(event, 3)
    with pytest.raises(QuotaError):
        set_quota(event, 0)
    assert counters(event.id) == (4, 4, 5, 1)
    assert [(r.id, r.status, r.bib_number) for r in rows(event.id)] == before
    # Down to exactly the confirmed count is fine and promotes nobody.
    assert set_quota(event, 4) == []
    assert counters(event.id) == (4, 4, 5, 1)


def test_lowering_the_quota_to_the_confirmed_count_closes_confirmed_places(make_event, signup):
    event = make_event(quota=10)
    for i in range(3):
        signup(event, i)
    set_quota(event, 3)
    assert signup(event, 3).status == WAITLISTED
    assert counters(event.id) == (3, 3, 4, 1)


# --- bib range -------------------------------------------------------------------------


def test_exhausted_bib_range_sends_runners_to_the_waitlist(make_event, signup):
    event = make_event(quota=10, bib_first=1, bib_last=3)
    regs = [signup(event, i) for i in range(5)]
    assert [r.status for r in regs] == [CONFIRMED] * 3 + [WAITLISTED] * 2
    assert [r.bib_number for r in regs[:3]] == [1, 2, 3]
    assert [r.waitlist_seq for r in regs[3:]] == [1, 2]
    assert counters(event.id) == (10, 3, 4, 2)
    # A freed place cannot be filled without a bib to give: nobody moves, no bib reused.
    assert cancel(regs[0]) == []
    assert set_quota(event, 20) == []
    assert counters(event.id) == (20, 2, 4, 2)
    assert sorted(r.bib_number for r in rows(event.id) if r.bib_number is not None) == [1, 2, 3]


def test_extending_the_bib_range_lets_the_waitlist_move(make_event, signup):
    event = make_event(quota=10, bib_first=1, bib_last=2)
    regs = [signup(event, i) for i in range(3)]
    db.session.execute(update(Event).where(Event.id == event.id).values(bib_last=50))
    db.session.commit()
    promoted = set_quota(event, 10)
    assert [(p.id, p.bib_number) for p in promoted] == [(regs[2].id, 3)]


# --- what the database itself guarantees -----------------------------------------------


def _raw_registration(reg: Registration, **kw: Any) -> Registration:
    """A copy of ``reg`` inserted behind the services' back."""
    fields = {
        "event_id": reg.event_id,
        "person_id": reg.person_id,
        "status": WAITLISTED,
        "waitlist_seq": 99,
        "manage_token_hash": hash_token(f"raw-{kw}"),
        "full_name": reg.full_name,
        "phone": reg.phone,
        "shirt_size": reg.shirt_size,
        "is_member": False,
        "privacy_notice_id": reg.privacy_notice_id,
        "consent_at": reg.consent_at,
    }
    fields.update(kw)
    return Registration(**fields)


@pytest.mark.parametrize(
    "kw",
    [{"status": WAITLISTED}, {"status": CONFIRMED, "bib_number": 500, "waitlist_seq": None}],
)
def test_database_refuses_a_second_active_registration(make_event, signup, kw):
    event = make_event()
    reg = signup(event, 1)
    db.session.add(_raw_registration(reg, **kw))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    assert count(Registration) == 1


def test_database_allows_an_active_registration_beside_cancelled_ones(make_event, signup):
    event = make_event()
    reg = signup(event, 1)
    for n in range(2):
        db.session.add(
            _raw_registration(reg, status=CANCELLED, waitlist_seq=None, manage_token_hash=str(n))
        )
    db.session.commit()
    assert count(Registration) == 3


def test_database_refuses_a_reused_bib(make_event, signup):
    event = make_event()
    reg = signup(event, 1)
    other = signup(event, 2)
    cancel(other)
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(Registration).where(Registration.id == reg.id).values(bib_number=2)
        )
    db.session.rollback()
    assert db.session.get(Registration, reg.id).bib_number == 1


def test_database_refuses_confirmed_without_bib(make_event, signup):
    event = make_event()
    reg = signup(event, 1)
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(Registration).where(Registration.id == reg.id).values(bib_number=None)
        )
    db.session.rollback()
    assert db.session.get(Registration, reg.id).bib_number == 1


@pytest.mark.parametrize(
    "values",
    [
        {"confirmed_count": 3},  # quota is 2
        {"confirmed_count": -1},
        {"quota": 0},
        {"bib_next": 0},  # below bib_first
    ],
)
def test_database_check_constraints_back_the_counters(make_event, values):
    event = make_event(quota=2)
    with pytest.raises(IntegrityError):
        db.session.execute(update(Event).where(Event.id == event.id).values(**values))
    db.session.rollback()
    assert counters(event.id) == (2, 0, 1, 0)


def test_failure_after_taking_a_place_leaves_no_trace(make_event, signup):
    event = make_event(quota=5)
    signup(event, 1)
    before = (count(Person), count(Registration), counters(event.id))
    # An unknown account id fails the foreign key on the final INSERT, after the new person
    # row and the place (counter, bib) were already written in the same transaction.
    with pytest.raises(IntegrityError):
        signup(event, 2, created_by_id=987654)
    assert (count(Person), count(Registration), counters(event.id)) == before
    # The bib that attempt would have had is still the next one given: no gap.
    assert signup(event, 2).bib_number == 2
