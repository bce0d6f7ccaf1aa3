"""Finding a runner at the desk by what they can show: a name, a phone, a bib or a KTP.

What was typed is read as one of four things (:func:`read_query`): 16 digits are a NIK
(matched by its keyed hash, ``people.nik_hash``: the NIK is never stored, shown or logged
here), an Indonesian mobile number is a phone (normalised as registration stores it), a
bib as volunteers type it (``42``, ``JKT 0042``) is a bib number, anything else a part of
a name (case-insensitive, at least :data:`MIN_NAME` characters). Only the event's own
registrations are searched, at most :data:`LIMIT` of them are answered.

The desk then checks the runner in through the one check-in rule: the card's bib sent as
a typed code with the ID card checked (funrun/checkin/entry.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select

from funrun.bibs.services import split_typed_bib
from funrun.checkin.models import CheckIn
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher, mask_nik
from funrun.people.models import Person
from funrun.people.rules import normalise_mobile
from funrun.registration.models import Registration, RegistrationStatus

MIN_NAME = 3
MAX_QUERY = 64
LIMIT = 10

NIK, PHONE, BIB, NAME = "nik", "phone", "bib", "name"
_SEPARATORS = re.compile(r"[\s\-().]")


class SearchRefused(ValueError):
    """The query cannot be searched for; the message says what to type instead."""


@dataclass(frozen=True)
class Query:
    """What was typed, as read: its kind and the value searched for (never shown)."""

    kind: str
    value: str | int


@dataclass(frozen=True)
class DeskCard:
    """What the desk shows of a runner it found (the NIK masked)."""

    id: int
    full_name: str
    bib: str | None
    status: str
    shirt_size: str
    is_member: bool
    enrolled: bool
    nik_masked: str
    checked_in_at: datetime | None

    @property
    def checked_in(self) -> bool:
        return self.checked_in_at is not None

    @property
    def may_check_in(self) -> bool:
        """A confirmed runner with a bib, not yet checked in at this station."""
        return self.status == RegistrationStatus.CONFIRMED and self.bib and not self.checked_in

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "full_name": self.full_name,
            "bib": self.bib,
            "status": self.status,
            "shirt_size": self.shirt_size,
            "member": self.is_member,
            "enrolled": self.enrolled,
            "nik_masked": self.nik_masked,
            "checked_in": self.checked_in,
            "checked_in_at": self.checked_in_at.isoformat() if self.checked_in_at else None,
        }


@dataclass(frozen=True)
class Found:
    """The cards found (at most :data:`LIMIT`), and whether there were more."""

    kind: str
    cards: list[DeskCard]
    more: bool


def _unreadable(char: str) -> bool:
    """A control character or a lone surrogate: nothing a keyboard at the desk types."""
    code = ord(char)
    return code < 32 or code == 127 or 0xD800 <= code <= 0xDFFF


def read_query(text: object) -> Query:
    """What ``text`` asks for; :class:`SearchRefused` when it is empty, too short or long."""
    query = " ".join(text.split()) if isinstance(text, str) else ""
    if not query or any(_unreadable(c) for c in query):
        raise SearchRefused(str(_l("Type a name, a mobile number, a bib or a NIK.")))
    if len(query) > MAX_QUERY:
        raise SearchRefused(
            str(_l("Type at most %(n)d characters.", n=MAX_QUERY))  # type: ignore[arg-type]
        )
    compact = _SEPARATORS.sub("", query)
    if compact.isdigit() and len(compact) == 16:
        return Query(NIK, compact)
    if compact.lstrip("+").isdigit() and len(compact) >= 9:
        phone = normalise_mobile(compact)
        if phone is not None:
            return Query(PHONE, phone)
    typed = split_typed_bib(query)
    if typed is not None:
        return Query(BIB, typed[1])
    if len(query) < MIN_NAME:
        raise SearchRefused(
            str(_l("Type at least %(n)d letters of the name.", n=MIN_NAME))  # type: ignore[arg-type]
        )
    return Query(NAME, query)


def search(event: Event, text: object, station: str = "pickup") -> Found:
    """The event's registrations matching ``text`` (see :func:`read_query`)."""
    query = read_query(text)
    r = Registration
    statement = select(r).where(r.event_id == event.id)
    if query.kind == NIK:
        nik_hash = data_cipher().lookup_hash(str(query.value))
        statement = statement.join(Person, Person.id == r.person_id).where(
            Person.nik_hash == nik_hash
        )
    elif query.kind == PHONE:
        statement = statement.where(r.phone == query.value)
    elif query.kind == BIB:
        statement = statement.where(r.bib_number == query.value)
    else:
        statement = statement.where(r.full_name.icontains(str(query.value), autoescape=True))
    cancelled_last = case((r.status == RegistrationStatus.CANCELLED.value, 1), else_=0)
    rows = list(
        db.session.scalars(statement.order_by(cancelled_last, r.full_name, r.id).limit(LIMIT + 1))
    )
    return Found(query.kind, [_card(row, station) for row in rows[:LIMIT]], len(rows) > LIMIT)


def _card(registration: Registration, station: str) -> DeskCard:
    nik = data_cipher().decrypt(registration.person.nik_encrypted)
    checked_in_at = db.session.scalar(
        select(CheckIn.checked_in_at).where(
            CheckIn.registration_id == registration.id,
            CheckIn.station == station,
            CheckIn.undone_at.is_(None),
        )
    )
    enrolled = db.session.scalar(
        select(Enrolment.id).where(Enrolment.person_id == registration.person_id).limit(1)
    )
    return DeskCard(
        id=registration.id,
        full_name=registration.full_name,
        bib=registration.bib,
        status=registration.status,
        shirt_size=registration.shirt_size,
        is_member=registration.is_member,
        enrolled=enrolled is not None,
        nik_masked=mask_nik(nik),
        checked_in_at=checked_in_at,
    )
