"""Shared pieces for the audit tests: staff, runners and enrolment fixtures reused."""

from __future__ import annotations

from sqlalchemy import select

from funrun.audit.models import AuditEntry
from funrun.extensions import db
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    _fast_password_hashes,
    add_runners,
    make_staff,
)
from tests.enrolment.conftest import add_runner, on_finale_day, schedules  # noqa: F401


def audit_rows(action: str | None = None) -> list[AuditEntry]:
    """The stored audit entries (of ``action``), oldest first, read fresh."""
    db.session.rollback()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))
