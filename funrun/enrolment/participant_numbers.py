"""Participant numbers: 10 digits from a counter taken under its row lock, plus a Luhn digit.

The counter row is updated in the caller's transaction (never max()+1), so two desks never
get the same number and a rolled-back enrolment hands its number to the next one.
"""

from __future__ import annotations

from funrun.dbtx import insert_ignore
from funrun.enrolment.models import Counter
from funrun.extensions import db

_COUNTERS = Counter.__table__


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for ``digits`` (catches any single mistyped digit)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def participant_number(value: int) -> str:
    """Counter value ``value`` as an 11-digit participant number (10 digits + Luhn)."""
    body = f"{value:010d}"
    return body + luhn_digit(body)


def next_counter(name: str) -> int:
    """Take the next value of a named counter (the row stays locked until COMMIT)."""
    c = _COUNTERS.c
    for _attempt in range(2):
        value = db.session.scalar(
            _COUNTERS.update().where(c.name == name).values(value=c.value + 1).returning(c.value)
        )
        if value is not None:
            return value
        db.session.execute(insert_ignore(_COUNTERS, {"name": name, "value": 0}))
    raise RuntimeError(f"counter {name} could not be taken")  # pragma: no cover
