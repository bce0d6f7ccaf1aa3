"""The rules of scanning: verify the bib, check in once per station, log every scan.

A check-in is an INSERT ... ON CONFLICT DO NOTHING against a partial unique index
(one active check-in per registration and station), so two devices scanning the same
bib at the same moment make exactly one check-in and the other is told "already".
A ``client_ref`` sent with a scan is unique in the scan log: replaying it returns the
first outcome and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from funrun import fastdb
from funrun.accounts.models import EventAssignment, Role, User
from funrun.accounts.services import TOKEN_PREFIX, hash_api_token, user_for_token
from funrun.audit.services import record
from funrun.bibs.services import split_typed_bib
from funrun.bibs.signing import Verdict, bib_signer
from funrun.checkin.entry import (
    SCAN,
    Entry,
    city_of_event,
    city_of_prefix,
    method_errors,
    read_entry,
)
from funrun.checkin.models import STATIONS, CheckIn, ScanLog, ScanResult
from funrun.dbtx import begin_write, insert_ignore
from funrun.dbtypes import utcnow
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.validation import ValidationFailed

HTTP_STATUS = {
    ScanResult.CHECKED_IN: 201,
    ScanResult.ALREADY: 200,
    ScanResult.UNKNOWN: 404,
    ScanResult.INVALID: 422,
    ScanResult.WRONG_EVENT: 409,
    ScanResult.NOT_CONFIRMED: 409,
    ScanResult.CONFIRM_IDENTITY: 200,
    ScanResult.UNDONE: 200,
}
MAX_CODE = 200
_REGISTRATIONS = Registration.__table__
_CHECKINS = CheckIn.__table__
_SCAN_LOG = ScanLog.__table__
_ENROLMENTS = Enrolment.__table__
SCANNED_AT_PAST = timedelta(days=7)
SCANNED_AT_FUTURE = timedelta(minutes=10)
_CLIENT_REF = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


@dataclass(frozen=True)
class RunnerView:
    """What a scan shows of the runner (read before the write; no NIK)."""

    id: int
    bib: str | None
    bib_number: int | None
    full_name: str
    shirt_size: str
    status: str
    is_member: bool
    #: Enrolled at a venue (any city) already: the desk has nothing to offer.
    enrolled: bool = False

    @classmethod
    def of(cls, registration: Registration, prefix: str) -> RunnerView:
        """Copy the fields a scan answer needs."""
        number = registration.bib_number
        return cls(
            id=registration.id,
            bib=f"{prefix} {number:04d}" if number is not None else None,
            bib_number=number,
            full_name=registration.full_name,
            shirt_size=registration.shirt_size,
            status=registration.status,
            is_member=registration.is_member,
            enrolled=_enrolled(registration.person_id),
        )


@dataclass(frozen=True)
class CheckInView:
    """A check-in as a scan answer shows it: for repeats, when and by whom it was first."""

    id: int
    station: str
    checked_in_at: datetime
    scanned_by: str | None
    #: The label of the device that scanned it (tells two phones of one volunteer apart).
    device: str | None = None


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to a scan, with the runner and (for repeats) the first check-in."""

    result: ScanResult
    registration: RunnerView | None = None
    checkin: CheckInView | None = None
    replayed: bool = False
    #: What the device answered offline, for a queued scan.
    offline_answer: str | None = None
    #: For "wrong_event": the city of the event the bib belongs to, when known.
    other_city: str | None = None

    @property
    def conflict(self) -> bool:
        """The device said "checked in" offline, but another scan had come first."""
        return self.offline_answer == ScanResult.CHECKED_IN and self.result == ScanResult.ALREADY

    @property
    def http_status(self) -> int:
        """The status code the API answers with."""
        return HTTP_STATUS[self.result]

    def as_json(self) -> dict:
        """The outcome as the check-in API and the scan page show it (no NIK)."""
        body: dict = {
            "result": str(self.result),
            "registration": None,
            "replayed": self.replayed,
            "conflict": self.conflict,
        }
        reg = self.registration
        if reg is not None:
            body["registration"] = {
                "id": reg.id,
                "bib": reg.bib,
                "bib_number": reg.bib_number,
                "full_name": reg.full_name,
                "shirt_size": reg.shirt_size,
                "status": reg.status,
                "member": reg.is_member,
                # Non-members are who the enrolment desk is for.
                "enrolled": reg.enrolled,
                "offer_enrolment": not reg.is_member and not reg.enrolled,
            }
        if self.result == ScanResult.WRONG_EVENT and self.other_city:
            body["other_event"] = {"city": self.other_city}
        if self.checkin is not None:
            body["checkin_id"] = self.checkin.id
            body["station"] = self.checkin.station
            if self.result == ScanResult.ALREADY:
                body["first_at"] = self.checkin.checked_in_at.isoformat()
                body["first_by"] = self.checkin.scanned_by
                body["first_device"] = self.checkin.device
        return body


