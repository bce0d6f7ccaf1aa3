"""Places given back: cancelling (a freed place goes to the head of the waitlist), and
the waitlist's order and promotion.

Each runs in the session's write transaction (BEGIN IMMEDIATE on SQLite) under the event
row lock (:func:`lock_event`), the same on every database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue, queue_for, queue_promoted
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.outcomes import AlreadyCancelled, RegistrationSnapshot


def waitlist_position(registration: Registration | RegistrationSnapshot) -> int | None:
    """1 for the head of the waitlist; None when not waitlisted."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    return db.session.scalar(
        select(func.count()).where(
            Registration.event_id == registration.event_id,
            Registration.status == RegistrationStatus.WAITLISTED,
            Registration.waitlist_seq <= registration.waitlist_seq,
        )
    )


def lock_event(event_id: int) -> None:
    """Take the event row lock for the rest of the transaction (SQLite: already held)."""
    db.session.execute(select(Event.id).where(Event.id == event_id).with_for_update())


def promote_waitlist(event_id: int, now: datetime | None = None) -> list[Registration]:
    """Confirm waitlisted runners, head first, into free places. Caller holds the event lock.

    A partner's group member (no consent yet: theirs to give) is not confirmed: their
    place is held for them, with a bib and the event's hold days, and they are invited to
    confirm it as the members held by the import were."""
    now = now or utcnow()
    counts = db.session.execute(
        select(
            Event.quota,
            Event.confirmed_count,
            Event.bib_next,
            Event.bib_last,
            Event.group_hold_days,
        ).where(Event.id == event_id)
    ).one()
    free = min(counts.quota - counts.confirmed_count, counts.bib_last - counts.bib_next + 1)
    if free <= 0:
        return []
    heads = list(
        db.session.scalars(
            select(Registration)
            .where(
                Registration.event_id == event_id,
                Registration.status == RegistrationStatus.WAITLISTED,
            )
            .order_by(Registration.waitlist_seq)
            .limit(free)
            .with_for_update()
        )
    )
    held = []
    for offset, registration in enumerate(heads):
        registration.bib_number = counts.bib_next + offset
        registration.updated_at = now
        if registration.consent_at is None:  # a group member: they confirm themselves
            registration.status = RegistrationStatus.HELD
            registration.hold_expires_at = now + timedelta(days=counts.group_hold_days)
            held.append(registration.id)
        else:
            registration.status = RegistrationStatus.CONFIRMED
            registration.confirmed_at = now
    if heads:
        db.session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(
                confirmed_count=Event.confirmed_count + len(heads),
                bib_next=Event.bib_next + len(heads),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
        queue_promoted([registration.id for registration in heads])
        if held:
            queue(MessageKind.GROUP_INVITE, Registration.id.in_(held))
    return heads


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
    db.session.execute(
        update(Event)
        .where(Event.id == current.event_id)
        .values(confirmed_count=Event.confirmed_count - 1)
        .execution_options(synchronize_session=False)
    )
    return promote_waitlist(current.event_id, now)
