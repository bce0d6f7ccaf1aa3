"""Tours and their city events, with the counters that guard each event's quota."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db

DEFAULT_SHIRT_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


def _first_bib(context: DefaultExecutionContext) -> int:
    """A new event hands out bib_first first."""
    return context.get_current_parameters().get("bib_first") or 1


class Opening(StrEnum):
    """How an event's places are given out."""

    #: In order of arrival (through the orderly queue when ``admit_rate`` is set).
    FIRST_COME = "first_come"
    #: Entries over the registration window, then a verifiable draw (funrun.ballot).
    BALLOT = "ballot"


class EventStatus(StrEnum):
    """What a runner can do on the event page right now."""

    OPEN = "open"
    FULL = "full"  # registrations go to the waitlist
    CLOSED = "closed"


class Tour(db.Model):
    """A series of city events run by one organiser (e.g. the 2015 11-city tour)."""

    __tablename__ = "tours"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    organiser: Mapped[str] = mapped_column(String(120))
    #: The social-security scheme the tour enrols runners into, named on every page.
    scheme_name: Mapped[str | None] = mapped_column(String(120))
    #: The tour's colours (#RRGGBB): header and buttons, and their accent.
    colour: Mapped[str] = mapped_column(String(7), server_default="#0A7A3D")
    accent_colour: Mapped[str] = mapped_column(String(7), server_default="#F2A900")
    #: The organiser's logo (PNG or SVG, small), served from the app itself.
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    events: Mapped[list[Event]] = relationship(
        back_populates="tour", order_by="Event.date", lazy="selectin"
    )


