"""What an enrolment was charged, rebuilt from its stored rows as a
:class:`~funrun.enrolment.contribution.Quote`, so the done page, the receipt and the card
explain exactly the amounts stored (not a new pricing with today's schedules).

Each stored month (:class:`~funrun.enrolment.models.EnrolmentMonth`) gives the amounts
charged and the relief's code. The amounts before relief are not stored: they are worked
out again with the month's schedule (never below the amount charged), and the relief's
cut shown is the one the stored amounts show if an admin has changed the relief since.
The amounts charged are never recomputed.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from funrun.enrolment.contribution import (
    PROGRAMME_ORDER,
    MonthPrice,
    Quote,
    Relief,
    price_month,
    round_rupiah,
)
from funrun.enrolment.models import ContributionSchedule, Enrolment, EnrolmentMonth
from funrun.extensions import db


def _relief(schedule: ContributionSchedule, code: str | None) -> Relief | None:
    if code is None:
        return None
    for row in schedule.reliefs:
        if row.code == code:
            return Relief.of(row)
    # A relief since removed from the schedule: known by its code only.
    return Relief(code, code, code, 0, ())


def _after(full: int, discount_bp: int) -> int:
    return round_rupiah(Decimal(full) * (10000 - discount_bp) / 10000)


def _as_charged(relief: Relief, full: dict[str, int], stored: dict[str, int]) -> Relief:
    """The relief with the cut the stored amounts show, if the schedule's says otherwise."""
    cut = [p for p in relief.programmes if full.get(p)]
    if all(_after(full[p], relief.discount_bp) == stored[p] for p in cut) or not cut:
        return relief
    first = cut[0]
    share = Decimal(full[first] - stored[first]) * 10000 / full[first]
    return dataclasses.replace(relief, discount_bp=round_rupiah(share))


def month_charged(enrolment: Enrolment, row: EnrolmentMonth) -> MonthPrice:
    """One stored month with its amounts before relief and its relief."""
    schedule = db.session.get_one(ContributionSchedule, row.schedule_id)
    programmes = tuple(p for p in PROGRAMME_ORDER if p in enrolment.programme_list)
    priced = price_month(
        schedule,
        row.month,
        declared_income=enrolment.declared_income,
        programmes=programmes,
        sector=schedule.sector_of(enrolment.occupation),
        public_budget=bool(enrolment.sponsor and enrolment.sponsor.public_budget),
    )
    relief = _relief(schedule, row.relief)
    stored = {"JKK": row.jkk, "JKM": row.jkm, "JHT": row.jht}
    full = dict(stored)
    if relief is not None:
        for p in relief.programmes:
            # The schedule's amount before relief (never below what was charged).
            full[p] = max(stored[p], getattr(priced, f"full_{p.lower()}"))
        relief = _as_charged(relief, full, stored)
    first_month = row.month == enrolment.covered_months[0].month
    return MonthPrice(
        month=row.month,
        schedule_id=schedule.id,
        schedule_code=schedule.code,
        income_basis=enrolment.income_basis if first_month else priced.income_basis,
        jkk=row.jkk,
        jkm=row.jkm,
        jht=row.jht,
        full_jkk=full["JKK"],
        full_jkm=full["JKM"],
        full_jht=full["JHT"],
        relief=relief,
    )


def charged_quote(enrolment: Enrolment) -> Quote:
    """The enrolment's contribution as charged, month by month."""
    rows = tuple(month_charged(enrolment, row) for row in enrolment.covered_months)
    schedule = db.session.get_one(ContributionSchedule, enrolment.schedule_id)
    return Quote(
        programmes=tuple(p for p in PROGRAMME_ORDER if p in enrolment.programme_list),
        months=enrolment.months,
        per_month=rows,
        amount_due=enrolment.amount_due,
        sponsor_amount=enrolment.sponsor_amount,
        sector=schedule.sector_of(enrolment.occupation),
    )
