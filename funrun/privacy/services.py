"""Personal data under UU PDP: purge after the retention period, a person's export and erasure.

What is purged and what is kept is one rule (:func:`_anonymise`), used by the retention
purge and by a person's request alike. Every field a figure of
``funrun.reports.figures`` counts (status, member flag, shirt size, check-ins, the
enrolment row and its amounts) stays, so the dashboard, the stats API and the totals
files say the same before and after; names, contact details, the NIK (ciphertext and
keyed hash), the birth day and month, and the enrolment's personal fields go.

An enrolment not yet sent to the scheme's core system is held back: the scheme must get
it first (export the pending batch, then purge). Export batch files already made are
rewritten without the purged people's rows (the other rows stay byte for byte; the
batch's recorded count stays what was sent), and batch-printed bib PDFs are dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Integer, String, and_, cast, func, literal, select, update

from funrun.audit.services import record
from funrun.bibs.models import PrintJob
from funrun.checkin.models import CheckIn
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.export import _CONTEXT as EXPORT_CONTEXT
from funrun.enrolment.export import _files as export_files
from funrun.enrolment.models import Enrolment, ExportAccess, ExportBatch
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.people.nik import normalise_nik
from funrun.registration.models import PrivacyNotice, Registration, RegistrationStatus
from funrun.registration.services import AlreadyCancelled, cancel

#: What a purged name reads as on pages and in files (language-neutral).
PURGED_NAME = "***"
#: The NIK a purged person's ciphertext holds: pages that mask a NIK still work.
PURGED_NIK = "0" * 16


class PrivacyError(Exception):
    """A request about personal data that cannot be done; the argument says why (a code)."""


@dataclass
class PurgeCounts:
    """What a purge did (or, in a dry run, would do)."""

    events: int = 0
    registrations: int = 0
    people: int = 0
    enrolments: int = 0
    #: Export batch files rewritten without purged people's rows.
    batches: int = 0
    #: Batch-printed bib PDFs dropped (they carry names; they can be printed again).
    print_files: int = 0
    #: Registrations kept because their enrolment has not been exported yet.
    held: int = 0
    slugs: list[str] = field(default_factory=list)

    def add(self, other: PurgeCounts) -> None:
        """Sum another event's counts into these."""
        for name in (
            "events",
            "registrations",
            "people",
            "enrolments",
            "batches",
            "print_files",
            "held",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.slugs.extend(other.slugs)

    def summary(self) -> str:
        """One line, no personal data: for the CLI and the audit row."""
        return (
            f"events={self.events} registrations={self.registrations} people={self.people} "
            f"enrolments={self.enrolments} batches={self.batches} "
            f"print_files={self.print_files} held={self.held}"
        )


def retention_days() -> int:
    """The configured retention period after the event date, in days."""
    return int(current_app.config["FUNRUN_RETENTION_DAYS"])


def events_due(older_than_days: int, today: date) -> list[Event]:
    """Events whose date is more than ``older_than_days`` before ``today``, oldest first."""
    cutoff = today - timedelta(days=older_than_days)
    return list(db.session.scalars(select(Event).where(Event.date < cutoff).order_by(Event.date)))


#: What a purged row's unique hash column holds: ``purged:<id>`` is unique, and matches
#: no NIK's keyed hash and no manage token's SHA-256 (both are plain hex).
_PURGED_PREFIX = "purged:"


def _purged_marker(column: Any) -> Any:
    """``'purged:' || id``, computed by the database for each row."""
    return literal(_PURGED_PREFIX) + cast(column, String)


def _year_start(column: Any) -> Any:
    """1 January of the date's year, in the session's SQL dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.make_date(cast(func.extract("year", column), Integer), 1, 1)
    return func.substr(column, 1, 4) + literal("-01-01")  # SQLite keeps dates as text


def _rewrite_batches(numbers_by_batch: dict[int, set[str]], now: datetime) -> int:
    """Drop the purged participants' rows from their batches' stored files."""
    cipher = data_cipher()
    for batch_id, purged in numbers_by_batch.items():
        batch = db.session.get_one(ExportBatch, batch_id)
        document = json.loads(cipher.decrypt(batch.json_encrypted, context=EXPORT_CONTEXT))
        rows = [r for r in document["enrolments"] if r["participant_number"] not in purged]
        as_csv, as_json = export_files(rows, batch.number, batch.created_at)
        batch.csv_encrypted = cipher.encrypt(as_csv.decode(), context=EXPORT_CONTEXT)
        batch.json_encrypted = cipher.encrypt(as_json.decode(), context=EXPORT_CONTEXT)
        batch.csv_sha256 = hashlib.sha256(as_csv).hexdigest()
        batch.json_sha256 = hashlib.sha256(as_json).hexdigest()
        db.session.add(ExportAccess(batch_id=batch_id, user_id=None, action="purge", at=now))
    return len(numbers_by_batch)


def _rowcount(statement: Any) -> int:
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def _purge_scope(scope: ColumnElement[bool], now: datetime) -> PurgeCounts:
    """Purge the registrations matching ``scope``, their enrolments, files and (when they
    hold nothing else) their people: a few set-based statements, whatever the size.
    """
    counts = PurgeCounts()
    r, e, p = Registration, Enrolment, Person
    # A registration whose enrolment the scheme has not had yet stays as it is.
    waiting = select(e.registration_id).where(e.export_batch_id.is_(None), e.purged_at.is_(None))
    unpurged = and_(scope, r.purged_at.is_(None))
    counts.held = db.session.scalar(select(func.count()).where(unpurged, r.id.in_(waiting))) or 0
    doing = and_(unpurged, r.id.not_in(waiting))
    # Lock the people first (as a registration's person upsert does), so nobody registers
    # again with one of these NIKs between the check below and the update.
    db.session.execute(
        select(p.id)
        .where(p.id.in_(select(r.person_id).where(scope)), p.purged_at.is_(None))
        .with_for_update()
    ).all()
    enrolments = db.session.execute(
        select(e.id, e.participant_number, e.export_batch_id).where(
            e.registration_id.in_(select(r.id).where(doing)), e.purged_at.is_(None)
        )
    ).all()
    counts.registrations = _rowcount(
        update(r)
        .where(doing)
        .values(
            full_name=PURGED_NAME,
            phone="",
            email=None,
            kpj_number=None,
            occupation=None,
            emergency_contact=None,
            emergency_phone=None,
            # The runner's manage link stops opening anything.
            manage_token_hash=_purged_marker(r.id),
            purged_at=now,
        )
    )
    by_batch: dict[int, set[str]] = {}
    for row in enrolments:
        by_batch.setdefault(row.export_batch_id, set()).add(row.participant_number)
    if enrolments:
        counts.enrolments = _rowcount(
            update(e)
            .where(e.id.in_([row.id for row in enrolments]))
            .values(
                full_name=PURGED_NAME,
                birth_place="",
                mother_maiden_name="",
                address="",
                phone="",
                occupation_other=None,
                # Declared income is personal; the basis and amounts are what was charged.
                declared_income=0,
                purged_at=now,
            )
        )
    still_registered = select(r.id).where(r.person_id == p.id, r.purged_at.is_(None))
    still_enrolled = select(e.id).where(e.person_id == p.id, e.purged_at.is_(None))
    counts.people = _rowcount(
        update(p)
        .where(
            p.id.in_(select(r.person_id).where(scope)),
            p.purged_at.is_(None),
            ~still_registered.exists(),
            ~still_enrolled.exists(),
        )
        .values(
            nik_hash=_purged_marker(p.id),
            nik_encrypted=data_cipher().encrypt(PURGED_NIK),
            # The birth year stays for age bands; day and month go.
            birth_date=_year_start(p.birth_date),
            purged_at=now,
        )
    )
    counts.batches = _rewrite_batches(by_batch, now)
    # Batch-printed bibs carry names; they can be printed again from what is left.
    counts.print_files = _rowcount(
        update(PrintJob)
        .where(PrintJob.event_id.in_(select(r.event_id).where(scope)), PrintJob.pdf.is_not(None))
        .values(pdf=None)
    )
    return counts


def purge_event(
    event_id: int, *, dry_run: bool = False, now: datetime | None = None
) -> PurgeCounts:
    """Purge one event's personal data in one transaction (rolled back in a dry run)."""
    now = now or utcnow()
    begin_write()
    try:
        event = db.session.get_one(Event, event_id)
        slug = event.slug
        counts = _purge_scope(Registration.event_id == event_id, now)
        counts.events = 1
        counts.slugs.append(slug)
        if dry_run:
            db.session.rollback()
            return counts
        record(
            "privacy_purge",
            user_id=None,
            target=slug,
            event_id=event_id,
            detail=counts.summary(),
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return counts


def purge(older_than_days: int, *, dry_run: bool = False, today: date | None = None) -> PurgeCounts:
    """Purge every event older than the period, one transaction per event; idempotent."""
    today = today or utcnow().date()
    total = PurgeCounts()
    event_ids = [e.id for e in events_due(older_than_days, today)]
    db.session.rollback()
    for event_id in event_ids:
        total.add(purge_event(event_id, dry_run=dry_run))
    return total


# --- one person, on request ------------------------------------------------------------


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


def person_export(person: Person) -> dict[str, Any]:
    """Everything held about a person, as one JSON-ready document (the NIK is theirs)."""
    registrations = list(
        db.session.scalars(
            select(Registration)
            .where(Registration.person_id == person.id)
            .order_by(Registration.id)
        )
    )
    ids = [r.id for r in registrations]
    checkins = list(
        db.session.scalars(
            select(CheckIn).where(CheckIn.registration_id.in_(ids)).order_by(CheckIn.id)
        )
    )
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.person_id == person.id))
    by_registration: dict[int, list[dict[str, Any]]] = {}
    for c in checkins:
        by_registration.setdefault(c.registration_id, []).append(
            {
                "station": c.station,
                "checked_in_at": _iso(c.checked_in_at),
                "undone_at": _iso(c.undone_at),
            }
        )
    document: dict[str, Any] = {
        "generated_at": utcnow().isoformat(),
        "person": {
            "nik": None if person.purged_at else data_cipher().decrypt(person.nik_encrypted),
            "birth_date": _iso(person.birth_date),
            "gender": person.gender,
            "created_at": _iso(person.created_at),
            "purged_at": _iso(person.purged_at),
        },
        "registrations": [
            {
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
                "checkins": by_registration.get(r.id, []),
            }
            for r in registrations
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


def export_person(person: Person, *, user_id: int | None) -> bytes:
    """The person's document as JSON bytes; the download is audited (without the NIK)."""
    body = json.dumps(person_export(person), ensure_ascii=False, indent=1).encode() + b"\n"
    begin_write()
    record("privacy_export", user_id=user_id, target=f"person #{person.id}")
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
        counts = _purge_scope(Registration.person_id == person_id, now)
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