class ScanEvent(Protocol):
    """What scanning needs of an event (an :class:`Event`, or a :class:`Desk`'s)."""

    id: int
    bib_prefix: str


class Scanner(Protocol):
    """What scanning needs of the person scanning."""

    id: int
    email: str


@dataclass(frozen=True)
class DeskEvent:
    """The event a scan is for, as the hot path reads it."""

    id: int
    bib_prefix: str


@dataclass(frozen=True)
class DeskUser:
    """The active account behind an API token, as the hot path reads it."""

    id: int
    email: str
    role: Role


@dataclass(frozen=True)
class Desk:
    """Who is scanning (by API token) and where, read in one query."""

    user: DeskUser | None
    event: DeskEvent | None
    may_scan: bool


_DESK_SQL = """
SELECT u.id AS user_id, u.email, u.role, e.id AS event_id, e.bib_prefix,
       COALESCE(e.id IS NOT NULL AND (u.role IN ('admin', 'organiser') OR (
           u.role = 'volunteer' AND EXISTS (SELECT 1 FROM event_assignments a
                                            WHERE a.user_id = u.id AND a.event_id = e.id))),
           false) AS allowed
FROM (SELECT 1) AS one
LEFT JOIN (api_tokens t JOIN users u ON u.id = t.user_id AND u.active)
       ON t.token_hash = %(token_hash)s AND t.revoked_at IS NULL
LEFT JOIN events e ON e.slug = %(slug)s
"""


def scan_desk(slug: str, token: str | None) -> Desk:
    """The API caller's account and the event, and whether they may scan there.

    One query on PostgreSQL (the check-in endpoint folds it into its scan statement and
    needs it alone only to refuse a bad body); the same answer from the ORM elsewhere.
    """
    user = event = None
    if not fastdb.available():
        account = user_for_token(token) if token else None
        found = get_event(slug)
        if account is not None:
            user = DeskUser(account.id, account.email, Role(account.role))
        if found is not None:
            event = DeskEvent(found.id, found.bib_prefix)
        allowed = account is not None and found is not None and can_scan(account, found.id)
        return Desk(user, event, allowed)
    return _desk_by_hash(slug if len(slug) <= 64 else "", _token_hash(token))


def _token_hash(token: str | None) -> str | None:
    """The stored hash of an API token; None for a missing or malformed one."""
    if token is None or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return hash_api_token(token)


def _desk_by_hash(slug: str, token_hash: str | None) -> Desk:
    user_id, email, role, event_id, prefix, allowed = fastdb.fetch(
        _DESK_SQL, {"token_hash": token_hash, "slug": slug}
    )[0]
    user = DeskUser(user_id, email, Role(role)) if user_id is not None else None
    event = DeskEvent(event_id, prefix) if event_id is not None else None
    return Desk(user, event, bool(allowed))


def _enrolled(person_id: int) -> bool:
    """Whether the person is enrolled already (at any event)."""
    return (
        db.session.scalar(select(_ENROLMENTS.c.id).where(_ENROLMENTS.c.person_id == person_id))
        is not None
    )


