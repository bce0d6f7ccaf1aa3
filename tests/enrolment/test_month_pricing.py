"""Every boundary of the month-by-month price, against tables worked out by hand (issue 17).

Each table below is written out literally from the programme's rules (the provisional
bracket table, PP 49/2020, PP 50/2025 by sector and contribution month, sponsors; see the
README's "Months covered"): none of
its figures comes from the code under test. Each case is priced twice: through the public
service :func:`funrun.enrolment.quotes.price`, and end to end through
``POST /api/v1/events/<slug>/enrolments``, where what is checked is what was STORED (the
enrolment row and its ``enrolment_months`` rows), on the database the suite runs on
(SQLite, and PostgreSQL with TEST_DATABASE_URL).

Hand arithmetic used below (basis Rp 1.000.000 unless a case says otherwise):
full month JKK 10.000 + JKM 6.800 = 16.800 (+ JHT 20.000 = 36.800); PP 50/2025 halves JKK
and JKM: 5.000 + 3.400 = 8.400 (+ JHT 20.000 = 28.400); PP 49/2020 cuts them by 99%:
100 + 68 = 168 (+ JHT 20.000 = 20.168).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from funrun.bibs.services import payload_for
from funrun.enrolment import services as enrolment_services
from funrun.enrolment.models import ContributionSchedule, Enrolment, EnrolmentMonth, Sponsor
from funrun.enrolment.quotes import price
from funrun.extensions import db
from tests.enrolment.conftest import enrol_body

API = "/api/v1"
ALL = ("JKK", "JKM", "JHT")
MANDATORY = ("JKK", "JKM")
P49 = "pp-49-2020"
P50 = "pp-50-2025"

# --- the bracket edges --------------------------------------------------------------------

#: declared income -> (basis, JKK 1%, JHT 2%), from the provisional bracket table.
BRACKET_EDGES = [
    (1_000_000, 1_000_000, 10_000, 20_000),
    (1_099_999, 1_000_000, 10_000, 20_000),
    (1_100_000, 1_200_000, 12_000, 24_000),
    (1_299_999, 1_200_000, 12_000, 24_000),
    (1_300_000, 1_400_000, 14_000, 28_000),
    (2_699_999, 2_600_000, 26_000, 52_000),
    (2_700_000, 2_950_000, 29_500, 59_000),
    (3_199_999, 2_950_000, 29_500, 59_000),
    (3_200_000, 3_450_000, 34_500, 69_000),
    (8_199_999, 7_950_000, 79_500, 159_000),
    (8_200_000, 8_700_000, 87_000, 174_000),
    (20_199_999, 19_700_000, 197_000, 394_000),
    (20_200_000, 20_700_000, 207_000, 414_000),
    (99_000_000, 20_700_000, 207_000, 414_000),
]
#: A day in no relief period (June 2025, before PP 50/2025), for the bracket table.
NO_RELIEF_DAY = date(2025, 6, 10)


# --- the month tables ---------------------------------------------------------------------

#: (month, JKK, JKM, JHT, relief code or None)
Row = tuple[str, int, int, int, str | None]


@dataclass(frozen=True)
class Case:
    """One enrolment and the price worked out for it by hand."""

    name: str
    #: The enrolment date at the venue.
    day: date
    occupation: str
    income: int
    programmes: tuple[str, ...]
    rows: tuple[Row, ...]
    amount_due: int
    sponsor_amount: int
    paid_until: date
    basis: int = 1_000_000
    sponsor: str | None = None

    @property
    def months(self) -> int:
        return len(self.rows)


def full(month: str, jht: int = 0) -> Row:
    """A month at the full rate, basis 1.000.000."""
    return (month, 10_000, 6_800, jht, None)


def halved(month: str, jht: int = 0) -> Row:
    """A month under PP 50/2025, basis 1.000.000."""
    return (month, 5_000, 3_400, jht, P50)


def cut99(month: str, jht: int = 0) -> Row:
    """A month under PP 49/2020, basis 1.000.000."""
    return (month, 100, 68, jht, P49)


CASES = [
    # PP 49/2020, every sector, 99% off JKK and JKM for Aug 2020 - Jan 2021; JHT untouched.
    Case("pp49-month-before", date(2020, 7, 15), "trader", 1_000_000, ALL,
         (full("2020-07", 20_000),), 36_800, 0, date(2020, 7, 31)),
    Case("pp49-first-month", date(2020, 8, 3), "trader", 1_000_000, ALL,
         (cut99("2020-08", 20_000),), 20_168, 0, date(2020, 8, 31)),
    Case("pp49-last-month", date(2021, 1, 20), "ojek_driver", 1_000_000, ALL,
         (cut99("2021-01", 20_000),), 20_168, 0, date(2021, 1, 31)),
    Case("pp49-month-after", date(2021, 2, 1), "ojek_driver", 1_000_000, ALL,
         (full("2021-02", 20_000),), 36_800, 0, date(2021, 2, 28)),
    Case("pp49-3-months-across-the-start", date(2020, 7, 31), "farmer", 1_000_000, ALL,
         (full("2020-07", 20_000), cut99("2020-08", 20_000), cut99("2020-09", 20_000)),
         77_136, 0, date(2020, 9, 30)),
    Case("pp49-3-months-across-the-end", date(2020, 12, 10), "courier", 1_000_000, ALL,
         (cut99("2020-12", 20_000), cut99("2021-01", 20_000), full("2021-02", 20_000)),
         77_136, 0, date(2021, 2, 28)),
    # 12 months from July 2020: 1 full, 6 cut, 5 full = 6 x 168 + 6 x 16.800 = 101.808.
    Case("pp49-12-months-across-both-ends", date(2020, 7, 1), "trader", 1_000_000, MANDATORY,
         (full("2020-07"), cut99("2020-08"), cut99("2020-09"), cut99("2020-10"),
          cut99("2020-11"), cut99("2020-12"), cut99("2021-01"), full("2021-02"),
          full("2021-03"), full("2021-04"), full("2021-05"), full("2021-06")),
         101_808, 0, date(2021, 6, 30)),
    # PP 50/2025, transport: contributions of Jan 2026 - Mar 2027.
    Case("transport-dec-2025", date(2025, 12, 10), "ojek_driver", 1_000_000, MANDATORY,
         (full("2025-12"),), 16_800, 0, date(2025, 12, 31)),
    Case("transport-jan-2026", date(2026, 1, 5), "angkot_driver", 1_000_000, MANDATORY,
         (halved("2026-01"),), 8_400, 0, date(2026, 1, 31)),
    Case("transport-mar-2027", date(2027, 3, 25), "courier", 1_000_000, MANDATORY,
         (halved("2027-03"),), 8_400, 0, date(2027, 3, 31)),
    Case("transport-apr-2027", date(2027, 4, 1), "online_driver", 1_000_000, MANDATORY,
         (full("2027-04"),), 16_800, 0, date(2027, 4, 30)),
    # PP 50/2025, every other sector: Apr 2026 - Dec 2026.
    Case("general-mar-2026", date(2026, 3, 10), "trader", 1_000_000, MANDATORY,
         (full("2026-03"),), 16_800, 0, date(2026, 3, 31)),
    Case("general-apr-2026", date(2026, 4, 1), "fisher", 1_000_000, MANDATORY,
         (halved("2026-04"),), 8_400, 0, date(2026, 4, 30)),
    Case("general-dec-2026", date(2026, 12, 14), "day_labourer", 1_000_000, MANDATORY,
         (halved("2026-12"),), 8_400, 0, date(2026, 12, 31)),
    Case("general-jan-2027", date(2027, 1, 4), "other", 1_000_000, MANDATORY,
         (full("2027-01"),), 16_800, 0, date(2027, 1, 31)),
    # The transport months are not the others' months: March 2026 for an ojek driver.
    Case("transport-mar-2026", date(2026, 3, 10), "ojek_driver", 1_000_000, MANDATORY,
         (halved("2026-03"),), 8_400, 0, date(2026, 3, 31)),
    # 12 months crossing both ends of the general period: 1 full, 9 halved, 2 full.
    # Without JHT: 3 x 16.800 + 9 x 8.400 = 126.000.
    Case("trader-12-months-from-mar-2026", date(2026, 3, 2), "trader", 1_000_000, MANDATORY,
         (full("2026-03"), halved("2026-04"), halved("2026-05"), halved("2026-06"),
          halved("2026-07"), halved("2026-08"), halved("2026-09"), halved("2026-10"),
          halved("2026-11"), halved("2026-12"), full("2027-01"), full("2027-02")),
         126_000, 0, date(2027, 2, 28)),
    # With JHT: 3 x 36.800 + 9 x 28.400 = 366.000.
    Case("trader-12-months-from-mar-2026-jht", date(2026, 3, 2), "trader", 1_000_000, ALL,
         (full("2026-03", 20_000), halved("2026-04", 20_000), halved("2026-05", 20_000),
          halved("2026-06", 20_000), halved("2026-07", 20_000), halved("2026-08", 20_000),
          halved("2026-09", 20_000), halved("2026-10", 20_000), halved("2026-11", 20_000),
          halved("2026-12", 20_000), full("2027-01", 20_000), full("2027-02", 20_000)),
         366_000, 0, date(2027, 2, 28)),
    # Income 2.700.000: basis 2.950.000, JKK 29.500 (halved 14.750), JHT 59.000.
    # 3 x (29.500 + 6.800 + 59.000) + 9 x (14.750 + 3.400 + 59.000) = 285.900 + 694.350.
    Case("trader-12-months-basis-2950000-jht", date(2026, 3, 20), "trader", 2_700_000, ALL,
         (("2026-03", 29_500, 6_800, 59_000, None), ("2026-04", 14_750, 3_400, 59_000, P50),
          ("2026-05", 14_750, 3_400, 59_000, P50), ("2026-06", 14_750, 3_400, 59_000, P50),
          ("2026-07", 14_750, 3_400, 59_000, P50), ("2026-08", 14_750, 3_400, 59_000, P50),
          ("2026-09", 14_750, 3_400, 59_000, P50), ("2026-10", 14_750, 3_400, 59_000, P50),
          ("2026-11", 14_750, 3_400, 59_000, P50), ("2026-12", 14_750, 3_400, 59_000, P50),
          ("2027-01", 29_500, 6_800, 59_000, None), ("2027-02", 29_500, 6_800, 59_000, None)),
         980_250, 0, date(2027, 2, 28), basis=2_950_000),
    # An ojek driver from Dec 2026: 4 halved (Dec-Mar), then 8 full.
    # 4 x 8.400 + 8 x 16.800 = 168.000; with JHT 4 x 28.400 + 8 x 36.800 = 408.000.
    Case("ojek-12-months-from-dec-2026", date(2026, 12, 4), "ojek_driver", 1_000_000, MANDATORY,
         (halved("2026-12"), halved("2027-01"), halved("2027-02"), halved("2027-03"),
          full("2027-04"), full("2027-05"), full("2027-06"), full("2027-07"),
          full("2027-08"), full("2027-09"), full("2027-10"), full("2027-11")),
         168_000, 0, date(2027, 11, 30)),
    Case("ojek-12-months-from-dec-2026-jht", date(2026, 12, 4), "ojek_driver", 1_000_000, ALL,
         (halved("2026-12", 20_000), halved("2027-01", 20_000), halved("2027-02", 20_000),
          halved("2027-03", 20_000), full("2027-04", 20_000), full("2027-05", 20_000),
          full("2027-06", 20_000), full("2027-07", 20_000), full("2027-08", 20_000),
          full("2027-09", 20_000), full("2027-10", 20_000), full("2027-11", 20_000)),
         408_000, 0, date(2027, 11, 30)),
    # A courier from Dec 2025: 1 full, then 11 halved: 16.800 + 11 x 8.400 = 109.200.
    Case("courier-12-months-from-dec-2025", date(2025, 12, 22), "courier", 1_000_000, MANDATORY,
         (full("2025-12"), halved("2026-01"), halved("2026-02"), halved("2026-03"),
          halved("2026-04"), halved("2026-05"), halved("2026-06"), halved("2026-07"),
          halved("2026-08"), halved("2026-09"), halved("2026-10"), halved("2026-11")),
         109_200, 0, date(2026, 11, 30)),
    # Sponsors: APBD DKI is a public budget, so PP 50/2025 does not apply; the member owes
    # nothing and the sponsor the full sum.
    Case("apbd-3-months-street-sweeper", date(2026, 5, 20), "street_sweeper", 1_000_000,
         MANDATORY, (full("2026-05"), full("2026-06"), full("2026-07")),
         0, 50_400, date(2026, 7, 31), sponsor="apbd-dki"),
    Case("apbd-12-months-across-the-relief", date(2026, 3, 2), "street_sweeper", 1_000_000,
         MANDATORY,
         (full("2026-03"), full("2026-04"), full("2026-05"), full("2026-06"),
          full("2026-07"), full("2026-08"), full("2026-09"), full("2026-10"),
          full("2026-11"), full("2026-12"), full("2027-01"), full("2027-02")),
         0, 201_600, date(2027, 2, 28), sponsor="apbd-dki"),
    Case("apbd-transport-with-jht", date(2026, 1, 15), "ojek_driver", 1_500_000, ALL,
         (("2026-01", 16_000, 6_800, 32_000, None),),
         0, 54_800, date(2026, 1, 31), basis=1_600_000, sponsor="apbd-dki"),
    # Enrolled mid-month, on a month's last day, across the year, into a leap February.
    Case("mid-month-ojek-6-months", date(2026, 12, 15), "ojek_driver", 1_000_000, MANDATORY,
         (halved("2026-12"), halved("2027-01"), halved("2027-02"), halved("2027-03"),
          full("2027-04"), full("2027-05")),
         67_200, 0, date(2027, 5, 31)),
    Case("last-day-of-march-trader-3-months", date(2026, 3, 31), "trader", 1_000_000,
         MANDATORY, (full("2026-03"), halved("2026-04"), halved("2026-05")),
         33_600, 0, date(2026, 5, 31)),
    Case("new-years-eve-trader-3-months", date(2026, 12, 31), "trader", 1_000_000, MANDATORY,
         (halved("2026-12"), full("2027-01"), full("2027-02")),
         42_000, 0, date(2027, 2, 28)),
    Case("new-years-day-trader", date(2027, 1, 1), "trader", 1_000_000, MANDATORY,
         (full("2027-01"),), 16_800, 0, date(2027, 1, 31)),
    Case("into-a-leap-february", date(2027, 12, 31), "trader", 1_000_000, MANDATORY,
         (full("2027-12"), full("2028-01"), full("2028-02")),
         50_400, 0, date(2028, 2, 29)),
]  # fmt: skip

#: An APBD-paid member in the months of PP 49/2020: no relief either when a public budget
#: pays (issue 17, point 7).
PUBLIC_BUDGET_IN_PP49 = Case(
    "apbd-in-pp49-months", date(2020, 9, 10), "street_sweeper", 1_000_000, MANDATORY,
    (full("2020-09"),), 0, 16_800, date(2020, 9, 30), sponsor="apbd-dki",
)  # fmt: skip
ALL_CASES = [*CASES, PUBLIC_BUDGET_IN_PP49]


def _sponsor(code: str | None) -> Sponsor | None:
    return db.session.scalar(select(Sponsor).where(Sponsor.code == code)) if code else None


def _quote(case: Case):  # type: ignore[no-untyped-def]
    return price(
        case.day,
        declared_income=case.income,
        programmes=case.programmes,
        months=case.months,
        occupation=case.occupation,
        sponsor=_sponsor(case.sponsor),
    )


def _month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def test_the_tables_add_up():
    """The hand tables themselves: each case's rows add up to what it says is charged."""
    for case in ALL_CASES:
        total = sum(jkk + jkm + jht for _m, jkk, jkm, jht, _r in case.rows)
        assert total == case.amount_due + case.sponsor_amount, case.name
        assert case.months in (1, 3, 6, 12), case.name