class Event(db.Model):
    """One city edition of a tour, with its quota, registration window and bib range."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("quota > 0", name="quota_positive"),
        # The backstop under the conditional UPDATE in registration.services.
        CheckConstraint("confirmed_count >= 0 AND confirmed_count <= quota", name="within_quota"),
        # Bib payloads carry the number in at most 5 digits (see funrun.bibs.signing).
        CheckConstraint(
            "bib_first >= 0 AND bib_first <= bib_last AND bib_last <= 99999", name="bib_range"
        ),
        CheckConstraint("bib_next >= bib_first AND bib_next <= bib_last + 1", name="bib_next"),
        CheckConstraint("min_age >= 0", name="min_age"),
        CheckConstraint("reminder_days_before BETWEEN 1 AND 30", name="reminder_days_before_range"),
        CheckConstraint("proxy_limit BETWEEN 0 AND 50", name="proxy_limit_range"),
        CheckConstraint("walkup_allowance >= 0", name="walkup_allowance_positive"),
        # In capitals, as typed bibs are read (checkin.engine looks prefixes up).
        CheckConstraint("bib_prefix = upper(bib_prefix)", name="bib_prefix_upper"),
        Index("ix_events_bib_prefix", "bib_prefix"),
        CheckConstraint("group_hold_days BETWEEN 1 AND 60", name="group_hold_days_range"),
        CheckConstraint("opening IN ('first_come', 'ballot')", name="opening_known"),
        # A ballot commits to its seed (by its hash, published) before anyone enters.
        CheckConstraint(
            "opening <> 'ballot' OR ballot_seed_sha256 IS NOT NULL", name="ballot_committed"
        ),
        CheckConstraint("ballot_entries >= 0", name="ballot_entries_positive"),
        CheckConstraint(
            "pool_non_member >= 0 AND pool_partner >= 0"
            " AND pool_non_member + pool_partner <= quota",
            name="pools_within_quota",
        ),
        CheckConstraint(
            "pool_non_member_taken BETWEEN 0 AND pool_non_member"
            " AND pool_partner_taken BETWEEN 0 AND pool_partner",
            name="pools_taken",
        ),
        CheckConstraint(
            "admit_rate IS NULL OR admit_rate BETWEEN 1 AND 10000", name="admit_rate_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tour_id: Mapped[int] = mapped_column(ForeignKey("tours.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    city: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(160))
    date: Mapped[date]
    #: Demo and early data may not know the real date yet; pages say so.
    date_is_illustrative: Mapped[bool] = mapped_column(default=False)
    start_time: Mapped[time]
    #: IANA zone of the venue (WIB, WITA or WIT), for showing local times.
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Jakarta")
    venue: Mapped[str] = mapped_column(String(200))
    quota: Mapped[int]
    #: Confirmed places taken; only ever changed by a conditional UPDATE under the row lock.
    confirmed_count: Mapped[int] = mapped_column(default=0)
    #: Last waitlist sequence number issued; waitlist order is gap-free per event.
    waitlist_seq: Mapped[int] = mapped_column(default=0)
    bib_prefix: Mapped[str] = mapped_column(String(8))
    #: The event's colour on bibs and e-tickets (#RRGGBB).
    bib_colour: Mapped[str] = mapped_column(String(7), default="#0A7A3D")
    bib_first: Mapped[int] = mapped_column(default=1)
    bib_last: Mapped[int] = mapped_column(default=9999)
    #: Next bib number to hand out; numbers of cancelled runners are never reused.
    bib_next: Mapped[int] = mapped_column(default=_first_bib)
    shirt_sizes: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_SHIRT_SIZES))
    #: Adult 5K categories need 17+; the age is taken on race day.
    min_age: Mapped[int] = mapped_column(default=17)
    max_age: Mapped[int | None]
    #: The organiser's switch; the window below applies only while this is on.
    registration_open: Mapped[bool] = mapped_column(default=True)
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The race-week reminder goes this many days before race day (None: no reminder).
    reminder_days_before: Mapped[int | None] = mapped_column(server_default="3")
    #: When and where race packs are collected, as the reminder tells runners.
    pickup_hours: Mapped[str | None] = mapped_column(String(300))
    #: How many runners one representative may collect race packs for (a signed letter
    #: and a copy of each runner's ID); 0: no pickup by a representative.
    proxy_limit: Mapped[int] = mapped_column(server_default="3")
    #: Places beyond the quota kept for walk-ups registered at the desk on race day.
    walkup_allowance: Mapped[int] = mapped_column(server_default="0")
    #: Days a partner's group member has to confirm a held place before it goes back.
    group_hold_days: Mapped[int] = mapped_column(server_default="7")
    #: How places are given out (:class:`Opening`).
    opening: Mapped[str] = mapped_column(String(12), server_default=Opening.FIRST_COME.value)
    #: Ballot entries made (the last entry number), counted under the event's row lock.
    ballot_entries: Mapped[int] = mapped_column(server_default="0")
    #: SHA-256 (hex) of the ballot's seed, published before the entry window opens.
    ballot_seed_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The seed itself, encrypted (FUNRUN_DATA_KEY) and secret until the draw.
    ballot_seed_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The seed, published once drawn: anyone can recompute the draw with it.
    ballot_seed: Mapped[str | None] = mapped_column(String(64))
    ballot_drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Places kept for runners who are not yet members of the scheme (no KPJ number and
    #: no enrolment on record), and how many of them are taken.
    pool_non_member: Mapped[int] = mapped_column(server_default="0")
    pool_non_member_taken: Mapped[int] = mapped_column(server_default="0")
    #: Places kept for partners' groups (registrations a partner brought).
    pool_partner: Mapped[int] = mapped_column(server_default="0")
    pool_partner_taken: Mapped[int] = mapped_column(server_default="0")
    #: When the pools' unfilled places go to everyone (None: kept to race day), and when
    #: the worker then promoted the waitlist into them.
    pools_flow_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pools_flowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The orderly queue: runners let through to the form a second (None: no queue).
    admit_rate: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tour: Mapped[Tour] = relationship(back_populates="events")

    @property
    def balloting(self) -> bool:
        """A ballot not drawn yet: registering makes an entry, not a place."""
        return self.opening == Opening.BALLOT and self.ballot_drawn_at is None

    def accepts_registrations(self, now: datetime) -> bool:
        """Whether the registration window is open at ``now`` (quota aside)."""
        if not self.registration_open:
            return False
        if self.registration_opens_at and now < self.registration_opens_at:
            return False
        return not (self.registration_closes_at and now >= self.registration_closes_at)

    def status(self, now: datetime) -> EventStatus:
        """Open, full (waitlist only) or closed at ``now``, for the general public: full
        when only places kept by a pool are left (funrun.registration.pools)."""
        if not self.accepts_registrations(now):
            return EventStatus.CLOSED
        if self.remaining_at(now) == 0:
            return EventStatus.FULL
        return EventStatus.OPEN

    @property
    def remaining(self) -> int:
        """General places still free now (:meth:`remaining_at`)."""
        return self.remaining_at(utcnow())

    def remaining_at(self, now: datetime) -> int:
        """General places still free at ``now``: the quota less the places taken and those
        the pools still keep (bounded by the bib numbers left in the range)."""
        free = self.quota - self.confirmed_count - self.reserved(now)
        return max(min(free, self.bib_last - self.bib_next + 1), 0)

    def pools_open(self, now: datetime) -> bool:
        """The pools keep their places at ``now`` (their flow time not come)."""
        return self.pools_flow_at is None or now < self.pools_flow_at

    def pool_places(self, pool: str) -> tuple[int, int]:
        """A pool's places and how many of them are taken (``non_member``, ``partner``)."""
        return getattr(self, f"pool_{pool}"), getattr(self, f"pool_{pool}_taken")

    def pool_left(self, pool: str, now: datetime) -> int | None:
        """Places of an open pool not taken at ``now``; None when the event has no such
        pool or its places flowed to everyone."""
        places, taken = self.pool_places(pool)
        if places <= 0 or not self.pools_open(now):
            return None
        return max(places - taken, 0)

    @property
    def pools_left(self) -> dict[str, int]:
        """Places each open pool still keeps now, by pool (none once they flowed)."""
        now = utcnow()
        left = {pool: self.pool_left(pool, now) for pool in ("non_member", "partner")}
        return {pool: n for pool, n in left.items() if n is not None}

    def reserved(self, now: datetime) -> int:
        """The places the pools keep and have not taken at ``now``: none once they flowed
        and the worker promoted the waitlist into them (until then nobody takes them)."""
        promoted = self.pools_flowed_at is not None and (
            self.pools_flow_at is None or self.pools_flowed_at >= self.pools_flow_at
        )
        if not self.pools_open(now) and promoted:
            return 0
        pools = ("non_member", "partner")
        return sum(max(places - taken, 0) for places, taken in map(self.pool_places, pools))

    def format_bib(self, number: int) -> str:
        """A bib as printed and shown: prefix and four digits, e.g. ``JKT 0042``."""
        return f"{self.bib_prefix} {number:04d}"


class ShirtStock(db.Model):
    """How many shirts of one size an event has to hand out at the race-pack desk."""

    __tablename__ = "shirt_stock"
    __table_args__ = (
        UniqueConstraint("event_id", "size"),
        CheckConstraint("quantity >= 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    size: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
