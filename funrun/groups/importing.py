"""A partner's group import: received by the API, processed by the worker in chunks.

The request reads the body in pieces (:mod:`funrun.groups.bodies`), stores it encrypted
and, in one transaction, records the import and queues its job; the same import key
again answers the import already made. The worker (:func:`run_import`) reads the body
back one member at a time, checks each exactly as a registration is checked (the
request model without consent: :class:`~funrun.registration.schemas.MemberRequest`,
with the event in context), and takes held places a chunk at a time
(:func:`funrun.groups.bulk.hold_chunk`), each chunk one transaction that moves the
import's progress on. A job run again (its worker died) goes on after the last chunk
committed. The body is deleted once every row is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask_babel import force_locale, format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.groups import bodies
from funrun.groups.bulk import ImportRef, hold_chunk
from funrun.groups.checking import checked_chunks
from funrun.groups.models import GroupImport, ImportStatus
from funrun.jobs import files
from funrun.jobs.queue import begin_final_writes, enqueue, handler

IMPORT_KIND = "groups.import"
#: Rows per transaction: the event row is locked for one chunk at a time, so single
#: registrations go on between chunks.
CHUNK = 1000
MAX_KEY = 100


class ImportRefused(Exception):
    """The import cannot be made: ``status``, a message and a problem kind."""

    def __init__(self, status: int, message: Any, kind: str) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.kind = kind


@dataclass(frozen=True)
class Received:
    """A body read whole and stored: what the import row records."""

    import_key: str
    body_format: str
    sha256: str
    total_rows: int
    name: str


def check_key(key: Any) -> str:
    """The import key, checked: 1 to 100 printable characters."""
    if not isinstance(key, str) or not key.strip():
        raise ImportRefused(
            422, _l("An import key is needed (import_key, or the Import-Key header)."), "validation"
        )
    key = key.strip()
    if len(key) > MAX_KEY or not key.isprintable():
        raise ImportRefused(
            422,
            _l("The import key must be at most %(n)d printable characters.", n=MAX_KEY),
            "validation",
        )
    return key


def receive(stream: BinaryIO, body_format: str, key: str | None) -> Received:
    """Read, count and store the body (``key`` given for a CSV, read from a JSON body).

    Refused bodies leave no file behind."""
    if body_format == "csv":
        key = check_key(key)
    writer = bodies.SealedWriter()
    upload = bodies.Upload(stream, writer)
    try:
        if body_format == "csv":
            _header, rows = bodies.csv_rows(upload.text())
            total = _count(rows)
        else:
            key, total = _read_json(upload.text())
        writer.close()
    except bodies.BodyError as refused:
        writer.discard()
        raise ImportRefused(refused.status, refused.message, "bad-body") from None
    except BaseException:
        writer.discard()
        raise
    if total == 0:
        writer.discard()
        raise ImportRefused(422, _l("The import has no members."), "validation")
    assert key is not None
    return Received(key, body_format, upload.sha256.hexdigest(), total, writer.name)


def _too_many() -> bodies.BodyError:
    return bodies.BodyError(
        413, _l("At most %(n)s members in one import.", n=format_decimal(bodies.MAX_ROWS))
    )


def _count(rows: Iterator[Any]) -> int:
    total = 0
    for _row in rows:
        total += 1
        if total > bodies.MAX_ROWS:
            raise _too_many()
    return total


def _read_json(chunks: Iterator[str]) -> tuple[str, int]:
    key: Any = None
    total = 0
    for name, value in bodies.json_entries(chunks):
        if name == "members":
            if not isinstance(value, dict):
                raise bodies.BodyError(422, _l("Each member must be a JSON object."))
            total += 1
            if total > bodies.MAX_ROWS:
                raise _too_many()
        elif name == "members!":
            raise bodies.BodyError(422, _l("members must be a list of registration bodies."))
        elif name == "import_key":
            key = value
    return check_key(key), total


def start_import(
    event: Event, partner_id: int, received: Received, locale: str
) -> tuple[GroupImport, bool]:
    """Record the import and queue its job in one transaction; or the import this key
    already made (True when new). The same key with another body: :class:`ImportRefused`."""
    found = _existing(partner_id, received)
    if found is not None:
        return found, False
    begin_write()
    try:
        group = GroupImport(
            event_id=event.id,
            partner_id=partner_id,
            import_key=received.import_key,
            status=ImportStatus.QUEUED,
            body_format=received.body_format,
            body_sha256=received.sha256,
            body_path=received.name,
            locale=locale,
            total_rows=received.total_rows,
        )
        db.session.add(group)
        db.session.flush()
        enqueue(IMPORT_KIND, {"group_import": group.id})
        db.session.commit()
    except IntegrityError:  # the same key, sent twice at once: the other one won
        db.session.rollback()
        found = _existing(partner_id, received)
        if found is None:  # pragma: no cover - a unique violation has a row behind it
            raise
        return found, False
    return group, True


def _existing(partner_id: int, received: Received) -> GroupImport | None:
    found = db.session.scalar(
        select(GroupImport).where(
            GroupImport.partner_id == partner_id, GroupImport.import_key == received.import_key
        )
    )
    if found is None:
        return None
    files.delete(bodies.stored_path(received.name))
    if found.body_sha256 != received.sha256:
        raise ImportRefused(
            409,
            _l("This import key was used for another body. Use a new key for a new import."),
            "import-key-reused",
        )
    return found


# --- the worker ------------------------------------------------------------------------


@handler(IMPORT_KIND, gave_up=lambda payload, error: _gave_up(int(payload["group_import"]), error))
def run_import(payload: dict[str, Any]) -> None:
    """Process an import's rows after the last chunk done (idempotent), then finish it."""
    import_id = int(payload["group_import"])
    group = db.session.get(GroupImport, import_id)
    if group is None or group.status == ImportStatus.DONE:
        return
    ref = ImportRef.of(group)
    event = db.session.get(Event, ref.event_id)
    assert event is not None
    db.session.refresh(event)
    db.session.expunge(event)  # kept whole for the rows' checks across the chunks' commits
    done, name, total, started = (
        group.processed_rows,
        group.body_path,
        group.total_rows,
        group.started_at,
    )
    if name is None and done < (total or 0):
        raise RuntimeError("the import's body is gone before every row was done")
    _record(import_id, status=ImportStatus.RUNNING, started_at=started or utcnow())
    if name is not None and done < (total or 0):
        with force_locale(ref.locale):
            _process(ref, event, name, done)
    begin_final_writes()
    db.session.execute(
        update(GroupImport)
        .where(GroupImport.id == import_id)
        .values(status=ImportStatus.DONE, body_path=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if name is not None:
        # Before the done mark commits: a run after a lost claim finds every row done.
        files.delete(bodies.stored_path(name))


def _process(group: ImportRef, event: Event, name: str, done: int) -> None:
    """Hold the rows after the first ``done``, a chunk at a time; each chunk is checked
    by :func:`~funrun.groups.checking.checked_chunks` while the one before is written."""
    rows = (
        (row, raw)
        for row, raw in enumerate(bodies.members(name, group.body_format), 1)
        if row > done
    )
    with closing(checked_chunks(event, group.locale, rows, CHUNK)) as chunks:
        for chunk in chunks:
            db.session.rollback()  # the chunk's transaction is a new one
            hold_chunk(group, chunk.members, chunk.refusals, rows=chunk.rows, now=utcnow())


def _record(import_id: int, **values: Any) -> None:
    begin_write()
    db.session.execute(
        update(GroupImport)
        .where(GroupImport.id == import_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _gave_up(import_id: int, error: str) -> None:
    """The job failed for good: the import says so; its body is deleted."""
    group = db.session.get(GroupImport, import_id)
    if group is None:
        return
    name = group.body_path
    _record(
        import_id,
        status=ImportStatus.FAILED,
        error=error[:500],
        body_path=None,
        finished_at=utcnow(),
    )
    if name is not None:
        files.delete(bodies.stored_path(name))
