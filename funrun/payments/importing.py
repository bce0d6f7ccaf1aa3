"""Import a payment file: every row recorded as a payment or refused with its reason.

One transaction (a file is imported whole or not at all), serialised with any other
import (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two files
never race for the same member's month. The file's SHA-256 is unique: the same file
again is answered with the first import and changes nothing.

Streamed: the file is read a line at a time and loaded into a temporary table in chunks
(:mod:`funrun.payments.staging`); the rows that cannot be right on their own are refused
as read, the rest are matched set-based (a few ``INSERT ... SELECT`` on the temporary
table joined with ``enrolments`` on the participant number), so memory does not grow
with the file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import JSON, ColumnElement, Integer, cast, exists, func, literal, select

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.payments import staging
from funrun.payments.models import Payment, PaymentFile, PaymentRefusal
from funrun.payments.rows import HeaderError, Line, describe, read_lines
from funrun.reports.figures import month_index
from funrun.spreadsheet import csv_cell, csv_writer

#: Rows loaded (or refusals written) per round trip.
CHUNK = 20_000
#: A number for the advisory lock that serialises imports on PostgreSQL ("PAY").
LOCK_KEY = 0x504159

_S = staging.STAGING.c
_E = Enrolment.__table__.c
_P = Payment.__table__
_R = PaymentRefusal.__table__

__all__ = ["HeaderError", "ImportResult", "import_file", "write_report"]


@dataclass
class ImportResult:
    """What an import did (or, for a file seen before, what its first import did)."""

    file_id: int
    filename: str
    rows: int
    accepted: int
    refused: int
    #: True when the file had been imported before: nothing changed now.
    repeated: bool = False
    #: Refusals by reason, ``field:code`` (this import only; empty for a repeat).
    reasons: Counter[str] = field(default_factory=Counter)
    imported_at: str = ""


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lock() -> None:
    begin_write()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))


def _answer(found: PaymentFile) -> ImportResult:
    return ImportResult(
        file_id=found.id,
        filename=found.filename,
        rows=found.rows,
        accepted=found.accepted,
        refused=found.refused,
        repeated=True,
        imported_at=found.created_at.isoformat(timespec="seconds"),
    )


def _refuse_lines(file_id: int, lines: list[Line]) -> None:
    if lines:
        db.session.execute(
            _R.insert(), [{"file_id": file_id, "row": x.row, "errors": x.errors} for x in lines]
        )


def _read_into_staging(
    file_id: int, source: IO[bytes], result: ImportResult, progress: Callable[[int], None]
) -> None:
    loaded: list[tuple[Any, ...]] = []
    refused: list[Line] = []
    for line in read_lines(source):
        result.rows += 1
        if line.errors:
            refused.append(line)
            result.reasons.update(f"{k}:{v}" for k, v in line.errors.items())
            if len(refused) >= CHUNK:
                _refuse_lines(file_id, refused)
                refused.clear()
        else:
            loaded.append(
                (line.row, line.participant_number, line.month, line.next_month, line.amount)
            )
            if len(loaded) >= CHUNK:
                staging.load(loaded)
                loaded.clear()
        if result.rows % 100_000 == 0:
            progress(result.rows)
    staging.load(loaded)
    _refuse_lines(file_id, refused)


def _count_refusals(file_id: int) -> int:
    return int(db.session.scalar(select(func.count()).where(_R.c.file_id == file_id)) or 0)


def _number_matches() -> ColumnElement[bool]:
    return _E.participant_number == _S.participant_number


def _refuse_where(file_id: int, condition: ColumnElement[bool], errors: dict[str, str]) -> int:
    """Refuse the staged rows matching ``condition`` and take them out of the table."""
    rows = select(literal(file_id), _S.row, literal(errors, JSON)).where(condition)
    before = _count_refusals(file_id)
    db.session.execute(_R.insert().from_select(["file_id", "row", "errors"], rows))
    # Counted, not taken from rowcount: psycopg's is -1 for INSERT ... SELECT.
    count = _count_refusals(file_id) - before
    if count:
        refused = select(_R.c.row).where(_R.c.file_id == file_id)
        db.session.execute(staging.STAGING.delete().where(_S.row.in_(refused)))
    return count


def _match(file_id: int, result: ImportResult) -> None:
    """Refuse what the database says is wrong, in order, then record the rest."""
    earlier = staging.STAGING.alias("earlier")
    recorded = _P.join(Enrolment.__table__, _E.id == _P.c.enrolment_id)
    steps: list[tuple[ColumnElement[bool], dict[str, str]]] = [
        (~exists().where(_number_matches()), {"participant_number": "unknown"}),
        (
            exists().where(_number_matches(), _E.valid_from >= _S.next_month),
            {"month": "before_first_month"},
        ),
        (
            exists()
            .where(
                earlier.c.participant_number == _S.participant_number,
                earlier.c.month == _S.month,
                earlier.c.row < _S.row,
            )
            .select_from(earlier),
            {"month": "duplicate_in_file"},
        ),
        (
            exists(select(_P.c.id).select_from(recorded).where(
                _number_matches(), _P.c.month == _S.month
            )),
            {"month": "already_recorded"},
        ),
    ]  # fmt: skip
    for condition, errors in steps:
        count = _refuse_where(file_id, condition, errors)
        if count:
            [(key, code)] = errors.items()
            result.reasons[f"{key}:{code}"] += count
    number = cast(month_index(_S.month) - month_index(_E.valid_from) + 1, Integer)
    paid = select(_E.id, _S.month, number, _S.amount, literal(file_id)).join_from(
        staging.STAGING, Enrolment.__table__, _number_matches()
    )
    columns = ["enrolment_id", "month", "month_number", "amount", "file_id"]
    db.session.execute(_P.insert().from_select(columns, paid))
    counted = select(func.count()).select_from(_P).where(_P.c.file_id == file_id)
    result.accepted = int(db.session.scalar(counted) or 0)


def import_file(
    path: Path,
    *,
    filename: str | None = None,
    user_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import the payment file at ``path`` (committed); raise :class:`HeaderError` when it
    cannot be read at all (nothing is recorded then)."""
    progress = progress or (lambda _rows: None)
    sha = file_sha256(path)
    _lock()
    found = db.session.scalar(select(PaymentFile).where(PaymentFile.sha256 == sha))
    if found is not None:
        answer = _answer(found)
        db.session.rollback()
        return answer
    record = PaymentFile(
        filename=(filename or path.name)[:255], sha256=sha, status="running", imported_by_id=user_id
    )
    db.session.add(record)
    db.session.flush()
    result = ImportResult(record.id, record.filename, 0, 0, 0)
    try:
        staging.create()
        with path.open("rb") as source:
            _read_into_staging(record.id, source, result, progress)
        staging.ready()
        _match(record.id, result)
        staging.drop()
        staging.analyse_payments()
    except BaseException:
        db.session.rollback()
        raise
    result.refused = _count_refusals(record.id)
    record.rows, record.accepted, record.refused = result.rows, result.accepted, result.refused
    record.status, record.finished_at = "done", utcnow()
    result.imported_at = record.created_at.isoformat(timespec="seconds")
    db.session.commit()
    return result


