"""Slot times in Redis: the queue's one shared, atomic step (every app instance runs it).

Per event one key holds the next free slot (microseconds since the epoch on Redis's own
clock, so instances whose clocks differ still hand out one order). An arrival's slot is
``max(now, next)``, and the next one ``1/rate`` later; the key expires an hour after the
last slot it promised. Redis runs a script alone, so two arrivals never get one slot and
slots follow arrival order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from flask import current_app

log = logging.getLogger(__name__)

#: A slot this close to now is admitted at once (seconds): the page's refresh is whole
#: seconds anyway, and nobody waits for a fraction of one.
GRANULARITY = 0.25
#: After Redis failed, a process lets runners through without asking it for this long
#: (seconds), rather than have every arrival wait for a timeout.
RETRY_AFTER_FAILURE = 5.0
#: Seconds Redis gets to connect and to answer.
TIMEOUT = 0.5

#: KEYS[1] the event's next free slot; ARGV: microseconds a slot, "queue" (always take a
#: slot) or "if_due" (take one only if it is due now), the granularity in microseconds.
#: Returns {slot, now, taken}.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local step = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
if ARGV[2] == 'if_due' and slot > now + tonumber(ARGV[3]) then
  return {slot, now, 0}
end
redis.call('SET', KEYS[1], string.format('%d', slot + step), 'PX',
           math.floor((slot + step - now) / 1000) + 3600000)
return {slot, now, 1}
"""

_down_until = 0.0


@dataclass(frozen=True)
class Slot:
    """An arrival's place in time: its slot and now, both on this process's clock."""

    at: float
    now: float
    #: False when ``if_due`` found the queue busy (no slot was taken).
    taken: bool = True
    #: The slot on Redis's clock (microseconds): what orders arrivals.
    micros: int = 0

    @property
    def due(self) -> bool:
        """Whether the slot has come (within the granularity): admitted at once."""
        return self.at <= self.now + GRANULARITY


def _client() -> redis.Redis | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    extensions = current_app.extensions
    client = extensions.get("funrun_queue_redis")
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        extensions["funrun_queue_redis"] = client
        extensions["funrun_queue_script"] = client.register_script(SCRIPT)
    return client


def enabled() -> bool:
    """Whether this app has a queue at all (REDIS_URL set)."""
    return bool(current_app.config.get("REDIS_URL"))


def key(event_id: int, clock: str = "next") -> str:
    """The Redis key of an event's next free slot (``clock="form"``: the form's pace)."""
    return f"funrun:queue:{event_id}:{clock}"


def pace(event_id: int, rate: int) -> Slot | None:
    """The form's own slot for a runner whose queue slot has come: at most ``rate`` a
    second open the form (within the granularity).

    Queue slots are 1/rate apart, but runners come back whenever their refresh lands:
    several late ones at once would open the form together. So the form keeps a clock
    of its own, spaced the same way and taken in the order runners come back: a slot
    not due yet is the runner's reserved moment (the caller signs it into their
    ticket). None: no Redis, or it failed (let through).
    """
    return take(event_id, rate, clock="form")


def take(
    event_id: int, rate: int, *, only_if_due: bool = False, clock: str = "next"
) -> Slot | None:
    """The next slot of the event's queue (``only_if_due``: only if it is due now).

    None when there is no queue: no Redis configured, or Redis failed (logged; the
    caller lets the runner through).
    """
    global _down_until
    if _client() is None or time.monotonic() < _down_until:
        return None
    script = current_app.extensions["funrun_queue_script"]
    step = max(1, round(1_000_000 / rate))
    mode = "if_due" if only_if_due else "queue"
    try:
        slot, now, taken = script(
            keys=[key(event_id, clock)], args=[step, mode, round(GRANULARITY * 1_000_000)]
        )
    except redis.RedisError as failed:
        _down_until = time.monotonic() + RETRY_AFTER_FAILURE
        log.warning("queue: Redis failed (%s); letting runners through for a while", failed)
        return None
    local_now = time.time()
    at = local_now + (slot - now) / 1_000_000
    return Slot(at=at, now=local_now, taken=bool(taken), micros=int(slot))
