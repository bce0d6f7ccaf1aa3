"""A sponsor's statement: what it owes, per member and per month, as CSV, XLSX and PDF.

Per member: participant number, name, NIK (masked), event and city, the months covered,
the amount of each month (one figure when every month costs the same) and the total; then
the totals of each calendar month, and the grand total. Amounts are the stored ones
(``enrolment_months``), never priced again, so the statement always equals what the
enrolments charged the sponsor (``sponsor_amount``). Headers, months and words are in the
language of whoever downloads it; cells go through :mod:`funrun.spreadsheet`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from funrun.enrolment.models import Enrolment, EnrolmentMonth, Sponsor
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher, mask_nik
from funrun.people.models import Person
from funrun.spreadsheet import csv_cell, csv_writer, workbook, xlsx_text

FORMATS = ("csv", "xlsx", "pdf")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEMBER_LABELS = (
    _l("Participant number"),
    _l("Name"),
    _l("NIK"),
    _l("Event"),
    _l("City"),
    _l("First month"),
    _l("Last month"),
    _l("Months"),
    _l("Amount per month (Rp)"),
    _l("Total (Rp)"),
)
MONTH_LABELS = (_l("Month"), _l("Members"), _l("Total (Rp)"))


@dataclass(frozen=True)
class MemberLine:
    """One sponsored member."""

    participant_number: str
    full_name: str
    nik_masked: str
    event: str
    city: str
    per_month: tuple[tuple[date, int], ...]
    total: int

    @property
    def months(self) -> int:
        return len(self.per_month)

    @property
    def first_month(self) -> date:
        return self.per_month[0][0]

    @property
    def last_month(self) -> date:
        return self.per_month[-1][0]

    @property
    def uniform(self) -> int | None:
        """The amount of every month when they are all the same, else None."""
        amounts = {amount for _month, amount in self.per_month}
        return amounts.pop() if len(amounts) == 1 else None


@dataclass(frozen=True)
class MonthTotal:
    month: date
    members: int
    total: int


@dataclass(frozen=True)
class Statement:
    code: str
    name: str
    members: list[MemberLine]
    months: list[MonthTotal]
    generated_at: datetime

    @property
    def total(self) -> int:
        return sum(m.total for m in self.members)

    @property
    def member_months(self) -> int:
        return sum(m.months for m in self.members)


def statement(sponsor: Sponsor, generated_at: datetime) -> Statement:
    """The sponsor's statement, read now."""
    cipher = data_cipher()
    months: dict[int, list[tuple[date, int]]] = {}
    query = (
        select(EnrolmentMonth.enrolment_id, EnrolmentMonth.month, EnrolmentMonth.total)
        .join(Enrolment, Enrolment.id == EnrolmentMonth.enrolment_id)
        .where(Enrolment.sponsor_id == sponsor.id)
        .order_by(EnrolmentMonth.enrolment_id, EnrolmentMonth.month)
    )
    for enrolment_id, month, total in db.session.execute(query):
        months.setdefault(enrolment_id, []).append((month, total))
    rows = db.session.execute(
        select(
            Enrolment.id,
            Enrolment.participant_number,
            Enrolment.full_name,
            Enrolment.sponsor_amount,
            Person.nik_encrypted,
            Event.slug,
            Event.city,
        )
        .join(Person, Person.id == Enrolment.person_id)
        .join(Event, Event.id == Enrolment.event_id)
        .where(Enrolment.sponsor_id == sponsor.id)
        .order_by(Enrolment.participant_number)
    )
    members = []
    per_month: dict[date, list[int]] = {}
    for row in rows:
        covered = tuple(months.get(row.id, ()))
        for month, total in covered:
            per_month.setdefault(month, []).append(total)
        members.append(
            MemberLine(
                participant_number=row.participant_number,
                full_name=row.full_name,
                nik_masked=mask_nik(cipher.decrypt(row.nik_encrypted)),
                event=row.slug,
                city=row.city,
                per_month=covered,
                total=row.sponsor_amount,
            )
        )
    totals = [MonthTotal(m, len(v), sum(v)) for m, v in sorted(per_month.items())]
    return Statement(sponsor.code, sponsor.name, members, totals, generated_at)


def month_name(month: date) -> str:
    """A month in the page's language: Des 2026 / Dec 2026."""
    return format_date(month, "MMM y")


def amounts_text(line: MemberLine) -> str:
    """Each month's amount when they differ: ``Des 2026: 16.800; Jan 2027: 16.800``."""
    return "; ".join(f"{month_name(m)}: {format_decimal(a)}" for m, a in line.per_month)


def _member_cells(line: MemberLine) -> list[object]:
    uniform = line.uniform
    return [
        line.participant_number,
        line.full_name,
        line.nik_masked,
        line.event,
        line.city,
        month_name(line.first_month) if line.per_month else "",
        month_name(line.last_month) if line.per_month else "",
        line.months,
        uniform if uniform is not None else amounts_text(line),
        line.total,
    ]


def _sections(doc: Statement) -> Iterator[list[object]]:
    """Every row of the statement, sections apart, for CSV and XLSX."""
    yield [_("Statement of %(sponsor)s (%(code)s)", sponsor=doc.name, code=doc.code)]
    yield []
    yield [str(label) for label in MEMBER_LABELS]
    for line in doc.members:
        yield _member_cells(line)
    yield []
    yield [str(label) for label in MONTH_LABELS]
    for month in doc.months:
        yield [month_name(month.month), month.members, month.total]
    yield []
    yield [_("Members"), len(doc.members)]
    yield [_("Member-months"), doc.member_months]
    yield [_("Grand total (Rp)"), doc.total]


def statement_csv(doc: Statement) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    for row in _sections(doc):
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


def statement_xlsx(doc: Statement, target: IO[bytes]) -> None:
    book = workbook(target)
    sheet = book.add_worksheet(_("Statement")[:31])
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0"})
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 28)
    sheet.set_column(2, 8, 14)
    sheet.set_column(9, 9, 14)
    headers = {str(MEMBER_LABELS[0]), str(MONTH_LABELS[0])}
    for index, row in enumerate(_sections(doc)):
        header = bool(row) and (row[0] in headers or index == 0)
        for col, value in enumerate(row):
            if isinstance(value, int):
                sheet.write_number(index, col, value, money)
            else:
                xlsx_text(sheet, index, col, str(value), bold if header else None)
    book.close()
