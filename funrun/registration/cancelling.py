"""Places given back: cancelling (a freed place goes to the head of the waitlist, a
pool's place back to its pool and its first waitlisted runner), and the waitlist's order
and promotion.

Each runs in the session's write transaction (BEGIN IMMEDIATE on SQLite) under the event
row lock (:func:`lock_event`), the same on every database.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, case, select, update

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue, queue_for, queue_promoted
from funrun.registration import places, pools
from funrun.registration.models import Pool, Registration, RegistrationStatus
from funrun.registration.outcomes import AlreadyCancelled, RegistrationSnapshot


def waitlist_position(registration: Registration | RegistrationSnapshot) -> int | None:
    """1 for the head of the waitlist; None when not waitlisted. A registration just
    made brings the position its statement read (no second query)."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    if isinstance(registration, RegistrationSnapshot) and registration.waitlist_position:
        return registration.waitlist_position
    return db.session.scalar(
        select(places.waitlist_position(registration.waitlist_seq)),
        {"event_id": registration.event_id},
    )


def lock_event(event_id: int) -> None:
    """Take the event row lock for the rest of the transaction (SQLite: already held)."""
    db.session.execute(select(Event.id).where(Event.id == event_id).with_for_update())


def promote_waitlist(event_id: int, now: datetime | None = None) -> list[Registration]:
    """Confirm waitlisted runners into free places, in waitlist order. Caller holds the
    event lock.

    A free place of an open pool goes to the first waitlisted runners of that pool
    (:func:`funrun.registration.pools.eligible`), who take it from the pool; a free
    general place to the first waitlisted, whoever they are. A partner's group member
    (no consent yet: theirs to give) is not confirmed: their place is held for them,
    with a bib and the event's hold days, and they are invited to confirm it as the
    members held by the import were."""
    now = now or utcnow()
    event = db.session.execute(
        select(
            Event.quota,
            Event.confirmed_count,
            Event.bib_next,
            Event.bib_last,
            Event.group_hold_days,
            Event.pool_non_member,
            Event.pool_non_member_taken,
            Event.pool_partner,
            Event.pool_partner_taken,
            Event.pools_flow_at,
        ).where(Event.id == event_id)
    ).one()
    pools_open = event.pools_flow_at is None or now < event.pools_flow_at
    pool_free = {
        pool: max(getattr(event, f"pool_{pool}") - getattr(event, f"pool_{pool}_taken"), 0)
        if pools_open
        else 0
        for pool in Pool
    }
    general_free = event.quota - event.confirmed_count - sum(pool_free.values())
    chosen: dict[int, tuple[Registration, Pool | None]] = {}
    for pool, free in pool_free.items():
        if free > 0:
            for registration in _heads(event_id, free, pools.eligible(pool)):
                chosen[registration.id] = (registration, pool)
    if general_free > 0:
        for registration in _heads(event_id, general_free, Registration.id.not_in(chosen)):
            chosen[registration.id] = (registration, None)
    room = min(event.quota - event.confirmed_count, event.bib_last - event.bib_next + 1)
    promoted = sorted(chosen.values(), key=lambda pair: pair[0].waitlist_seq or 0)[: max(room, 0)]
    if not promoted:
        return []
    held = []
    for offset, (registration, pool) in enumerate(promoted):
        registration.bib_number = event.bib_next + offset
        registration.pool = pool
        registration.updated_at = now
        if registration.consent_at is None:  # a group member: they confirm themselves
            registration.status = RegistrationStatus.HELD
            registration.hold_expires_at = now + timedelta(days=event.group_hold_days)
            held.append(registration.id)
        else:
            registration.status = RegistrationStatus.CONFIRMED
            registration.confirmed_at = now
    taken = Counter(pool for _registration, pool in promoted if pool is not None)
    db.session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(
            confirmed_count=Event.confirmed_count + len(promoted),
            bib_next=Event.bib_next + len(promoted),
            **{
                f"pool_{pool}_taken": getattr(Event, f"pool_{pool}_taken") + n
                for pool, n in taken.items()
            },
        )
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    heads = [registration for registration, _pool in promoted]
    queue_promoted([registration.id for registration in heads])
    if held:
        queue(MessageKind.GROUP_INVITE, Registration.id.in_(held))
    return heads


def _heads(event_id: int, limit: int, *where: ColumnElement[bool]) -> list[Registration]:
    """The first ``limit`` waitlisted registrations of the event (and ``where``), locked."""
    return list(
        db.session.scalars(
            select(Registration)
            .where(
                Registration.event_id == event_id,
                Registration.status == RegistrationStatus.WAITLISTED,
                *where,
            )
            .order_by(Registration.waitlist_seq)
            .limit(limit)
            .with_for_update()
        )
    )


def cancel(registration: Registration, now: datetime | None = None) -> list[Registration]:
    """Cancel a registration; a freed place goes to the head of the waitlist (returned)."""
    now = now or utcnow()
    event_id, registration_id = registration.event_id, registration.id
    begin_write()
    try:
        lock_event(event_id)
        current = locked_registration(registration_id)
        promoted = release_place(current, now)
        queue_for(MessageKind.CANCELLED, registration_id)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return promoted


def locked_registration(registration_id: int) -> Registration:
    """The registration, read afresh under its row lock (caller holds the event lock)."""
    return db.session.execute(
        select(Registration)
        .where(Registration.id == registration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def release_place(current: Registration, now: datetime) -> list[Registration]:
    """Cancel a registration read by :func:`locked_registration`: a freed place goes to the
    head of the waitlist (returned). The one rule behind a cancel and a disputed void."""
    if current.status == RegistrationStatus.CANCELLED:
        raise AlreadyCancelled(_("This registration was already cancelled."))
    # A held place (a partner's group member not yet confirmed) is counted in the quota too.
    was_confirmed = current.status in (RegistrationStatus.CONFIRMED, RegistrationStatus.HELD)
    current.status = RegistrationStatus.CANCELLED
    current.cancelled_at = now
    current.updated_at = now
    db.session.flush()
    if not was_confirmed:
        return []
    # A pool's place goes back to its pool (taken one down): while the pool is open it is
    # kept for the pool's runners again; once it flowed, nothing is kept and the place is
    # anyone's. The pool's count stays the number of its places in use either way.
    given_back: dict[str, Any] = {}
    if current.pool is not None:
        taken = getattr(Event, f"pool_{Pool(current.pool).value}_taken")
        given_back[taken.key] = taken - case((taken > 0, 1), else_=0)
    db.session.execute(
        update(Event)
        .where(Event.id == current.event_id)
        .values(confirmed_count=Event.confirmed_count - 1, **given_back)
        .execution_options(synchronize_session=False)
    )
    return promote_waitlist(current.event_id, now)