# --- through the service ------------------------------------------------------------------


@pytest.mark.parametrize(("income", "basis", "jkk", "jht"), BRACKET_EDGES)
def test_bracket_edges_through_the_service(income, basis, jkk, jht):
    quoted = price(
        NO_RELIEF_DAY,
        declared_income=income,
        programmes=ALL,
        months=1,
        occupation="trader",
    )
    assert (quoted.income_basis, quoted.jkk, quoted.jkm, quoted.jht) == (basis, jkk, 6_800, jht)
    assert quoted.amount_due == jkk + 6_800 + jht
    assert quoted.relief_codes == ()


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_month_tables_through_the_service(case: Case):
    quoted = _quote(case)
    got = [
        (f"{m.month:%Y-%m}", m.jkk, m.jkm, m.jht, m.relief.code if m.relief else None)
        for m in quoted.per_month
    ]
    assert got == list(case.rows)
    assert {m.income_basis for m in quoted.per_month} == {case.basis}
    assert (quoted.amount_due, quoted.sponsor_amount) == (case.amount_due, case.sponsor_amount)
    assert quoted.paid_until == case.paid_until
    assert quoted.first_month == _month(case.rows[0][0])
    # The figures before relief are the full rate, whatever the month.
    for month, row in zip(quoted.per_month, case.rows, strict=True):
        if row[4] is None:
            assert (month.full_jkk, month.full_jkm) == (month.jkk, month.jkm)
        else:
            assert (month.full_jkk, month.full_jkm) != (month.jkk, month.jkm)
            assert month.full_jht == month.jht  # JHT is never relieved


