"""The rules of scanning: verify the bib, check in once per station, log every scan.

A check-in is an INSERT ... ON CONFLICT DO NOTHING against a partial unique index
(one active check-in per registration and station), so two devices scanning the same
bib at the same moment make exactly one check-in and the other is told "already".
A ``client_ref`` sent with a scan is unique in the scan log: replaying it returns the
first outcome and changes nothing.

The pieces live beside this module: ``scanrequest`` checks a scan's input, ``desk``
finds who scans where, ``entry`` holds the rule of how a code was entered (issue 15),
``fastpath`` the PostgreSQL statement and replays, ``outcomes`` the answers. Here are
:func:`scan` itself (with the session code for SQLite), undo and the counter; the names
callers use are re-exported.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import selectinload

from funrun import fastdb
from funrun.accounts.models import User
from funrun.audit.services import record
from funrun.checkin.desk import Desk, DeskEvent, DeskUser, assigned_stations, can_scan, scan_desk
from funrun.checkin.fastpath import (
    SCAN_AS_SQL,
    code_params,
    identify,
    replay,
    run_scan,
    scan_with_token,
    statement_params,
)
from funrun.checkin.models import CheckIn, ScanLog, ScanResult
from funrun.checkin.outcomes import CheckInView, RunnerView, ScanEvent, Scanner, ScanOutcome
from funrun.checkin.scanrequest import (
    MAX_CODE,
    ScanRequest,
    clean_device,
    parse_scanned_at,
    read_scan,
)
from funrun.dbtx import begin_write, insert_ignore
from funrun.dbtypes import utcnow
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus

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
    "parse_scanned_at",
    "read_scan",
    "recent",
    "scan",
    "scan_desk",
    "scan_with_token",
    "station_counts",
    "undo_checkin",
]

_REGISTRATIONS = Registration.__table__
_CHECKINS = CheckIn.__table__
_SCAN_LOG = ScanLog.__table__
_ENROLMENTS = Enrolment.__table__


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
) -> ScanOutcome:
    """Answer one scan at ``event`` and record it; idempotent per runner and station.

    ``offline_answer`` is what the device told the volunteer while offline (a queued
    scan): "checked_in" there and "already_checked_in" here is a conflict. ``method``
    ("scan" by default, or "typed") and ``id_checked`` decide what the code may prove
    (entry.py): a typed bib checks in only with ``id_checked``, else the answer is
    "confirm_identity" and no check-in is made.
    """
    req = read_scan(
        code,
        station=station,
        client_ref=client_ref,
        scanned_at=scanned_at,
        device=device,
        offline_answer=offline_answer,
        method=method,
        id_checked=id_checked,
    )
    if fastdb.available():
        named, city = code_params(req, event)
        params = {
            **statement_params(req),
            **named,
            "user_id": user.id,
            "email": user.email,
            "event_id": event.id,
            "prefix": event.bib_prefix,
        }
        outcome = run_scan(SCAN_AS_SQL, params, req, city)[1]
        if outcome is None:  # pragma: no cover - the page's desk is always allowed
            raise RuntimeError("the scan statement refused a known desk")
        return outcome
    code, station, client_ref = req.code, req.station, req.client_ref
    scanned_at, device, now = req.scanned_at, req.device, req.received_at
    answered = req.offline_answer
    # A replayed client_ref is caught by the scan log's unique index below (the work is
    # rolled back and the first answer returned): no look-up on every scan.
    event_id, user_id, user_email = event.id, user.id, user.email
    entry = req.entry
    found = identify(event, code, entry)
    result, number, kind = found.result, found.number, found.kind
    runner = None
    if result is None:
        # Core statements on the hot path: ORM entities cost more CPU than the round trip.
        r = _REGISTRATIONS.c
        row = db.session.execute(
            select(
                r.id,
                r.full_name,
                r.shirt_size,
                r.status,
                r.is_member,
                exists().where(_ENROLMENTS.c.person_id == r.person_id).label("enrolled"),
            ).where(r.event_id == event_id, r.bib_number == number)
        ).first()
        if row is None:
            result = ScanResult.UNKNOWN
        else:
            runner = RunnerView(
                id=row.id,
                bib=f"{event.bib_prefix} {number:04d}",
                bib_number=number,
                full_name=row.full_name,
                shirt_size=row.shirt_size,
                status=row.status,
                is_member=row.is_member,
                enrolled=row.enrolled,
            )
            if row.status != RegistrationStatus.CONFIRMED:
                result = ScanResult.NOT_CONFIRMED
    registration_id = runner.id if runner is not None else None
    first: CheckInView | None = None
    begin_write()
    try:
        checkin_id = None
        if result is None and registration_id is not None and not entry.may_check_in:
            # A typed bib before the ID card was checked: say who it names, check nobody in
            # (unless the runner is in already: then that is the answer).
            first = _active_checkin_orm(registration_id, station)
            result = ScanResult.ALREADY if first is not None else ScanResult.CONFIRM_IDENTITY
            checkin_id = first.id if first is not None else None
        elif result is None and registration_id is not None:
            checkin_id = db.session.scalar(
                insert_ignore(
                    _CHECKINS,
                    {
                        "event_id": event_id,
                        "registration_id": registration_id,
                        "station": station,
                        "checked_in_at": scanned_at or now,
                        "scanned_by_id": user_id,
                        "device": device,
                    },
                ).returning(_CHECKINS.c.id)
            )
            if checkin_id is not None:
                result = ScanResult.CHECKED_IN
                first = CheckInView(checkin_id, station, scanned_at or now, user_email, device)
            else:
                result = ScanResult.ALREADY
                first = _active_checkin_orm(registration_id, station)
                if first is not None:
                    checkin_id = first.id
        confirming = result == ScanResult.CONFIRM_IDENTITY
        logged = db.session.scalar(
            insert_ignore(
                _SCAN_LOG,
                {
                    "event_id": event_id,
                    "user_id": user_id,
                    "station": station,
                    "device": device,
                    # Sent again with id_checked: that one is what a replay answers.
                    "client_ref": None if confirming else client_ref,
                    "result": str(result),
                    "code_kind": kind,
                    "method": entry.method,
                    "id_checked": entry.id_checked,
                    "registration_id": registration_id,
                    "checkin_id": checkin_id,
                    "bib_number": number,
                    "offline_answer": answered,
                    "scanned_at": scanned_at,
                    "received_at": now,
                },
            ).returning(_SCAN_LOG.c.id)
        )
        if logged is None:
            # The same client_ref arrived twice at once: the first one stands.
            db.session.rollback()
            replayed = replay(event_id, client_ref)  # type: ignore[arg-type]
            if replayed is None:  # pragma: no cover - the conflicting row must exist
                raise RuntimeError("client_ref conflict without a stored scan")
            return replayed
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ScanOutcome(
        result,  # type: ignore[arg-type]
        runner,
        first,
        offline_answer=answered,
        other_city=found.other_city,
    )


def _active_checkin_orm(registration_id: int, station: str) -> CheckInView | None:
    """The runner's active check-in at the station, with who scanned it (session code)."""
    row = db.session.execute(
        select(CheckIn.id, CheckIn.station, CheckIn.checked_in_at, User.email, CheckIn.device)
        .outerjoin(User, User.id == CheckIn.scanned_by_id)
        .where(
            CheckIn.registration_id == registration_id,
            CheckIn.station == station,
            CheckIn.undone_at.is_(None),
        )
    ).first()
    return CheckInView(*row) if row is not None else None


class UndoError(Exception):
    """An undo was refused; the message is for the supervisor."""


class CheckInNotFound(UndoError):
    """No check-in has this id."""


def undo_checkin(checkin_id: int, *, user: User, device: str | None = None) -> CheckIn:
    """Take back a mistaken check-in (logged); the runner can then be scanned again."""
    device = clean_device(device)
    begin_write()
    try:
        checkin = db.session.execute(
            select(CheckIn)
            .where(CheckIn.id == checkin_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if checkin is None:
            raise CheckInNotFound(str(_l("No such check-in.")))
        if checkin.undone_at is not None:
            raise UndoError(str(_l("This check-in was already undone.")))
        now = utcnow()
        checkin.undone_at = now
        checkin.undone_by_id = user.id
        db.session.add(
            ScanLog(
                event_id=checkin.event_id,
                user_id=user.id,
                station=checkin.station,
                device=device,
                result=str(ScanResult.UNDONE),
                code_kind="undo",
                registration_id=checkin.registration_id,
                checkin_id=checkin.id,
                received_at=now,
            )
        )
        record(
            "undo",
            user_id=user.id,
            target=f"#{checkin.id}",
            event_id=checkin.event_id,
            detail=f"{checkin.station} · {device or ''}",
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
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
