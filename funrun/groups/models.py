"""A partner's group import and the rows it refused.

An import is a batch of members a partner sends for one event (JSON or CSV), processed
by the worker. ``import_key`` is the partner's own name for the batch: the same key again
answers the same import and changes nothing. The body is kept on disk, encrypted with
the data key (it carries NIKs), only until the worker has read it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db


class ImportStatus(StrEnum):
    """Where an import stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class GroupImport(db.Model):
    """One batch of a partner's members for one event."""

    __tablename__ = "group_imports"
    __table_args__ = (
        UniqueConstraint("partner_id", "import_key"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("body_format IN ('json', 'csv')", name="format_known"),
        CheckConstraint(
            "processed_rows >= 0 AND accepted >= 0 AND refused >= 0", name="counts_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    import_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.QUEUED)
    body_format: Mapped[str] = mapped_column(String(8))
    #: SHA-256 of the body as sent: the same key with another body is refused.
    body_sha256: Mapped[str] = mapped_column(String(64))
    #: The encrypted body in the file store until the worker has read it, then None.
    body_path: Mapped[str | None] = mapped_column(String(255))
    #: The partner's language, for the report's messages.
    locale: Mapped[str] = mapped_column(String(8), default="id")
    total_rows: Mapped[int | None]
    processed_rows: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GroupImportRefusal(db.Model):
    """A row of an import that was refused, and why (field -> messages)."""

    __tablename__ = "group_import_refusals"
    __table_args__ = (UniqueConstraint("import_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("group_imports.id", ondelete="CASCADE"))
    #: 1 for the first member (the CSV's first line after its header).
    row: Mapped[int]
    errors: Mapped[dict[str, Any]] = mapped_column(JSON)
    # --- groups-import: a row taken onto the waitlist (the event was full) is noted here
    # too, with its message, though it was accepted: the report names it.
    waitlisted: Mapped[bool] = mapped_column(server_default=false())
