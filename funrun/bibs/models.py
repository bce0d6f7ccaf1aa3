"""Batch print jobs: a whole event's bibs in one PDF, made by the worker."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.events.models import Event
from funrun.extensions import db


class PrintJobStatus(StrEnum):
    """Where a print job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PrintJob(db.Model):
    """One request to print every confirmed bib of an event, with its progress."""

    __tablename__ = "print_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=PrintJobStatus.QUEUED)
    #: Bibs to print (confirmed runners when the job started) and bibs done so far.
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    #: Bytes of the finished PDF in the file store (funrun/bibs/printing.py names it by
    #: the job's id); None until it is written, and again once the retention purge drops it.
    pdf_size: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Heartbeat: a running job not updated for minutes died with its process.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
