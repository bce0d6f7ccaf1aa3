"""Batch PDFs in the file store: the retention purge drops them through the queue, so a
dry run (rolled back) deletes nothing and a real purge deletes the files once it commits;
a print job run twice (a worker died after writing) leaves one whole file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from funrun.bibs.models import PrintJob, PrintJobStatus
from funrun.bibs.printing import (
    PRINT_KIND,
    drop_print_files,
    pdf_path,
    run_print_job,
    start_print_job,
)
from funrun.dbtx import begin_write
from funrun.events.models import Event
from funrun.extensions import db
from funrun.jobs.models import JobStatus
from funrun.jobs.worker import Worker
from tests.jobs.conftest import jobs


def printed(make_event, when: date) -> tuple[int, Path]:
    """A finished print job of a new event on ``when``, with its file on disk."""
    event = make_event(date=when)
    job = PrintJob(event_id=event.id, status=PrintJobStatus.DONE, total=1, done=1, pdf_size=9)
    db.session.add(job)
    db.session.commit()
    path = pdf_path(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4\n")
    return job.id, path


def test_dropped_print_files_are_deleted_only_when_the_purge_commits(app: Flask, make_event):
    """``drop_print_files`` is what the purge (funrun/privacy/services.py) calls inside its
    transaction: rolled back (a dry run) it deletes nothing."""
    old_id, old_file = printed(make_event, date(2015, 5, 1))
    new_id, new_file = printed(make_event, date(2026, 11, 1))
    old_events = select(Event.id).where(Event.date < date(2016, 1, 1))

    begin_write()
    assert drop_print_files(old_events) == 1
    db.session.rollback()  # the dry run
    assert Worker(app).run(burst=True) == 0  # queued nothing
    assert old_file.exists() and new_file.exists()
    assert db.session.get_one(PrintJob, old_id).pdf_size == 9

    begin_write()
    assert drop_print_files(old_events) == 1
    db.session.commit()
    assert db.session.get_one(PrintJob, old_id).pdf_size is None  # no download from now on
    assert old_file.exists()  # until the worker runs
    assert Worker(app).run(burst=True) == 1
    assert not old_file.exists() and new_file.exists()
    db.session.rollback()
    assert db.session.get_one(PrintJob, new_id).pdf_size == 9
    (delete,) = jobs()
    assert (delete.payload, delete.status) == ({"print_jobs": [old_id]}, JobStatus.DONE)
    begin_write()
    assert drop_print_files(old_events) == 0  # once dropped, nothing more to drop
    db.session.commit()


def test_a_print_job_is_queued_with_its_row_and_made_once(app: Flask, make_event):
    event = make_event()
    job = start_print_job(event, None)
    (queued,) = jobs()
    assert (queued.kind, queued.payload) == (PRINT_KIND, {"print_job": job.id})
    assert Worker(app).run(burst=True) == 1
    path = pdf_path(job.id)
    first = path.stat()
    db.session.rollback()  # a fresh look, as the worker's session has
    run_print_job({"print_job": job.id})  # run again (say its worker died before the commit)
    db.session.rollback()
    assert path.stat().st_mtime_ns == first.st_mtime_ns  # done: not made again
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]
    done = db.session.get_one(PrintJob, job.id)
    assert (done.status, done.pdf_size) == (PrintJobStatus.DONE, first.st_size)
