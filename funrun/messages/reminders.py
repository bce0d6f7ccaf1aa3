"""The race-week reminder: queued by the worker for each confirmed runner once the race
is ``reminder_days_before`` days away (in the venue's time zone), once per runner."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import Message, MessageKind
from funrun.messages.queueing import queue
from funrun.registration.models import Registration, RegistrationStatus

#: How often the worker looks for reminders that became due.
EVERY = timedelta(minutes=10)


def due_events(now: datetime) -> list[int]:
    """Events whose reminder day has come and whose race has not yet started."""
    soon = now.date() + timedelta(days=31)
    rows = db.session.execute(
        select(Event.id, Event.date, Event.timezone, Event.reminder_days_before).where(
            Event.reminder_days_before.is_not(None),
            Event.date >= now.date() - timedelta(days=1),
            Event.date <= soon,
        )
    ).all()
    due = []
    for event_id, day, zone, days_before in rows:
        today = now.astimezone(ZoneInfo(zone)).date()
        if day - timedelta(days=days_before) <= today <= day:
            due.append(event_id)
    return due


def queue_due(now: datetime | None = None) -> int:
    """Queue the reminders that are due and not yet queued; how many. Committed."""
    now = now or utcnow()
    events = due_events(now)
    if not events:
        db.session.rollback()
        return 0
    begin_write()
    already = exists().where(
        Message.registration_id == Registration.id, Message.kind == MessageKind.REMINDER.value
    )
    count = queue(
        MessageKind.REMINDER,
        Registration.event_id.in_(events)
        & (Registration.status == RegistrationStatus.CONFIRMED.value)
        & ~already,
    )
    db.session.commit()
    return count
