"""Slot times in Redis: the queue's one shared, atomic step (every app instance runs it).

Per event one key holds the next free slot (microseconds since the epoch on Redis's own
clock, so instances whose clocks differ still hand out one order). An arrival's slot is
``max(now, next)``, and the next one ``1/rate`` later (``rate``: QUEUE_SHARE of the admit
rate); the key expires an hour after the
last slot it promised. Redis runs a script alone, so two arrivals never get one slot and
slots follow arrival order.

The form keeps its own count per whole second (:func:`form_turn`): runners whose slots
have come open it at most ``rate`` in any one second, the late ones booked into the
next second with room.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

#: The queue hands out slots at this share of the admit rate. Runners come back a little
#: late (their network; the page waits whole seconds), and a queue handing out exactly
#: what the form may open would never win that time back: its backlog would grow by every
#: late one. The form itself opens for at most the full rate in any second. A runner
#: who crosses into the next second finds it holding that second's own runners, and once
#: it is full is booked after runners whose slots came later: at 90% (2 places a second
#: of 20 for the late) bench/opening.py saw 51-166 runners overtaken by over a second in
#: slot order, at 80% 4, by at most 1.024 s, for a tenth fewer runners let through.
QUEUE_SHARE = 0.8
#: After Redis failed, a process lets runners through without asking it for this long
#: (seconds), rather than have every arrival wait for a timeout.
RETRY_AFTER_FAILURE = 5.0
#: Seconds Redis gets to connect and to answer.
TIMEOUT = 0.5

#: KEYS[1] the event's next free slot, KEYS[2] the prefix of the count of slots in each
#: whole second; ARGV: microseconds a slot, "queue" (always take a slot) or "if_due" (take
#: one only if it is due now: in this whole second; not counted, as the API registers at
#: once). Returns {slot, now, taken}.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local step = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
if ARGV[2] == 'if_due' and math.floor(slot / 1000000) > tonumber(t[1]) then
  return {slot, now, 0}
end
redis.call('SET', KEYS[1], string.format('%d', slot + step), 'PX',
           math.floor((slot + step - now) / 1000) + 3600000)
if ARGV[2] == 'queue' then
  local second = math.floor(slot / 1000000)
  local held = KEYS[2] .. string.format('%d', second)
  redis.call('INCR', held)
  redis.call('EXPIRE', held, second - tonumber(t[1]) + 120)
end
return {slot, now, 1}
"""

_down_until = 0.0


def due(slot: float, now: float) -> bool:
    """Whether a slot (epoch seconds) has come: the queue's granularity is the whole second.

    Waiting pages refresh whole seconds after they were drawn, so a runner can be brought
    back inside their slot's second but not to its fraction; slots are 1/rate apart, so
    no second holds more than ``rate`` of them, and the form's count per second
    (:func:`form_turn`) keeps it so whoever comes late.
    """
    return math.floor(slot) <= math.floor(now)


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
        """Whether the slot has come: it falls in this whole second (admitted at once)."""
        return due(self.at, self.now)


def _client() -> redis.Redis | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    extensions = current_app.extensions
    client = extensions.get("funrun_queue_redis")
    if client is None:
        # Imported here: a process without REDIS_URL (the embedded default) never loads
        # the client (3.5 MB of a web worker's RSS; tests/test_web_memory.py).
        import redis

        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        extensions["funrun_queue_redis"] = client
        extensions["funrun_queue_script"] = client.register_script(SCRIPT)
        extensions["funrun_queue_form_script"] = client.register_script(FORM_SCRIPT)
        extensions["funrun_queue_claim_script"] = client.register_script(CLAIM_SCRIPT)
    return client


def enabled() -> bool:
    """Whether this app has a queue at all (REDIS_URL set)."""
    return bool(current_app.config.get("REDIS_URL"))


