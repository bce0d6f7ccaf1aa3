"""The replay of a client_ref: the first answer given to it, changing nothing.

One query on both databases; on PostgreSQL it also completes, in the same statement, an
"already checked in" row whose check-in the scan statement could not see (:func:`_mended`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select, update

from funrun import fastdb
from funrun.checkin.models import ScanResult
from funrun.checkin.outcomes import CheckInView, RunnerView, ScanOutcome
from funrun.checkin.statements import (
    CHECKINS,
    ENROLMENTS,
    EVENTS,
    REGISTRATIONS,
    SCAN_LOG,
    USERS,
    run,
)


def _replay_query(mended: Any = None) -> Select[Any]:
    """The first answer stored for a client_ref: the log row, runner and check-in."""
    log, r, e, c, u = SCAN_LOG.c, REGISTRATIONS.c, EVENTS.c, CHECKINS.c, USERS.c
    checkin_ref: Any = log.checkin_id
    if mended is not None:
        checkin_ref = func.coalesce(log.checkin_id, select(mended.c.checkin_id).scalar_subquery())
    return (
        select(
            log.result,
            log.offline_answer,
            r.id,
            r.bib_number,
            r.full_name,
            r.shirt_size,
            r.status,
            r.is_member,
            exists().where(ENROLMENTS.c.person_id == r.person_id),
            e.bib_prefix,
            c.id,
            c.station,
            c.checked_in_at,
            u.email,
            c.device,
        )
        .select_from(
            SCAN_LOG.outerjoin(REGISTRATIONS, r.id == log.registration_id)
            .outerjoin(EVENTS, e.id == r.event_id)
            .outerjoin(CHECKINS, c.id == checkin_ref)
            .outerjoin(USERS, u.id == c.scanned_by_id)
        )
        .where(log.event_id == bindparam("log_event"), log.client_ref == bindparam("log_ref"))
    )


def _mended() -> Any:
    """PostgreSQL only: an "already" row whose check-in the scan statement could not see
    is completed with the runner's active check-in at the station (the second statement
    of :func:`_outcome` never ran if the worker died in between)."""
    log, c = SCAN_LOG.c, CHECKINS.c
    active = (
        select(c.id)
        .where(
            c.registration_id == log.registration_id,
            c.station == log.station,
            c.undone_at.is_(None),
        )
        .scalar_subquery()
    )
    return (
        update(SCAN_LOG)
        .where(
            log.event_id == bindparam("log_event"),
            log.client_ref == bindparam("log_ref"),
            log.result == str(ScanResult.ALREADY),
            log.checkin_id.is_(None),
        )
        .values(checkin_id=active)
        .returning(log.checkin_id)
        .cte("mended")
    )


REPLAY_PG = _replay_query(_mended())
REPLAY = _replay_query()


def replay(event_id: int, client_ref: str) -> ScanOutcome | None:
    """The first answer given to ``client_ref`` at this event, or None if it is new."""
    params = {"log_event": event_id, "log_ref": client_ref}
    # On PostgreSQL a replay is as hot as a scan (a desk resending after a lost answer).
    rows = fastdb.run_hot(REPLAY_PG, params) if fastdb.available() else run(REPLAY, params)
    if not rows:
        return None
    result, answered, reg_id, number, name, shirt, status, member, enrolled, prefix, *checkin = (
        rows[0]
    )
    runner = None
    if reg_id is not None:
        runner = RunnerView(
            id=reg_id,
            bib=f"{prefix} {number:04d}" if number is not None else None,
            bib_number=number,
            full_name=name,
            shirt_size=shirt,
            status=status,
            is_member=bool(member),
            enrolled=bool(enrolled),
        )
    first = CheckInView(*checkin) if checkin[0] is not None else None
    return ScanOutcome(ScanResult(result), runner, first, replayed=True, offline_answer=answered)
