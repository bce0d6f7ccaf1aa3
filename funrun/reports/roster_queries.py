"""An event's roster for organisers: searchable by name or bib, a page at a time."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import aliased

from funrun.accounts.models import User
from funrun.checkin.models import CheckIn, ScanLog, ScanResult
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher, mask_nik
from funrun.people.models import Person
from funrun.registration.models import Registration
from funrun.reports.figures import PICKUP

PER_PAGE = 50
#: Longer searches are refused (a name is at most 100 characters).
MAX_QUERY = 100
#: The highest page number accepted; beyond it a request is refused, not computed.
MAX_PAGE = 10_000
#: A typed bib: the number alone or with the event's prefix, e.g. "42" or "JKT 0042".
_BIB = re.compile(r"(?:[A-Za-z]{1,8}\s*)?(\d{1,5})")


#: Control, surrogate and unassigned characters: no name holds them (PostgreSQL refuses NUL).
_CONTROL = frozenset({"Cc", "Cs", "Cn"})


class RosterQueryError(ValueError):
    """The search or page asked for cannot be answered (a 400)."""


@dataclass(frozen=True)
class RosterEntry:
    """One runner on the roster page."""

    registration_id: int
    bib: str | None
    full_name: str
    phone: str
    email: str | None
    emergency_contact: str | None
    emergency_phone: str | None
    shirt_size: str
    status: str
    member: bool
    nik: str
    registered_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    waitlist_seq: int | None
    checked_in_at: datetime | None
    participant_number: str | None
    enrolled_at: datetime | None
    #: The representative who collected the race pack (issue 19, point 5), if any.
    collected_by: str | None = None


@dataclass(frozen=True)
class RosterPage:
    """A page of the roster with what the pager needs."""

    entries: list[RosterEntry]
    page: int
    pages: int
    total: int
    query: str


def _search_filter(query: str) -> ColumnElement[bool]:
    condition = func.lower(Registration.full_name).contains(query.lower(), autoescape=True)
    bib = _BIB.fullmatch(query.strip())
    if bib:
        condition = or_(condition, Registration.bib_number == int(bib.group(1)))
    return condition


def roster_page(
    event: Event, *, query: str = "", page: int = 1, full_nik: bool = False
) -> RosterPage:
    """Page ``page`` of the event's roster, filtered by a name part or a bib.

    The NIK is decrypted for the rows shown only, and masked unless ``full_nik``.
    """
    query = query.strip()
    if len(query) > MAX_QUERY:
        raise RosterQueryError("search too long")
    if any(unicodedata.category(char) in _CONTROL for char in query):
        raise RosterQueryError("control characters in search")
    if not 1 <= page <= MAX_PAGE:
        raise RosterQueryError("page out of range")
    where = [Registration.event_id == event.id]
    if query:
        where.append(_search_filter(query))
    total = db.session.scalar(select(func.count()).select_from(Registration).where(*where)) or 0
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    rows = db.session.execute(
        select(
            Registration.id,
            Registration.bib_number,
            Registration.full_name,
            Registration.phone,
            Registration.email,
            Registration.emergency_contact,
            Registration.emergency_phone,
            Registration.shirt_size,
            Registration.status,
            Registration.is_member,
            Registration.created_at,
            Registration.confirmed_at,
            Registration.cancelled_at,
            Registration.waitlist_seq,
            Person.nik_encrypted,
            CheckIn.checked_in_at,
            CheckIn.proxy_name,
            Enrolment.participant_number,
            Enrolment.created_at.label("enrolled_at"),
        )
        .join(Person, Person.id == Registration.person_id)
        .outerjoin(
            CheckIn,
            and_(
                CheckIn.registration_id == Registration.id,
                CheckIn.station == PICKUP,
                CheckIn.undone_at.is_(None),
            ),
        )
        .outerjoin(Enrolment, Enrolment.registration_id == Registration.id)
        .where(*where)
        .order_by(
            Registration.bib_number.is_(None),
            Registration.bib_number,
            Registration.waitlist_seq,
            Registration.id,
        )
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    cipher = data_cipher()
    entries = []
    for row in rows:
        nik = cipher.decrypt(row.nik_encrypted)
        entries.append(
            RosterEntry(
                registration_id=row.id,
                bib=None if row.bib_number is None else event.format_bib(row.bib_number),
                full_name=row.full_name,
                phone=row.phone,
                email=row.email,
                emergency_contact=row.emergency_contact,
                emergency_phone=row.emergency_phone,
                shirt_size=row.shirt_size,
                status=row.status,
                member=row.is_member,
                nik=nik if full_nik else mask_nik(nik),
                registered_at=row.created_at,
                confirmed_at=row.confirmed_at,
                cancelled_at=row.cancelled_at,
                waitlist_seq=row.waitlist_seq,
                checked_in_at=row.checked_in_at,
                participant_number=row.participant_number,
                enrolled_at=row.enrolled_at,
                collected_by=row.proxy_name,
            )
        )
    return RosterPage(entries=entries, page=page, pages=pages, total=total, query=query)


@dataclass(frozen=True)
class HistoryItem:
    """One thing that happened to a registration, with who did it when known."""

    at: datetime
    kind: str
    detail: str = ""
    by: str | None = None


def registration_history(
    event: Event, registration_id: int
) -> tuple[Registration, list[HistoryItem]] | None:
    """A registration of ``event`` and its history, oldest first (None if not of the event).

    From the registration's own timestamps, its check-ins (and their undoing), the scans
    of it that changed nothing (the scan log: already checked in, refused) and its
    enrolment. Staff are shown by the part of their email
    before the @, as the check-in pages do.
    """
    registration = db.session.scalar(
        select(Registration).where(
            Registration.id == registration_id, Registration.event_id == event.id
        )
    )
    if registration is None:
        return None
    items = [HistoryItem(registration.created_at, "registered", registration.source)]
    if registration.waitlist_seq is not None:
        items.append(
            HistoryItem(registration.created_at, "waitlisted", str(registration.waitlist_seq))
        )
    if registration.confirmed_at is not None:
        bib = "" if registration.bib_number is None else event.format_bib(registration.bib_number)
        items.append(HistoryItem(registration.confirmed_at, "confirmed", bib))
    if registration.cancelled_at is not None:
        items.append(HistoryItem(registration.cancelled_at, "cancelled"))
    scanner, undoer = aliased(User), aliased(User)
    checkins = db.session.execute(
        select(
            CheckIn.checked_in_at, CheckIn.station, scanner.email, CheckIn.undone_at, undoer.email
        )
        .outerjoin(scanner, scanner.id == CheckIn.scanned_by_id)
        .outerjoin(undoer, undoer.id == CheckIn.undone_by_id)
        .where(CheckIn.registration_id == registration.id)
    )
    for at, station, by, undone_at, undone_by in checkins:
        items.append(HistoryItem(at, "scan:checked_in", station, _who(by)))
        if undone_at is not None:
            items.append(HistoryItem(undone_at, "scan:undone", station, _who(undone_by)))
    # The scan log adds the scans that changed nothing (already checked in, refused).
    scans = db.session.execute(
        select(ScanLog.received_at, ScanLog.scanned_at, ScanLog.result, ScanLog.station, User.email)
        .outerjoin(User, User.id == ScanLog.user_id)
        .where(
            ScanLog.registration_id == registration.id,
            ScanLog.result.not_in([ScanResult.CHECKED_IN, ScanResult.UNDONE]),
        )
        .order_by(ScanLog.id)
    )
    for received_at, scanned_at, result, station, email in scans:
        items.append(HistoryItem(scanned_at or received_at, f"scan:{result}", station, _who(email)))
    enrolment = db.session.execute(
        select(Enrolment.created_at, Enrolment.participant_number, User.email)
        .outerjoin(User, User.id == Enrolment.enrolled_by_id)
        .where(Enrolment.registration_id == registration.id)
    ).first()
    if enrolment is not None:
        items.append(HistoryItem(enrolment[0], "enrolled", enrolment[1], _who(enrolment[2])))
    items.sort(key=lambda item: item.at)
    return registration, items


def _who(email: str | None) -> str | None:
    return None if email is None else email.split("@")[0]
