"""Events as ``GET /events`` and ``GET /events/{slug}`` answer them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from funrun.api.schemas.base import Count, DateTime, Schema
from funrun.events.models import EventStatus, Opening
from funrun.events.services import EventSummary


class Ballot(Schema):
    """A ballot's window and its committed seed (scripts/verify_ballot.py checks a draw)."""

    opens_at: DateTime | None = Field(description="When entries open.")
    closes_at: DateTime | None = Field(description="When entries close; the draw follows.")
    seed_sha256: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the seed's text, published before entries open.",
    )
    seed: str | None = Field(
        pattern="^[0-9a-f]{64}$", description="The seed (64 hex characters); null until drawn."
    )
    drawn_at: DateTime | None = Field(description="When the ballot was drawn; null before.")


class Event(Schema):
    """An event with its live places."""

    slug: str
    name: str
    city: str
    date: date
    date_is_illustrative: bool
    start_time: str = Field(pattern="^[0-2][0-9]:[0-5][0-9]$")
    timezone: str
    venue: str
    quota: int = Field(ge=1)
    confirmed: Count
    waitlisted: Count
    remaining: Count
    status: EventStatus
    shirt_sizes: list[str]
    min_age: int
    max_age: int | None
    registration_opens_at: DateTime | None
    registration_closes_at: DateTime | None
    opening: Opening = Field(description="How places are given out: first come, or a ballot.")
    ballot: Ballot = Field(default=None, description="A ballot event's draw (ballots only).")  # type: ignore[assignment]

    @classmethod
    def of(cls, summary: EventSummary) -> dict[str, Any]:
        """The answer for one event with its live places."""
        e = summary.event
        return cls.dump(
            {
                "slug": e.slug,
                "name": e.name,
                "city": e.city,
                "date": e.date,
                "date_is_illustrative": e.date_is_illustrative,
                "start_time": e.start_time.strftime("%H:%M"),
                "timezone": e.timezone,
                "venue": e.venue,
                "quota": e.quota,
                "confirmed": e.confirmed_count,
                "waitlisted": summary.waitlisted,
                "remaining": e.remaining,
                "status": str(summary.status),
                "shirt_sizes": list(e.shirt_sizes),
                "min_age": e.min_age,
                "max_age": e.max_age,
                "registration_opens_at": _iso(e.registration_opens_at),
                "registration_closes_at": _iso(e.registration_closes_at),
                "opening": e.opening,
                **_ballot(summary),
            }
        )


def _ballot(summary: EventSummary) -> dict[str, Any]:
    """``{"ballot": ...}`` for a ballot event, nothing for the others."""
    e = summary.event
    if e.opening != Opening.BALLOT:
        return {}
    return {
        "ballot": {
            "opens_at": _iso(e.registration_opens_at),
            "closes_at": _iso(e.registration_closes_at),
            "seed_sha256": e.ballot_seed_sha256,
            "seed": e.ballot_seed,
            "drawn_at": _iso(e.ballot_drawn_at),
        }
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class EventList(Schema):
    """Every event."""

    events: list[Event]