# --- end to end: what the API stores ------------------------------------------------------


def _noon_at_venue(day: date) -> datetime:
    """12:00 WIB (UTC+7) on ``day``."""
    return datetime(day.year, day.month, day.day, 5, 0, tzinfo=UTC)


def _enrol(client, monkeypatch, make_event, make_staff, add_runner, case: Case, at: datetime,
           timezone: str = "Asia/Jakarta"):  # type: ignore[no-untyped-def]  # fmt: skip
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: at)
    event = make_event(timezone=timezone)
    runner = add_runner(event)
    staff = make_staff("organiser")
    body = enrol_body(
        code=payload_for(runner),
        occupation=case.occupation,
        declared_income=case.income,
        programs=list(case.programmes),
        months=case.months,
        payment_channel=None if case.sponsor else "cash",
        sponsor=case.sponsor,
        occupation_other="Tukang parkir" if case.occupation == "other" else None,
    )
    response = client.post(
        f"{API}/events/{event.slug}/enrolments", json=body, headers=staff.headers
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["enrolment"]


def _stored(number: str) -> tuple[Enrolment, list[EnrolmentMonth]]:
    db.session.rollback()
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.participant_number == number))
    assert enrolment is not None
    months = list(
        db.session.scalars(
            select(EnrolmentMonth)
            .where(EnrolmentMonth.enrolment_id == enrolment.id)
            .order_by(EnrolmentMonth.month)
        )
    )
    return enrolment, months