def key(event_id: int, clock: str = "next") -> str:
    """An event's queue key in Redis: ``next`` its next free slot; ``form`` the first
    second the form may have room in, ``form:<second>`` the form's openings in it;
    ``slots:<second>`` the slots in a whole second, ``came:<second>`` those of them whose
    turn came; ``used:<nonce>`` the form an admission registered."""
    return f"funrun:queue:{event_id}:{clock}"


#: KEYS[1] the prefix of the form's per-second counts, KEYS[2] the first second that may
#: have room, KEYS[3] the prefix of the slots in each second (:data:`SCRIPT`), KEYS[4] the
#: prefix of the count of those whose turn came (let in or booked); ARGV: openings a
#: second, the second the runner holds (0: none), their slot's second (0: unknown),
#: microseconds into a second the last second's runners are kept room for, and before
#: which one may be booked ahead. Returns {second, now, admitted}: admitted now (their
#: own second, or room in this one), or the second booked for them (the first with room;
#: a held second still to come is kept).
#:
#: The page brings a runner back at the fraction of a second they arrived at, and a
#: slot's second holds runners who arrived within a few milliseconds: they come back
#: together, and when that is at the very end of a second some are answered in the next.
#: Two rules keep whoever came first from being let in after a later runner:
#:
#: - in the first part of a second its own runners leave room for the last second's
#:   runners who have not come yet (late by a hair);
#: - when this second's own runners still to come would not all fit, one who comes early
#:   in it is booked into the next second (while that one has room besides its own
#:   slots): back in it at the same early fraction, they are let in one second late, where
#:   a runner at the second's very end, turned away, would cross into the one after.
FORM_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local second = tonumber(t[1])
local rate = tonumber(ARGV[1])
local held = tonumber(ARGV[2])
local from = tonumber(ARGV[3])
local part = tonumber(ARGV[4])
if held == second then
  return {second, now, 1}
end
if held > second then
  return {held, now, 0}
end
local function count(prefix, s)
  return tonumber(redis.call('GET', prefix .. string.format('%d', s)) or '0')
end
local function book(k, used)
  redis.call('SET', KEYS[1] .. k, used + 1, 'EX', k - second + 120)
  if used + 1 >= rate then
    redis.call('SET', KEYS[2], k + 1, 'EX', k - second + 120)
  end
end
local used = count(KEYS[1], second)
local room = rate
local ahead = false
local next_used = 0
if held == 0 and from >= second then
  local early = tonumber(t[2]) < part
  local owed = 0
  if early then
    owed = math.max(0, count(KEYS[3], second - 1) - count(KEYS[4], second - 1))
  end
  room = rate - owed
  local own = math.max(1, count(KEYS[3], second) - count(KEYS[4], second))
  if early and used + owed + own > rate then
    next_used = count(KEYS[1], second + 1)
    ahead = next_used + count(KEYS[3], second + 1) < rate
  end
end
if held == 0 and from > 0 then
  local came = KEYS[4] .. string.format('%d', from)
  redis.call('INCR', came)
  redis.call('EXPIRE', came, 120)
end
if ahead then
  book(second + 1, next_used)
  return {second + 1, now, 0}
end
if used < room then
  redis.call('SET', KEYS[1] .. second, used + 1, 'EX', 120)
  return {second, now, 1}
end
local k = math.max(second + 1, tonumber(redis.call('GET', KEYS[2]) or '0'))
while true do
  used = count(KEYS[1], k)
  if used < rate then break end
  k = k + 1
end
book(k, used)
return {k, now, 0}
"""

#: The part of a second (microseconds) in which its own runners leave room for the last
#: second's still to come, and may be booked into the next (:data:`FORM_SCRIPT`).
EARLY_PART = 500_000

#: A booked second's holder is sent back this far into it (seconds): a hair after the
#: second starts, so a clock a millisecond off does not bring them back before it.
BOOKED_MARGIN = 0.005


@dataclass(frozen=True)
class FormTurn:
    """The form's answer to a runner whose queue slot has come."""

    #: The whole second (Redis's clock, epoch) the form opens for them.
    second: int
    #: When that is on this process's clock (a hair into the second).
    at: float
    #: Now on this process's clock.
    now: float
    #: Now on Redis's clock (epoch seconds): when an admission given now was given, in
    #: the second it was counted in.
    given: float
    #: Whether the form opens now; if not, ``second`` is booked for them.
    admitted: bool


