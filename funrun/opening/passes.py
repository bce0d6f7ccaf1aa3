"""Signed tickets and admissions: what a runner in the queue carries (a cookie).

Both are signed with SECRET_KEY (itsdangerous), which every app instance shares, so any
instance reads what another issued, and nothing is stored server-side. A ticket holds
the event, the arrival's slot, the rate and when it was issued: all the waiting page
shows. An admission lets its holder fill the event's form until it expires.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from funrun.opening.slots import QUEUE_SHARE, due

#: How long an admission lets its holder fill the form (seconds).
ADMISSION_SECONDS = 20 * 60
#: Longest wait a ticket may promise (seconds); anything beyond is not ours.
LONGEST_WAIT = 24 * 3600
TICKET = "t"
ADMISSION = "a"


@dataclass(frozen=True)
class Ticket:
    """A place in an event's queue: its slot (epoch seconds) and the rate it was given at."""

    event_id: int
    slug: str
    slot: float
    rate: int
    issued: float
    #: The event's name, shown on the waiting page.
    name: str = ""
    #: The whole second (epoch, Redis's clock) the form has booked for this runner
    #: (:func:`funrun.opening.slots.form_turn`; 0: none). ``slot`` is then a hair into it.
    booked: int = 0

    def wait(self, now: float) -> float:
        """Seconds until the slot comes: its whole second begins (0 when it has)."""
        return max(0.0, math.floor(self.slot) - now)

    def due(self, now: float) -> bool:
        """Whether the slot has come: its whole second has begun."""
        return due(self.slot, now)

    def place(self, now: float) -> int:
        """Runners admitted before this one, counting this one: the slots in the wait."""
        return max(1, math.ceil(round(self.wait(now) * self.rate * QUEUE_SHARE, 6)))


@dataclass(frozen=True)
class Admission:
    """Leave to fill an event's form until ``expires`` (epoch seconds), once: its
    ``nonce`` is claimed by the one form it registers (:func:`funrun.opening.slots.claim`)."""

    event_id: int
    slug: str
    expires: float
    nonce: str


def _serializer() -> URLSafeSerializer:
    signer = current_app.extensions.get("funrun_queue_signer")
    if signer is None:
        signer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="funrun.queue")
        current_app.extensions["funrun_queue_signer"] = signer
    return signer


def ticket(found: Ticket) -> str:
    """``found`` signed."""
    return _serializer().dumps(
        [TICKET, found.event_id, found.slug, round(found.slot, 3), found.rate,
         round(found.issued, 3), found.name, found.booked]
    )  # fmt: skip


def admit(event_id: int, slug: str, now: float) -> tuple[Admission, str]:
    """An admission to the event's form from ``now`` for ADMISSION_SECONDS, and it signed."""
    # Down to the millisecond, never up: the moment stays in the second it was given in.
    given = Admission(
        event_id, slug, math.floor((now + ADMISSION_SECONDS) * 1000) / 1000,
        secrets.token_urlsafe(9),
    )  # fmt: skip
    return given, _serializer().dumps([ADMISSION, event_id, slug, given.expires, given.nonce])


def admission(event_id: int, slug: str, now: float) -> str:
    """A signed admission to the event's form, from ``now`` for ADMISSION_SECONDS."""
    return admit(event_id, slug, now)[1]


def read(value: str | None, slug: str, now: float) -> Ticket | Admission | None:
    """The valid ticket or admission in ``value`` for the event ``slug``, else None.

    None for anything forged, malformed, for another event, an expired admission, or a
    ticket whose slot passed longer ago than an admission lasts (an old visit's).
    """
    if not value or len(value) > 800:
        return None
    try:
        data = _serializer().loads(value)
    except (BadSignature, ValueError):
        return None
    if not isinstance(data, list) or not data or data[2:3] != [slug]:
        return None
    try:
        if data[0] == TICKET:
            _kind, event_id, _slug, slot, rate, issued, name, booked = data
            found: Ticket | Admission = Ticket(
                int(event_id), slug, float(slot), int(rate), float(issued), str(name),
                int(booked),
            )  # fmt: skip
            if not (found.issued - 60 <= now and found.slot - found.issued <= LONGEST_WAIT):
                return None
            if now > found.slot + ADMISSION_SECONDS or found.rate < 1:
                return None
            return found
        if data[0] == ADMISSION:
            _kind, event_id, _slug, expires, nonce = data
            if now >= expires or not isinstance(nonce, str) or not 8 <= len(nonce) <= 32:
                return None
            return Admission(int(event_id), slug, float(expires), nonce)
    except (TypeError, ValueError):
        return None
    return None


def now() -> float:
    """This process's clock (epoch seconds), which tickets' slots are on."""
    return time.time()
