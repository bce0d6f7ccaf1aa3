"""A person's data on request (UU PDP): find them by NIK, export everything, erase it.

Erasure cancels the person's active places first (the waitlist moves up), then applies
the same anonymising rule as the retention purge (:func:`anonymise_scope`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from funrun.audit.services import record
from funrun.checkin.models import CheckIn
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.messages.history import for_registration
from funrun.people.crypto import data_cipher, mask_nik
from funrun.people.models import Person
from funrun.people.nik import normalise_nik
from funrun.privacy.services import PrivacyError, PurgeCounts, anonymise_scope
from funrun.registration.models import PrivacyNotice, Registration, RegistrationStatus
from funrun.registration.services import AlreadyCancelled, cancel


def find_person(raw_nik: str) -> Person | None:
    """The person with this NIK, found by its keyed hash (never by decrypting)."""
    nik = normalise_nik(raw_nik or "")
    if not (len(nik) == 16 and nik.isascii() and nik.isdigit()):
        raise PrivacyError("nik")
    return db.session.scalar(
        select(Person).where(Person.nik_hash == data_cipher().lookup_hash(nik))
    )


def lookup_person(raw_nik: str, *, user_id: int | None) -> Person | None:
    """:func:`find_person`, audited (found or not, never with the NIK)."""
    person = find_person(raw_nik)
    person_id = person.id if person is not None else None
    begin_write()
    record(
        "privacy_lookup",
        user_id=user_id,
        target=f"person #{person_id}" if person_id else None,
        detail="found" if person_id else "not found",
    )
    db.session.commit()
    return db.session.get(Person, person_id) if person_id else None


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _notice(notice: PrivacyNotice) -> dict[str, Any]:
    return {
        "version": notice.version,
        "locale": notice.locale,
        "sha256": notice.sha256,
        "consent_label": notice.consent_label,
        "body": notice.body,
    }


def _checkins_by_registration(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The check-ins of these registrations, oldest first, keyed by registration id."""
    by_registration: dict[int, list[dict[str, Any]]] = {}
    for c in db.session.scalars(
        select(CheckIn).where(CheckIn.registration_id.in_(ids)).order_by(CheckIn.id)
    ):
        by_registration.setdefault(c.registration_id, []).append(
            {
                "station": c.station,
                "checked_in_at": _iso(c.checked_in_at),
                "undone_at": _iso(c.undone_at),
            }
        )
    return by_registration


def _registration_entry(r: Registration, checkins: list[dict[str, Any]]) -> dict[str, Any]:
    """What one registration holds, for a data export."""
    return {
        "event": r.event.slug,
        "city": r.event.city,
        "event_date": _iso(r.event.date),
        "status": r.status,
        "bib": r.bib,
        "full_name": r.full_name,
        "phone": r.phone,
        "email": r.email,
        "shirt_size": r.shirt_size,
        "member": r.is_member,
        "kpj_number": r.kpj_number,
        "occupation": r.occupation,
        "emergency_contact": r.emergency_contact,
        "emergency_phone": r.emergency_phone,
        "source": r.source,
        "locale": r.locale,
        "created_at": _iso(r.created_at),
        "confirmed_at": _iso(r.confirmed_at),
        "cancelled_at": _iso(r.cancelled_at),
        "purged_at": _iso(r.purged_at),
        "consent": {"given_at": _iso(r.consent_at), "notice": _notice(r.privacy_notice)},
        "checkins": checkins,
        # What was sent to them: kind, channel, state, where (masked) and when.
        "messages": [m.as_json() for m in for_registration(r.id, limit=None)],
    }


def _person_entry(person: Person, nik: str | None) -> dict[str, Any]:
    return {
        "nik": nik,
        "birth_date": _iso(person.birth_date),
        "gender": person.gender,
    }


def registration_export(registration: Registration) -> dict[str, Any]:
    """What one registration holds, for the runner holding its manage link.

    Only this registration: a manage link is made by whoever typed the NIK, so it must
    never open the person's other registrations or their enrolment (the whole record is
    the privacy desk's, after the ID card is seen). The NIK is shown masked.
    """
    person = registration.person
    nik = None if person.purged_at else data_cipher().decrypt(person.nik_encrypted)
    checkins = _checkins_by_registration([registration.id]).get(registration.id, [])
    return {
        "generated_at": utcnow().isoformat(),
        "person": _person_entry(person, mask_nik(nik) if nik else None),
        "registration": _registration_entry(registration, checkins),
    }