def _check_stored(answer: dict, case: Case, enrolled_on: date) -> None:
    """The enrolment row and its months hold exactly the hand table."""
    enrolment, months = _stored(answer["participant_number"])
    first = case.rows[0]
    assert (enrolment.jkk, enrolment.jkm, enrolment.jht) == first[1:4]
    assert enrolment.monthly_total == sum(first[1:4])
    assert enrolment.income_basis == case.basis
    assert enrolment.declared_income == case.income
    assert enrolment.months == case.months
    assert (enrolment.amount_due, enrolment.sponsor_amount) == (
        case.amount_due,
        case.sponsor_amount,
    )
    assert enrolment.valid_from == enrolled_on
    assert enrolment.paid_until == case.paid_until
    codes = []
    for row in case.rows:
        if row[4] and row[4] not in codes:
            codes.append(row[4])
    assert enrolment.reliefs == ",".join(codes)
    schedule = db.session.scalar(
        select(ContributionSchedule.id).where(ContributionSchedule.code == "bpu-2015")
    )
    assert [(m.month, m.jkk, m.jkm, m.jht, m.total, m.relief, m.schedule_id) for m in months] == [
        (_month(row[0]), row[1], row[2], row[3], row[1] + row[2] + row[3], row[4], schedule)
        for row in case.rows
    ]
    if case.sponsor:
        assert enrolment.sponsor is not None and enrolment.sponsor.code == case.sponsor
        assert enrolment.payment_channel is None and enrolment.receipt_number is None
    else:
        assert enrolment.sponsor_id is None
        assert enrolment.receipt_number == f"KW-{enrolled_on.year}-000001"
    # The answer says the same as the rows.
    contribution = answer["contribution"]
    assert contribution["amount_due"] == case.amount_due
    assert contribution["basis"] == case.basis
    assert [(r["month"], r["jkk"], r["jkm"], r["jht"], r.get("relief")) for r in
            contribution["per_month"]] == list(case.rows)  # fmt: skip
    assert answer["paid_until"] == case.paid_until.isoformat()


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_month_tables_as_stored_through_the_api(
    client, monkeypatch, make_event, make_staff, add_runner, case: Case
):
    answer = _enrol(
        client, monkeypatch, make_event, make_staff, add_runner, case, _noon_at_venue(case.day)
    )
    _check_stored(answer, case, case.day)


