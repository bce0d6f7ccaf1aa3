"""The scan on PostgreSQL in one statement, the replay of a client_ref, and what a code names.

A check-in is an INSERT ... ON CONFLICT DO NOTHING against a partial unique index (one
active check-in per registration and station), so two devices scanning the same bib at
once make one check-in. The API's statement reads who (token) and where (slug) too, so
a scan is one round trip. A replayed client_ref violates the scan log's unique index:
the statement changes nothing and the first answer is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import psycopg
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from funrun import fastdb
from funrun.accounts.models import Role, User
from funrun.bibs.services import split_typed_bib
from funrun.bibs.signing import Verdict, bib_signer
from funrun.checkin.desk import DESK_SQL, Desk, DeskEvent, DeskUser, desk_by_hash, token_hash
from funrun.checkin.entry import (
    Entry,
    city_of_event,
    city_of_prefix,
)
from funrun.checkin.models import CheckIn, ScanLog, ScanResult
from funrun.checkin.outcomes import CheckInView, RunnerView, ScanEvent, ScanOutcome
from funrun.checkin.scanrequest import ScanRequest
from funrun.extensions import db
from funrun.registration.models import Registration

REPLAY_SQL = """
WITH mended AS (
    -- "Already checked in" by a device whose check-in the scan statement could not see:
    -- run_scan points the row at it in a second statement, which never ran if the worker
    -- died in between. The retry completes it with the runner's active check-in at the
    -- station, the one meant (no write when the row is whole, as it almost always is).
    UPDATE scan_log l SET checkin_id = (
        SELECT a.id FROM checkins a
        WHERE a.registration_id = l.registration_id AND a.station = l.station
          AND a.undone_at IS NULL
    )
    WHERE l.event_id = %(event_id)s AND l.client_ref = %(client_ref)s
      AND l.result = 'already_checked_in' AND l.checkin_id IS NULL
    RETURNING l.checkin_id
)
SELECT l.result, l.offline_answer, r.id, r.bib_number, r.full_name, r.shirt_size, r.status,
       r.is_member, EXISTS (SELECT 1 FROM enrolments en WHERE en.person_id = r.person_id),
       e.bib_prefix, c.id, c.station, c.checked_in_at, u.email, c.device
FROM scan_log l
LEFT JOIN registrations r ON r.id = l.registration_id
LEFT JOIN events e ON e.id = r.event_id
LEFT JOIN checkins c ON c.id = COALESCE(l.checkin_id, (SELECT checkin_id FROM mended))
LEFT JOIN users u ON u.id = c.scanned_by_id
WHERE l.event_id = %(event_id)s AND l.client_ref = %(client_ref)s
"""


def _replay_in_one_query(event_id: int, client_ref: str) -> ScanOutcome | None:
    """:func:`replay` on PostgreSQL."""
    rows = fastdb.fetch(REPLAY_SQL, {"event_id": event_id, "client_ref": client_ref})
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
            is_member=member,
            enrolled=enrolled,
        )
    first = None
    if checkin[0] is not None:
        first = CheckInView(
            checkin[0], checkin[1], checkin[2].astimezone(UTC), checkin[3], checkin[4]
        )
    return ScanOutcome(ScanResult(result), runner, first, replayed=True, offline_answer=answered)


def replay(event_id: int, client_ref: str) -> ScanOutcome | None:
    """The first answer given to ``client_ref`` at this event, or None if it is new."""
    if fastdb.available():
        return _replay_in_one_query(event_id, client_ref)
    log = db.session.scalar(
        select(ScanLog).where(ScanLog.event_id == event_id, ScanLog.client_ref == client_ref)
    )
    if log is None:
        return None
    runner = None
    if log.registration_id is not None:
        registration = db.session.get(Registration, log.registration_id)
        if registration is not None:
            runner = RunnerView.of(registration, registration.event.bib_prefix)
    return ScanOutcome(
        ScanResult(log.result),
        runner,
        _checkin_view(log.checkin_id),
        replayed=True,
        offline_answer=log.offline_answer,
    )


def _checkin_view(checkin_id: int | None) -> CheckInView | None:
    """A check-in with the email of whoever scanned it first (one query)."""
    if checkin_id is None:
        return None
    row = db.session.execute(
        select(CheckIn.id, CheckIn.station, CheckIn.checked_in_at, User.email, CheckIn.device)
        .outerjoin(User, User.id == CheckIn.scanned_by_id)
        .where(CheckIn.id == checkin_id)
    ).first()
    return CheckInView(*row) if row is not None else None


@dataclass(frozen=True)
class Identified:
    """The bib number a scan names, or the reason it names none; and the code's kind."""

    result: ScanResult | None
    number: int | None
    kind: str
    #: For a bib of another event: that event's city.
    other_city: str | None = None


