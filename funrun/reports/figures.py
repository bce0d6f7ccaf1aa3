"""The tour's figures per city and in total: one source for the dashboard, API and exports.

Two grouped queries over the registrations (one with the pickup check-ins and the
enrolments joined, one for shirt sizes) give every figure, one over the enrolments says
who pays what and one over their payments which months the new members paid; nothing is
counted in Python row by row, so 100,000 registrations cost two aggregate scans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select

from funrun.checkin.models import CheckIn
from funrun.dbtypes import utcnow
from funrun.enrolment.models import Enrolment, Sponsor
from funrun.events.models import Event
from funrun.extensions import db
from funrun.payments.models import Payment
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.pools import PoolState, pool_states, summed

#: The station where a runner collects the race pack: "checked in" means checked in here.
PICKUP = "pickup"

#: The counted figures, in the order the API, the tables and the exports show them.
COUNTS = (
    "quota",
    "confirmed",
    "waitlisted",
    "held",
    "cancelled",
    "checked_in",
    "no_shows",
    "members",
    "non_members",
    "enrolled",
    "paid_month_1",
    "paid_month_2",
    "paid_month_3",
)
#: Months after enrolment the tour follows its new members to (paid_month_1 .. _3).
PAID_MONTHS = 3


#: The payer of enrolments no sponsor pays (as in the enrolment export batches).
MEMBER = "member"


@dataclass
class PayerTotal:
    """New enrolments one payer pays for: the members themselves, or one sponsor."""

    #: ``member``, or the sponsor's code.
    code: str
    #: The sponsor's name ("" for the members).
    name: str = ""
    #: Enrolments this payer pays for.
    members: int = 0
    #: Whole rupiah: what the members paid at the desk, or what the sponsor owes.
    amount: int = 0


@dataclass
class CityFigures:
    """One event's figures (or the tour's, for the totals row).

    ``members`` and ``non_members`` count confirmed runners by what they declared when
    registering; ``no_shows`` counts confirmed runners without a pickup check-in once the
    race has started (before that they may still come, so it is 0).
    """

    slug: str
    city: str
    quota: int = 0
    confirmed: int = 0
    waitlisted: int = 0
    #: A partner group's places awaiting their member's confirmation.
    held: int = 0
    cancelled: int = 0
    checked_in: int = 0
    no_shows: int = 0
    members: int = 0
    non_members: int = 0
    #: Non-members checked in: the denominator of the conversion rate.
    non_members_checked_in: int = 0
    enrolled: int = 0
    #: New members with a payment for their first, second and third covered month (the
    #: first covered month is the month of enrolment), from the scheme's payment files.
    paid_month_1: int = 0
    paid_month_2: int = 0
    paid_month_3: int = 0
    #: Shirts for the confirmed runners, by size.
    shirt_sizes: dict[str, int] = field(default_factory=dict)
    #: Who pays for the new enrolments: ``member`` first, then each sponsor by code.
    payers: dict[str, PayerTotal] = field(default_factory=dict)
    #: The event's place pools (none when its quota is not split); the totals sum them.
    pools: list[PoolState] = field(default_factory=list)

    @property
    def paid_by_members(self) -> PayerTotal:
        """The enrolments the members paid for themselves, and how much they paid."""
        return self.payers.get(MEMBER) or PayerTotal(MEMBER)

    def sponsor(self, code: str) -> PayerTotal:
        """The enrolments sponsor ``code`` pays for, and how much it owes."""
        return self.payers.get(code) or PayerTotal(code)

    @property
    def conversion_rate(self) -> float | None:
        """New enrolments per non-member checked in (None before anyone is checked in)."""
        if not self.non_members_checked_in:
            return None
        return round(self.enrolled / self.non_members_checked_in, 4)

    def as_json(self) -> dict:
        """The row as ``GET /api/v1/stats`` returns it."""
        body: dict = {"slug": self.slug, "city": self.city}
        body.update({name: getattr(self, name) for name in COUNTS})
        body["non_members_checked_in"] = self.non_members_checked_in
        body["conversion_rate"] = self.conversion_rate
        body["shirt_sizes"] = dict(self.shirt_sizes)
        body["pools"] = [state.as_json() for state in self.pools]
        return body


@dataclass
class TourFigures:
    """Every event's figures and the tour total that sums them."""

    events: list[CityFigures]
    totals: CityFigures
    generated_at: datetime

    @property
    def sponsors(self) -> list[PayerTotal]:
        """Every sponsor that pays for any enrolment of the tour, by name."""
        found = [p for code, p in self.totals.payers.items() if code != MEMBER]
        return sorted(found, key=lambda p: (p.name, p.code))

    @property
    def shirt_size_names(self) -> list[str]:
        """Every size any event needs, in the order events list them."""
        names: list[str] = []
        for row in self.events:
            names.extend(size for size in row.shirt_sizes if size not in names)
        return names

    def as_json(self) -> dict:
        """The body of ``GET /api/v1/stats``."""
        totals = self.totals.as_json()
        del totals["slug"], totals["city"]
        return {
            "events": [row.as_json() for row in self.events],
            "totals": totals,
            "generated_at": self.generated_at.isoformat(),
        }


