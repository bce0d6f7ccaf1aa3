"""Each event's registration terms, remembered for a few seconds per process.

A registration through the API reads the event's terms (age rule, shirt sizes, window,
whether it is full) and the privacy notice before it writes: one round trip of its two
on PostgreSQL. During a rush thousands of registrations read the same few rows, so each
process keeps what it read for ``FUNRUN_TERMS_CACHE_SECONDS`` (2 s by default; 0 turns
it off). Nothing that decides a place rests on it: the write statement itself checks the
quota, the bib range and the registration window under the event's row lock, so a
closed event refuses at once whatever a process remembers. What may lag by up to the
cache's life in another process is an organiser's change of shirt sizes or age rule;
an edit made in this process forgets its event at once.

The tour's brand, which every public page shows, is kept here the same way
(:func:`funrun.events.identity.site_brand_now`, under an empty slug no event has).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: (database URL, slug, locale) -> (expires at, monotonic clock; the terms and notice)
_remembered: dict[tuple[str, str, str], tuple[float, Any]] = {}


def remembered(
    key: tuple[str, str, str], seconds: float, load: Callable[[], tuple[Any, Any]]
) -> tuple[Any, Any]:
    """``load()``'s terms and notice, reused for ``seconds`` once an event was found."""
    now = time.monotonic()
    hit = _remembered.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    # Only events that exist are kept, so a stream of made-up slugs cannot grow this; and
    # only with their notice: until the first registration stores the current text, every
    # request would otherwise look it up through the ORM for as long as this lasts.
    if seconds > 0 and value[0] is not None and value[1] is not None:
        _remembered[key] = (now + seconds, value)
    return value


def forget(slug: str | None = None) -> None:
    """Drop what this process remembers of ``slug`` (of every event when None)."""
    for key in list(_remembered):
        if slug is None or key[1] == slug:
            _remembered.pop(key, None)
