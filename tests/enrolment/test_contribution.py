"""The contribution: each covered month priced on its own, whole rupiah, half up."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from funrun.enrolment.contribution import IncomeOutOfRange, round_rupiah
from funrun.enrolment.models import (
    ContributionRate,
    ContributionRelief,
    ContributionSchedule,
    IncomeBracket,
    Sponsor,
)
from funrun.enrolment.quotes import price as price_from_schedules
from funrun.enrolment.schedule import (
    SHIPPED,
    ScheduleDataError,
    apply_document,
    dump_document,
    load_file,
    schedule_in_force,
)
from funrun.extensions import db

FINALE = date(2015, 12, 13)


def price(
    day: date = FINALE,
    income: int = 1_000_000,
    programmes=("JKK", "JKM"),
    months=1,
    occupation="trader",
    sponsor: str | None = None,
):
    payer = db.session.scalar(select(Sponsor).where(Sponsor.code == sponsor)) if sponsor else None
    return price_from_schedules(
        day,
        declared_income=income,
        programmes=programmes,
        months=months,
        occupation=occupation,
        sponsor=payer,
    )


def add_schedule_without_brackets(code: str = "bpu-2030", start: str = "2030-01-01") -> None:
    """A later schedule whose one bracket has no basis: the declared income is the basis."""
    document = dump_document()
    later = copy.deepcopy(document["schedules"][0])
    later.update(code=code, name="Later schedule", effective_from=start, reliefs=[])
    later["brackets"] = [{"income_from": 1_000_000, "income_to": None, "basis": None}]
    document["schedules"] = [later]
    apply_document(document)


def test_lowest_basis_gives_16800_or_36800_with_jht():
    base = price()
    assert (base.jkk, base.jkm, base.jht, base.monthly_total) == (10_000, 6_800, 0, 16_800)
    assert base.income_basis == 1_000_000
    assert base.schedule_code == "bpu-2015"
    with_jht = price(programmes=("JKK", "JKM", "JHT"))
    assert (with_jht.jkk, with_jht.jkm, with_jht.jht) == (10_000, 6_800, 20_000)
    assert with_jht.monthly_total == 36_800


@pytest.mark.parametrize(("months", "due"), [(1, 16_800), (3, 50_400), (6, 100_800), (12, 201_600)])
def test_amount_due_is_the_monthly_total_times_the_months(months, due):
    priced = price(months=months)
    assert priced.amount_due == due
    assert priced.sponsor_amount == 0
    first = 2015 * 12 + 11
    assert priced.as_json() == {
        "jkk": 10_000,
        "jkm": 6_800,
        "jht": 0,
        "monthly_total": 16_800,
        "months": months,
        "amount_due": due,
        "basis": 1_000_000,
        "per_month": [
            {
                "month": f"{(first + i) // 12}-{(first + i) % 12 + 1:02d}",
                "jkk": 10_000,
                "jkm": 6_800,
                "jht": 0,
                "total": 16_800,
            }
            for i in range(months)
        ],
    }


def test_rounding_is_half_up_to_whole_rupiah_per_programme():
    assert round_rupiah(Decimal("0.5")) == 1
    assert round_rupiah(Decimal("2.5")) == 3  # not banker's rounding
    assert round_rupiah(Decimal("12345.49")) == 12_345
    add_schedule_without_brackets()
    day = date(2030, 1, 10)
    # 1% of 1.234.550 is 12.345,50: up. 2% is 24.691 exactly.
    up = price(day, income=1_234_550, programmes=("JKK", "JKM", "JHT"))
    assert (up.jkk, up.jht, up.income_basis) == (12_346, 24_691, 1_234_550)
    # 1% of 1.234.549 is 12.345,49: down. 2% is 24.690,98: up.
    down = price(day, income=1_234_549, programmes=("JKK", "JKM", "JHT"))
    assert (down.jkk, down.jht) == (12_345, 24_691)
    # The parts add up to the total, and the months' totals to the amount due.
    assert down.monthly_total == down.jkk + down.jkm + down.jht == 43_836
    assert price(day, income=1_234_549, months=12).amount_due == (12_345 + 6_800) * 12


def test_a_sponsor_pays_everything_and_the_runner_nothing():
    priced = price(months=12, sponsor="apbd-dki")
    assert priced.amount_due == 0
    assert priced.sponsor_amount == 201_600


def test_relief_periods_apply_by_contribution_month_and_sector():
    # PP 49/2020: 99% off JKK and JKM, Aug 2020 - Jan 2021; JHT is not relieved.
    relieved = price(day=date(2020, 9, 1), programmes=("JKK", "JKM", "JHT"))
    assert (relieved.jkk, relieved.jkm, relieved.jht) == (100, 68, 20_000)
    assert relieved.relief_codes == ("pp-49-2020",)
    assert price(day=date(2021, 2, 1)).monthly_total == 16_800
    # PP 50/2025: transport from Jan 2026, the others from Apr 2026.
    halved = price(day=date(2026, 3, 1), occupation="ojek_driver")
    assert (halved.jkk, halved.jkm, halved.monthly_total) == (5_000, 3_400, 8_400)
    assert price(day=date(2026, 3, 1), occupation="trader").monthly_total == 16_800
    assert price(day=date(2026, 4, 1), occupation="trader").monthly_total == 8_400
    # Not for APBD-paid members.
    apbd = price(day=date(2026, 3, 1), occupation="ojek_driver", sponsor="apbd-dki")
    assert apbd.monthly_total == 16_800 and apbd.relief_codes == ()
    assert price(day=date(2027, 1, 1), occupation="trader").monthly_total == 16_800
    assert price(day=date(2027, 4, 1), occupation="ojek_driver").monthly_total == 16_800


def test_the_issue_17_examples():
    # A market trader paying 3 months on 4 Dec 2026: December relieved, then full rate.
    trader = price(
        day=date(2026, 12, 4), months=3, occupation="trader", programmes=("JKK", "JKM", "JHT")
    )
    assert [m.total for m in trader.per_month] == [28_400, 36_800, 36_800]
    assert trader.amount_due == 102_000
    # An ojek driver paying 6 months: relieved to March 2027 (4 months), then full.
    ojek = price(day=date(2026, 12, 4), months=6, occupation="ojek_driver")
    assert [m.total for m in ojek.per_month] == [8_400] * 4 + [16_800] * 2
    assert ojek.paid_until == date(2027, 5, 31) and ojek.next_due == date(2027, 6, 15)
    # A declared income of Rp 1.500.000 pays on its bracket's basis, Rp 1.600.000.
    bracket = price(day=date(2015, 12, 13), income=1_500_000)
    assert (bracket.income_basis, bracket.jkk) == (1_600_000, 16_000)


def test_income_below_the_lowest_basis_is_refused():
    with pytest.raises(IncomeOutOfRange):
        price(income=999_999)


def test_the_schedule_in_force_on_the_day_is_used():
    assert schedule_in_force(date(2015, 6, 30)) is None
    later = dump_document()
    newer = copy.deepcopy(later["schedules"][0])
    newer.update(code="bpu-2030", name="Later schedule", effective_from="2030-01-01", reliefs=[])
    next(r for r in newer["rates"] if r["programme"] == "JKM")["flat_amount"] = 9_000
    later["schedules"] = [newer]
    apply_document(later)
    assert schedule_in_force(date(2029, 12, 31)).code == "bpu-2015"
    assert schedule_in_force(date(2030, 1, 1)).code == "bpu-2030"
    assert price(day=date(2030, 1, 1)).jkm == 9_000
    # Closing the old one ends it.
    document = dump_document()
    document["schedules"][0]["effective_to"] = "2020-12-31"
    apply_document(document)
    assert schedule_in_force(date(2021, 1, 1)) is None
    assert schedule_in_force(date(2020, 12, 31)).code == "bpu-2015"


def test_shipped_file_is_marked_provisional_and_loads_idempotently():
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    schedule = shipped["schedules"][0]
    assert schedule["brackets_complete"] is False
    assert "Provisional" in schedule["brackets_source"]
    assert "Lampiran II" in schedule["brackets_source"]

    def counts():
        return [
            db.session.scalar(select(func.count()).select_from(m))
            for m in (
                ContributionSchedule,
                ContributionRate,
                IncomeBracket,
                ContributionRelief,
                Sponsor,
            )
        ]

    before = counts()
    assert before == [1, 3, 33, 2, 1]
    load_file()
    load_file()
    assert counts() == before
    dumped = dump_document()
    for document in (dumped, shipped):
        document["schedules"][0]["rates"].sort(key=lambda rate: rate["programme"])
    assert dumped == shipped  # what is stored is exactly what was shipped
    # What the admin page shows can be saved back unchanged.
    apply_document(dump_document())
    assert counts() == before


def _bad(mutate) -> dict:
    document = json.loads(SHIPPED.read_text(encoding="utf-8"))
    mutate(document)
    return document


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format=1),
        lambda d: d["schedules"][0].update(min_income="1000000"),
        lambda d: d["schedules"][0].update(effective_from="13/12/2015"),
        lambda d: d["schedules"][0]["rates"][0].update(rate_percent=1),
        lambda d: d["schedules"][0]["rates"][0].update(rate_percent="1.005"),
        lambda d: d["schedules"][0]["rates"].pop(1),
        lambda d: d["schedules"][0]["rates"][0].update(programme="JP"),
        lambda d: d["schedules"][0]["rates"][0].update(optional=True),
        lambda d: d["schedules"][0]["rates"][1].update(rate_percent="1.00"),
        lambda d: d["schedules"][0]["brackets"][1].update(income_from=1_000_002),
        lambda d: d["schedules"][0]["brackets"][0].update(income_from=900_000),
        lambda d: d["schedules"][0]["reliefs"][0]["periods"][0].update(last_month="2019-01"),
        lambda d: d["schedules"][0]["reliefs"][1]["periods"][0].update(sector="fishing"),
        lambda d: d["schedules"][0]["reliefs"][1]["periods"][0].update(first_month="2026-13"),
        lambda d: d["schedules"][0]["sectors"][0]["occupations"].append("trader"),
        lambda d: d["schedules"][0]["reliefs"][1].update(code="pp-49-2020"),
        lambda d: d["schedules"][0]["reliefs"][0].update(discount_percent="101"),
        lambda d: d["schedules"].append(copy.deepcopy(d["schedules"][0])),
        lambda d: d["sponsors"][0].update(public_budget="yes"),
        lambda d: d["schedules"][0].update(name=""),
        lambda d: d["schedules"][0].update(code="Not A Code"),
    ],
)
def test_bad_schedule_documents_are_refused_whole(mutate):
    before = dump_document()
    with pytest.raises(ScheduleDataError) as refused:
        apply_document(_bad(mutate))
    assert refused.value.problems
    assert dump_document() == before