def race_started(event: Event, now: datetime) -> bool:
    """Whether the race's start time, in the venue's time zone, has passed at ``now``."""
    start = datetime.combine(event.date, event.start_time, tzinfo=ZoneInfo(event.timezone))
    return now >= start


def _counts_by_event() -> dict[int, dict[str, int]]:
    status = Registration.status
    confirmed = status == RegistrationStatus.CONFIRMED
    checked = and_(confirmed, CheckIn.id.is_not(None))

    def total(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = (
        select(
            Registration.event_id,
            total(confirmed).label("confirmed"),
            total(status == RegistrationStatus.WAITLISTED).label("waitlisted"),
            total(status == RegistrationStatus.HELD).label("held"),
            total(status == RegistrationStatus.CANCELLED).label("cancelled"),
            total(checked).label("checked_in"),
            total(and_(confirmed, Registration.is_member)).label("members"),
            total(and_(confirmed, ~Registration.is_member)).label("non_members"),
            total(and_(checked, ~Registration.is_member)).label("non_members_checked_in"),
            func.count(Enrolment.id).label("enrolled"),
        )
        .outerjoin(
            CheckIn,
            and_(
                CheckIn.registration_id == Registration.id,
                CheckIn.station == PICKUP,
                CheckIn.undone_at.is_(None),
            ),
        )
        .outerjoin(Enrolment, Enrolment.registration_id == Registration.id)
        .group_by(Registration.event_id)
    )
    return {row.event_id: dict(row._mapping) for row in db.session.execute(query)}


def month_index(column: ColumnElement[date]) -> ColumnElement[int]:
    """Months since year 0 of a date (its year times 12 plus its month), on both databases."""
    return func.extract("year", column) * 12 + func.extract("month", column)


def paid_month_columns() -> list[ColumnElement[int]]:
    """``paid_month_1`` .. ``_3`` summed over payments: a payment counts for month n when
    it is the member's n-th covered month (``payments.month_number``; one a month)."""
    return [
        func.coalesce(func.sum(case((Payment.month_number == n, 1), else_=0)), 0).label(
            f"paid_month_{n}"
        )
        for n in range(1, PAID_MONTHS + 1)
    ]


#: The payments the figures read: the first three covered months (by an index).
FIRST_MONTHS = Payment.month_number <= PAID_MONTHS


def _paid_by_event() -> dict[int, dict[str, int]]:
    """Per event: new members who paid their first, second and third month (one query)."""
    query = (
        select(Enrolment.event_id, *paid_month_columns())
        .join(Payment, Payment.enrolment_id == Enrolment.id)
        .where(FIRST_MONTHS)
        .group_by(Enrolment.event_id)
    )
    return {row.event_id: dict(row._mapping) for row in db.session.execute(query)}


def _shirts_by_event() -> dict[int, dict[str, int]]:
    rows = db.session.execute(
        select(Registration.event_id, Registration.shirt_size, func.count())
        .where(Registration.status == RegistrationStatus.CONFIRMED)
        .group_by(Registration.event_id, Registration.shirt_size)
    )
    shirts: dict[int, dict[str, int]] = {}
    for event_id, size, count in rows:
        shirts.setdefault(event_id, {})[size] = count
    return shirts


def _payers_by_event() -> dict[int, dict[str, PayerTotal]]:
    """Per event: the enrolments each payer pays for, and the amount (one grouped query)."""
    rows = db.session.execute(
        select(
            Enrolment.event_id,
            Sponsor.code,
            Sponsor.name,
            func.count(Enrolment.id),
            func.coalesce(func.sum(Enrolment.amount_due), 0),
            func.coalesce(func.sum(Enrolment.sponsor_amount), 0),
        )
        .outerjoin(Sponsor, Sponsor.id == Enrolment.sponsor_id)
        .group_by(Enrolment.event_id, Sponsor.code, Sponsor.name)
    )
    payers: dict[int, dict[str, PayerTotal]] = {}
    for event_id, code, name, count, paid, owed in rows:
        total = PayerTotal(MEMBER, "", int(count), int(paid))
        if code is not None:
            total = PayerTotal(code, name, int(count), int(owed))
        payers.setdefault(event_id, {})[total.code] = total
    return {
        event_id: dict(sorted(found.items(), key=lambda item: item[0] != MEMBER))
        for event_id, found in payers.items()
    }


def _add_payers(into: dict[str, PayerTotal], row: dict[str, PayerTotal]) -> None:
    for code, payer in row.items():
        total = into.setdefault(code, PayerTotal(code, payer.name))
        total.members += payer.members
        total.amount += payer.amount


def _ordered_sizes(event: Event, counted: dict[str, int]) -> dict[str, int]:
    """The event's sizes in its own order (zeros included), then any size no longer offered."""
    sizes = {size: counted.get(size, 0) for size in event.shirt_sizes}
    sizes.update({size: n for size, n in sorted(counted.items()) if size not in sizes})
    return sizes


def tour_figures(now: datetime | None = None) -> TourFigures:
    """Every event's figures, soonest first, and the tour total (five queries)."""
    now = now or utcnow()
    events = list(db.session.scalars(select(Event).order_by(Event.date, Event.city)))
    counts = _counts_by_event()
    shirts = _shirts_by_event()
    payers = _payers_by_event()
    paid = _paid_by_event()
    rows: list[CityFigures] = []
    totals = CityFigures(slug="", city="")
    for event in events:
        found = counts.get(event.id, {})
        row = CityFigures(
            slug=event.slug,
            city=event.city,
            quota=event.quota,
            confirmed=int(found.get("confirmed", 0)),
            waitlisted=int(found.get("waitlisted", 0)),
            held=int(found.get("held", 0)),
            cancelled=int(found.get("cancelled", 0)),
            checked_in=int(found.get("checked_in", 0)),
            members=int(found.get("members", 0)),
            non_members=int(found.get("non_members", 0)),
            non_members_checked_in=int(found.get("non_members_checked_in", 0)),
            enrolled=int(found.get("enrolled", 0)),
            shirt_sizes=_ordered_sizes(event, shirts.get(event.id, {})),
            payers=payers.get(event.id, {}),
            pools=pool_states(event, now),
        )
        for name, value in paid.get(event.id, {}).items():
            if name.startswith("paid_month_"):
                setattr(row, name, int(value))
        if race_started(event, now):
            row.no_shows = row.confirmed - row.checked_in
        rows.append(row)
        for name in (*COUNTS, "non_members_checked_in"):
            setattr(totals, name, getattr(totals, name) + getattr(row, name))
        for size, n in row.shirt_sizes.items():
            totals.shirt_sizes[size] = totals.shirt_sizes.get(size, 0) + n
        _add_payers(totals.payers, row.payers)
    totals.pools = summed([row.pools for row in rows])
    return TourFigures(events=rows, totals=totals, generated_at=now)
