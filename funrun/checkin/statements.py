"""The scan as SQLAlchemy Core constructs: the pieces both databases run.

The rule of a scan's outcome (:func:`outcome_rule`), the runner and the active check-in
it looks up, the check-in INSERT ... ON CONFLICT DO NOTHING and the scan-log row are
written here once. :mod:`funrun.checkin.engine` runs them: on PostgreSQL assembled into
one statement (data-modifying CTEs, one round trip), on SQLite one after another in a
write transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Executable,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)

from funrun import fastdb
from funrun.accounts.models import ApiToken, EventAssignment, Role, User
from funrun.checkin.models import CheckIn, ScanLog, ScanResult
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus

REGISTRATIONS = Registration.__table__
CHECKINS = CheckIn.__table__
SCAN_LOG = ScanLog.__table__
EVENTS = Event.__table__
USERS = User.__table__
_TOKENS = ApiToken.__table__
_ASSIGNMENTS = EventAssignment.__table__
ENROLMENTS = Enrolment.__table__


def run(statement: Executable, params: dict[str, Any] | None = None) -> list[Row[Any]]:
    """Run one statement: on PostgreSQL on the fast path's autocommit engine (off the
    session's connections: one round trip), on SQLite in the session."""
    if fastdb.available():
        return fastdb.run(statement, params)
    return list(db.session.execute(statement, params or {}).all())


def param(name: str, type_: Any) -> Any:
    """A named parameter with its type stated: PostgreSQL cannot always infer it, and the
    psycopg dialect sends the type with the value (``%(name)s::INTEGER``)."""
    return bindparam(name, type_=type_)


def desk_query(token_hash: Any, slug: Any) -> Select[Any]:
    """Who (by API token) and where (by slug), and whether they may scan there: one row.

    The scan statement by token embeds it; both go numbered through
    :func:`funrun.fastdb.run_hot` on PostgreSQL, so their length costs no parsing.
    """
    users, tokens, events = USERS.alias("u"), _TOKENS.alias("t"), EVENTS.alias("e")
    assignments = _ASSIGNMENTS.alias("a")
    u, t, e, a = users.c, tokens.c, events.c, assignments.c
    account = tokens.join(users, and_(u.id == t.user_id, u.active.is_(True)))
    one = select(literal(1).label("one")).subquery("one")
    assigned = exists().where(a.user_id == u.id, a.event_id == e.id)
    allowed = and_(
        e.id.is_not(None),
        or_(
            u.role == str(Role.ADMIN),
            u.role == str(Role.ORGANISER),
            and_(u.role == str(Role.VOLUNTEER), assigned),
        ),
    )
    return select(
        u.id.label("user_id"),
        u.email,
        u.role,
        e.id.label("event_id"),
        e.bib_prefix,
        func.coalesce(allowed, false()).label("allowed"),
    ).select_from(
        one.outerjoin(account, and_(t.token_hash == token_hash, t.revoked_at.is_(None))).outerjoin(
            events, e.slug == slug
        )
    )


def runner_query(event_id: Any, bib: Any) -> Select[Any]:
    """The runner holding bib ``bib`` at the event, as a scan shows them."""
    r = REGISTRATIONS.alias("r").c
    return select(
        r.id,
        r.full_name,
        r.shirt_size,
        r.status,
        r.is_member,
        exists().where(ENROLMENTS.c.person_id == r.person_id).label("enrolled"),
    ).where(r.event_id == event_id, r.bib_number == bib)


def prior_query(registration_id: Any, station: Any) -> Select[Any]:
    """The runner's active check-in at the station, with who scanned it."""
    checkins, users = CHECKINS.alias("c"), USERS.alias("u")
    c = checkins.c
    return (
        select(c.id, c.station, c.checked_in_at, users.c.email, c.device)
        .select_from(checkins.outerjoin(users, users.c.id == c.scanned_by_id))
        .where(c.registration_id == registration_id, c.station == station, c.undone_at.is_(None))
    )


def may_insert(
    status: Any, prior_found: Any, may_check_in: Any, proxy_refused: Any = None
) -> ColumnElement[bool]:
    """When a scan makes a check-in: a confirmed runner, none active yet, and a code that
    may check in by itself (a signed bib, or a typed one with the ID card checked); for a
    pickup by a representative, one still within the event's limit (pickup.py)."""
    rule = and_(status == str(RegistrationStatus.CONFIRMED), not_(prior_found), may_check_in)
    return rule if proxy_refused is None else and_(rule, not_(proxy_refused))


