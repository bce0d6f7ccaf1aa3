"""Which events are queued, remembered for a few seconds per process (the rush's reads).

During a rush thousands of arrivals a second ask the same question of one event row (is
it queued, at what rate?); each process keeps the answer for FUNRUN_TERMS_CACHE_SECONDS,
as registering keeps an event's terms. An organiser's change of the rate reaches every
process within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from funrun import fastdb
from funrun.events.models import Event
from funrun.extensions import db

_EVENTS = Event.__table__.c
_STATEMENT = select(_EVENTS.id, _EVENTS.slug, _EVENTS.name, _EVENTS.admit_rate)


@dataclass(frozen=True)
class QueuedFacts:
    """What the queue needs of an event (the gate's :class:`QueuedEvent`)."""

    id: int
    slug: str
    name: str
    admit_rate: int | None


#: (database URL, slug) -> (expires at, monotonic clock; the event's facts)
_remembered: dict[tuple[str, str], tuple[float, QueuedFacts]] = {}


def queued_event(slug: str) -> QueuedFacts | None:
    """The event ``slug``'s id, name and admit rate (None: no such event)."""
    key = (str(db.engine.url), slug)
    now = time.monotonic()
    hit = _remembered.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    statement = _STATEMENT.where(_EVENTS.slug == slug)
    if fastdb.available():
        rows = fastdb.run(statement)
    else:
        rows = list(db.session.execute(statement).all())
    if not rows:
        return None  # made-up slugs are not remembered: this cannot grow without end
    found = QueuedFacts(*rows[0])
    seconds = current_app.config["FUNRUN_TERMS_CACHE_SECONDS"]
    if seconds > 0:
        _remembered[key] = (now + seconds, found)
    return found


def forget() -> None:
    """Drop what this process remembers (tests: the next test's city-1 is another event)."""
    _remembered.clear()
