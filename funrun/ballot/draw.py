"""The draw: after the entry window closes, every entry ranked in the published order
(:mod:`funrun.ballot.order`), the winners confirmed with bibs in that order, the others
waitlisted in that order, everybody told.

One transaction under the event's row lock: the event is read afresh, refused unless it
is a ballot whose window has closed and that was not drawn yet (so a second draw, even
one racing the first, finds it drawn and changes nothing); the entries are read in one
statement, ordered in Python, and written back in one set-based statement
(:func:`_write_outcomes`, the one place the two databases differ); the event's counters,
the published seed and the draw's time in one UPDATE; the messages by one
``INSERT ... SELECT`` a kind. 100,000 entries take 6-8 s on two shared cores, most of it
PostgreSQL's writing of every row and message (bench/ballot.py, bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
    update,
)

from funrun.ballot.order import draw_order
from funrun.ballot.seed import secret_seed, seed_hash
from funrun.dbtx import begin_write
from funrun.dbtypes import UTCDateTime, utcnow
from funrun.events.models import Event, Opening
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue
from funrun.registration.cancelling import lock_event
from funrun.registration.models import Pool, Registration, RegistrationStatus
from funrun.registration.places import no_enrolment
from funrun.registration.pools import pool_for

_R = Registration.__table__.c
_CONFIRMED = RegistrationStatus.CONFIRMED.value
_HELD = RegistrationStatus.HELD.value
_WAITLISTED = RegistrationStatus.WAITLISTED.value


class DrawRefused(Exception):
    """The draw cannot be made now; the message is for the organiser."""


class AlreadyDrawn(DrawRefused):
    """The ballot was drawn before (the second of two draws lands here)."""


@dataclass(frozen=True)
class DrawResult:
    """What a draw did."""

    entries: int
    confirmed: int
    held: int
    waitlisted: int
    withdrawn: int
    seed: str
    drawn_at: datetime


@dataclass
class Room:
    """Places the draw can give: kept for non-members, for partners' runners, general."""

    non_member: int
    partner: int
    general: int


def room(event: Event, now: datetime) -> Room:
    """The places free at the draw, by pool (:mod:`funrun.registration.pools`): a pool's
    places not taken are its own while the pools are open; confirmed_count counts every
    pool's places too."""
    free = max(min(event.quota - event.confirmed_count, event.bib_last - event.bib_next + 1), 0)
    non_member = min(event.pool_left(Pool.NON_MEMBER.value, now) or 0, free)
    partner = min(event.pool_left(Pool.PARTNER.value, now) or 0, free - non_member)
    return Room(non_member, partner, free - non_member - partner)


#: What :func:`place_for` answers when no place is left for the entry.
WAITLIST = "waitlist"


def place_for(entry: Any, left: Room) -> str | None:
    """The pool an entry drawn now takes a place from (None: the general pool), taking it
    from ``left``; :data:`WAITLIST` when none is left for it. An entrant of a pool
    (:func:`~funrun.registration.pools.pool_for`: a partner's runner the partners', a
    non-member the non-members') takes a place of their pool first; then anyone a
    general one."""
    pool = pool_for(entry.is_member, entry.kpj_number, entry.enrolled, entry.partner_id)
    if pool == Pool.NON_MEMBER and left.non_member:
        left.non_member -= 1
        return Pool.NON_MEMBER.value
    if pool == Pool.PARTNER and left.partner:
        left.partner -= 1
        return Pool.PARTNER.value
    if left.general:
        left.general -= 1
        return None
    return WAITLIST


def _entries(event_id: int) -> list[Any]:
    """Every entry ever made in the event (withdrawn ones too), in one statement."""
    return list(
        db.session.execute(
            select(
                _R.id,
                _R.entry_number,
                _R.status,
                _R.partner_id,
                _R.consent_at.is_not(None).label("consented"),
                _R.is_member,
                _R.kpj_number,
                (~no_enrolment(_R.person_id)).label("enrolled"),
            ).where(_R.event_id == event_id, _R.entry_number.is_not(None))
        )
    )


def check_drawable(event: Event, now: datetime) -> None:
    """Refuse (:class:`DrawRefused`) unless ``event`` is a ballot ready to draw at ``now``."""
    if event.opening != Opening.BALLOT:
        raise DrawRefused(_("This event is not a ballot."))
    if event.ballot_drawn_at is not None:
        raise AlreadyDrawn(_("This ballot was already drawn."))
    if event.registration_closes_at is None:
        raise DrawRefused(_("The ballot has no closing time: set when entries close first."))
    if now < event.registration_closes_at:
        raise DrawRefused(_("Entries are still open: the ballot is drawn after they close."))