def outcome_rule(
    verdict: Any,
    runner_found: Any,
    status: Any,
    inserted: Any,
    may_check_in: Any,
    prior_found: Any,
    proxy_refused: Any = None,
) -> ColumnElement[str]:
    """The answer to a scan, from what the code named and what the database holds.

    ``verdict`` is the answer already known from the code alone (invalid, wrong event),
    else NULL. A typed bib before the ID card was checked is ``confirm_identity`` unless
    the runner is in already (entry.py). ``proxy_refused`` (a pickup with a representative
    only, pickup.py) answers ``proxy_limit`` for a runner not in yet.
    """
    whens = [
        (verdict.is_not(None), verdict),
        (not_(runner_found), str(ScanResult.UNKNOWN)),
        (status != str(RegistrationStatus.CONFIRMED), str(ScanResult.NOT_CONFIRMED)),
        (inserted, str(ScanResult.CHECKED_IN)),
    ]
    if proxy_refused is not None:
        whens.append((and_(proxy_refused, not_(prior_found)), str(ScanResult.PROXY_LIMIT)))
    whens.append((and_(not_(may_check_in), not_(prior_found)), str(ScanResult.CONFIRM_IDENTITY)))
    return case(*whens, else_=str(ScanResult.ALREADY))


#: The scan log's columns in the order :func:`log_row` gives their values.
LOG_COLUMNS = (
    "event_id",
    "user_id",
    "station",
    "device",
    "client_ref",
    "result",
    "code_kind",
    "method",
    "id_checked",
    "registration_id",
    "checkin_id",
    "bib_number",
    "offline_answer",
    "scanned_at",
    "received_at",
)


def log_row(
    event_id: Any, user_id: Any, result: Any, registration_id: Any, checkin_id: Any
) -> list[Any]:
    """The scan-log row of a scan (the request's fields come from its parameters).

    A ``confirm_identity`` is logged without its client_ref: the same scan is sent again
    with id_checked, and that one is what a replay answers.
    """
    col = SCAN_LOG.c
    return [
        event_id,
        user_id,
        bindparam("station", type_=col.station.type),
        bindparam("device", type_=col.device.type),
        case(
            (result != str(ScanResult.CONFIRM_IDENTITY), bindparam("client_ref", type_=String)),
            else_=None,
        ),
        result,
        bindparam("kind", type_=col.code_kind.type),
        bindparam("method", type_=col.method.type),
        param("id_checked", Boolean),
        registration_id,
        checkin_id,
        # No bib of this event: one of another event, or a code that names none.
        case(
            (result == str(ScanResult.WRONG_EVENT), None),
            (result == str(ScanResult.INVALID), None),
            else_=param("bib", Integer),
        ),
        bindparam("offline_answer", type_=col.offline_answer.type),
        bindparam("scanned_at", type_=col.scanned_at.type),
        bindparam("now", type_=col.received_at.type),
    ]


def checkin_row(event_id: Any, registration_id: Any, user_id: Any) -> list[Any]:
    """The values of a new check-in (event, runner, station, time, who, device)."""
    col = CHECKINS.c
    return [
        event_id,
        registration_id,
        bindparam("station", type_=col.station.type),
        bindparam("at", type_=col.checked_in_at.type),
        user_id,
        bindparam("device", type_=col.device.type),
    ]


CHECKIN_COLUMNS = (
    "event_id",
    "registration_id",
    "station",
    "checked_in_at",
    "scanned_by_id",
    "device",
)


#: What a pickup with details adds to a check-in: the representative who collected (their
#: name and the keyed hash of their NIK) and the shirt size handed out when it differs.
EXTRA_COLUMNS = ("proxy_name", "proxy_nik_hash", "shirt_given")


def extra_values(registered_size: Any) -> list[Any]:
    """The values of :data:`EXTRA_COLUMNS` (a size equal to the registered one is no swap:
    NULL)."""
    col = CHECKINS.c
    given = bindparam("shirt_given", type_=col.shirt_given.type)
    return [
        bindparam("proxy_name", type_=col.proxy_name.type),
        bindparam("proxy_nik_hash", type_=col.proxy_nik_hash.type),
        case((given == registered_size, None), else_=given),
    ]