def person_export(person: Person) -> dict[str, Any]:
    """Everything held about a person, as one JSON-ready document (the NIK is theirs)."""
    registrations = list(
        db.session.scalars(
            select(Registration)
            .where(Registration.person_id == person.id)
            .order_by(Registration.id)
        )
    )
    by_registration = _checkins_by_registration([r.id for r in registrations])
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.person_id == person.id))
    nik = None if person.purged_at else data_cipher().decrypt(person.nik_encrypted)
    document: dict[str, Any] = {
        "generated_at": utcnow().isoformat(),
        "person": {
            **_person_entry(person, nik),
            "created_at": _iso(person.created_at),
            "purged_at": _iso(person.purged_at),
        },
        "registrations": [
            _registration_entry(r, by_registration.get(r.id, [])) for r in registrations
        ],
        "enrolment": None,
    }
    if enrolment is not None:
        e = enrolment
        document["enrolment"] = {
            "participant_number": e.participant_number,
            "event": e.event.slug,
            "full_name": e.full_name,
            "birth_place": e.birth_place,
            "mother_maiden_name": e.mother_maiden_name,
            "address": e.address,
            "phone": e.phone,
            "occupation": e.occupation,
            "occupation_other": e.occupation_other,
            "declared_income": e.declared_income,
            "income_basis": e.income_basis,
            "programs": e.programme_list,
            "months": e.months,
            "monthly_total": e.monthly_total,
            "amount_due": e.amount_due,
            "sponsor_amount": e.sponsor_amount,
            "valid_from": _iso(e.valid_from),
            "paid_until": _iso(e.paid_until),
            "created_at": _iso(e.created_at),
            "exported": e.export_batch_id is not None,
            "purged_at": _iso(e.purged_at),
            "consent": {"given_at": _iso(e.consent_at), "notice": _notice(e.enrolment_notice)},
        }
    return document


def export_person(person: Person, *, user_id: int | None, id_card_seen: bool = False) -> bytes:
    """The person's document as JSON bytes; the download is audited (without the NIK),
    saying whether the desk saw the person's ID card (the privacy desk must)."""
    body = json.dumps(person_export(person), ensure_ascii=False, indent=1).encode() + b"\n"
    begin_write()
    record(
        "privacy_export",
        user_id=user_id,
        target=f"person #{person.id}",
        detail="id card seen" if id_card_seen else None,
    )
    db.session.commit()
    return body


@dataclass
class Erasure:
    """What deleting a person did."""

    cancelled: int
    promoted: int
    counts: PurgeCounts


def delete_person(person: Person, *, user_id: int | None, now: datetime | None = None) -> Erasure:
    """Cancel the person's active places (promoting the waitlist), then purge everything.

    Refused while their enrolment waits for export: the scheme must receive it first.
    """
    person_id = person.id
    waiting = db.session.scalar(
        select(Enrolment.id).where(
            Enrolment.person_id == person_id,
            Enrolment.export_batch_id.is_(None),
            Enrolment.purged_at.is_(None),
        )
    )
    if waiting is not None:
        raise PrivacyError("waiting_export")
    active = list(
        db.session.scalars(
            select(Registration)
            .where(
                Registration.person_id == person_id,
                Registration.status != RegistrationStatus.CANCELLED,
            )
            .order_by(Registration.id)
        )
    )
    cancelled = promoted = 0
    for registration in active:
        try:
            promoted += len(cancel(registration))
        except AlreadyCancelled:  # cancelled by the runner meanwhile
            continue
        cancelled += 1
    now = now or utcnow()
    begin_write()
    try:
        counts = anonymise_scope(Registration.person_id == person_id, now)
        record(
            "privacy_delete",
            user_id=user_id,
            target=f"person #{person_id}",
            detail=f"cancelled={cancelled} promoted={promoted} {counts.summary()}",
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Erasure(cancelled=cancelled, promoted=promoted, counts=counts)