def can_scan(user: User, event_id: int) -> bool:
    """Admins and organisers scan anywhere; volunteers only at events they are assigned."""
    if user.role in (Role.ADMIN, Role.ORGANISER):
        return True
    if user.role != Role.VOLUNTEER:
        return False
    return (
        db.session.scalar(
            select(EventAssignment.id).where(
                EventAssignment.user_id == user.id, EventAssignment.event_id == event_id
            )
        )
        is not None
    )


def assigned_stations(user: User) -> dict[int, str]:
    """The station a volunteer was assigned at each event, where one was (event id: code).

    Where their scan page opens; they may still switch, as volunteers move between desks.
    """
    if user.role != Role.VOLUNTEER:
        return {}
    rows = db.session.execute(
        select(EventAssignment.event_id, EventAssignment.station).where(
            EventAssignment.user_id == user.id, EventAssignment.station.in_(STATIONS)
        )
    )
    return {event_id: station for event_id, station in rows}


#: What a device may say it answered offline (it never undoes, and queues a typed bib
#: only once the ID card was checked).
OFFLINE_ANSWERS = frozenset(
    str(r) for r in ScanResult if r not in (ScanResult.UNDONE, ScanResult.CONFIRM_IDENTITY)
)


def _check_input(
    code: object,
    station: object,
    client_ref: object,
    offline_answer: object = None,
    method: object = None,
    id_checked: object = None,
) -> tuple[str, str, str | None]:
    errors = method_errors(method, id_checked)
    if offline_answer is not None and (
        not isinstance(offline_answer, str) or offline_answer not in OFFLINE_ANSWERS
    ):
        errors["offline_answer"] = [str(_l("Unknown offline answer."))]
    if not isinstance(code, str) or not code.strip():
        errors["code"] = [str(_l("Scan a bib or type its number."))]
    elif len(code) > MAX_CODE:
        errors["code"] = [str(_l("At most %(n)d characters.", n=MAX_CODE))]
    if station not in STATIONS:
        errors["station"] = [str(_l("Unknown station."))]
    if client_ref is not None and (
        not isinstance(client_ref, str) or not _CLIENT_REF.fullmatch(client_ref)
    ):
        errors["client_ref"] = [str(_l("client_ref must be 1-64 letters, digits or _.:-"))]
    if errors:
        raise ValidationFailed(errors)
    return code.strip(), station, client_ref  # type: ignore[union-attr,return-value]


def parse_scanned_at(value: object) -> datetime | None:
    """A queued scan's ISO 8601 time with a zone, in UTC; None when absent."""
    if value is None:
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            # Years 1 and 9999 with an offset overflow when moved to UTC.
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else None
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise ValidationFailed({"scanned_at": [str(_l("Use an ISO 8601 time with a time zone."))]})
    return parsed


def _clean_device(device: str | None) -> str | None:
    """A device label fit to store: printable characters only (no NUL, no lone surrogates)."""
    if not isinstance(device, str):
        return None
    return "".join(ch for ch in device if ch.isprintable())[:64] or None


_REPLAY_SQL = """
WITH mended AS (
    -- "Already checked in" by a device whose check-in the scan statement could not see:
    -- _run_scan points the row at it in a second statement, which never ran if the worker
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
    """:func:`_replay` on PostgreSQL."""
    rows = fastdb.fetch(_REPLAY_SQL, {"event_id": event_id, "client_ref": client_ref})
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


def _replay(event_id: int, client_ref: str) -> ScanOutcome | None:
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


def _identify(event: ScanEvent, code: str, entry: Entry) -> Identified:
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
        -- A typed prefix is sent only when some event has it (_code_params).
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
_SCAN_AS_SQL = _SCAN_SQL.format(
    desk="SELECT %(user_id)s::int AS user_id, %(email)s::text AS email, NULL::text AS role,"
    " %(event_id)s::int AS event_id, %(prefix)s::text AS bib_prefix, true AS allowed"
)
#: The check-in API: who (by token) and where (by slug) are read in the same statement,
#: so a scan is one round trip; nothing is written unless the account may scan there.
_SCAN_BY_TOKEN_SQL = _SCAN_SQL.format(desk=_DESK_SQL)


@dataclass(frozen=True)
class ScanRequest:
    """A scan's input, checked: what the page or the API was sent."""

    code: str
    station: str
    client_ref: str | None
    scanned_at: datetime | None
    device: str | None
    received_at: datetime
    #: What the device answered offline (a queued scan), else None.
    offline_answer: str | None = None
    #: How the code was entered, and so what it may prove (entry.py).
    entry: Entry = field(default_factory=lambda: Entry(SCAN, "qr", False))


