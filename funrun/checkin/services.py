"""The rules of scanning: verify the bib, check in once per station, log every scan.

A check-in is an INSERT ... ON CONFLICT DO NOTHING against a partial unique index
(one active check-in per registration and station), so two devices scanning the same
bib at the same moment make exactly one check-in and the other is told "already".
A ``client_ref`` sent with a scan is unique in the scan log: replaying it returns the
first outcome and changes nothing.

The pieces live beside this module: ``scanrequest`` checks a scan's input, ``desk``
finds who scans where, ``entry`` holds the rule of how a code was entered (issue 15),
``statements`` the Core pieces of the write, ``engine`` how they run on each database
(one statement on PostgreSQL, several in a transaction on SQLite), ``codes`` what a code
names, ``replay`` the replays, ``outcomes`` the answers. Here are :func:`scan` and
:func:`scan_by_token`, undo and the counter; the names callers use are re-exported.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import selectinload

from funrun.accounts.models import Role, User
from funrun.audit.services import record
from funrun.checkin.desk import (
    Desk,
    DeskEvent,
    DeskUser,
    assigned_stations,
    can_scan,
    read_desk,
)
from funrun.checkin.engine import run_scan
from funrun.checkin.models import CheckIn, ScanResult
from funrun.checkin.outcomes import CheckInView, RunnerView, ScanEvent, Scanner, ScanOutcome
from funrun.checkin.scanrequest import (
    MAX_CODE,
    ScanRequest,
    clean_device,
    read_scan,
)
from funrun.checkin.statements import CHECKINS, SCAN_LOG
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db

__all__ = [
    "MAX_CODE",
    "CheckInNotFound",
    "CheckInView",
    "Desk",
    "DeskEvent",
    "DeskUser",
    "RunnerView",
    "ScanEvent",
    "ScanOutcome",
    "ScanRequest",
    "Scanner",
    "UndoError",
    "assigned_stations",
    "can_scan",
    "read_desk",
    "read_scan",
    "recent",
    "scan",
    "scan_by_token",
    "scan_request",
    "session_desk",
    "station_counts",
    "undo_checkin",
]


def scan(
    event: ScanEvent,
    code: object,
    *,
    user: Scanner,
    station: object = "pickup",
    client_ref: object = None,
    scanned_at: datetime | None = None,
    device: str | None = None,
    offline_answer: object = None,
    method: object = None,
    id_checked: object = None,
    proxy: object = None,
    shirt_given: object = None,
) -> ScanOutcome:
    """Answer one scan at ``event`` by ``user`` and record it; idempotent per runner and
    station (the desk is known: a signed-in page, or the API by session).

    ``offline_answer`` is what the device told the volunteer while offline (a queued
    scan): "checked_in" there and "already_checked_in" here is a conflict. ``method``
    ("scan" by default, or "typed") and ``id_checked`` decide what the code may prove
    (entry.py): a typed bib checks in only with ``id_checked``, else the answer is
    "confirm_identity" and no check-in is made. ``proxy`` ({name, nik}: a representative
    collecting) and ``shirt_given`` (another size handed out) are a pickup's details
    (pickup.py).
    """
    body = {
        "code": code,
        "station": station,
        "client_ref": client_ref,
        "scanned_at": scanned_at,
        "device": device,
        "offline_answer": offline_answer,
        "method": method,
        "id_checked": id_checked,
        "proxy": proxy,
        "shirt_given": shirt_given,
    }
    req = read_scan(body)
    return scan_request(event, req, user=user)


def scan_request(event: ScanEvent, req: ScanRequest, *, user: Scanner) -> ScanOutcome:
    """:func:`scan` of a request already checked (:func:`read_scan`)."""
    role = getattr(user, "role", None)
    desk = Desk(
        DeskUser(user.id, user.email, role),  # type: ignore[arg-type]
        DeskEvent(event.id, event.bib_prefix),
        True,
    )
    outcome = run_scan(req, desk=desk)[1]
    if outcome is None:  # pragma: no cover - a known desk is always allowed
        raise RuntimeError("the scan refused a known desk")
    return outcome


def session_desk(slug: str, user: User | None) -> Desk:
    """The desk of a signed-in staff member calling the check-in API from the scan page:
    their account, the event, and whether they may scan there (:func:`can_scan`)."""
    event = get_event(slug) if len(slug) <= 64 else None
    return Desk(
        DeskUser(user.id, user.email, Role(user.role)) if user is not None else None,
        DeskEvent(event.id, event.bib_prefix) if event is not None else None,
        user is not None and event is not None and can_scan(user, event.id),
    )


def scan_by_token(
    slug: str, token: str | None, req: ScanRequest
) -> tuple[Desk, ScanOutcome | None]:
    """The check-in API's scan by bearer token: who, where and the scan (on PostgreSQL in
    one statement). The desk, and the outcome when it may scan there (else nothing was
    written)."""
    return run_scan(req, slug=slug, token=token)


class UndoError(Exception):
    """An undo was refused; the message is for the supervisor."""


class CheckInNotFound(UndoError):
    """No check-in has this id."""


def undo_checkin(checkin_id: int, *, user: User, device: str | None = None) -> CheckIn:
    """Take back a mistaken check-in (logged); the runner can then be scanned again.

    One conditional UPDATE ... RETURNING decides it on both databases: of two supervisors
    undoing at once, one undoes and the other is told it was undone already.
    """
    device = clean_device(device)
    begin_write()
    try:
        now = utcnow()
        c = CHECKINS.c
        undone = db.session.execute(
            update(CHECKINS)
            .where(c.id == checkin_id, c.undone_at.is_(None))
            .values(undone_at=now, undone_by_id=user.id)
            .returning(c.event_id, c.station, c.registration_id)
        ).first()
        if undone is None:
            exists_at_all = db.session.scalar(select(c.id).where(c.id == checkin_id))
            if exists_at_all is None:
                raise CheckInNotFound(str(_l("No such check-in.")))
            raise UndoError(str(_l("This check-in was already undone.")))
        db.session.execute(
            insert(SCAN_LOG).values(
                event_id=undone.event_id,
                user_id=user.id,
                station=undone.station,
                device=device,
                result=str(ScanResult.UNDONE),
                code_kind="undo",
                registration_id=undone.registration_id,
                checkin_id=checkin_id,
                received_at=now,
            )
        )
        record(
            "undo",
            user_id=user.id,
            target=f"#{checkin_id}",
            event_id=undone.event_id,
            detail=f"{undone.station} · {device or ''}",
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    checkin = db.session.get(CheckIn, checkin_id, populate_existing=True)
    assert checkin is not None
    return checkin


def station_counts(event_id: int, station: str) -> dict[str, int]:
    """Checked in at the station, and confirmed runners: the live counter."""
    checked_in = db.session.scalar(
        select(func.count()).where(
            CheckIn.event_id == event_id, CheckIn.station == station, CheckIn.undone_at.is_(None)
        )
    )
    confirmed = db.session.scalar(select(Event.confirmed_count).where(Event.id == event_id))
    return {"checked_in": checked_in or 0, "confirmed": confirmed or 0}


def recent(event_id: int, limit: int = 50) -> list[CheckIn]:
    """The event's latest check-ins, undone ones included, newest first."""
    return list(
        db.session.scalars(
            select(CheckIn)
            .where(CheckIn.event_id == event_id)
            .order_by(CheckIn.id.desc())
            .limit(limit)
            .options(selectinload(CheckIn.registration), selectinload(CheckIn.scanned_by))
        )
    )