def run_draw(event_id: int, now: datetime | None = None) -> DrawResult:
    """Draw the ballot in the session's write transaction (the caller began it and
    commits it): under the event row lock, refused unless drawable."""
    now = now or utcnow()
    lock_event(event_id)
    event = db.session.execute(
        select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    ).scalar_one()
    check_drawable(event, now)
    seed = secret_seed(event)
    if seed_hash(seed) != event.ballot_seed_sha256:  # never expected: refuse, publish nothing
        raise DrawRefused(_("The kept seed does not match the published hash."))
    entries = {row.entry_number: row for row in _entries(event_id)}
    left = room(event, now)
    # Each entry in draw order: its id, its outcome's code and its bib or waitlist number.
    ids: list[int] = []
    codes: list[int] = []
    numbers: list[int | None] = []
    won = held = waitlisted = withdrawn = non_members = partners = 0
    for number in draw_order(seed, entries):
        entry = entries[number]
        ids.append(entry.id)
        if entry.status != RegistrationStatus.ENTERED:  # withdrawn before the draw
            withdrawn += 1
            codes.append(WITHDRAWN)
            numbers.append(None)
            continue
        pool = place_for(entry, left)
        if pool == WAITLIST:
            waitlisted += 1
            codes.append(_CODES[_WAITLISTED, None])
            numbers.append(event.waitlist_seq + waitlisted)
            continue
        status = _CONFIRMED if entry.consented else _HELD
        codes.append(_CODES[status, pool])
        numbers.append(event.bib_next + won + held)
        won, held = (won + 1, held) if entry.consented else (won, held + 1)
        non_members += pool == Pool.NON_MEMBER
        partners += pool == Pool.PARTNER
    hold_until = now + timedelta(days=event.group_hold_days)
    _write_outcomes(ids, codes, numbers, _set(now, hold_until))
    db.session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(
            confirmed_count=Event.confirmed_count + won + held,
            bib_next=Event.bib_next + won + held,
            waitlist_seq=Event.waitlist_seq + waitlisted,
            pool_non_member_taken=Event.pool_non_member_taken + non_members,
            pool_partner_taken=Event.pool_partner_taken + partners,
            ballot_seed=seed,
            ballot_drawn_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    drawn = (_R.event_id == event_id) & _R.ballot_rank.is_not(None)
    queue(MessageKind.BALLOT_WON, drawn & (_R.status == _CONFIRMED))
    queue(MessageKind.BALLOT_WAITLISTED, drawn & (_R.status == _WAITLISTED))
    if held:  # a partner's group member: their place is held until they confirm it
        queue(MessageKind.GROUP_INVITE, drawn & (_R.status == _HELD))
    return DrawResult(len(ids), won, held, waitlisted, withdrawn, seed, now)


def draw(event_id: int, now: datetime | None = None) -> DrawResult:
    """Draw the ballot of event ``event_id`` in a transaction of its own, and commit."""
    begin_write()
    try:
        result = run_draw(event_id, now)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    db.session.expire_all()
    return result


#: An entry's outcome as the draw writes it, by code: its status and pool. A withdrawn
#: entry (:data:`WITHDRAWN`) is ranked and otherwise left as it is.
_OUTCOMES: dict[int, tuple[str, str | None]] = dict(
    enumerate(
        [
            *((status, pool) for status in (_CONFIRMED, _HELD) for pool in (None, *Pool)),
            (_WAITLISTED, None),
        ],
        start=1,
    )
)
_CODES = {outcome: code for code, outcome in _OUTCOMES.items()}
WITHDRAWN = 0


def _set(now: datetime, hold_until: datetime) -> Any:
    """The registration's new values from a drawn row's ``id``, ``code`` (its outcome),
    ``number`` (its bib or waitlist number) and ``rank``."""
    moment = bindparam("draw_now", now, type_=UTCDateTime)
    until = bindparam("draw_hold", hold_until, type_=UTCDateTime)

    def coded(new: Any, status: str) -> Any:
        return or_(*(new["code"] == code for code, (s, _) in _OUTCOMES.items() if s == status))

    def values(new: Any) -> dict[str, Any]:
        placed = coded(new, _CONFIRMED) | coded(new, _HELD)
        statuses = {code: status for code, (status, _) in _OUTCOMES.items()}
        pools = {code: pool for code, (_, pool) in _OUTCOMES.items() if pool}
        return {
            "status": case(statuses, value=new["code"], else_=_R.status),
            "ballot_rank": new["rank"],
            "bib_number": case((placed, new["number"]), else_=_R.bib_number),
            "waitlist_seq": case((coded(new, _WAITLISTED), new["number"]), else_=_R.waitlist_seq),
            "pool": case(pools, value=new["code"], else_=_R.pool),
            "confirmed_at": case((coded(new, _CONFIRMED), moment), else_=_R.confirmed_at),
            "hold_expires_at": case((coded(new, _HELD), until), else_=_R.hold_expires_at),
            "updated_at": moment,
        }

    return values


def _array_literal(values: list[int] | list[int | None]) -> str:
    """PostgreSQL's text form of an integer array: ``{1,2,NULL}``."""
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


def _write_outcomes(
    ids: list[int], codes: list[int], numbers: list[int | None], values: Any
) -> None:
    """Write every entry's rank (its place in ``ids``) and outcome: on PostgreSQL one
    UPDATE ... FROM the three lists sent as arrays (``unnest ... WITH ORDINALITY``: the
    rank), on SQLite one UPDATE executed for each entry (executemany)."""
    if not ids:
        return
    table = Registration.__table__
    options = {"synchronize_session": False}
    if db.session.get_bind().dialect.name == "postgresql":
        # Sent as array literals, joined here: psycopg's per-value dumping of 300,000
        # integers took half a second.
        arrays = (
            cast(bindparam(name, _array_literal(value), type_=String), ARRAY(Integer))
            for name, value in (("d_ids", ids), ("d_codes", codes), ("d_numbers", numbers))
        )
        drawn = (
            func.unnest(*arrays)
            .table_valued("id", "code", "number", with_ordinality="rank")
            .render_derived(name="drawn")
        )
        statement = update(table).where(_R.id == drawn.c.id).values(values(drawn.c))
        db.session.execute(statement, execution_options=options)
        return
    new = {name: bindparam(f"b_{name}", type_=Integer()) for name in ("id", "code", "number")}
    new["rank"] = bindparam("b_rank", type_=Integer())
    statement = update(table).where(_R.id == new["id"]).values(values(new))
    rows = zip(ids, codes, numbers, range(1, len(ids) + 1), strict=True)
    params = [{"b_id": i, "b_code": c, "b_number": n, "b_rank": r} for i, c, n, r in rows]
    db.session.execute(statement, params, execution_options=options)
