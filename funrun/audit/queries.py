"""Reading the audit log back, merged with every scan (scan_log), newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, literal, select, union_all

from funrun.accounts.models import User
from funrun.audit.models import AuditEntry
from funrun.checkin.models import ScanLog, ScanResult
from funrun.extensions import db

PAGE_SIZE = 50
MAX_PAGE = 10_000
#: Dates in the filter are the tour's local days.
WIB = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True)
class AuditFilter:
    """What the admin asked for; every field optional."""

    action: str | None = None
    email: str | None = None
    event_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditRow:
    """One line of the page: an audit entry or a scan."""

    at: datetime
    action: str
    email: str | None
    target: str | None
    event_id: int | None
    detail: str | None


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=WIB)


def _where(query, at, user_col, event_col, wanted: AuditFilter):  # type: ignore[no-untyped-def]
    if wanted.email:
        query = query.where(
            user_col.in_(select(User.id).where(func.lower(User.email) == wanted.email.lower()))
        )
    if wanted.event_id is not None:
        query = query.where(event_col == wanted.event_id)
    if wanted.date_from is not None:
        query = query.where(at >= _local_start(wanted.date_from))
    if wanted.date_to is not None:
        query = query.where(at < _local_start(wanted.date_to + timedelta(days=1)))
    return query


def entries(wanted: AuditFilter, page: int = 1) -> tuple[list[AuditRow], bool]:
    """A page of entries and scans, newest first; and whether there is a next page."""
    parts = []
    if wanted.action != "scan":
        audit = select(
            AuditEntry.at.label("at"),
            AuditEntry.action.label("action"),
            AuditEntry.user_id.label("user_id"),
            AuditEntry.target.label("target"),
            AuditEntry.event_id.label("event_id"),
            AuditEntry.detail.label("detail"),
        )
        if wanted.action:
            audit = audit.where(AuditEntry.action == wanted.action)
        parts.append(_where(audit, AuditEntry.at, AuditEntry.user_id, AuditEntry.event_id, wanted))
    if wanted.action in (None, "scan"):
        scans = select(
            ScanLog.received_at.label("at"),
            literal("scan", String(40)).label("action"),
            ScanLog.user_id.label("user_id"),
            cast(ScanLog.bib_number, String(120)).label("target"),
            ScanLog.event_id.label("event_id"),
            (
                ScanLog.result
                + literal(" · ", String)
                + ScanLog.station
                + literal(" · ", String)
                + func.coalesce(ScanLog.device, literal("", String))
            ).label("detail"),
        ).where(ScanLog.result != str(ScanResult.UNDONE))  # undo is an audit entry
        parts.append(_where(scans, ScanLog.received_at, ScanLog.user_id, ScanLog.event_id, wanted))
    merged = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    rows = db.session.execute(
        select(merged, User.email)
        .outerjoin(User, User.id == merged.c.user_id)
        .order_by(merged.c.at.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    found = [
        AuditRow(
            at=row.at,
            action=row.action,
            email=row.email,
            target=row.target,
            event_id=row.event_id,
            detail=row.detail,
        )
        for row in rows[:PAGE_SIZE]
    ]
    return found, len(rows) > PAGE_SIZE