def read_scan(
    code: object,
    *,
    station: object = "pickup",
    client_ref: object = None,
    scanned_at: datetime | None = None,
    device: str | None = None,
    offline_answer: object = None,
    method: object = None,
    id_checked: object = None,
) -> ScanRequest:
    """Check a scan's fields (raises :class:`ValidationFailed` with field errors).

    ``method`` is "scan" (the default: a camera or a handheld scanner) or "typed";
    ``id_checked`` says the volunteer compared the ID card (entry.py has the rule).
    """
    code, station, client_ref = _check_input(
        code, station, client_ref, offline_answer, method, id_checked
    )
    now = utcnow()
    # Offline devices send scans late, never from the future or from last month.
    if scanned_at is not None and not (
        now - SCANNED_AT_PAST <= scanned_at <= now + SCANNED_AT_FUTURE
    ):
        raise ValidationFailed(
            {"scanned_at": [str(_l("The scan time must be within the last 7 days."))]}
        )
    answered = offline_answer if isinstance(offline_answer, str) else None
    entry = read_entry(method, code, id_checked)  # type: ignore[arg-type]
    return ScanRequest(
        code, station, client_ref, scanned_at, _clean_device(device), now, answered, entry
    )


def _code_params(req: ScanRequest, event: ScanEvent | None) -> tuple[dict[str, object], str | None]:
    """What the scanned text names, as the scan statement's parameters; and, for a bib of
    another event, that event's city when it is known already.

    With the event known, :func:`_identify` decides everything. Without it (the API's one
    round trip) a QR is verified against the keys alone and the statement compares the
    event it was signed for, and a typed bib's prefix, with the event's.
    """
    code, entry = req.code, req.entry
    qr_event = typed_prefix = city = None
    if event is not None:
        found = _identify(event, code, entry)
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


def _statement_params(req: ScanRequest) -> dict[str, object]:
    return {
        "station": req.station,
        "device": req.device,
        "client_ref": req.client_ref,
        "at": req.scanned_at or req.received_at,
        "scanned_at": req.scanned_at,
        "now": req.received_at,
        "offline_answer": req.offline_answer,
    }


def _run_scan(
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
            desk = _desk_by_hash(params["slug"], params["token_hash"])
        else:
            desk = Desk(None, DeskEvent(params["event_id"], params["prefix"]), True)
        if desk.event is None or not desk.may_scan:  # pragma: no cover - changed meanwhile
            return desk, None
        replayed = _replay(desk.event.id, req.client_ref)
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
    code_params, city = _code_params(req, None)
    params = {
        **_statement_params(req),
        **code_params,
        "token_hash": _token_hash(token),
        "slug": slug if len(slug) <= 64 else "",
    }
    return _run_scan(_SCAN_BY_TOKEN_SQL, params, req, city)


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
        code_params, city = _code_params(req, event)
        params = {
            **_statement_params(req),
            **code_params,
            "user_id": user.id,
            "email": user.email,
            "event_id": event.id,
            "prefix": event.bib_prefix,
        }
        outcome = _run_scan(_SCAN_AS_SQL, params, req, city)[1]
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
    found = _identify(event, code, entry)
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
            replayed = _replay(event_id, client_ref)  # type: ignore[arg-type]
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
    device = _clean_device(device)
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
