"""A sponsor's budget and whom it pays for: the one rule, checked where the enrolment is
written.

A sponsor pays for an enrolment only while it is active, only for a person on its list
when it has one (a sponsor with no list at all pays for anyone, as before lists existed),
and only within its budget: the enrolment's months count against
``budget_member_months`` and its ``sponsor_amount`` against ``budget_rupiah`` (None: no
limit of that kind). What a budget has used is the sum over the sponsor's enrolments, so
it can never drift from what was charged.

:func:`charge` runs inside the enrolment's write transaction, first: it locks the
sponsor's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite renders no lock clause, its
``BEGIN IMMEDIATE`` write transactions already run one at a time, see
:mod:`funrun.dbtx`), so two desks charging the last member-months of a budget wait for
each other and the second sees the first's enrolment. The same Core statements run on
both databases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select

from funrun.contracts import ValidationFailed
from funrun.enrolment.contribution import Quote
from funrun.enrolment.errors import EnrolmentError
from funrun.enrolment.filters import rupiah
from funrun.enrolment.models import Enrolment, Sponsor
from funrun.extensions import db
from funrun.people.models import Person
from funrun.sponsors.models import SponsorEligible

SPONSORS = Sponsor.__table__
ELIGIBLES = SponsorEligible.__table__
ENROLMENTS = Enrolment.__table__


class SponsorRefused(EnrolmentError):
    """The chosen sponsor may not pay for this enrolment; the runner may pay themselves."""


class OverBudget(SponsorRefused):
    """The sponsor's budget left does not cover the enrolment."""


class NotListed(SponsorRefused):
    """The sponsor has a list of the people it pays for, and this NIK is not on it."""


@dataclass(frozen=True)
class Budget:
    """A sponsor's budget, what it has used and what is left (None: no limit)."""

    months: int | None
    rupiah: int | None
    months_used: int = 0
    rupiah_used: int = 0
    enrolments: int = 0

    @property
    def months_left(self) -> int | None:
        return None if self.months is None else max(self.months - self.months_used, 0)

    @property
    def rupiah_left(self) -> int | None:
        return None if self.rupiah is None else max(self.rupiah - self.rupiah_used, 0)

    @property
    def limited(self) -> bool:
        return self.months is not None or self.rupiah is not None

    @property
    def has_left(self) -> bool:
        """Something is left of every limit (an enrolment may still be too big)."""
        return self.months_left != 0 and self.rupiah_left != 0

    def covers(self, months: int, amount: int) -> bool:
        """Whether an enrolment of ``months`` costing the sponsor ``amount`` fits."""
        return (self.months_left is None or months <= self.months_left) and (
            self.rupiah_left is None or amount <= self.rupiah_left
        )


def used(sponsor_ids: Iterable[int] | None = None) -> dict[int, tuple[int, int, int]]:
    """Per sponsor: (enrolments, member-months, rupiah) charged to it."""
    query = select(
        ENROLMENTS.c.sponsor_id,
        func.count(),
        func.coalesce(func.sum(ENROLMENTS.c.months), 0),
        func.coalesce(func.sum(ENROLMENTS.c.sponsor_amount), 0),
    ).group_by(ENROLMENTS.c.sponsor_id)
    if sponsor_ids is None:
        query = query.where(ENROLMENTS.c.sponsor_id.is_not(None))
    else:
        query = query.where(ENROLMENTS.c.sponsor_id.in_(list(sponsor_ids)))
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in db.session.execute(query)}


def budget_of(sponsor_id: int, months: int | None, rupiah: int | None) -> Budget:
    """The budget of one sponsor with what it has used, read now."""
    count, months_used, rupiah_used = used([sponsor_id]).get(sponsor_id, (0, 0, 0))
    return Budget(months, rupiah, months_used, rupiah_used, count)


