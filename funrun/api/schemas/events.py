"""Events as ``GET /events`` and ``GET /events/{slug}`` answer them."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from funrun.api.schemas.base import Count, DateTime, Schema
from funrun.events.models import EventStatus


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


class EventList(Schema):
    """Every event."""

    events: list[Event]
