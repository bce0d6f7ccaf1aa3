"""Pricing an enrolment from the schedule in force: whole rupiah, one stated rounding rule.

The rounding rule: each programme's monthly amount is computed exactly (``Decimal``:
income basis x rate, or the flat amount, then less any relief), and rounded **once** to
whole rupiah, **half up** (Rp 12.345,50 -> Rp 12.346; Rp 12.345,49 -> Rp 12.345). The
monthly total is the sum of those rounded amounts, and the amount due is the monthly
total times the months paid, so the parts shown always add up to what is charged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from funrun.enrolment.models import ContributionSchedule, IncomeBracket

_BP = Decimal(10000)


def round_rupiah(amount: Decimal) -> int:
    """Whole rupiah, half up (the only rounding anywhere in a contribution)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Quote:
    """A contribution worked out for one enrolment, in whole rupiah."""

    schedule_id: int
    schedule_code: str
    income_basis: int
    programmes: tuple[str, ...]
    jkk: int
    jkm: int
    jht: int
    monthly_total: int
    months: int
    #: What the runner pays (0 when a sponsor pays).
    amount_due: int
    #: What the sponsor owes (0 when the runner pays).
    sponsor_amount: int
    reliefs: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, int]:
        """The contract's ``contribution`` object."""
        return {
            "jkk": self.jkk,
            "jkm": self.jkm,
            "jht": self.jht,
            "monthly_total": self.monthly_total,
            "months": self.months,
            "amount_due": self.amount_due,
        }


class IncomeOutOfRange(ValueError):
    """The declared income is below the lowest basis or above the highest."""


def income_basis(brackets: Iterable[IncomeBracket], declared: int) -> int:
    """The basis for a declared income: its bracket's basis, or the income itself."""
    for bracket in brackets:
        if declared >= bracket.income_from and (
            bracket.income_to is None or declared <= bracket.income_to
        ):
            return bracket.basis if bracket.basis is not None else declared
    raise IncomeOutOfRange(declared)


def quote(
    schedule: ContributionSchedule,
    *,
    declared_income: int,
    programmes: Iterable[str],
    months: int,
    on: date,
    sponsored: bool = False,
    public_budget: bool = False,
) -> Quote:
    """Price ``programmes`` for ``months`` under ``schedule`` on the day ``on``."""
    if declared_income < schedule.min_income or (
        schedule.max_income is not None and declared_income > schedule.max_income
    ):
        raise IncomeOutOfRange(declared_income)
    basis = income_basis(schedule.brackets, declared_income)
    chosen = tuple(p for p in ("JKK", "JKM", "JHT") if p in set(programmes))
    reliefs = [
        r
        for r in schedule.reliefs
        if r.starts_on <= on <= r.ends_on and not (r.excludes_public_budget and public_budget)
    ]
    amounts = {"JKK": 0, "JKM": 0, "JHT": 0}
    for rate in schedule.rates:
        if rate.programme not in chosen:
            continue
        if rate.rate_bp is not None:
            exact = Decimal(basis) * rate.rate_bp / _BP
        else:
            exact = Decimal(rate.flat_amount or 0)
        for relief in reliefs:
            if rate.programme in relief.programmes.split(","):
                exact = exact * (_BP - relief.discount_bp) / _BP
        amounts[rate.programme] = round_rupiah(exact)
    monthly = sum(amounts.values())
    total = monthly * months
    return Quote(
        schedule_id=schedule.id,
        schedule_code=schedule.code,
        income_basis=basis,
        programmes=chosen,
        jkk=amounts["JKK"],
        jkm=amounts["JKM"],
        jht=amounts["JHT"],
        monthly_total=monthly,
        months=months,
        amount_due=0 if sponsored else total,
        sponsor_amount=total if sponsored else 0,
        reliefs=tuple(r.code for r in reliefs),
    )
