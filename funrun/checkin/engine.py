"""Running a scan: the write, on SQLite and PostgreSQL, and the answer it gives.

One implementation on both databases, from the Core pieces of
:mod:`funrun.checkin.statements`. The only difference is :func:`_write`, chosen by
dialect: PostgreSQL folds the desk (token, event, assignment), the check-in INSERT ...
ON CONFLICT DO NOTHING and the scan-log row into one statement with data-modifying CTEs
(one round trip, on the fast path's autocommit engine); SQLite, which has no
data-modifying CTEs, runs the same pieces one after another in a write transaction.

A replayed client_ref violates the scan log's unique index, so the write changes
nothing and the first answer is given (replay.py). What a code names is codes.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from funrun import fastdb
from funrun.accounts.models import Role
from funrun.checkin.codes import code_params
from funrun.checkin.desk import Desk, DeskEvent, DeskUser, read_desk, token_hash
from funrun.checkin.models import ScanResult
from funrun.checkin.outcomes import CheckInView, RunnerView, ScanOutcome
from funrun.checkin.pickup import check_shirt, pickup_view, proxy_refused, write_pickup
from funrun.checkin.replay import replay
from funrun.checkin.scanrequest import ScanRequest
from funrun.checkin.statements import (
    CHECKIN_COLUMNS,
    CHECKINS,
    EVENTS,
    EXTRA_COLUMNS,
    LOG_COLUMNS,
    SCAN_LOG,
    checkin_row,
    desk_query,
    extra_values,
    log_row,
    may_insert,
    outcome_rule,
    param,
    prior_query,
    run,
    runner_query,
)
from funrun.dbtx import begin_write
from funrun.extensions import db

# --- PostgreSQL: the whole scan in one statement ------------------------------------------


def _one_statement(desk: Select[Any], pickup: bool = False) -> Select[Any]:
    """The scan as one statement of data-modifying CTEs, for the given desk row; with
    ``pickup``, one that records a pickup's details and refuses a representative over the
    limit (``proxy_refused``, counted first under the event's row lock: pickup.py)."""
    d = desk.cte("desk")
    go = select(d.c.user_id, d.c.event_id, d.c.bib_prefix).where(d.c.allowed).cte("go")
    result, qr_event = param("result", String), param("qr_event", Integer)
    typed_prefix = param("typed_prefix", String)
    verdict = (
        select(
            case(
                (result.is_not(None), result),
                (qr_event != go.c.event_id, str(ScanResult.WRONG_EVENT)),
                (
                    typed_prefix != go.c.bib_prefix,
                    # Another event's prefix names that event; one no event has is wrong.
                    case(
                        (
                            exists().where(EVENTS.c.bib_prefix == typed_prefix),
                            str(ScanResult.WRONG_EVENT),
                        ),
                        else_=str(ScanResult.INVALID),
                    ),
                ),
            ).label("result")
        )
        .select_from(go)
        .cte("verdict")
    )
    reg = (
        runner_query(select(go.c.event_id).scalar_subquery(), param("bib", Integer))
        .where(exists().where(verdict.c.result.is_(None)))
        .cte("reg")
    )
    prior = prior_query(select(reg.c.id).scalar_subquery(), bindparam("station")).cte("prior")
    may = param("may_check_in", Boolean)
    refused = param("proxy_refused", Boolean) if pickup else None
    columns, values = CHECKIN_COLUMNS, checkin_row(go.c.event_id, reg.c.id, go.c.user_id)
    if pickup:
        columns, values = columns + EXTRA_COLUMNS, values + extra_values(reg.c.shirt_size)
    made = (
        postgresql.insert(CHECKINS)
        .from_select(
            columns,
            select(*values)
            .select_from(reg)
            .join(go, true())
            .where(may_insert(reg.c.status, exists().select_from(prior), may, refused)),
        )
        .on_conflict_do_nothing()
        .returning(CHECKINS.c.id)
        .cte("made")
    )
    outcome = (
        select(
            outcome_rule(
                verdict.c.result,
                exists().select_from(reg),
                select(reg.c.status).scalar_subquery(),
                exists().select_from(made),
                may,
                exists().select_from(prior),
                refused,
            ).label("result"),
            func.coalesce(
                select(made.c.id).scalar_subquery(), select(prior.c.id).scalar_subquery()
            ).label("checkin_id"),
            _other_city(verdict.c.result, qr_event, typed_prefix, go.c.event_id),
        )
        .select_from(verdict)
        .cte("outcome")
    )
    reg_id = select(reg.c.id).scalar_subquery()
    log = (
        postgresql.insert(SCAN_LOG)
        .from_select(
            LOG_COLUMNS,
            select(
                *log_row(
                    go.c.event_id, go.c.user_id, outcome.c.result, reg_id, outcome.c.checkin_id
                )
            )
            .select_from(outcome)
            .join(go, true()),
        )
        .returning(SCAN_LOG.c.id)
        .cte("log")
    )
    return select(
        d.c.user_id,
        d.c.email,
        d.c.role,
        d.c.event_id,
        d.c.bib_prefix,
        d.c.allowed,
        outcome.c.result,
        outcome.c.checkin_id,
        select(log.c.id).scalar_subquery(),
        reg.c.id,
        reg.c.full_name,
        reg.c.shirt_size,
        reg.c.status,
        reg.c.is_member,
        reg.c.enrolled,
        prior.c.checked_in_at,
        prior.c.email,
        prior.c.device,
        outcome.c.other_city,
    ).select_from(d.outerjoin(outcome, true()).outerjoin(reg, true()).outerjoin(prior, true()))


def _other_city(verdict: Any, qr_event: Any, typed_prefix: Any, event_id: Any) -> Any:
    """For a bib of another event, that event's city (entry.city_of_event and
    city_of_prefix, in the statement: no round trip of its own)."""
    e = EVENTS.alias("x")
    return (
        select(e.c.city)
        .where(
            verdict == str(ScanResult.WRONG_EVENT),
            or_(
                e.c.id == qr_event,
                and_(e.c.bib_prefix == typed_prefix, e.c.id != event_id),
            ),
        )
        .order_by(e.c.date.desc())
        .limit(1)
        .scalar_subquery()
        .label("other_city")
    )


#: The check-in API by token: who, where and the scan in one round trip.
SCAN_BY_TOKEN = _one_statement(desk_query(param("token_hash", String), param("slug", String)))
_KNOWN_DESK = select(
    param("user_id", Integer).label("user_id"),
    param("email", String).label("email"),
    cast(null(), String).label("role"),
    param("event_id", Integer).label("event_id"),
    param("prefix", String).label("bib_prefix"),
    true().label("allowed"),
)
#: A desk known already (the signed-in page's account and event).
SCAN_AT_DESK = _one_statement(_KNOWN_DESK)
#: A pickup with details at a known desk (rare: the hot statements above stay short).
SCAN_WITH_PICKUP = _one_statement(_KNOWN_DESK, pickup=True)


# --- SQLite: the same pieces, one after another ---------------------------------------------


def _in_steps(desk: Desk, params: dict[str, Any]) -> tuple[Any, ...]:
    """The scan on SQLite: the row :func:`_one_statement` gives, in a write transaction."""
    head = (
        desk.user.id if desk.user else None,
        desk.user.email if desk.user else None,
        str(desk.user.role) if desk.user else None,
        desk.event.id if desk.event else None,
        desk.event.bib_prefix if desk.event else None,
        desk.may_scan,
    )
    if desk.event is None or desk.user is None or not desk.may_scan:
        return (*head, *([None] * 13))
    event_id, user_id = desk.event.id, desk.user.id
    runner = prior = None
    begin_write()
    if params["result"] is None:
        runner = db.session.execute(runner_query(event_id, params["bib"])).first()
    if runner is not None:
        prior = db.session.execute(prior_query(runner.id, params["station"])).first()
    made = None
    pickup = "proxy_refused" in params
    refused = param("proxy_refused", Boolean) if pickup else None
    if pickup:
        params["proxy_refused"], params["proxy_limit"] = proxy_refused(
            event_id, params["proxy_nik_hash"]
        )
    if runner is not None:
        columns = CHECKIN_COLUMNS + (EXTRA_COLUMNS if pickup else ())
        values = checkin_row(literal(event_id), literal(runner.id), literal(user_id))
        if pickup:
            values += extra_values(literal(runner.shirt_size))
        made = db.session.scalar(
            sqlite.insert(CHECKINS)
            .from_select(
                columns,
                select(*values).where(
                    may_insert(
                        literal(runner.status),
                        literal(prior is not None),
                        param("may_check_in", Boolean),
                        refused,
                    )
                ),
            )
            .on_conflict_do_nothing()
            .returning(CHECKINS.c.id),
            params,
        )
    checkin_id = made if made is not None else (prior.id if prior is not None else None)
    outcome = select(
        outcome_rule(
            literal(params["result"], String),
            literal(runner is not None),
            literal(runner.status if runner else None, String),
            literal(made is not None),
            param("may_check_in", Boolean),
            literal(prior is not None),
            refused,
        ).label("result")
    ).subquery("outcome")
    reg_id = literal(runner.id if runner else None, Integer)
    logged = db.session.execute(
        sqlite.insert(SCAN_LOG)
        .from_select(
            LOG_COLUMNS,
            select(
                *log_row(
                    literal(event_id),
                    literal(user_id),
                    outcome.c.result,
                    reg_id,
                    literal(checkin_id, Integer),
                )
            ).select_from(outcome),
        )
        .returning(SCAN_LOG.c.id, SCAN_LOG.c.result),
        params,
    ).one()
    runner_fields = tuple(runner) if runner is not None else (None,) * 6
    prior_fields = (prior.checked_in_at, prior.email, prior.device) if prior else (None,) * 3
    # The desk was known, so identify() named another event's city already (code_params).
    return (*head, logged.result, checkin_id, logged.id, *runner_fields, *prior_fields, None)


def _write(desk: Desk | None, params: dict[str, Any]) -> tuple[Any, ...]:
    """Run the scan's write; the one row both databases answer. (The only difference
    between them: one statement on PostgreSQL, several in a transaction on SQLite.)"""
    if fastdb.available() and "proxy_refused" in params:
        return write_pickup(SCAN_WITH_PICKUP, params)
    if fastdb.available():
        statement = SCAN_BY_TOKEN if desk is None else SCAN_AT_DESK
        return tuple(fastdb.run_hot(statement, params)[0])
    assert desk is not None  # SQLite reads the desk first (read_desk)
    try:
        row = _in_steps(desk, params)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row


def desk_params(desk: Desk) -> dict[str, Any]:
    """The parameters of a known desk (the signed-in page's account and event)."""
    assert desk.user is not None and desk.event is not None
    return {
        "user_id": desk.user.id,
        "email": desk.user.email,
        "event_id": desk.event.id,
        "prefix": desk.event.bib_prefix,
    }


def run_scan(
    req: ScanRequest, *, desk: Desk | None = None, slug: str = "", token: str | None = None
) -> tuple[Desk, ScanOutcome | None]:
    """Scan at a known ``desk``, or (``desk`` None) at the desk a token and slug name.

    Returns the desk and, when it may scan there, the outcome; when it may not, nothing
    was written.
    """
    if desk is None and (req.pickup is not None or not fastdb.available()):
        desk = read_desk(slug, token)  # SQLite (and a pickup's details) read who and where first
    if desk is None:
        # PostgreSQL by token: the statement reads who and where itself.
        params, city = code_params(req, None)
        params.update(token_hash=token_hash(token), slug=slug if len(slug) <= 64 else "")
    else:
        if desk.event is None or desk.user is None or not desk.may_scan:
            return desk, None
        params, city = code_params(req, desk.event)
        params.update(desk_params(desk))
        if req.pickup is not None:
            check_shirt(desk.event.id, req.pickup)
            params.update(req.pickup.params(), proxy_refused=False)
    try:
        row = _write(desk, params)
    except IntegrityError:
        if req.client_ref is None:
            raise
        # The client_ref was answered before: the first answer stands, nothing changed.
        known = desk if desk is not None else read_desk(slug, token)
        if known.event is None or not known.may_scan:  # pragma: no cover - changed meanwhile
            return known, None
        replayed = replay(known.event.id, req.client_ref)
        if replayed is None:  # pragma: no cover - the conflicting row must exist
            raise
        return known, replayed
    return _outcome(row, params, req, city, desk)


def _outcome(
    row: tuple[Any, ...],
    params: dict[str, Any],
    req: ScanRequest,
    other_city: str | None,
    known: Desk | None,
) -> tuple[Desk, ScanOutcome | None]:
    """The desk and the outcome from the write's row."""
    user_id, email, role, event_id, prefix, allowed, result_text, checkin_id, log_id = row[:9]
    reg_id, name, shirt, status, member, enrolled, first_at, first_by, first_device = row[9:18]
    other_city = other_city or row[18]
    desk = known or Desk(
        DeskUser(user_id, email, Role(role)) if user_id is not None else None,
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
            is_member=bool(member),
            enrolled=bool(enrolled),
        )
    first = None
    if result == ScanResult.CHECKED_IN:
        first = CheckInView(
            checkin_id, req.station, req.scanned_at or req.received_at, email, req.device
        )
    elif result == ScanResult.ALREADY:
        if checkin_id is None:
            # Another device checked the runner in while the statement ran (after its
            # snapshot): read that check-in now and point the log at it.
            first = _active_checkin(reg_id, req.station)
            if first is not None:
                run(update(SCAN_LOG).where(SCAN_LOG.c.id == log_id).values(checkin_id=first.id))
        else:
            first = CheckInView(checkin_id, req.station, first_at, first_by, first_device)
    return desk, ScanOutcome(
        result,
        runner,
        first,
        offline_answer=req.offline_answer,
        other_city=other_city,
        pickup=pickup_view(req.pickup, result, reg_id, params.get("proxy_limit")),
    )


def _active_checkin(registration_id: int, station: str) -> CheckInView | None:
    rows = run(prior_query(registration_id, station))
    return CheckInView(*rows[0]) if rows else None
