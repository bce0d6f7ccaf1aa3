"""Export batches for the scheme's core system: numbered, recorded, downloadable again.

Making a batch takes the next batch number from a counter row (its lock serialises batch
makers, on PostgreSQL and SQLite alike), then claims every enrolment not yet exported by
setting its ``export_batch_id`` (set once, never cleared): an enrolment is in exactly one
batch, and one committed after the claim waits for the next batch. The CSV and JSON are
written once, when the batch is made, and kept encrypted (they carry NIKs), so a
re-download is byte for byte the first.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from funrun.audit.services import audit_row, record, write_apart
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.models import (
    ContributionSchedule,
    Enrolment,
    EnrolmentMonth,
    ExportAccess,
    ExportBatch,
    Sponsor,
)
from funrun.enrolment.participant_numbers import next_counter
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import PrivacyNotice
from funrun.spreadsheet import csv_cell, csv_phone, csv_writer

#: The columns of both files, in order (README.md, "Enrolment export").
COLUMNS = (
    "batch_number",
    "participant_number",
    "enrolled_at",
    "event",
    "city",
    "full_name",
    "nik",
    "birth_place",
    "birth_date",
    "gender",
    "mother_maiden_name",
    "address",
    "phone",
    "occupation",
    "occupation_other",
    "declared_income",
    "income_basis",
    "programs",
    "months",
    "valid_from",
    "paid_until",
    "jkk",
    "jkm",
    "jht",
    "monthly_total",
    "amount_due",
    "sponsor",
    "sponsor_amount",
    "payment_channel",
    "schedule",
    "reliefs",
    "consent_at",
    "consent_notice_sha256",
    # Who pays what (issue 17, point 7): added at the end, the columns above unchanged.
    "payer",
    "payer_name",
    "first_month",
    "last_month",
    "contribution_total",
    "per_month",
)
#: The payer of an enrolment no sponsor pays.
MEMBER = "member"
#: The batches' files are encrypted under this context of the data key.
_CONTEXT = b"export"


def _rows(batch_id: int, number: int) -> Iterator[dict[str, Any]]:
    cipher = data_cipher()
    query = (
        select(
            Enrolment,
            Person,
            Event.slug,
            Event.city,
            Sponsor.code,
            Sponsor.name,
            ContributionSchedule.code,
            PrivacyNotice.sha256,
        )
        .join(Person, Person.id == Enrolment.person_id)
        .join(Event, Event.id == Enrolment.event_id)
        .join(ContributionSchedule, ContributionSchedule.id == Enrolment.schedule_id)
        .join(PrivacyNotice, PrivacyNotice.id == Enrolment.enrolment_notice_id)
        .outerjoin(Sponsor, Sponsor.id == Enrolment.sponsor_id)
        .where(Enrolment.export_batch_id == batch_id)
        .order_by(Enrolment.id)
    )
    for e, person, slug, city, sponsor, sponsor_name, schedule, notice_sha in db.session.execute(
        query
    ):
        months = [_month_json(m) for m in e.covered_months]
        yield {
            "batch_number": number,
            "participant_number": e.participant_number,
            "enrolled_at": e.created_at.isoformat(),
            "event": slug,
            "city": city,
            "full_name": e.full_name,
            "nik": cipher.decrypt(person.nik_encrypted),
            "birth_place": e.birth_place,
            "birth_date": person.birth_date.isoformat(),
            "gender": person.gender,
            "mother_maiden_name": e.mother_maiden_name,
            "address": e.address,
            "phone": e.phone,
            "occupation": e.occupation,
            "occupation_other": e.occupation_other,
            "declared_income": e.declared_income,
            "income_basis": e.income_basis,
            "programs": e.programmes,
            "months": e.months,
            "valid_from": e.valid_from.isoformat(),
            "paid_until": e.paid_until.isoformat(),
            "jkk": e.jkk,
            "jkm": e.jkm,
            "jht": e.jht,
            "monthly_total": e.monthly_total,
            "amount_due": e.amount_due,
            "sponsor": sponsor,
            "sponsor_amount": e.sponsor_amount,
            "payment_channel": e.payment_channel,
            "schedule": schedule,
            "reliefs": e.reliefs,
            "consent_at": e.consent_at.isoformat(),
            "consent_notice_sha256": notice_sha,
            "payer": sponsor or MEMBER,
            "payer_name": sponsor_name,
            "first_month": months[0]["month"] if months else None,
            "last_month": months[-1]["month"] if months else None,
            "contribution_total": sum(m["total"] for m in months),
            "per_month": months,
        }


def _month_json(month: EnrolmentMonth) -> dict[str, Any]:
    """A covered month as the batch carries it (the JSON file's ``per_month`` items)."""
    return {
        "month": f"{month.month:%Y-%m}",
        "jkk": month.jkk,
        "jkm": month.jkm,
        "jht": month.jht,
        "total": month.total,
        "relief": month.relief,
    }


def per_month_cell(months: list[dict[str, Any]]) -> str:
    """The covered months in one CSV cell: ``YYYY-MM:jkk:jkm:jht:total:relief`` per month,
    months joined by ``;`` (relief empty when none), e.g.
    ``2026-12:5000:3400:20000:28400:pp-50-2025;2027-01:10000:6800:20000:36800:``."""
    return ";".join(
        f"{m['month']}:{m['jkk']}:{m['jkm']}:{m['jht']}:{m['total']}:{m['relief'] or ''}"
        for m in months
    )


def _csv_cell(column: str, value: Any) -> Any:
    """Every text cell made safe for spreadsheets (the city, names, addresses, codes...);
    the phone kept in E.164 for the scheme's system (:mod:`funrun.spreadsheet`); the
    covered months as one cell (:func:`per_month_cell`)."""
    if column == "phone":
        return csv_phone(value)
    if column == "per_month" and isinstance(value, list):
        return csv_cell(per_month_cell(value))
    return csv_cell(value)


def _files(rows: list[dict[str, Any]], number: int, created_at: datetime) -> tuple[bytes, bytes]:
    """The batch's CSV and JSON (the JSON carries every value as given)."""
    text = io.StringIO()
    writer = csv_writer(text)
    writer.writerow(COLUMNS)
    for row in rows:
        # .get: rows of a batch made before a column existed (the privacy purge rewrites
        # old batches from their JSON) leave its cells empty.
        writer.writerow([_csv_cell(column, row.get(column)) for column in COLUMNS])
    document = {
        "batch_number": number,
        "created_at": created_at.isoformat(),
        "count": len(rows),
        "columns": list(COLUMNS),
        "enrolments": rows,
    }
    as_json = json.dumps(document, ensure_ascii=False, indent=1).encode() + b"\n"
    return text.getvalue().encode(), as_json


def write_batch_files(batch: ExportBatch, rows: list[dict[str, Any]]) -> None:
    """Store ``rows`` as the batch's CSV and JSON, encrypted, with their hashes."""
    as_csv, as_json = _files(rows, batch.number, batch.created_at)
    cipher = data_cipher()
    batch.csv_encrypted = cipher.encrypt(as_csv.decode(), context=_CONTEXT)
    batch.json_encrypted = cipher.encrypt(as_json.decode(), context=_CONTEXT)
    batch.csv_sha256 = hashlib.sha256(as_csv).hexdigest()
    batch.json_sha256 = hashlib.sha256(as_json).hexdigest()


def batch_rows(batch: ExportBatch) -> list[dict[str, Any]]:
    """The rows of a batch as its stored JSON holds them (the privacy purge rewrites them)."""
    document = json.loads(data_cipher().decrypt(batch.json_encrypted, context=_CONTEXT))
    return list(document["enrolments"])


def pending_count() -> int:
    """Enrolments not yet in any batch."""
    return (
        db.session.scalar(
            select(db.func.count(Enrolment.id)).where(Enrolment.export_batch_id.is_(None))
        )
        or 0
    )


def create_batch(*, user_id: int | None, now: datetime | None = None) -> ExportBatch | None:
    """Put every enrolment not yet exported into a new numbered batch; None if none waits."""
    now = now or utcnow()
    begin_write()
    try:
        number = next_counter("export_batch")
        claim = list(
            db.session.scalars(
                select(Enrolment.id)
                .where(Enrolment.export_batch_id.is_(None))
                .order_by(Enrolment.id)
                .with_for_update()
            )
        )
        if not claim:
            db.session.rollback()  # the batch number goes back too: numbers have no gaps
            return None
        batch = ExportBatch(
            number=number,
            count=len(claim),
            created_at=now,
            created_by_id=user_id,
            csv_encrypted=b"",
            json_encrypted=b"",
            csv_sha256="",
            json_sha256="",
        )
        db.session.add(batch)
        db.session.flush()
        db.session.execute(
            update(Enrolment)
            .where(Enrolment.id.in_(claim), Enrolment.export_batch_id.is_(None))
            .values(export_batch_id=batch.id)
            .execution_options(synchronize_session=False)
        )
        rows = list(_rows(batch.id, number))
        if len(rows) != len(claim):  # pragma: no cover - the counter lock rules this out
            raise RuntimeError("export claim changed under the batch lock")
        write_batch_files(batch, rows)
        db.session.add(ExportAccess(batch_id=batch.id, user_id=user_id, action="create", at=now))
        record(
            "export_batch",
            user_id=user_id,
            target=f"enrolments-batch-{number:04d}",
            detail=str(len(claim)),
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return batch


def batches() -> list[ExportBatch]:
    """Every batch, newest first."""
    return list(db.session.scalars(select(ExportBatch).order_by(ExportBatch.number.desc())))


@dataclass(frozen=True)
class BatchFile:
    """A batch's CSV or JSON as first made, with what logging its download needs."""

    batch_id: int
    number: int
    fmt: str
    data: bytes

    @property
    def filename(self) -> str:
        return f"enrolments-batch-{self.number:04d}.{self.fmt}"


def read_batch_file(number: int, fmt: str) -> BatchFile | None:
    """A batch's CSV or JSON exactly as first made (nothing logged: see
    :func:`log_batch_download`)."""
    batch = db.session.scalar(select(ExportBatch).where(ExportBatch.number == number))
    if batch is None or fmt not in ("csv", "json"):
        return None
    blob = batch.csv_encrypted if fmt == "csv" else batch.json_encrypted
    data = data_cipher().decrypt(blob, context=_CONTEXT).encode()
    return BatchFile(batch.id, batch.number, fmt, data)


def log_batch_download(engine: Engine, file: BatchFile, *, user_id: int | None) -> None:
    """Record a download once it was served: the batch's access log and the audit log,
    in one transaction of its own (no request context needed)."""
    write_apart(
        engine,
        insert(ExportAccess.__table__).values(
            batch_id=file.batch_id, user_id=user_id, action=file.fmt, at=utcnow()
        ),
        audit_row("export", user_id=user_id, target=file.filename),
    )


def batch_file(number: int, fmt: str, *, user_id: int | None) -> bytes | None:
    """A batch's CSV or JSON exactly as first made, its access logged at once (the CLI)."""
    found = read_batch_file(number, fmt)
    if found is None:
        return None
    begin_write()
    db.session.add(ExportAccess(batch_id=found.batch_id, user_id=user_id, action=fmt, at=utcnow()))
    db.session.commit()
    return found.data
