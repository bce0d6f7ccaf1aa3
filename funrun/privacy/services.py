"""Personal data under UU PDP: the purge after the retention period, and the rule it shares.

A person's own requests (export, erasure) are in :mod:`funrun.privacy.requests`.

What is purged and what is kept is one rule (:func:`anonymise_scope`), used by the retention
purge and by a person's request alike. Every field a figure of
``funrun.reports.figures`` counts (status, member flag, shirt size, check-ins, the
enrolment row and its amounts) stays, so the dashboard, the stats API and the totals
files say the same before and after; names, contact details, the NIK (ciphertext and
keyed hash), the birth day and month, the enrolment's personal fields, and where each of
their messages went (the message rows stay, for the counts) go.

An enrolment not yet sent to the scheme's core system is held back: the scheme must get
it first (export the pending batch, then purge). Export batch files already made are
rewritten without the purged people's rows (the other rows stay byte for byte; the
batch's recorded count stays what was sent), and batch-printed bib PDFs are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Integer, String, and_, cast, func, literal, select, update

from funrun.audit.services import record
from funrun.bibs.printing import drop_print_files
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.export import batch_rows, write_batch_files
from funrun.enrolment.models import Enrolment, ExportAccess, ExportBatch
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import Message
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration

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
    for batch_id, purged in numbers_by_batch.items():
        batch = db.session.get_one(ExportBatch, batch_id)
        rows = [r for r in batch_rows(batch) if r["participant_number"] not in purged]
        write_batch_files(batch, rows)
        db.session.add(ExportAccess(batch_id=batch_id, user_id=None, action="purge", at=now))
    return len(numbers_by_batch)


def _rowcount(statement: Any) -> int:
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def anonymise_scope(scope: ColumnElement[bool], now: datetime) -> PurgeCounts:
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
    # Their messages stay (for the counts) without where they went or the channel's
    # answer (an SMTP refusal names the address).
    _rowcount(
        update(Message)
        .where(
            Message.registration_id.in_(select(r.id).where(scope, r.purged_at.is_not(None))),
            (Message.sent_to.is_not(None) | Message.error.is_not(None)),
        )
        .values(sent_to=None, error=None)
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
    counts.print_files = drop_print_files(select(r.event_id).where(scope))
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
        counts = anonymise_scope(Registration.event_id == event_id, now)
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