def has_list(sponsor_id: int) -> bool:
    """Whether the sponsor has a list of the people it pays for."""
    found = db.session.scalar(
        select(ELIGIBLES.c.nik_hash).where(ELIGIBLES.c.sponsor_id == sponsor_id).limit(1)
    )
    return found is not None


def is_listed(sponsor_id: int, nik_hash: str) -> bool:
    """Whether the NIK (by its keyed hash) is on the sponsor's list."""
    found = db.session.scalar(
        select(ELIGIBLES.c.nik_hash).where(
            ELIGIBLES.c.sponsor_id == sponsor_id, ELIGIBLES.c.nik_hash == nik_hash
        )
    )
    return found is not None


def rupiah_text(amount: int | None) -> str:
    """Rp 1.500.000 (the page's number format); "no limit" for None."""
    return _("no limit") if amount is None else rupiah(amount)


def months_text(months: int | None) -> str:
    return _("no limit") if months is None else format_decimal(months)


def _over_budget(name: str, budget: Budget) -> OverBudget:
    return OverBudget(
        _(
            "The budget of %(sponsor)s does not cover this enrolment (left: %(months)s "
            "member-months, %(rupiah)s). The runner can still enrol paying themselves.",
            sponsor=name,
            months=months_text(budget.months_left),
            rupiah=rupiah_text(budget.rupiah_left),
        )
    )


def not_listed_message(name: str) -> str:
    """Why a sponsor with a list refuses someone not on it."""
    return _(
        "%(sponsor)s pays only for the people on its list, and this NIK is not on it. The "
        "runner can still enrol paying themselves.",
        sponsor=name,
    )


def check(
    sponsor_id: int,
    *,
    nik_hash: str | None,
    months: int,
    amount: int,
    lock: bool = False,
) -> Budget:
    """Refuse (SponsorRefused) unless the sponsor may pay this enrolment; its budget.

    ``nik_hash`` None: the person is not known yet (the list is checked when they are).
    ``lock``: take the sponsor's row lock first (inside the write transaction)."""
    query = select(
        SPONSORS.c.name,
        SPONSORS.c.active,
        SPONSORS.c.budget_member_months,
        SPONSORS.c.budget_rupiah,
    ).where(SPONSORS.c.id == sponsor_id)
    if lock:
        query = query.with_for_update()
    row = db.session.execute(query).one()
    if not row.active:
        raise SponsorRefused(_("%(sponsor)s no longer pays for enrolments.", sponsor=row.name))
    if nik_hash is not None and has_list(sponsor_id) and not is_listed(sponsor_id, nik_hash):
        raise NotListed(not_listed_message(row.name))
    budget = budget_of(sponsor_id, row.budget_member_months, row.budget_rupiah)
    if not budget.covers(months, amount):
        raise _over_budget(row.name, budget)
    return budget


def precheck(sponsor_id: int | None, nik_hash: str | None, quote: Quote) -> None:
    """Before the confirm step: refuse a sponsor that may not pay (not listed: a
    ValidationFailed on the sponsor field; else SponsorRefused). :func:`charge` decides."""
    if sponsor_id is None:
        return
    try:
        check(sponsor_id, nik_hash=nik_hash, months=quote.months, amount=quote.sponsor_amount)
    except NotListed as refused:
        raise ValidationFailed({"sponsor": [str(refused)]}) from None


def charge(sponsor_id: int | None, person_id: int, quote: Quote) -> None:
    """In the enrolment's write transaction, before it is written: lock the sponsor's row
    and refuse (SponsorRefused) unless it may pay. The enrolment row itself, written next
    in the same transaction, is what consumes the budget. Nothing for no sponsor."""
    if sponsor_id is None:
        return
    nik_hash = db.session.scalar(select(Person.nik_hash).where(Person.id == person_id))
    check(
        sponsor_id,
        nik_hash=nik_hash or "",  # no such person: nobody a listed sponsor pays for
        months=quote.months,
        amount=quote.sponsor_amount,
        lock=True,
    )
