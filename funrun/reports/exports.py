"""Per-city totals and event rosters as CSV and XLSX, with flat memory at any size.

Totals come from :func:`funrun.reports.figures.tour_figures`, the same object the
dashboard and ``GET /api/v1/stats`` show, so the files cannot disagree with them.
Rosters are read with Core and ``stream_results`` (a server-side cursor on PostgreSQL)
in blocks of :data:`BLOCK` rows: CSV is written to the response as it is read, XLSX by
XlsxWriter in ``constant_memory`` mode into a temporary file that is then sent in chunks.
No roster file carries a NIK: nothing organisers report upward needs one.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select
from sqlalchemy.engine import Row
from sqlalchemy.sql import Select

if TYPE_CHECKING:
    import xlsxwriter

from funrun.checkin.models import CheckIn
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.reports.figures import COUNTS, PICKUP, CityFigures, TourFigures

#: Rows read from the database at a time.
BLOCK = 2000
#: Bytes sent at a time when streaming a finished XLSX file.
CHUNK = 64 * 1024
FORMATS = ("csv", "xlsx")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Column keys of the totals files (CSV header), then one column per shirt size.
TOTALS_KEYS = ("slug", "city", *COUNTS, "non_members_checked_in", "conversion_rate")
TOTALS_LABELS = {
    "slug": _l("Event"),
    "city": _l("City"),
    "quota": _l("Quota"),
    "confirmed": _l("Confirmed"),
    "waitlisted": _l("Waitlisted"),
    "cancelled": _l("Cancelled"),
    "checked_in": _l("Checked in"),
    "no_shows": _l("No-shows"),
    "members": _l("Existing members"),
    "non_members": _l("Non-members"),
    "non_members_checked_in": _l("Non-members checked in"),
    "enrolled": _l("New enrolments"),
    "conversion_rate": _l("Conversion rate"),
}

ROSTER_KEYS = (
    "event",
    "city",
    "bib",
    "full_name",
    "status",
    "member",
    "shirt_size",
    "registered_at",
    "checked_in_at",
    "participant_number",
)
ROSTER_LABELS = {
    "event": _l("Event"),
    "city": _l("City"),
    "bib": _l("Bib"),
    "full_name": _l("Name"),
    "status": _l("Status"),
    "member": _l("Member"),
    "shirt_size": _l("Shirt size"),
    "registered_at": _l("Registered at"),
    "checked_in_at": _l("Checked in at"),
    "participant_number": _l("Participant number"),
}


def safe_text(value: str) -> str:
    """Free text as a spreadsheet shows it, never as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


# --- totals -----------------------------------------------------------------------------


def _totals_rows(figures: TourFigures) -> Iterator[tuple[CityFigures, str, str]]:
    for row in figures.events:
        yield row, row.slug, row.city
    yield figures.totals, "", _("Total")


def _totals_values(row: CityFigures, slug: str, city: str) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in TOTALS_KEYS[2:]}
    values["conversion_rate"] = row.conversion_rate
    values.update(slug=slug, city=city)
    return values


def totals_csv(figures: TourFigures) -> str:
    """The per-city totals with a tour total row; the header is the API's field names."""
    sizes = figures.shirt_size_names
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*TOTALS_KEYS, *(f"shirt_{size}" for size in sizes)])
    for row, slug, city in _totals_rows(figures):
        values = _totals_values(row, slug, city)
        rate = values["conversion_rate"]
        values["conversion_rate"] = "" if rate is None else f"{rate:.4f}"
        values["city"] = safe_text(city)
        writer.writerow(
            [*(values[key] for key in TOTALS_KEYS), *(row.shirt_sizes.get(s, 0) for s in sizes)]
        )
    return out.getvalue()


def _workbook(target: IO[bytes]) -> xlsxwriter.Workbook:
    # Imported here: only XLSX downloads need it, and every worker would carry it.
    import xlsxwriter

    return xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "in_memory": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd hh:mm",
            "remove_timezone": True,
        },
    )


def totals_xlsx(figures: TourFigures, target: IO[bytes]) -> None:
    """The totals as a worksheet: a bold header row, frozen panes, numbers as numbers."""
    sizes = figures.shirt_size_names
    book = _workbook(target)
    sheet = book.add_worksheet(_("Totals")[:31])
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    total_row = book.add_format({"bold": True, "top": 1})
    total_percent = book.add_format({"bold": True, "top": 1, "num_format": "0.0%"})
    headers = [str(TOTALS_LABELS[key]) for key in TOTALS_KEYS]
    headers += [_("Shirts %(size)s", size=size) for size in sizes]
    sheet.write_row(0, 0, headers, bold)
    sheet.freeze_panes(1, 2)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, len(headers) - 1, 11)
    rows = list(_totals_rows(figures))
    for index, (row, slug, city) in enumerate(rows, start=1):
        last = index == len(rows)
        values = _totals_values(row, slug, city)
        for col, key in enumerate(TOTALS_KEYS):
            value = values[key]
            if key == "conversion_rate":
                if value is None:
                    sheet.write_blank(index, col, None, total_row if last else None)
                else:
                    sheet.write_number(index, col, value, total_percent if last else percent)
            elif isinstance(value, str):
                sheet.write_string(index, col, value, total_row if last else None)
            else:
                sheet.write_number(index, col, value, total_row if last else None)
        for offset, size in enumerate(sizes):
            sheet.write_number(
                index, len(TOTALS_KEYS) + offset, row.shirt_sizes.get(size, 0),
                total_row if last else None,
            )  # fmt: skip
    book.close()


