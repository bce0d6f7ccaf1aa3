"""A sponsor's list of eligible NIKs, uploaded: checked line by line, stored as keyed hashes.

The upload is plain text (one NIK per line) or a CSV whose header names a ``nik`` column
(comma, semicolon or tab separated). Each NIK is checked with the registration's NIK rule
(:func:`funrun.people.rules.nik`); only ``data_cipher().lookup_hash(nik)`` is stored, the
hash ``people.nik_hash`` holds, and the file itself is never kept. Lines are read as a
stream and written in batches of :data:`BATCH` rows (``INSERT ... ON CONFLICT DO NOTHING``:
a NIK listed twice is stored once), so a list of 100,000 lines takes the same memory as
one of 1,000. "Replace" deletes the old list in the same transaction; the sponsor's row
is locked throughout, so a desk charging the sponsor sees the old list or the new one,
never half of it. An upload in which no line is accepted changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from funrun.audit.services import record
from funrun.contracts import ValidationFailed
from funrun.dbtx import begin_write
from funrun.extensions import db
from funrun.people import rules
from funrun.people.crypto import data_cipher
from funrun.people.nik import check_nik
from funrun.sponsors.budget import ELIGIBLES, SPONSORS

#: Rows per INSERT.
BATCH = 5000
#: Refused lines listed in the report (all are counted).
REPORTED = 200
#: A line longer than this is not a NIK (nor a CSV row worth reading).
MAX_LINE = 2000
DELIMITERS = ",;\t"


@dataclass(frozen=True)
class Refusal:
    """A refused line: its number, what it held (masked) and why."""

    line: int
    masked: str
    reason: str


@dataclass
class ListReport:
    """What an upload did."""

    lines: int = 0
    accepted: int = 0
    added: int = 0
    refused: int = 0
    removed: int = 0
    listed: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def repeated(self) -> int:
        """Accepted NIKs that were on the list already (or twice in the file)."""
        return self.accepted - self.added


def mask(value: str) -> str:
    """What a refused line held, masked like a NIK (first four, last two characters)."""
    value = "".join(ch if ch.isprintable() else "?" for ch in value.strip()[:24])
    if len(value) <= 6:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 6) + value[-2:]


def _cells(stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """(line number, the NIK cell) of every non-blank line; a header row is skipped."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    first = text.readline(MAX_LINE + 1)
    column, delimiter = None, ","
    for candidate in DELIMITERS:
        cells = [c.strip().strip('"').lower() for c in first.split(candidate)]
        if "nik" in cells:
            column, delimiter = cells.index("nik"), candidate
            break
    if column is None:  # plain text: the first line is a NIK too
        for number, line in enumerate(_chain(first, text), start=1):
            value = line.strip().strip('"').strip()
            if value:
                yield number, value
        return
    reader = csv.reader(_limited(text), delimiter=delimiter)
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        yield number, row[column].strip() if column < len(row) else ""


def _chain(first: str, text: IO[str]) -> Iterator[str]:
    if first:
        yield first
    yield from _limited(text)


def _limited(text: IO[str]) -> Iterator[str]:
    """Lines of at most MAX_LINE + 1 characters (the rest of a longer line is dropped)."""
    while True:
        line = text.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith("\n"):
            while (rest := text.readline(MAX_LINE + 1)) and not rest.endswith("\n"):
                pass
        yield line


def checked_nik(value: str) -> str:
    """The NIK rule (:func:`funrun.people.rules.nik`, no birth date or gender to compare);
    16 ASCII digits, the usual line, skip the text checks they would pass anyway."""
    if len(value) == 16 and value.isascii() and value.isdigit():
        errors = check_nik(value, None, None).errors
        if errors:
            raise rules.RuleBroken(*errors)
        return value
    return rules.nik(value, None, None)


def _insert(rows: list[dict[str, object]]) -> None:
    """Insert a batch, skipping NIKs listed already (one statement per database)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(ELIGIBLES).on_conflict_do_nothing(), rows)


def _count(sponsor_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.count()).select_from(ELIGIBLES).where(ELIGIBLES.c.sponsor_id == sponsor_id)
        )
        or 0
    )


def import_list(code: str, stream: IO[bytes], *, replace: bool, user_id: int | None) -> ListReport:
    """Check every line and store the accepted NIKs' hashes for sponsor ``code``.

    Raises ValidationFailed (``file``) when no line is accepted: nothing changes then."""
    cipher = data_cipher()
    report = ListReport()
    begin_write()
    try:
        sponsor_id = db.session.execute(
            select(SPONSORS.c.id).where(SPONSORS.c.code == code).with_for_update()
        ).scalar_one()
        if replace:
            report.removed = _count(sponsor_id)
            db.session.execute(ELIGIBLES.delete().where(ELIGIBLES.c.sponsor_id == sponsor_id))
        before = 0 if replace else _count(sponsor_id)
        batch: dict[str, dict[str, object]] = {}
        for number, value in _cells(stream):
            report.lines += 1
            try:
                nik = checked_nik(value)
            except rules.RuleBroken as broken:
                report.refused += 1
                if len(report.refusals) < REPORTED:
                    report.refusals.append(Refusal(number, mask(value), " ".join(broken.messages)))
                continue
            report.accepted += 1
            digest = cipher.lookup_hash(nik)
            batch[digest] = {"sponsor_id": sponsor_id, "nik_hash": digest}
            if len(batch) >= BATCH:
                _insert(list(batch.values()))
                batch.clear()
        if batch:
            _insert(list(batch.values()))
        if not report.accepted:
            raise ValidationFailed({"file": [_("No line of the file holds a valid NIK.")]})
        report.listed = _count(sponsor_id)
        report.added = report.listed - before
        record(
            "sponsor_list",
            user_id=user_id,
            target=code,
            detail=(
                f"{'replace' if replace else 'add'}: {report.lines} lines, {report.accepted} "
                f"accepted, {report.added} new, {report.refused} refused, {report.listed} listed"
            ),
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return report
