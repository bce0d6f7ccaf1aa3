"""Pricing an enrolment month by month: whole rupiah, one stated rounding rule.

A contribution is paid in advance for whole calendar months; the first covered month is
the month of enrolment. Each covered month is priced on its own, with the schedule in
force in that month (on the enrolment day for the first month, on the 1st for the
others), the income basis of that schedule's bracket for the declared income, and the
relief in force that month for the member's sector. The amount due is the sum of the
months.

The rounding rule: each programme's amount for a month is computed exactly (``Decimal``:
income basis x rate, or the flat amount, then less the month's relief) and rounded
**once** to whole rupiah, **half up** (Rp 12.345,50 -> Rp 12.346; Rp 12.345,49 ->
Rp 12.345). A month's total is the sum of its rounded amounts and the amount due the sum
of the months' totals, so the parts shown always add up to what is charged.

Reliefs: a relief covers a month for a member when one of its periods names the member's
sector (or every sector) and includes the month, unless the relief excludes members paid
from a public budget (APBN/APBD) and such a sponsor pays. At most one relief applies to a
month: the largest discount (reliefs are never compounded).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from funrun.enrolment.models import ContributionRelief, ContributionSchedule, IncomeBracket

_BP = Decimal(10000)
PROGRAMME_ORDER = ("JKK", "JKM", "JHT")
#: Contributions are due by the 15th of the month they cover.
DUE_DAY = 15


def round_rupiah(amount: Decimal) -> int:
    """Whole rupiah, half up (the only rounding anywhere in a contribution)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def month_start(day: date, add: int = 0) -> date:
    """The first day of ``day``'s month, ``add`` months later."""
    index = day.year * 12 + day.month - 1 + add
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return month_start(day, 1) - timedelta(days=1)


@dataclass(frozen=True)
class Relief:
    """A relief as applied (a copy of the schedule's row: quotes outlive the session)."""

    code: str
    name: str
    name_en: str
    discount_bp: int
    programmes: tuple[str, ...]

    @classmethod
    def of(cls, row: ContributionRelief) -> Relief:
        """The copy of a stored relief."""
        return cls(row.code, row.name, row.name_en, row.discount_bp, tuple(row.programme_list))

    def name_in(self, locale: str) -> str:
        """The relief's name in ``locale`` (Bahasa Indonesia unless English is asked)."""
        return self.name_en if locale.startswith("en") and self.name_en else self.name


@dataclass(frozen=True)
class MonthPrice:
    """One covered month: each programme before and after its relief, whole rupiah."""

    month: date
    schedule_id: int
    schedule_code: str
    income_basis: int
    jkk: int
    jkm: int
    jht: int
    #: The amounts the schedule gives before any relief.
    full_jkk: int
    full_jkm: int
    full_jht: int
    relief: Relief | None = None

    @property
    def total(self) -> int:
        """What the month costs."""
        return self.jkk + self.jkm + self.jht

    @property
    def full_total(self) -> int:
        """What the month would cost without relief."""
        return self.full_jkk + self.full_jkm + self.full_jht

    @property
    def relief_code(self) -> str | None:
        """The code of the relief applied, if any."""
        return self.relief.code if self.relief is not None else None

    def as_json(self) -> dict[str, object]:
        """A ``per_month`` row of the contract."""
        row: dict[str, object] = {
            "month": f"{self.month:%Y-%m}",
            "jkk": self.jkk,
            "jkm": self.jkm,
            "jht": self.jht,
            "total": self.total,
        }
        if self.relief is not None:
            row["relief"] = self.relief.code
        return row


@dataclass(frozen=True)
class Quote:
    """A contribution worked out for one enrolment, in whole rupiah."""

    programmes: tuple[str, ...]
    months: int
    per_month: tuple[MonthPrice, ...]
    #: What the runner pays (0 when a sponsor pays).
    amount_due: int
    #: What the sponsor owes (0 when the runner pays).
    sponsor_amount: int
    #: The member's sector in the first month's schedule (None: in no sector).
    sector: str | None = None

    @property
    def first(self) -> MonthPrice:
        """The first covered month (the month of enrolment)."""
        return self.per_month[0]

    # The first month's figures, as the contract's jkk, jkm, jht, monthly_total.
    @property
    def schedule_id(self) -> int:
        return self.first.schedule_id

    @property
    def schedule_code(self) -> str:
        return self.first.schedule_code

    @property
    def income_basis(self) -> int:
        return self.first.income_basis

    @property
    def jkk(self) -> int:
        return self.first.jkk

    @property
    def jkm(self) -> int:
        return self.first.jkm

    @property
    def jht(self) -> int:
        return self.first.jht

    @property
    def monthly_total(self) -> int:
        return self.first.total

    @property
    def total(self) -> int:
        """The sum of the covered months, whoever pays it."""
        return sum(m.total for m in self.per_month)

    @property
    def reliefs(self) -> tuple[Relief, ...]:
        """The reliefs applied in any covered month, each once, in month order."""
        seen: dict[str, Relief] = {}
        for m in self.per_month:
            if m.relief is not None:
                seen.setdefault(m.relief.code, m.relief)
        return tuple(seen.values())

    @property
    def relief_codes(self) -> tuple[str, ...]:
        """The codes of :attr:`reliefs`."""
        return tuple(r.code for r in self.reliefs)

    @property
    def first_month(self) -> date:
        return self.per_month[0].month

    @property
    def last_month(self) -> date:
        return self.per_month[-1].month

    @property
    def fingerprint(self) -> str:
        """The months' totals as the desk showed them ("28400,36800,36800"): confirming
        checks nothing changed in any month since."""
        return ",".join(str(m.total) for m in self.per_month)

    @property
    def paid_until(self) -> date:
        """The last day covered."""
        return month_end(self.last_month)

    @property
    def next_due(self) -> date:
        """When the next contribution (for the month after the last covered) is due."""
        return month_start(self.last_month, 1).replace(day=DUE_DAY)

    def as_json(self) -> dict[str, object]:
        """The contract's ``contribution`` object."""
        return {
            "jkk": self.jkk,
            "jkm": self.jkm,
            "jht": self.jht,
            "monthly_total": self.monthly_total,
            "months": self.months,
            "amount_due": self.amount_due,
            "basis": self.income_basis,
            "per_month": [m.as_json() for m in self.per_month],
        }


