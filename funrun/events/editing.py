"""Organisers create and change events; the rules that keep quotas and bibs safe live here.

A change is one write transaction under the event's row lock (as registrations take it),
so a registration arriving meanwhile either sees the old event or the new one:
the quota never drops below the runners already confirmed, a bib range never loses a
number already handed out, and raising either promotes from the waitlist at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select

from funrun.audit.services import current_user_id, record
from funrun.ballot.seed import commit_seed
from funrun.dbtx import begin_write
from funrun.events.models import Event, Opening, Tour
from funrun.events.services import current_tour
from funrun.extensions import db
from funrun.registration import terms_cache
from funrun.registration.models import Registration
from funrun.registration.services import lock_event, promote_waitlist

#: The venue time zones of Indonesia: WIB, WITA, WIT.
TIMEZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SIZE = re.compile(r"[A-Za-z0-9]{1,8}")
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
PREFIX = re.compile(r"[A-Z0-9]{1,8}")
#: Race dates and registration windows stay within these years: year 1 at the venue is
#: before year 1 in UTC, which no datetime can hold (an OverflowError, a 500).
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: The longest race-pack pickup text (the column's size).
MAX_PICKUP = 300


class EventEditError(Exception):
    """A change was refused; ``errors`` maps form fields to messages for the organiser."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("event change refused")
        self.errors = errors


@dataclass
class EventData:
    """What the event form edits (the slug only when creating)."""

    city: str
    name: str
    date: date
    start_time: time
    timezone: str
    venue: str
    quota: int
    bib_prefix: str
    bib_first: int
    bib_last: int
    bib_colour: str
    shirt_sizes: list[str]
    min_age: int
    max_age: int | None
    registration_open: bool
    #: Local times at the venue (naive), converted with ``timezone``.
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    date_is_illustrative: bool = False
    slug: str | None = None
    #: The race-week reminder goes this many days before race day (None: no reminder).
    reminder_days_before: int | None = 3
    #: When and where race packs are collected, as the reminder says.
    pickup_hours: str | None = None
    #: Runners one representative may collect race packs for (0: nobody for another).
    proxy_limit: int = 3
    #: Days a partner's group member has to confirm a held place before it goes back.
    group_hold_days: int = 7
    #: First come (``first_come``) or a ballot over the registration window (``ballot``).
    opening: str = Opening.FIRST_COME.value
    #: Places kept for runners not yet members, and for partners' groups.
    pool_non_member: int = 0
    pool_partner: int = 0
    #: Local time at the venue (naive) when unfilled pool places go to everyone.
    pools_flow_at: datetime | None = None
    #: The orderly queue: runners let through to the form a second (None: no queue).
    admit_rate: int | None = None


def parse_sizes(raw: str) -> list[str]:
    """``"S, M, L"`` as ``["S", "M", "L"]`` (upper case, duplicates dropped, order kept)."""
    sizes: list[str] = []
    for part in re.split(r"[,\s]+", raw.strip()):
        if part and part.upper() not in sizes:
            sizes.append(part.upper())
    return sizes


