"""The funnel the tour is for: registered non-members, checked in at pickup, enrolled, then
paying their first, second and third month, per city, per aggregator or per sponsor.

One grouped query per view (the registrations with their pickup check-in, enrolment and
the enrolment's paid months joined, each at most one row a registration), so 100,000
registrations cost one aggregate scan; nothing is counted in Python row by row.

- ``city``: the event's city, soonest event first;
- ``aggregator``: the partner who brought the runner (``registrations.partner_id``), by
  organisation (or e-mail); runners without a partner under "none", last;
- ``sponsor``: who pays for the enrolment (``enrolments.sponsor_id``), by name; runners
  enrolled at their own cost, and runners not enrolled, under "self-paid", last.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import aliased

from funrun.accounts.models import User
from funrun.checkin.models import CheckIn
from funrun.enrolment.models import Enrolment, Sponsor
from funrun.events.models import Event
from funrun.extensions import db
from funrun.payments.models import Payment
from funrun.registration.models import Registration, RegistrationStatus
from funrun.reports.figures import PAID_MONTHS, PICKUP

VIEWS = ("city", "aggregator", "sponsor")
#: The steps, in order: (FunnelRow attribute, words, the chart's shorter words).
STEPS = (
    ("registered_non_members", _l("Registered non-members"), _l("Signed up")),
    ("checked_in", _l("Checked in"), _l("Check-in")),
    ("enrolled", _l("Became members"), _l("Joined")),
    ("paid_month_1", _l("Paid month 1"), _l("Paid month 1")),
    ("paid_month_2", _l("Paid month 2"), _l("Paid month 2")),
    ("paid_month_3", _l("Paid month 3"), _l("Paid month 3")),
)


@dataclass(frozen=True)
class Step:
    """One step of one row: its count, its share of the row's first step (the bar), and
    its share of the step before (None for the first step, or after a step of 0)."""

    name: str
    label: str
    short: str
    count: int
    share: float
    of_previous: float | None


@dataclass
class FunnelRow:
    """One city, aggregator or sponsor: how many runners reached each step."""

    label: str
    registered_non_members: int = 0
    checked_in: int = 0
    enrolled: int = 0
    paid_month_1: int = 0
    paid_month_2: int = 0
    paid_month_3: int = 0
    #: The row that gathers runners without a partner or sponsor ("none", "self-paid").
    rest: bool = False

    def steps(self) -> list[Step]:
        """The six steps with their shares, as the table and the chart show them."""
        found: list[Step] = []
        first = self.registered_non_members
        previous: int | None = None
        for name, label, short in STEPS:
            count = int(getattr(self, name))
            of_previous = None if previous is None or not previous else count / previous
            share = min(count / first, 1.0) if first else 0.0
            found.append(Step(name, str(label), str(short), count, share, of_previous))
            previous = count
        return found


COUNTED = tuple(f.name for f in fields(FunnelRow) if f.name not in ("label", "rest"))


def funnel_total(rows: list[FunnelRow]) -> FunnelRow:
    """The rows summed (every runner is in exactly one row of a view)."""
    total = FunnelRow(label=_("Total"))
    for row in rows:
        for name in COUNTED:
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return total


#: One alias of payments per month followed: at most one row each (one payment a month).
_PAID = [aliased(Payment, name=f"paid_{n}") for n in range(1, PAID_MONTHS + 1)]


def _counts() -> list[ColumnElement[int]]:
    def total(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return [
        func.count(Registration.id).label("registered_non_members"),
        total(CheckIn.id.is_not(None)).label("checked_in"),
        total(Enrolment.id.is_not(None)).label("enrolled"),
        *(total(paid.id.is_not(None)).label(f"paid_month_{n}") for n, paid in enumerate(_PAID, 1)),
    ]


def _base(keys: list[Any], partner_id: int | None) -> Select[Any]:
    query = (
        select(*keys, *_counts())
        .select_from(Registration)
        .outerjoin(
            CheckIn,
            and_(
                CheckIn.registration_id == Registration.id,
                CheckIn.station == PICKUP,
                CheckIn.undone_at.is_(None),
            ),
        )
        .outerjoin(Enrolment, Enrolment.registration_id == Registration.id)
    )
    for n, paid in enumerate(_PAID, 1):  # by the index on (month_number, enrolment_id)
        query = query.outerjoin(
            paid, and_(paid.month_number == n, paid.enrolment_id == Enrolment.id)
        )
    query = query.where(
        ~Registration.is_member, Registration.status != RegistrationStatus.CANCELLED
    ).group_by(*keys)
    if partner_id is not None:
        query = query.where(Registration.partner_id == partner_id)
    return query


def _row(label: str, found: Any, *, rest: bool = False) -> FunnelRow:
    return FunnelRow(label, *(int(getattr(found, name)) for name in COUNTED), rest=rest)


def funnel_rows(by: str, partner_id: int | None = None) -> list[FunnelRow]:
    """The funnel per ``by`` (``city``, ``aggregator`` or ``sponsor``); with
    ``partner_id``, only that partner's runners. One query."""
    if by not in VIEWS:
        raise ValueError(f"unknown funnel view {by!r}")
    if by == "city":
        keys: list[Any] = [Event.id, Event.city, Event.date]
        query = _base(keys, partner_id).join(Event, Event.id == Registration.event_id)
        found = db.session.execute(query.order_by(Event.date, Event.city, Event.id))
        return [_row(row.city, row) for row in found]
    if by == "aggregator":
        keys = [Registration.partner_id, User.organisation, User.email]
        query = _base(keys, partner_id).outerjoin(User, User.id == Registration.partner_id)
        rows = []
        for found in db.session.execute(query):
            if found.partner_id is None:
                rows.append(_row(_("none"), found, rest=True))
            else:
                rows.append(_row(found.organisation or found.email, found))
        return sorted(rows, key=lambda r: (r.rest, r.label.casefold()))
    keys = [Enrolment.sponsor_id, Sponsor.name]
    query = _base(keys, partner_id).outerjoin(Sponsor, Sponsor.id == Enrolment.sponsor_id)
    rows = [
        _row(_("self-paid"), found, rest=True)
        if found.sponsor_id is None
        else _row(found.name, found)
        for found in db.session.execute(query)
    ]
    return sorted(rows, key=lambda r: (r.rest, r.label.casefold()))
