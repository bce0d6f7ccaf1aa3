"""Batch printing in the worker: a print job queued with its row, its PDF in the file store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, update

from funrun.bibs.models import PrintJob, PrintJobStatus
from funrun.bibs.services import count_confirmed, write_event_bibs
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.jobs import files
from funrun.jobs.queue import begin_final_writes, enqueue, handler

#: A running job whose progress is older than this died with its worker (it is retried
#: when its lease runs out; the page stops refreshing meanwhile).
STALE_AFTER = timedelta(minutes=2)
PRINT_KIND = "bibs.print"
DELETE_KIND = "bibs.delete-files"
#: Progress is recorded every this many bibs.
PROGRESS_EVERY = 50


def pdf_path(job_id: int) -> Path:
    """The batch PDF of print job ``job_id`` in the file store."""
    return files.path_for("print-jobs", job_id, ".pdf")


def start_print_job(event: Event, user_id: int | None) -> PrintJob:
    """Record a batch print of the event and queue it for the worker, in one transaction."""
    event_id = event.id
    total = count_confirmed(event_id)
    begin_write()
    job = PrintJob(event_id=event_id, requested_by_id=user_id, total=total)
    db.session.add(job)
    db.session.flush()
    enqueue(PRINT_KIND, {"print_job": job.id})
    db.session.commit()
    return job


@handler(PRINT_KIND, gave_up=lambda payload, error: _gave_up(payload["print_job"], error))
def run_print_job(payload: dict[str, Any]) -> None:
    """Write the job's PDF page by page to the file store, recording progress."""
    job_id = int(payload["print_job"])
    job = db.session.get(PrintJob, job_id)
    if job is None or (job.status == PrintJobStatus.DONE and job.pdf_size is not None):
        return  # deleted, or already made by an earlier claim (idempotent)
    event = job.event
    _record(job_id, status=PrintJobStatus.RUNNING, done=0, error=None)

    def progress(done: int) -> None:
        if done % PROGRESS_EVERY == 0:
            _record(job_id, done=done)

    path = pdf_path(job_id)
    with files.atomic_write(path) as out:
        done = write_event_bibs(event, out, progress)
    begin_final_writes()
    db.session.execute(
        update(PrintJob)
        .where(PrintJob.id == job_id)
        .values(
            done=done,
            total=done,
            pdf_size=path.stat().st_size,
            status=PrintJobStatus.DONE,
            finished_at=utcnow(),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def _gave_up(job_id: int, error: str) -> None:
    _record(int(job_id), status=PrintJobStatus.FAILED, error=error[:500])


def _record(job_id: int, **values: object) -> None:
    # Its own connection and transaction: the job's session is still streaming rows.
    with db.engine.begin() as connection:
        connection.execute(
            update(PrintJob).where(PrintJob.id == job_id).values(updated_at=utcnow(), **values)
        )


def job_is_stale(job: PrintJob) -> bool:
    """Whether a running job stopped making progress (its worker died; a queued job is
    waiting for a worker and is not stale)."""
    return job.status == PrintJobStatus.RUNNING and utcnow() - job.updated_at > STALE_AFTER


def drop_print_files(event_ids: Select[Any]) -> int:
    """Forget the batch PDFs of these events in the caller's transaction and queue their
    files' deletion with it (deleted by the worker only if that transaction commits, so a
    dry run deletes nothing); the number dropped."""
    dropped = db.session.scalars(
        update(PrintJob)
        .where(PrintJob.event_id.in_(event_ids), PrintJob.pdf_size.is_not(None))
        .values(pdf_size=None)
        .returning(PrintJob.id)
        .execution_options(synchronize_session=False)
    ).all()
    if dropped:
        enqueue(DELETE_KIND, {"print_jobs": sorted(dropped)})
    return len(dropped)


@handler(DELETE_KIND)
def delete_print_files(payload: dict[str, Any]) -> None:
    """Delete the PDFs of dropped print jobs (by job id; a missing file is fine)."""
    for job_id in payload["print_jobs"]:
        files.delete(pdf_path(int(job_id)))