def form_turn(event_id: int, rate: int, held: int = 0, slot_second: int = 0) -> FormTurn | None:
    """Whether the form opens now for a runner whose slot has come: never more than
    ``rate`` in one whole second, however many come back at once.

    No second holds more slots than the rate, but runners come back late (their network,
    a busy phone) into a later second, with that second's own runners. So the form
    counts its openings in each whole second (in Redis, shared by every instance): a
    runner is let in while this second has room, or in the second they hold; otherwise
    the first second with room is booked for them and their page brings them back in
    it, where they are not counted again. ``held`` is the second a runner's ticket
    holds (0: none), ``slot_second`` the whole second of their slot (0: unknown): early
    in a second, the last second's runners who have not come yet are kept room for, and
    one of this second's own is booked into the next when its own would not all fit
    (:data:`FORM_SCRIPT`). None: no Redis, or it failed (let through).
    """
    keys = [key(event_id, "form:"), key(event_id, "form"), key(event_id, "slots:"),
            key(event_id, "came:")]  # fmt: skip
    answer = _run("funrun_queue_form_script", keys, [rate, held, slot_second, EARLY_PART])
    if answer is None:
        return None
    second, now, admitted = answer
    local_now = time.time()
    at = local_now + (second * 1_000_000 - now) / 1_000_000 + BOOKED_MARGIN
    return FormTurn(int(second), at, local_now, now / 1_000_000, bool(admitted))


#: KEYS[1] an admission's claim; ARGV: what claims it (the form's submission id), seconds
#: to keep it. 1: claimed now or by the same form before; 0: another form used it.
CLAIM_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return 1
end
return 0
"""


def claim(event_id: int, nonce: str, by: str, seconds: int) -> bool:
    """Whether an admission (its ``nonce``) may register what ``by`` names: the first
    form sent with it claims it (for ``seconds``, its lifetime); the same form sent again
    (corrected, or resent after a lost answer) keeps it; any other is refused, so a
    copied admission cookie lets one runner through, not a crowd. True without Redis
    or when it failed (the queue lets runners through then anyway)."""
    claimed = _run("funrun_queue_claim_script", [key(event_id, f"used:{nonce}")], [by, seconds])
    return claimed is None or bool(claimed)


def _run(script: str, keys: list[str], args: list[int | str]) -> Any:
    """A queue script's answer, or None without Redis or when it failed (logged; the
    caller lets the runner through, and Redis is left alone for a while)."""
    global _down_until
    if _client() is None or time.monotonic() < _down_until:
        return None
    from redis import RedisError  # loaded by _client() already

    try:
        return current_app.extensions[script](keys=keys, args=args)
    except RedisError as failed:
        _down_until = time.monotonic() + RETRY_AFTER_FAILURE
        log.warning("queue: Redis failed (%s); letting runners through for a while", failed)
        return None


def step(rate: int) -> int:
    """Microseconds between two slots at the admit rate ``rate`` (QUEUE_SHARE of it)."""
    return max(1, round(1_000_000 / (rate * QUEUE_SHARE)))


def take(event_id: int, rate: int, *, only_if_due: bool = False) -> Slot | None:
    """The next slot of the event's queue (``only_if_due``: only if it is due now).

    None when there is no queue: no Redis configured, or Redis failed (logged; the
    caller lets the runner through).
    """
    mode = "if_due" if only_if_due else "queue"
    answer = _run("funrun_queue_script", [key(event_id), key(event_id, "slots:")],
                  [step(rate), mode])  # fmt: skip
    if answer is None:
        return None
    slot, now, taken = answer
    local_now = time.time()
    at = local_now + (slot - now) / 1_000_000
    return Slot(at=at, now=local_now, taken=bool(taken), micros=int(slot))