class IncomeOutOfRange(ValueError):
    """The declared income is below the lowest basis or above the highest."""


class NoScheduleForMonth(LookupError):
    """No schedule is in force in a month to be covered; ``month`` says which."""

    def __init__(self, month: date) -> None:
        super().__init__(f"no schedule in force in {month:%Y-%m}")
        self.month = month


def income_basis(brackets: Sequence[IncomeBracket], declared: int) -> int:
    """The basis of a declared income: its bracket's basis (below the first bracket, the
    first's; above the top bracket, the top's); a bracket without a basis: the income."""
    if not brackets:
        return declared
    ordered = sorted(brackets, key=lambda b: b.income_from)
    chosen = ordered[0]
    for bracket in ordered:
        if declared >= bracket.income_from:
            chosen = bracket
    return chosen.basis if chosen.basis is not None else declared


def in_force(schedules: Iterable[ContributionSchedule], day: date) -> ContributionSchedule | None:
    """The schedule in force on ``day``: the latest that started by then and has not ended."""
    found = [
        s
        for s in schedules
        if s.effective_from <= day and (s.effective_to is None or s.effective_to >= day)
    ]
    return max(found, key=lambda s: (s.effective_from, s.id or 0), default=None)


def relief_for(
    schedule: ContributionSchedule, month: date, sector: str | None, *, public_budget: bool
) -> ContributionRelief | None:
    """The relief of ``schedule`` for a member of ``sector`` in ``month``, if any."""
    applying = [
        relief
        for relief in schedule.reliefs
        if not (relief.excludes_public_budget and public_budget)
        and any(
            (p.sector is None or p.sector == sector) and p.first_month <= month <= p.last_month
            for p in relief.periods
        )
    ]
    return max(applying, key=lambda r: (r.discount_bp, r.code), default=None)


def price_month(
    schedule: ContributionSchedule,
    month: date,
    *,
    declared_income: int,
    programmes: tuple[str, ...],
    sector: str | None,
    public_budget: bool,
) -> MonthPrice:
    """One covered month under ``schedule``."""
    basis = income_basis(schedule.brackets, declared_income)
    relief = relief_for(schedule, month, sector, public_budget=public_budget)
    full = dict.fromkeys(PROGRAMME_ORDER, 0)
    after = dict.fromkeys(PROGRAMME_ORDER, 0)
    for rate in schedule.rates:
        if rate.programme not in programmes:
            continue
        if rate.rate_bp is not None:
            exact = Decimal(basis) * rate.rate_bp / _BP
        else:
            exact = Decimal(rate.flat_amount or 0)
        full[rate.programme] = round_rupiah(exact)
        if relief is not None and rate.programme in relief.programme_list:
            exact = exact * (_BP - relief.discount_bp) / _BP
        after[rate.programme] = round_rupiah(exact)
    return MonthPrice(
        month=month,
        schedule_id=schedule.id,
        schedule_code=schedule.code,
        income_basis=basis,
        jkk=after["JKK"],
        jkm=after["JKM"],
        jht=after["JHT"],
        full_jkk=full["JKK"],
        full_jkm=full["JKM"],
        full_jht=full["JHT"],
        relief=Relief.of(relief) if relief is not None and after != full else None,
    )


def quote(
    schedules: Iterable[ContributionSchedule],
    *,
    declared_income: int,
    programmes: Iterable[str],
    months: int,
    on: date,
    occupation: str | None = None,
    sponsored: bool = False,
    public_budget: bool = False,
) -> Quote:
    """Price ``programmes`` for ``months`` calendar months from the month of ``on``.

    ``schedules``: every schedule that may be in force in those months (a single one is
    fine). Raises :class:`NoScheduleForMonth` when a month has none, and
    :class:`IncomeOutOfRange` when the first month's schedule refuses the income.
    """
    schedules = list(schedules)
    chosen = tuple(p for p in PROGRAMME_ORDER if p in set(programmes))
    first = in_force(schedules, on)
    if first is None:
        raise NoScheduleForMonth(month_start(on))
    if declared_income < first.min_income or (
        first.max_income is not None and declared_income > first.max_income
    ):
        raise IncomeOutOfRange(declared_income)
    sector = first.sector_of(occupation)
    rows = []
    for i in range(months):
        month = month_start(on, i)
        schedule = first if i == 0 else in_force(schedules, month)
        if schedule is None:
            raise NoScheduleForMonth(month)
        rows.append(
            price_month(
                schedule,
                month,
                declared_income=declared_income,
                programmes=chosen,
                sector=schedule.sector_of(occupation),
                public_budget=public_budget,
            )
        )
    total = sum(row.total for row in rows)
    return Quote(
        programmes=chosen,
        months=months,
        per_month=tuple(rows),
        amount_due=0 if sponsored else total,
        sponsor_amount=total if sponsored else 0,
        sector=sector,
    )
