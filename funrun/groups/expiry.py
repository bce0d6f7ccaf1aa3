"""Held places that were not confirmed in time go back.

A partner's group member has until ``hold_expires_at`` to confirm their place. After
that the worker (:mod:`funrun.jobs.worker`, beside the race-week reminders) cancels it
with the one cancel rule (:func:`funrun.registration.cancelling.release_place`: the place
goes to the head of the waitlist, who is promoted and told) and queues HOLD_EXPIRED.

Each hold is released in its own transaction under the event row lock, then the
registration's, and only while it is still held and past its deadline: two workers (or a
worker and the member's own late click) release it exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue_for
from funrun.registration.cancelling import lock_event, locked_registration, release_place
from funrun.registration.models import Registration, RegistrationStatus

#: Holds released by one call at most (the rest wait for the next round).
BATCH = 500


def due(now: datetime, limit: int = BATCH) -> list[int]:
    """Ids of held registrations whose deadline has passed, oldest deadline first."""
    return list(
        db.session.scalars(
            select(Registration.id)
            .where(
                Registration.status == RegistrationStatus.HELD,
                Registration.hold_expires_at <= now,
            )
            .order_by(Registration.hold_expires_at, Registration.id)
            .limit(limit)
        )
    )


def expire_one(registration_id: int, now: datetime | None = None) -> bool:
    """Release one held place whose deadline has passed; committed. False when it is no
    longer held, or not yet due (someone confirmed or released it first)."""
    now = now or utcnow()
    event_id = db.session.scalar(
        select(Registration.event_id).where(Registration.id == registration_id)
    )
    if event_id is None:
        db.session.rollback()
        return False
    begin_write()
    try:
        lock_event(event_id)
        current = locked_registration(registration_id)
        if current.status != RegistrationStatus.HELD or not is_past(current, now):
            db.session.rollback()
            return False
        release_place(current, now)
        queue_for(MessageKind.HOLD_EXPIRED, registration_id)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return True


def is_past(registration: Registration, now: datetime) -> bool:
    """Whether a held registration's deadline has come."""
    until = registration.hold_expires_at
    return until is not None and until <= now


def release_due(now: datetime | None = None) -> int:
    """Release every held place past its deadline (one transaction each, ``BATCH`` ids
    read at a time); how many this call released (another worker's are not counted)."""
    now = now or utcnow()
    released = 0
    while True:
        ids = due(now)
        db.session.rollback()  # end the read: each release is a write transaction of its own
        released += sum(expire_one(registration_id, now) for registration_id in ids)
        if len(ids) < BATCH:
            return released
