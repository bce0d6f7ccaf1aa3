"""What a partner's own pages show: its imports, its members' places and their counts.

Every query is scoped by the partner's id (``partner_id`` on the import or the
registration): a partner never reads another partner's rows. NIKs are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select

from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.groups.confirming import went_back
from funrun.groups.models import GroupImport
from funrun.people.crypto import data_cipher, mask_nik
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationStatus

#: Members listed per page.
PAGE_SIZE = 50

_R = Registration
#: A group place that went back unconfirmed: cancelled at or after its deadline, no consent
#: (the query's form of :func:`funrun.groups.confirming.went_back`).
WENT_BACK = and_(
    _R.status == RegistrationStatus.CANCELLED,
    _R.group_import_id.is_not(None),
    _R.consent_at.is_(None),
    _R.hold_expires_at.is_not(None),
    _R.cancelled_at >= _R.hold_expires_at,
)


@dataclass(frozen=True)
class EventCounts:
    """A partner's members at one event, by where they stand."""

    slug: str
    city: str
    name: str
    held: int
    confirmed: int
    waitlisted: int
    went_back: int
    cancelled: int

    @property
    def total(self) -> int:
        return self.held + self.confirmed + self.waitlisted + self.went_back + self.cancelled

    @property
    def confirmed_share(self) -> int:
        """Confirmed of those given a place, in whole percent."""
        placed = self.held + self.confirmed + self.went_back
        return round(100 * self.confirmed / placed) if placed else 0


@dataclass(frozen=True)
class MemberRow:
    """One member's place as the partner sees it (NIK masked)."""

    name: str
    masked_nik: str
    city: str
    state: str
    bib: str | None
    hold_until: datetime | None


def _count(condition: object) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def event_counts(partner_id: int) -> list[EventCounts]:
    """Per event, the partner's members held, confirmed, waitlisted, gone back, cancelled."""
    rows = db.session.execute(
        select(
            Event.slug,
            Event.city,
            Event.name,
            _count(_R.status == RegistrationStatus.HELD),
            _count(_R.status == RegistrationStatus.CONFIRMED),
            _count(_R.status == RegistrationStatus.WAITLISTED),
            _count(WENT_BACK),
            _count(and_(_R.status == RegistrationStatus.CANCELLED, ~WENT_BACK)),
        )
        .join(Event, Event.id == _R.event_id)
        .where(_R.partner_id == partner_id)
        .group_by(Event.id, Event.slug, Event.city, Event.name, Event.date)
        .order_by(Event.date, Event.id)
    ).all()
    return [EventCounts(*row) for row in rows]


def imports(partner_id: int, limit: int = 50) -> list[tuple[GroupImport, Event]]:
    """The partner's imports, newest first, with their events."""
    return [
        (row.GroupImport, row.Event)
        for row in db.session.execute(
            select(GroupImport, Event)
            .join(Event, Event.id == GroupImport.event_id)
            .where(GroupImport.partner_id == partner_id)
            .order_by(GroupImport.created_at.desc(), GroupImport.id.desc())
            .limit(limit)
        )
    ]


def one_import(partner_id: int, import_id: int) -> tuple[GroupImport, Event] | None:
    """The partner's own import ``import_id``; None for another partner's or none."""
    row = db.session.execute(
        select(GroupImport, Event)
        .join(Event, Event.id == GroupImport.event_id)
        .where(GroupImport.id == import_id, GroupImport.partner_id == partner_id)
    ).first()
    return (row.GroupImport, row.Event) if row is not None else None


def _state(registration: Registration) -> str:
    if went_back(registration):
        return "went_back"
    return str(registration.status)


def members(partner_id: int, page: int = 1) -> tuple[list[MemberRow], int]:
    """One page of the partner's members (newest first) and how many there are."""
    where = _R.partner_id == partner_id
    total = db.session.scalar(select(func.count(_R.id)).where(where)) or 0
    rows = db.session.execute(
        select(_R, Person.nik_encrypted, Event.city, Event.timezone)
        .join(Person, Person.id == _R.person_id)
        .join(Event, Event.id == _R.event_id)
        .where(where)
        .order_by(_R.created_at.desc(), _R.id.desc())
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    ).all()
    cipher = data_cipher()
    found = []
    for registration, nik_encrypted, city, zone in rows:
        until = registration.hold_expires_at
        purged = registration.purged_at is not None
        found.append(
            MemberRow(
                name=registration.full_name,
                masked_nik="***" if purged else mask_nik(cipher.decrypt(nik_encrypted)),
                city=city,
                state=_state(registration),
                bib=registration.bib if registration.bib_number is not None else None,
                hold_until=until.astimezone(ZoneInfo(zone)) if until else None,
            )
        )
    return found, total


def upcoming_events() -> list[Event]:
    """Events a partner may still send a group for: not yet raced, registration open."""
    today = utcnow().date()
    return list(
        db.session.scalars(
            select(Event)
            .where(Event.date >= today, Event.registration_open.is_(True))
            .order_by(Event.date, Event.id)
        )
    )