def identify(event: ScanEvent, code: str, entry: Entry) -> Identified:
    """What ``code``, entered as ``entry`` says, names at ``event``."""
    if entry.kind == "qr":
        verification = bib_signer().verify(code, event.id)
        if verification.verdict == Verdict.WRONG_EVENT:
            city = city_of_event(verification.event_id)
            return Identified(ScanResult.WRONG_EVENT, None, "qr", city)
        if verification.verdict != Verdict.VALID:
            return Identified(ScanResult.INVALID, None, "qr")
        return Identified(None, verification.bib_number, "qr")
    typed = split_typed_bib(code)
    if typed is None:
        return Identified(ScanResult.INVALID, None, "typed")
    prefix, number = typed
    if prefix and prefix != event.bib_prefix.upper():
        # Another event's prefix names that event; one no event has is just wrong.
        city = city_of_prefix(prefix, event.id)
        result = ScanResult.WRONG_EVENT if city else ScanResult.INVALID
        return Identified(result, None, "typed", city)
    return Identified(None, number, "typed")


#: The whole scan on PostgreSQL, one autocommit statement: find the runner, check in
#: unless already (the partial unique index settles two devices at once), log the scan.
#: A replayed client_ref violates the scan log's unique index, so the statement fails
#: and changes nothing; the caller then answers with the first outcome.
_SCAN_SQL = """
WITH desk AS (
    {desk}
), go AS (
    SELECT user_id, event_id, bib_prefix FROM desk WHERE allowed
), verdict AS (
    SELECT CASE
        WHEN %(result)s::text IS NOT NULL THEN %(result)s::text
        WHEN %(qr_event)s::int <> go.event_id THEN 'wrong_event'
        -- A typed prefix is sent only when some event has it (code_params).
        WHEN %(typed_prefix)s::text <> upper(go.bib_prefix) THEN 'wrong_event'
    END AS result
    FROM go
), reg AS (
    SELECT id, full_name, shirt_size, status, is_member,
           EXISTS (SELECT 1 FROM enrolments en WHERE en.person_id = registrations.person_id)
               AS enrolled
    FROM registrations
    WHERE event_id = (SELECT event_id FROM go) AND bib_number = %(bib)s
      AND EXISTS (SELECT 1 FROM verdict WHERE result IS NULL)
), prior AS (
    -- A scalar subquery, not a join: the planner cannot see into a CTE, and a join
    -- walked every active check-in of the station.
    SELECT c.id, c.checked_in_at, u.email, c.device
    FROM checkins c LEFT JOIN users u ON u.id = c.scanned_by_id
    WHERE c.registration_id = (SELECT id FROM reg) AND c.station = %(station)s
      AND c.undone_at IS NULL
), new AS (
    INSERT INTO checkins (event_id, registration_id, station, checked_in_at, scanned_by_id,
                          device)
    SELECT go.event_id, reg.id, %(station)s, %(at)s, go.user_id, %(device)s
    FROM reg, go
    WHERE reg.status = 'confirmed' AND NOT EXISTS (SELECT 1 FROM prior)
      AND %(may_check_in)s::boolean
    ON CONFLICT DO NOTHING
    RETURNING id
), outcome AS (
    SELECT CASE
        WHEN verdict.result IS NOT NULL THEN verdict.result
        WHEN NOT EXISTS (SELECT 1 FROM reg) THEN 'unknown'
        WHEN (SELECT status FROM reg) <> 'confirmed' THEN 'not_confirmed'
        WHEN EXISTS (SELECT 1 FROM new) THEN 'checked_in'
        -- A typed bib before the ID card was checked (see entry.py).
        WHEN NOT %(may_check_in)s::boolean AND NOT EXISTS (SELECT 1 FROM prior)
            THEN 'confirm_identity'
        ELSE 'already_checked_in'
    END AS result,
    COALESCE((SELECT id FROM new), (SELECT id FROM prior)) AS checkin_id
    FROM verdict
), log AS (
    -- A confirm_identity is logged without its client_ref: the same scan is sent again
    -- with id_checked, and that one is the answer a replay gets.
    INSERT INTO scan_log (event_id, user_id, station, device, client_ref, result, code_kind,
                          method, id_checked, registration_id, checkin_id, bib_number,
                          offline_answer, scanned_at, received_at)
    SELECT go.event_id, go.user_id, %(station)s, %(device)s,
           CASE WHEN outcome.result <> 'confirm_identity' THEN %(client_ref)s END,
           outcome.result, %(kind)s, %(method)s, %(id_checked)s, (SELECT id FROM reg),
           outcome.checkin_id, CASE WHEN outcome.result <> 'wrong_event' THEN %(bib)s END,
           %(offline_answer)s, %(scanned_at)s, %(now)s
    FROM outcome, go
    RETURNING id
)
SELECT desk.user_id, desk.email, desk.role, desk.event_id, desk.bib_prefix, desk.allowed,
       outcome.result, outcome.checkin_id, (SELECT id FROM log),
       reg.id, reg.full_name, reg.shirt_size, reg.status, reg.is_member, reg.enrolled,
       prior.checked_in_at, prior.email, prior.device
FROM desk LEFT JOIN outcome ON true LEFT JOIN reg ON true LEFT JOIN prior ON true
"""
#: The scan page: the account and the event are known already (session and URL).
SCAN_AS_SQL = _SCAN_SQL.format(
    desk="SELECT %(user_id)s::int AS user_id, %(email)s::text AS email, NULL::text AS role,"
    " %(event_id)s::int AS event_id, %(prefix)s::text AS bib_prefix, true AS allowed"
)
#: The check-in API: who (by token) and where (by slug) are read in the same statement,
#: so a scan is one round trip; nothing is written unless the account may scan there.
SCAN_BY_TOKEN_SQL = _SCAN_SQL.format(desk=DESK_SQL)