# --- rosters ----------------------------------------------------------------------------


def roster_query(event_id: int) -> Select[Any]:
    """An event's registrations with their pickup check-in and enrolment, in bib order.

    Confirmed runners by bib, then the waitlist in order, cancelled runners by their
    retired bib. Ordered within one event only: a sort over the whole tour's rows by
    event date and city spilled to disk (1.3 s of the 100,000-row export).
    """
    return (
        select(
            Registration.bib_number,
            Registration.full_name,
            Registration.status,
            Registration.is_member,
            Registration.shirt_size,
            Registration.created_at,
            CheckIn.checked_in_at,
            Enrolment.participant_number,
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
        .where(Registration.event_id == event_id)
        .order_by(
            Registration.bib_number.is_(None),
            Registration.bib_number,
            Registration.waitlist_seq,
            Registration.id,
        )
    )


def roster_events(event: Event | None) -> list[Event]:
    """The events a roster covers: one, or the tour's in date order."""
    if event is not None:
        return [event]
    return list(db.session.scalars(select(Event).order_by(Event.date, Event.city, Event.id)))


def roster_blocks(event: Event | None) -> Iterator[tuple[Event, Sequence[Row[Any]]]]:
    """A roster's rows (one event's, or the tour's) in blocks of at most ``BLOCK``, each
    with its event, read by a server-side cursor.

    Core on the session's connection, not the ORM: the rows are plain tuples, and the
    ORM's per-row loading would double the time of a 100,000-row export.
    """
    connection = db.session.connection().execution_options(stream_results=True, yield_per=BLOCK)
    for each in roster_events(event):
        result = connection.execute(roster_query(each.id))
        try:
            for partition in result.partitions():
                yield each, partition
        finally:
            result.close()


def roster_csv(event: Event | None) -> Iterator[str]:
    """A roster as CSV text, a block of rows at a time (the header is the field names).

    What is the same for a whole event is looked up once per block, not once per row
    (a fifth of the CPU of a 100,000-row export went on that).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ROSTER_KEYS)
    for each, block in roster_blocks(event):
        slug, city, bib_text = each.slug, safe_text(each.city), each.format_bib
        writer.writerows(
            (
                slug,
                city,
                "" if bib is None else bib_text(bib),
                safe_text(name),
                status,
                "1" if member else "0",
                shirt,
                created.isoformat(timespec="seconds"),
                "" if checked is None else checked.isoformat(timespec="seconds"),
                number or "",
            )
            for bib, name, status, member, shirt, created, checked, number in block
        )
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def roster_xlsx(event: Event | None, target: IO[bytes]) -> int:
    """A roster as a worksheet (typed cells, header, frozen panes); the rows written.

    Times are the venue's local time (a spreadsheet cell holds no time zone); the tour's
    roster uses each row's own event zone.
    """
    book = _workbook(target)
    title = event.city if event is not None else _("Roster")
    sheet = book.add_worksheet(_sheet_name(title))
    bold = book.add_format({"bold": True})
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, [str(ROSTER_LABELS[key]) for key in ROSTER_KEYS], bold)
    sheet.freeze_panes(1, 4)
    sheet.set_column(0, 1, 14)
    sheet.set_column(2, 2, 10)
    sheet.set_column(3, 3, 28)
    sheet.set_column(4, 9, 16)
    yes, no = _("yes"), _("no")
    count = 0
    for each, block in roster_blocks(event):
        zone, slug, city, bib_text = ZoneInfo(each.timezone), each.slug, each.city, each.format_bib
        for bib, name, status, member, shirt, created, checked, number in block:
            count += 1
            sheet.write_string(count, 0, slug)
            sheet.write_string(count, 1, city)
            sheet.write_string(count, 2, "" if bib is None else bib_text(bib))
            sheet.write_string(count, 3, name)
            sheet.write_string(count, 4, status)
            sheet.write_string(count, 5, yes if member else no)
            sheet.write_string(count, 6, shirt)
            sheet.write_datetime(count, 7, created.astimezone(zone), when)
            if checked is not None:
                sheet.write_datetime(count, 8, checked.astimezone(zone), when)
            if number:
                sheet.write_string(count, 9, number)
    book.close()
    return count


def _sheet_name(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()
    return cleaned[:31] or "roster"


def spooled(write: Any, *args: Any) -> Iterator[bytes]:
    """Run ``write(*args, file)`` into a temporary file, then yield the file in chunks."""
    with tempfile.TemporaryFile() as target:
        write(*args, target)
        target.seek(0)
        while chunk := target.read(CHUNK):
            yield chunk
