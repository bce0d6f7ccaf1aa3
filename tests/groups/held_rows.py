"""Held places as a partner's group import makes them (issue 20), written directly for the
confirmation, expiry and partner-page tests: a place taken in the quota (a bib, counted
in ``confirmed_count``), status ``held`` with ``hold_expires_at``, the partner and the
import, no consent yet, and a manage token stored as registering stores it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from funrun.accounts.models import Role, User
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.groups.models import GroupImport, ImportStatus
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.tokens import TOKEN_CONTEXT, new_manage_token
from tests.conftest import person_payload


@dataclass(frozen=True)
class Held:
    """A held registration: its id, its manage token and the NIK it was made for."""

    id: int
    token: str
    nik: str


def make_partner(
    email: str = "hr@ojek.example",
    organisation: str = "Koperasi Ojek Sejahtera",
    password_hash: str | None = None,
) -> User:
    """A partner account with its organisation's name."""
    user = User(
        email=email, role=Role.PARTNER, organisation=organisation, password_hash=password_hash
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_import(event: Event, partner: User, key: str = "batch-1", **fields: object) -> GroupImport:
    """A finished group import of ``partner`` for ``event``."""
    row = GroupImport(
        event_id=event.id,
        partner_id=partner.id,
        import_key=key,
        status=fields.pop("status", ImportStatus.DONE),
        body_format="csv",
        body_sha256=hashlib.sha256(key.encode()).hexdigest(),
        **fields,
    )
    db.session.add(row)
    db.session.commit()
    return row


def make_held(
    event_id: int,
    group_import_id: int,
    partner_id: int,
    index: int,
    *,
    expires_at: datetime | None = None,
    email: str | None = "member@example.com",
    locale: str = "id",
) -> Held:
    """A held place for the person ``person_payload(index)``: the quota's conditional
    update gives it a bib, as every place is taken. Committed."""
    body = person_payload(index)
    cipher = data_cipher()
    now = utcnow()
    bib = db.session.scalar(
        update(Event)
        .where(Event.id == event_id, Event.confirmed_count < Event.quota)
        .values(confirmed_count=Event.confirmed_count + 1, bib_next=Event.bib_next + 1)
        .returning(Event.bib_next - 1)
    )
    assert bib is not None, "the event is full"
    person = db.session.scalar(
        select(Person).where(Person.nik_hash == cipher.lookup_hash(body["nik"]))
    )
    if person is None:
        person = Person(
            nik_hash=cipher.lookup_hash(body["nik"]),
            nik_encrypted=cipher.encrypt(body["nik"]),
            birth_date=date.fromisoformat(body["birth_date"]),
            gender=body["gender"],
        )
        db.session.add(person)
        db.session.flush()
    token, token_hash = new_manage_token()
    registration = Registration(
        event_id=event_id,
        person_id=person.id,
        status=RegistrationStatus.HELD,
        bib_number=bib,
        manage_token_hash=token_hash,
        manage_token_encrypted=cipher.encrypt(token, context=TOKEN_CONTEXT),
        full_name=body["full_name"],
        phone="+62" + body["phone"][1:],
        email=email,
        shirt_size="M",
        is_member=False,
        source="partner",
        locale=locale,
        created_by_id=partner_id,
        partner_id=partner_id,
        group_import_id=group_import_id,
        hold_expires_at=expires_at or now + timedelta(days=7),
        consent_at=None,
        privacy_notice_id=None,
    )
    db.session.add(registration)
    db.session.commit()
    return Held(registration.id, token, body["nik"])