def code_params(req: ScanRequest, event: ScanEvent | None) -> tuple[dict[str, object], str | None]:
    """What the scanned text names, as the scan statement's parameters; and, for a bib of
    another event, that event's city when it is known already.

    With the event known, :func:`identify` decides everything. Without it (the API's one
    round trip) a QR is verified against the keys alone and the statement compares the
    event it was signed for, and a typed bib's prefix, with the event's.
    """
    code, entry = req.code, req.entry
    qr_event = typed_prefix = city = None
    if event is not None:
        found = identify(event, code, entry)
        result, number, kind, city = found.result, found.number, found.kind, found.other_city
    elif entry.kind == "qr":
        verification = bib_signer().verify(code)
        valid = verification.verdict == Verdict.VALID
        result = None if valid else ScanResult.INVALID
        number = verification.bib_number if valid else None
        qr_event = verification.event_id if valid else None
        kind = "qr"
    else:
        typed = split_typed_bib(code)
        result = None if typed else ScanResult.INVALID
        typed_prefix, number = typed if typed else (None, None)
        if typed_prefix is not None:
            # A prefix no event has is invalid; another event's is "wrong_event" there
            # (the statement compares it with the event's own). Rare: typed bibs are
            # mostly bare numbers, so the hot statement does not look prefixes up.
            city = city_of_prefix(typed_prefix)
            if city is None:
                result, typed_prefix, number = ScanResult.INVALID, None, None
        kind = "typed"
    params = {
        "result": None if result is None else str(result),
        "bib": number,
        "kind": kind,
        "qr_event": qr_event,
        "typed_prefix": typed_prefix,
        "method": entry.method,
        "id_checked": entry.id_checked,
        "may_check_in": entry.may_check_in,
    }
    return params, city


def statement_params(req: ScanRequest) -> dict[str, object]:
    return {
        "station": req.station,
        "device": req.device,
        "client_ref": req.client_ref,
        "at": req.scanned_at or req.received_at,
        "scanned_at": req.scanned_at,
        "now": req.received_at,
        "offline_answer": req.offline_answer,
    }