def _check(data: EventData, errors: dict[str, list[str]]) -> None:
    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if data.timezone not in TIMEZONES:
        fail("timezone", _("Choose a time zone from the list."))
    for name, day in (
        ("date", data.date),
        ("registration_opens_at", data.registration_opens_at),
        ("registration_closes_at", data.registration_closes_at),
        ("pools_flow_at", data.pools_flow_at),
    ):
        if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
            fail(
                name,
                _("Use a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR),
            )
    if data.quota < 1:
        fail("quota", _("The quota must be at least 1."))
    if not PREFIX.fullmatch(data.bib_prefix):
        fail("bib_prefix", _("Use 1 to 8 capital letters or digits, e.g. JKT."))
    if not 0 <= data.bib_first <= data.bib_last <= 99999:
        fail("bib_last", _("The bib range must go up, within 0 to 99999."))
    if not COLOUR.fullmatch(data.bib_colour):
        fail("bib_colour", _("Use a colour like #0A7A3D."))
    if not data.shirt_sizes or not all(SIZE.fullmatch(s) for s in data.shirt_sizes):
        fail("shirt_sizes", _("List the sizes separated by commas, e.g. S, M, L, XL."))
    if len(data.shirt_sizes) > 12:
        fail("shirt_sizes", _("At most 12 sizes."))
    if data.max_age is not None and data.max_age < data.min_age:
        fail("max_age", _("The maximum age cannot be below the minimum age."))
    opens, closes = data.registration_opens_at, data.registration_closes_at
    if opens and closes and closes <= opens:
        fail("registration_closes_at", _("Registration must close after it opens."))
    if data.reminder_days_before is not None and not 1 <= data.reminder_days_before <= 30:
        fail("reminder_days_before", _("Enter a number of days from 1 to 30."))
    if data.pickup_hours is not None and len(data.pickup_hours) > MAX_PICKUP:
        fail("pickup_hours", _("At most %(max)d characters.", max=MAX_PICKUP))
    if not 0 <= data.proxy_limit <= 50:
        fail("proxy_limit", _("Enter a number from 0 to 50."))
    if not 1 <= data.group_hold_days <= 60:
        fail("group_hold_days", _("Enter a number of days from 1 to 60."))
    _check_opening(data, fail)
    if data.slug is not None and not SLUG.fullmatch(data.slug):
        fail("slug", _("Use lower-case letters, digits and dashes, e.g. jakarta-2026."))


def _check_opening(data: EventData, fail: Callable[[str, str], None]) -> None:
    """The opening's own rules: a ballot's window, the pools within the quota, the rate."""
    if data.opening not in {o.value for o in Opening}:
        fail("opening", _("Choose how places are given out from the list."))
    elif data.opening == Opening.BALLOT and not (
        data.registration_opens_at and data.registration_closes_at
    ):
        fail(
            "registration_closes_at",
            _("A ballot needs the registration window: when entries open and when they close."),
        )
    for name in ("pool_non_member", "pool_partner"):
        if not 0 <= getattr(data, name) <= 99999:
            fail(name, _("Enter a number from %(min)s to %(max)s.", min=0, max=99999))
    if data.pool_non_member + data.pool_partner > data.quota:
        fail("pool_partner", _("The pools together cannot be more than the quota."))
    if data.admit_rate is not None and not 1 <= data.admit_rate <= 10000:
        fail("admit_rate", _("Enter a number from %(min)s to %(max)s.", min=1, max=10000))


def _check_change(event: Event, data: EventData, errors: dict[str, list[str]]) -> None:
    """What an event's state forbids changing (its row locked): a ballot with entries or
    drawn keeps its opening, and a pool cannot shrink below the places it gave out."""
    if data.opening != event.opening and (event.ballot_entries or event.ballot_drawn_at):
        errors.setdefault("opening", []).append(
            _("Entries are already in the ballot: how places are given out can no longer change.")
        )
    for name in ("pool_non_member", "pool_partner"):
        taken = getattr(event, f"{name}_taken")
        if getattr(data, name) < taken:
            errors.setdefault(name, []).append(
                _("%(n)d places of this pool are taken: it cannot be smaller.", n=taken)
            )


def _utc(local: datetime | None, zone: str) -> datetime | None:
    if local is None:
        return None
    return local.replace(tzinfo=ZoneInfo(zone if zone in TIMEZONES else TIMEZONES[0]))


def local_time(event: Event, at: datetime | None) -> datetime | None:
    """``at`` as a naive local time at the venue (for the form)."""
    return None if at is None else at.astimezone(ZoneInfo(event.timezone)).replace(tzinfo=None)


def local_window(event: Event) -> tuple[datetime | None, datetime | None]:
    """The registration window as naive local times at the venue (for the form)."""
    return local_time(event, event.registration_opens_at), local_time(
        event, event.registration_closes_at
    )


def _apply(event: Event, data: EventData) -> None:
    for name in (
        "city",
        "name",
        "date",
        "start_time",
        "timezone",
        "venue",
        "bib_prefix",
        "bib_colour",
        "shirt_sizes",
        "min_age",
        "max_age",
        "registration_open",
        "date_is_illustrative",
        "reminder_days_before",
        "pickup_hours",
        "proxy_limit",
        "group_hold_days",
        "opening",
        "pool_non_member",
        "pool_partner",
        "admit_rate",
    ):
        setattr(event, name, getattr(data, name))
    event.bib_colour = data.bib_colour.upper()
    event.registration_opens_at = _utc(data.registration_opens_at, data.timezone)
    event.registration_closes_at = _utc(data.registration_closes_at, data.timezone)
    event.pools_flow_at = _utc(data.pools_flow_at, data.timezone)
    if event.opening == Opening.BALLOT:
        commit_seed(event)


def create_event(data: EventData, tour: Tour | None = None) -> Event:
    """A new event in ``tour`` (the newest tour by default; one is made if there is none)."""
    errors: dict[str, list[str]] = {}
    _check(data, errors)
    slug = data.slug or ""
    if not errors.get("slug") and db.session.scalar(select(Event.id).where(Event.slug == slug)):
        errors.setdefault("slug", []).append(_("Another event already has this address."))
    if errors:
        raise EventEditError(errors)
    tour = tour or current_tour()
    if tour is None:
        tour = Tour(slug="tour", name=_("Fun Run tour"), organiser="")
        db.session.add(tour)
        db.session.flush()
    event = Event(
        tour_id=tour.id,
        slug=slug,
        quota=data.quota,
        bib_first=data.bib_first,
        bib_last=data.bib_last,
        bib_next=data.bib_first,
    )
    _apply(event, data)
    db.session.add(event)
    db.session.flush()
    record("event_create", user_id=current_user_id(), target=event.slug, event_id=event.id)
    db.session.commit()
    return event


def update_event(event: Event, data: EventData) -> list[Registration]:
    """Change an event under its row lock; the runners promoted from the waitlist.

    Refused (nothing changed): a quota below the confirmed runners; a first bib moved
    once bibs are out; a last bib below one already handed out.
    """
    errors: dict[str, list[str]] = {}
    _check(data, errors)
    if errors:
        raise EventEditError(errors)
    event_id = event.id
    begin_write()
    try:
        lock_event(event_id)
        db.session.refresh(event)
        if data.quota < event.confirmed_count:
            errors.setdefault("quota", []).append(
                _(
                    "The quota cannot be lower than the %(n)d runners already confirmed.",
                    n=event.confirmed_count,
                )
            )
        issued = event.bib_next > event.bib_first
        if issued and data.bib_first != event.bib_first:
            errors.setdefault("bib_first", []).append(
                _("Bibs are already handed out: the first bib can no longer change.")
            )
        if data.bib_last < event.bib_next - 1:
            errors.setdefault("bib_last", []).append(
                _(
                    "Bib %(n)d is already handed out: the range must include it.",
                    n=event.bib_next - 1,
                )
            )
        _check_change(event, data, errors)
        if errors:
            raise EventEditError(errors)
        if not issued:
            event.bib_first = event.bib_next = data.bib_first
        event.bib_last = data.bib_last
        event.quota = data.quota
        _apply(event, data)
        db.session.flush()
        promoted = promote_waitlist(event_id)
    except BaseException:
        db.session.rollback()
        raise
    record(
        "event_edit",
        user_id=current_user_id(),
        target=event.slug,
        event_id=event_id,
        detail=f"quota {event.quota} reminder {event.reminder_days_before or 'none'}",
    )
    db.session.commit()
    terms_cache.forget()  # this process registers under the new terms at once
    return promoted


def set_registration_open(event: Event, is_open: bool) -> None:
    """The organiser's switch: open or close registration (the window still applies)."""
    begin_write()
    lock_event(event.id)
    event.registration_open = is_open
    action = "event_open" if is_open else "event_close"
    record(action, user_id=current_user_id(), target=event.slug, event_id=event.id)
    db.session.commit()
    terms_cache.forget()


def registrations_exist(event: Event) -> bool:
    """Whether anyone ever registered (the slug then stays: it is in manage links)."""
    return bool(
        db.session.scalar(
            select(func.count()).select_from(Registration).where(Registration.event_id == event.id)
        )
    )
