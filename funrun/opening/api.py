"""The queue for the public registration API: a busy queue answers 429.

An anonymous registration of a queued event takes a slot only if one is due now (the
API has no page to wait on); while the queue is busy it gets 429 with Retry-After (when
the slots already promised run out), unless it shows a valid admission from the
waiting page in the ``Queue-Admission`` header (one runner an admission, as on the form).
Partners' tokens are not queued: they
have their own limit. Without Redis, or when Redis fails, nothing is refused.
"""

from __future__ import annotations

import hashlib
import math

from flask import request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.api.problems import problem
from funrun.opening import passes, rates, slots
from funrun.opening.passes import Admission

HEADER = "Queue-Admission"


def busy(event_id: int, slug: str) -> Response | None:
    """None to register, or the 429 problem when the event's queue is busy."""
    if not slots.enabled():
        return None
    facts = rates.queued_event(slug)
    rate = facts.admit_rate if facts is not None and facts.id == event_id else None
    if not rate:
        return None
    held = passes.read(request.headers.get(HEADER), slug, passes.now())
    if isinstance(held, Admission) and held.event_id == event_id:
        # One admission, one runner: the same request again (a lost answer) keeps it;
        # another body finds it used, and queues as if it had none.
        body = hashlib.sha256(request.get_data(cache=True)).hexdigest()
        if slots.claim(event_id, held.nonce, body, passes.ADMISSION_SECONDS):
            return None
    slot = slots.take(event_id, rate, only_if_due=True)
    if slot is None or slot.taken:
        return None
    wait = max(1, math.ceil(math.floor(slot.at) - slot.now))  # until the slot's second
    refused = problem(
        429,
        _("Many runners are registering right now. Please try again in %(seconds)s seconds.",
          seconds=wait),
        kind="queue-busy",
        retry_after=wait,
    )  # fmt: skip
    refused.headers["Retry-After"] = str(wait)
    return refused
