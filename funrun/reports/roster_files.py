"""Event rosters as CSV and XLSX files, with flat memory at any size.

Rows are read with Core and ``stream_results`` (a server-side cursor on PostgreSQL) in
blocks of :data:`BLOCK`. The CSV is written to the response as it is read, so its body
outlives the request that asked for it: it reads from a connection of its own, opened
when the body starts and closed when it ends (or when the client goes away), and knows
the events only as :class:`RosterEvent` values read during the request. The XLSX is
written by XlsxWriter in ``constant_memory`` mode into a temporary file during the
request. No roster file carries a NIK: nothing organisers report upward needs one.

Each row has what an organiser acts on: the runner's phone and email, the emergency
contact (name and phone), shirt size and member status; statuses and yes/no are words in
the language the file was asked in (:class:`RosterWords`, read during the request), times
are the venue's local time (the event's zone, named in the ``timezone`` column), phones
are text cells in the XLSX.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.sql import Select

from funrun.checkin.models import CheckIn
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.reports.figures import PICKUP
from funrun.spreadsheet import (
    csv_phone,
    csv_text,
    csv_writer,
    workbook,
    xlsx_phone,
    xlsx_text,
)

#: Rows read from the database at a time. 500, not 2,000: the whole tour's CSV (100,000
#: rows) then grows the process by ~2 MB instead of ~6.5, in the same time (bench/reports.py).
BLOCK = 500

ROSTER_KEYS = (
    "event",
    "city",
    "bib",
    "full_name",
    "phone",
    "email",
    "emergency_contact",
    "emergency_phone",
    "status",
    "member",
    "shirt_size",
    "registered_at",
    "checked_in_at",
    "timezone",
    "participant_number",
)
ROSTER_LABELS = {
    "event": _l("Event"),
    "city": _l("City"),
    "bib": _l("Bib"),
    "full_name": _l("Name"),
    "phone": _l("Phone"),
    "email": _l("Email"),
    "emergency_contact": _l("Emergency contact (name)"),
    "emergency_phone": _l("Emergency contact phone"),
    "status": _l("Status"),
    "member": _l("Member"),
    "shirt_size": _l("Shirt size"),
    "registered_at": _l("Registered at"),
    "checked_in_at": _l("Checked in at"),
    "timezone": _l("Time zone"),
    "participant_number": _l("Participant number"),
}


#: A local time in the CSV: what a spreadsheet reads as a date and time.
CSV_TIME = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class RosterWords:
    """The words of a roster file in the language it was asked in, read during the
    request (the CSV's body is written after it, with no locale to translate in)."""

    statuses: dict[str, str]
    yes: str
    no: str

    @classmethod
    def now(cls) -> RosterWords:
        """The words in the current request's language."""
        from funrun.i18n_words import REGISTRATION_STATUSES  # the app's words, loaded late

        return cls(
            {code: str(label) for code, label in REGISTRATION_STATUSES.items()}, _("yes"), _("no")
        )

    def status(self, code: str) -> str:
        """A status's words (a code without words as itself)."""
        return self.statuses.get(code, code)


@dataclass(frozen=True)
class RosterEvent:
    """What a roster file needs of an event: plain values, read before the body streams."""

    id: int
    slug: str
    city: str
    timezone: str
    bib_prefix: str

    @classmethod
    def of(cls, event: Event) -> RosterEvent:
        """The values of a loaded event."""
        return cls(event.id, event.slug, event.city, event.timezone, event.bib_prefix)


def roster_events(event_id: int | None = None) -> list[RosterEvent]:
    """The events a roster covers: one (by id), or the tour's in date order."""
    query = select(Event.id, Event.slug, Event.city, Event.timezone, Event.bib_prefix).order_by(
        Event.date, Event.city, Event.id
    )
    if event_id is not None:
        query = query.where(Event.id == event_id)
    return [RosterEvent(*row) for row in db.session.execute(query)]


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
            Registration.phone,
            Registration.email,
            Registration.emergency_contact,
            Registration.emergency_phone,
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


def roster_blocks(
    connection: Connection, events: Sequence[RosterEvent]
) -> Iterator[tuple[RosterEvent, Sequence[Row[Any]]]]:
    """The events' rows in blocks of at most ``BLOCK``, each with its event, read by a
    server-side cursor on ``connection``.

    Core, not the ORM: the rows are plain tuples, and the ORM's per-row loading would
    double the time of a 100,000-row export.
    """
    for each in events:
        query = roster_query(each.id).execution_options(stream_results=True, yield_per=BLOCK)
        result = connection.execute(query)
        try:
            for partition in result.partitions():
                yield each, partition
        finally:
            result.close()


def roster_csv(engine: Engine, events: Sequence[RosterEvent], words: RosterWords) -> Iterator[str]:
    """A roster as CSV text, a block of rows at a time (the header is the field names).

    Reads from a connection of its own on ``engine``, closed when the last block is out
    or the iteration is closed early. Text cells go through :func:`csv_text`, phones
    through :func:`csv_phone`; what is the same for a whole event is looked up once per
    block, not once per row (a fifth of the CPU of a 100,000-row export went on that).
    Times are the venue's (``CSV_TIME``), statuses and yes/no are ``words`` (pass them
    from the request: the default reads them when the body starts).
    """
    words = words or RosterWords.now()
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(ROSTER_KEYS)
    yield out.getvalue()
    statuses = {code: csv_text(label) for code, label in words.statuses.items()}
    member_words = {True: csv_text(words.yes), False: csv_text(words.no)}
    with engine.connect() as connection:
        for each, block in roster_blocks(connection, events):
            out.seek(0)
            out.truncate()
            slug, city, prefix = csv_text(each.slug), csv_text(each.city), csv_text(each.bib_prefix)
            zone, zone_name = ZoneInfo(each.timezone), csv_text(each.timezone)
            writer.writerows(
                (
                    slug,
                    city,
                    "" if bib is None else f"{prefix} {bib:04d}",  # as Event.format_bib
                    csv_text(name),
                    csv_phone(phone),
                    csv_text(email or ""),
                    csv_text(contact or ""),
                    csv_phone(contact_phone),
                    statuses.get(status, status),
                    member_words[bool(member)],
                    csv_text(shirt),
                    created.astimezone(zone).strftime(CSV_TIME),
                    "" if checked is None else checked.astimezone(zone).strftime(CSV_TIME),
                    zone_name,
                    number or "",
                )
                for (
                    bib,
                    name,
                    phone,
                    email,
                    contact,
                    contact_phone,
                    status,
                    member,
                    shirt,
                    created,
                    checked,
                    number,
                ) in block
            )
            yield out.getvalue()


def roster_xlsx(
    connection: Connection,
    events: Sequence[RosterEvent],
    target: IO[bytes],
    *,
    title: str,
    words: RosterWords | None = None,
) -> int:
    """A roster as a worksheet named ``title`` (typed cells, header, frozen panes) written
    to ``target``; the rows written.

    Times are the venue's local time (a spreadsheet cell holds no time zone); the tour's
    roster uses each row's own event zone, named in its own column. Every text cell is a
    string, never a formula; phones are text, so ``+62...`` keeps its plus.
    """
    words = words or RosterWords.now()
    book = workbook(target)
    sheet = book.add_worksheet(sheet_name(title))
    bold = book.add_format({"bold": True})
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, [str(ROSTER_LABELS[key]) for key in ROSTER_KEYS], bold)
    sheet.freeze_panes(1, 4)
    sheet.set_column(0, 1, 14)
    sheet.set_column(2, 2, 10)
    sheet.set_column(3, 3, 28)
    sheet.set_column(4, 4, 16)
    sheet.set_column(5, 6, 24)
    sheet.set_column(7, 7, 16)
    sheet.set_column(8, 14, 14)
    count = 0
    for each, block in roster_blocks(connection, events):
        zone, slug, city, prefix = ZoneInfo(each.timezone), each.slug, each.city, each.bib_prefix
        for (
            bib,
            name,
            phone,
            email,
            contact,
            contact_phone,
            status,
            member,
            shirt,
            created,
            checked,
            number,
        ) in block:
            count += 1
            xlsx_text(sheet, count, 0, slug)
            xlsx_text(sheet, count, 1, city)
            xlsx_text(sheet, count, 2, "" if bib is None else f"{prefix} {bib:04d}")
            xlsx_text(sheet, count, 3, name)
            xlsx_phone(sheet, count, 4, phone)
            xlsx_text(sheet, count, 5, email)
            xlsx_text(sheet, count, 6, contact)
            xlsx_phone(sheet, count, 7, contact_phone)
            xlsx_text(sheet, count, 8, words.status(status))
            xlsx_text(sheet, count, 9, words.yes if member else words.no)
            xlsx_text(sheet, count, 10, shirt)
            sheet.write_datetime(count, 11, created.astimezone(zone), when)
            if checked is not None:
                sheet.write_datetime(count, 12, checked.astimezone(zone), when)
            xlsx_text(sheet, count, 13, each.timezone)
            xlsx_text(sheet, count, 14, number)
    book.close()
    return count


def sheet_name(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``, no
    apostrophe at either end."""
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title)
    return cleaned.strip().strip("'").strip()[:31].strip("'") or "roster"