# --- the row-by-row report ----------------------------------------------------------------

REPORT_HEADER = ("row", "participant_number", "month", "amount", "outcome", "reasons", "words")


def write_report(file_id: int, path: Path, target: IO[str]) -> int:
    """Every row of the file with its outcome, as CSV (the refusals as stored, so a repeat
    of the file writes the same report); how many rows were written."""
    query = select(_R.c.row, _R.c.errors).where(_R.c.file_id == file_id).order_by(_R.c.row)
    with db.session.execute(query.execution_options(yield_per=CHUNK)) as stored:
        return _write_report(iter(stored), path, target)


def _write_report(refusals: Iterator[Any], path: Path, target: IO[str]) -> int:
    pending = next(refusals, None)
    writer = csv_writer(target)
    writer.writerow(REPORT_HEADER)
    written = 0
    with path.open("rb") as source:
        for line in read_lines(source):
            while pending is not None and pending[0] < line.row:
                pending = next(refusals, None)
            values = [*line.values, "", "", ""][:3]
            if pending is not None and pending[0] == line.row:
                codes, words = describe(pending[1])
                outcome = ["refused", codes, words]
            else:
                outcome = ["accepted", "", ""]
            writer.writerow([line.row, *(csv_cell(v) for v in values), *outcome])
            written += 1
    return written
