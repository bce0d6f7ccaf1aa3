"""Reading events with their live counts, and changing an event's quota safely."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event, EventStatus, Tour
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.services import lock_event, promote_waitlist


class QuotaError(Exception):
    """A quota change was refused; the message is for the organiser."""


@dataclass(frozen=True)
class EventSummary:
    """An event with the figures public pages and the API show."""

    event: Event
    waitlisted: int
    status: EventStatus


def current_tour() -> Tour | None:
    """The tour the public home page shows: the newest one."""
    return db.session.scalar(select(Tour).order_by(Tour.id.desc()).limit(1))


def _waitlisted_counts(event_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(Registration.event_id, func.count())
        .where(
            Registration.event_id.in_(event_ids),
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .group_by(Registration.event_id)
    )
    return {event_id: count for event_id, count in rows}


def checked_in_counts(event_ids: list[int]) -> dict[int, int]:
    """Runners who picked up their race pack (an active pickup check-in), per event."""
    from funrun.checkin.models import CheckIn

    if not event_ids:
        return {}
    rows = db.session.execute(
        select(CheckIn.event_id, func.count())
        .where(
            CheckIn.event_id.in_(event_ids),
            CheckIn.station == "pickup",
            CheckIn.undone_at.is_(None),
        )
        .group_by(CheckIn.event_id)
    )
    return {event_id: count for event_id, count in rows}


def summary_of(slug: str) -> EventSummary | None:
    """The event with this slug and its live figures (:func:`summarise`'s) in one round
    trip: its waitlist counted by a subquery of the same statement. None: no such event."""
    if len(slug) > 64:
        return None
    waitlisted = (
        select(func.count())
        .where(
            Registration.event_id == Event.id,
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .scalar_subquery()
    )
    row = db.session.execute(select(Event, waitlisted).where(Event.slug == slug)).first()
    if row is None:
        return None
    event, count = row
    return EventSummary(event, count, event.status(utcnow()))


def summarise(events: list[Event], now: datetime | None = None) -> list[EventSummary]:
    """Live figures for ``events`` (one grouped query for the waitlists)."""
    now = now or utcnow()
    waitlisted = _waitlisted_counts([e.id for e in events]) if events else {}
    return [EventSummary(e, waitlisted.get(e.id, 0), e.status(now)) for e in events]


def list_events() -> list[Event]:
    """Every event, soonest first."""
    return list(db.session.scalars(select(Event).order_by(Event.date, Event.city)))


def get_event(slug: str) -> Event | None:
    """The event with this slug, or None."""
    if len(slug) > 64:
        return None
    return db.session.scalar(select(Event).where(Event.slug == slug))


def set_quota(event: Event, new_quota: int) -> list[Registration]:
    """Change the quota: never below the confirmed count; raising promotes from the waitlist."""
    if new_quota < 1:
        raise QuotaError(_("The quota must be at least 1."))
    event_id = event.id
    begin_write()
    try:
        lock_event(event_id)
        db.session.refresh(event)
        if new_quota < event.confirmed_count:
            raise QuotaError(
                _(
                    "The quota cannot be lower than the %(n)d runners already confirmed.",
                    n=event.confirmed_count,
                )
            )
        kept = event.pool_non_member + event.pool_partner
        if new_quota < kept:
            raise QuotaError(
                _("The quota cannot be lower than the %(n)d places the pools keep.", n=kept)
            )
        event.quota = new_quota
        db.session.flush()
        promoted = promote_waitlist(event_id)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return promoted
