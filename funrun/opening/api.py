"""The queue for the public registration API: a busy queue answers 429.

An anonymous registration of a queued event takes a slot only if one is due now (the
API has no page to wait on); while the queue is busy it gets 429 with Retry-After (when
the slots already promised run out), unless it shows a valid admission from the
waiting page in the ``Queue-Admission`` header. Partners' tokens are not queued: they
have their own limit. Without Redis, or when Redis fails, nothing is refused.
"""

from __future__ import annotations

import math
import time

from flask import current_app, request
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun import fastdb
from funrun.api.problems import problem
from funrun.events.models import Event
from funrun.extensions import db
from funrun.opening import passes, slots
from funrun.opening.passes import Admission

HEADER = "Queue-Admission"

#: (database URL, event id) -> (expires at, monotonic clock; the event's admit rate)
_rates: dict[tuple[str, int], tuple[float, int | None]] = {}


def admit_rate(event_id: int) -> int | None:
    """The event's admit rate, remembered for FUNRUN_TERMS_CACHE_SECONDS per process."""
    key = (str(db.engine.url), event_id)
    now = time.monotonic()
    hit = _rates.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    statement = select(Event.__table__.c.admit_rate).where(Event.__table__.c.id == event_id)
    if fastdb.available():
        rows = fastdb.run(statement)
        rate = rows[0][0] if rows else None
    else:
        rate = db.session.scalar(statement)
    seconds = current_app.config["FUNRUN_TERMS_CACHE_SECONDS"]
    if seconds > 0:
        _rates[key] = (now + seconds, rate)
    return rate


def busy(event_id: int, slug: str) -> Response | None:
    """None to register, or the 429 problem when the event's queue is busy."""
    if not slots.enabled():
        return None
    rate = admit_rate(event_id)
    if not rate:
        return None
    held = passes.read(request.headers.get(HEADER), slug, passes.now())
    if isinstance(held, Admission) and held.event_id == event_id:
        return None
    slot = slots.take(event_id, rate, only_if_due=True)
    if slot is None or slot.taken:
        return None
    wait = max(1, math.ceil(slot.at - slot.now))
    refused = problem(
        429,
        _("Many runners are registering right now. Please try again in %(seconds)s seconds.",
          seconds=wait),
        kind="queue-busy",
        retry_after=wait,
    )  # fmt: skip
    refused.headers["Retry-After"] = str(wait)
    return refused