def run_scan(
    sql: str, params: dict[str, Any], req: ScanRequest, other_city: str | None = None
) -> tuple[Desk, ScanOutcome | None]:
    """Run a scan statement: the desk it read, and the outcome if it was allowed to scan.

    ``other_city`` is the city a typed bib's prefix names, for a "wrong_event" answer.
    """
    try:
        rows = fastdb.fetch(sql, params)
    except IntegrityError as exc:
        if not isinstance(exc.orig, psycopg.errors.UniqueViolation) or req.client_ref is None:
            raise
        # The client_ref was answered before: the first answer stands, nothing changed.
        if "token_hash" in params:
            desk = desk_by_hash(params["slug"], params["token_hash"])
        else:
            desk = Desk(None, DeskEvent(params["event_id"], params["prefix"]), True)
        if desk.event is None or not desk.may_scan:  # pragma: no cover - changed meanwhile
            return desk, None
        replayed = replay(desk.event.id, req.client_ref)
        if replayed is None:  # pragma: no cover - the conflicting row must exist
            raise
        return desk, replayed
    user_id, email, role, event_id, prefix, allowed, result_text, checkin_id, log_id = rows[0][:9]
    reg_id, name, shirt, status, member, enrolled, first_at, first_by, first_device = rows[0][9:]
    desk = Desk(
        DeskUser(user_id, email, Role(role)) if role is not None else None,
        DeskEvent(event_id, prefix) if event_id is not None else None,
        bool(allowed),
    )
    if result_text is None:
        return desk, None  # not allowed to scan here: nothing was written
    fastdb.after_write()
    result = ScanResult(result_text)
    number = params["bib"]
    runner = None
    if reg_id is not None:
        runner = RunnerView(
            id=reg_id,
            bib=f"{prefix} {number:04d}",
            bib_number=number,
            full_name=name,
            shirt_size=shirt,
            status=status,
            is_member=member,
            enrolled=enrolled,
        )
    first = None
    if result == ScanResult.WRONG_EVENT and other_city is None:
        other_city = city_of_event(params["qr_event"])
    if result == ScanResult.CHECKED_IN:
        at = req.scanned_at or req.received_at
        first = CheckInView(checkin_id, req.station, at, email, req.device)
    elif result == ScanResult.ALREADY:
        if checkin_id is None:
            # Another device checked the runner in while this statement ran (after its
            # snapshot): read that check-in now and point the log at it.
            first = _active_checkin(reg_id, req.station)
            if first is not None:
                fastdb.fetch(
                    "UPDATE scan_log SET checkin_id = %(c)s WHERE id = %(id)s",
                    {"c": first.id, "id": log_id},
                )
        else:
            first = CheckInView(
                checkin_id, req.station, first_at.astimezone(UTC), first_by, first_device
            )
    return desk, ScanOutcome(
        result, runner, first, offline_answer=req.offline_answer, other_city=other_city
    )


def scan_with_token(
    slug: str, token: str | None, req: ScanRequest
) -> tuple[Desk, ScanOutcome | None]:
    """The check-in API's scan on PostgreSQL: who, where and the scan in one statement.

    Returns the desk (the token's account, the event, whether it may scan there) and,
    when it may, the outcome; when it may not, nothing was written.
    """
    named, city = code_params(req, None)
    params = {
        **statement_params(req),
        **named,
        "token_hash": token_hash(token),
        "slug": slug if len(slug) <= 64 else "",
    }
    return run_scan(SCAN_BY_TOKEN_SQL, params, req, city)


def _active_checkin(registration_id: int, station: str) -> CheckInView | None:
    """The runner's active check-in at the station, with who scanned it."""
    rows = fastdb.fetch(
        "SELECT c.id, c.station, c.checked_in_at, u.email, c.device FROM checkins c"
        " LEFT JOIN users u ON u.id = c.scanned_by_id"
        " WHERE c.registration_id = %(r)s AND c.station = %(s)s AND c.undone_at IS NULL",
        {"r": registration_id, "s": station},
    )
    if not rows:
        return None
    checkin_id, checkin_station, at, email, device = rows[0]
    return CheckInView(checkin_id, checkin_station, at.astimezone(UTC), email, device)