@pytest.mark.parametrize(("income", "basis", "jkk", "jht"), BRACKET_EDGES)
def test_bracket_edges_as_stored_through_the_api(
    client, monkeypatch, make_event, make_staff, add_runner, income, basis, jkk, jht
):
    case = Case(
        f"bracket-{income}",
        NO_RELIEF_DAY,
        "trader",
        income,
        ALL,
        (("2025-06", jkk, 6_800, jht, None),),
        jkk + 6_800 + jht,
        0,
        date(2025, 6, 30),
        basis=basis,
    )
    answer = _enrol(
        client, monkeypatch, make_event, make_staff, add_runner, case, _noon_at_venue(case.day)
    )
    _check_stored(answer, case, case.day)


#: The enrolment day is the date at the venue: one second either side of midnight on
#: 31 March 2026 in Jakarta (UTC+7) and in Makassar (UTC+8) puts a trader's first month in
#: March (full rate) or in April (PP 50/2025).
VENUE_CLOCK = [
    ("Asia/Jakarta", datetime(2026, 3, 31, 16, 59, 59, tzinfo=UTC), date(2026, 3, 31)),
    ("Asia/Jakarta", datetime(2026, 3, 31, 17, 0, 0, tzinfo=UTC), date(2026, 4, 1)),
    ("Asia/Makassar", datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC), date(2026, 3, 31)),
    ("Asia/Makassar", datetime(2026, 3, 31, 16, 0, 0, tzinfo=UTC), date(2026, 4, 1)),
]


@pytest.mark.parametrize(("timezone", "at", "local_day"), VENUE_CLOCK)
def test_the_first_month_is_the_month_at_the_venue(
    client, monkeypatch, make_event, make_staff, add_runner, timezone, at, local_day
):
    if local_day.month == 3:
        rows, due = (full("2026-03"), halved("2026-04"), halved("2026-05")), 33_600
        last = date(2026, 5, 31)
    else:
        rows, due = (halved("2026-04"), halved("2026-05"), halved("2026-06")), 25_200
        last = date(2026, 6, 30)
    case = Case("venue-clock", local_day, "trader", 1_000_000, MANDATORY, rows, due, 0, last)
    answer = _enrol(
        client, monkeypatch, make_event, make_staff, add_runner, case, at, timezone=timezone
    )
    _check_stored(answer, case, local_day)
