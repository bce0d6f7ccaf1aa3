"""One row per staff action worth answering "who did that, and when?" for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db


class AuditEntry(db.Model):
    """A staff action; scans are not repeated here (scan_log has every one)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Who did it; NULL for a failed sign-in (nobody is known yet).
    #: Indexed, as event_id: the audit page filters by both.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: A short code such as "login" or "event_edit" (see funrun.audit.services.ACTIONS).
    action: Mapped[str] = mapped_column(String(40))
    #: What it was done to: an email, an event slug, a file name. Never a NIK or secret.
    target: Mapped[str | None] = mapped_column(String(120))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    detail: Mapped[str | None] = mapped_column(String(300))
