"""The statements of the place rule: quota, waitlist, one active place per person.

Every change to an event's places goes through the event row: a conditional UPDATE
(``confirmed_count < quota``) takes the row lock and the place in one statement, so no
two transactions can take the last place, on PostgreSQL (row lock held to COMMIT) and on
SQLite (every write transaction starts with BEGIN IMMEDIATE). Counters on the event row
roll back with the transaction, so bib numbers and waitlist order have no gaps from
failed attempts. The registration window is part of the same WHERE: the terms a caller
read may be a few seconds old (``terms_cache``), the event row under its lock is not.

Place pools (issue 21) live on the same row: ``pool_non_member`` and ``pool_partner``
places are kept for runners of that pool until ``pools_flow_at`` (None: to race day).
A general place is one of ``quota - confirmed_count - reserved``, where ``reserved`` is
what the pools have not taken while they are open (nothing once they flowed and the
waitlist was promoted into them, :func:`reserved`); a pool's
place is taken by its own kind (``confirmed:non_member``, ``confirmed:partner``), which
counts it in the pool too, and checks the pool's rule in the same statement. So a pool
place, like any other, is one conditional UPDATE of the event row: one lock, no oversell.

Each statement here is SQLAlchemy Core with named parameters, built once;
:mod:`funrun.registration.register` runs them one after another in a transaction, or on
PostgreSQL composes the same statements into one (data-modifying CTEs).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    Update,
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
)
from sqlalchemy.dialects import postgresql, sqlite

from funrun.enrolment.models import Enrolment
from funrun.events.models import Event, Opening
from funrun.people.models import Person
from funrun.registration.models import Pool, Registration, RegistrationStatus

EVENTS = Event.__table__
PEOPLE = Person.__table__
REGISTRATIONS = Registration.__table__
ENROLMENTS = Enrolment.__table__
_E, _P, _R = EVENTS.c, PEOPLE.c, REGISTRATIONS.c

EVENT_ID = bindparam("event_id", type_=Integer)
NOW = bindparam("now", type_=_R.created_at.type)
NIK_HASH = bindparam("nik_hash", type_=_P.nik_hash.type)

#: The registration's own fields, each a parameter of the same name.
FIELDS = (
    "manage_token_hash",
    "manage_token_encrypted",
    "full_name",
    "phone",
    "email",
    "shirt_size",
    "is_member",
    "kpj_number",
    "occupation",
    "emergency_contact",
    "emergency_phone",
    "privacy_notice_id",
    "source",
    "locale",
    "created_by_id",
    "partner_id",
)
#: The person's fields (``nik_hash`` included), each a parameter of the same name.
PERSON_FIELDS = ("nik_encrypted", "birth_date", "gender")


def window_open() -> ColumnElement[bool]:
    """The event's registration window is open at ``now``."""
    return and_(
        _E.registration_open,
        or_(_E.registration_opens_at.is_(None), _E.registration_opens_at <= NOW),
        or_(_E.registration_closes_at.is_(None), _E.registration_closes_at > NOW),
    )


def is_open() -> Select[Any]:
    """Whether the event's window is open (asked when no place was taken)."""
    return select(window_open()).where(_E.id == EVENT_ID)


def find_person() -> Select[Any]:
    """The person with the NIK's keyed hash, key-share locked.

    The lock waits for a purge holding this person (it locks the row for update and
    replaces the keyed hash); rechecked after the wait, a purged person no longer
    matches, and the NIK gets a new person instead of the anonymised one. SQLite has no
    row locks: its write transaction (BEGIN IMMEDIATE) excludes the purge instead.
    """
    return select(_P.id).where(_P.nik_hash == NIK_HASH).with_for_update(read=True, key_share=True)


def holding(person_id: ColumnElement[Any]) -> Select[Any]:
    """The person's active registration in the event, if any."""
    return select(_R.id).where(
        _R.event_id == EVENT_ID,
        _R.person_id == person_id,
        _R.status != RegistrationStatus.CANCELLED.value,
    )


def balloting() -> ColumnElement[bool]:
    """The event is a ballot not drawn yet: registering makes an entry, not a place."""
    return and_(_E.opening == Opening.BALLOT.value, _E.ballot_drawn_at.is_(None))


#: Each pool's places and how many of them are taken, on the event row.
POOL_COLUMNS: dict[Pool, tuple[Any, Any]] = {
    Pool.NON_MEMBER: (_E.pool_non_member, _E.pool_non_member_taken),
    Pool.PARTNER: (_E.pool_partner, _E.pool_partner_taken),
}


def pools_open() -> ColumnElement[bool]:
    """The pools still keep their places at ``now`` (their flow time not come)."""
    return or_(_E.pools_flow_at.is_(None), _E.pools_flow_at > NOW)


def reserved() -> ColumnElement[Any]:
    """The places the pools keep and have not taken: none once they flowed and the
    worker promoted the waitlist into them. Between the flow time and that promotion
    (minutes) nobody takes them: the waitlist's runners come first, newcomers join it."""
    (non_member, non_member_taken), (partner, partner_taken) = POOL_COLUMNS.values()
    kept = (non_member - non_member_taken) + (partner - partner_taken)
    not_promoted = or_(_E.pools_flowed_at.is_(None), _E.pools_flowed_at < _E.pools_flow_at)
    return case((or_(pools_open(), not_promoted), kept), else_=0)


def _bibs_left(n: Any) -> ColumnElement[bool]:
    return _E.bib_next + n - 1 <= _E.bib_last


def general_left(n: Any) -> ColumnElement[bool]:
    """``n`` general places are left: the quota less the places taken and those the
    pools keep, and as many bibs."""
    return and_(_E.confirmed_count + n + reserved() <= _E.quota, _bibs_left(n))


def pool_left(pool: Pool, n: Any) -> ColumnElement[bool]:
    """``n`` places of the pool are left (and open), in the quota, with bibs."""
    places, taken = POOL_COLUMNS[pool]
    return and_(
        pools_open(), taken + n <= places, _E.confirmed_count + n <= _E.quota, _bibs_left(n)
    )


def no_enrolment(person_id: Any) -> ColumnElement[bool]:
    """No enrolment on record for the person (an enrolment is one per person, whatever
    the city: :class:`~funrun.enrolment.models.Enrolment`); true for a new person."""
    return ~exists(select(ENROLMENTS.c.id).where(ENROLMENTS.c.person_id == person_id))


def pool_kind(status: RegistrationStatus | str, pool: Pool) -> str:
    """The kind of place ``status`` (confirmed or waitlisted) for a runner of ``pool``:
    a place of the pool, or the waitlist while neither the pool nor the general places
    have one for them."""
    return f"{RegistrationStatus(status).value}:{pool.value}"


def pool_of(kind: str) -> Pool | None:
    """The pool a kind of place takes from (None: a general place or no place)."""
    status, _, pool = str(kind).partition(":")
    return Pool(pool) if pool and status == RegistrationStatus.CONFIRMED else None


def _places(
    kind: str, n: Any, eligible: ColumnElement[bool]
) -> tuple[ColumnElement[bool], dict[Any, Any], Any]:
    """What taking ``n`` places of a kind asks of the event row, changes in it, and the
    first number it gives (the places numbered on from there). ``eligible``: the pool's
    rule for the runner, as far as the statement checks it (a pool kind only)."""
    status, _, pool_name = str(kind).partition(":")
    pool = Pool(pool_name) if pool_name else None
    if status == RegistrationStatus.CONFIRMED:
        confirm = {_E.confirmed_count: _E.confirmed_count + n, _E.bib_next: _E.bib_next + n}
        if pool is None:
            return (and_(general_left(n), ~balloting()), confirm, _E.bib_next - n)
        taken = POOL_COLUMNS[pool][1]
        return (
            and_(pool_left(pool, n), eligible, ~balloting()),
            {**confirm, taken: taken + n},
            _E.bib_next - n,
        )
    if status == RegistrationStatus.ENTERED:
        # A ballot entry takes no place: it is numbered in the event's entries.
        return (balloting(), {_E.ballot_entries: _E.ballot_entries + n}, _E.ballot_entries - n + 1)
    # Only join the waitlist while no place is left for the runner: a place freed in
    # between must be taken, never left empty behind a waitlist.
    full = ~general_left(1)
    if pool is not None:
        full = and_(full, ~and_(pool_left(pool, 1), eligible))
    return (
        and_(full, ~balloting()),
        {_E.waitlist_seq: _E.waitlist_seq + n},
        _E.waitlist_seq - n + 1,
    )


#: A walk-up's place at the desk once the quota is taken: one of the event's
#: ``walkup_allowance`` places beyond the quota. The place moves into the quota (quota
#: and confirmed count one up, the allowance one down), so ``confirmed_count <= quota``
#: holds and the place is a confirmed one with the next bib, under the same row lock.
#: Places still kept by a pool are not the walk-up's: the quota counts as taken then.
WALKUP_PLACE = "walkup_place"

_WALKUP = (
    and_(
        _E.confirmed_count + reserved() >= _E.quota,
        _E.walkup_allowance > 0,
        _E.bib_next <= _E.bib_last,
    ),
    {
        _E.confirmed_count: _E.confirmed_count + 1,
        _E.bib_next: _E.bib_next + 1,
        _E.quota: _E.quota + 1,
        _E.walkup_allowance: _E.walkup_allowance - 1,
    },
    _E.bib_next - 1,
)


def status_of(kind: RegistrationStatus | str) -> RegistrationStatus:
    """The registration status a kind of place gives (a walk-up place is confirmed)."""
    if kind == WALKUP_PLACE:
        return RegistrationStatus.CONFIRMED
    return RegistrationStatus(str(kind).partition(":")[0])


def take_place(
    kind: RegistrationStatus | str,
    *unless: ColumnElement[bool],
    eligible: ColumnElement[bool] | None = None,
) -> Update:
    """Take a confirmed place (returning its bib number), a place of a pool
    (:func:`pool_kind`, the pool's rule ``eligible`` checked in the same statement), a
    walk-up's place beyond the quota (:data:`WALKUP_PLACE`, also with a bib) or the next
    waitlist number, in the conditional UPDATE of the event row, while the window is
    open (and ``unless`` holds); nothing is returned when no such place is left."""
    if kind == WALKUP_PLACE:
        return _taken(_WALKUP, unless)
    return _taken(_places(str(kind), 1, true() if eligible is None else eligible), unless)


def take_places(kind: RegistrationStatus | str) -> Update:
    """Take ``places`` (a parameter) confirmed places, places of a pool or waitlist
    numbers at once, by the same rule: all or none; returns the first bib or waitlist
    number of the block (a partner's group, funrun.groups, whose members the caller
    found eligible)."""
    return _taken(_places(str(kind), bindparam("places", type_=Integer), true()), ())


def _taken(
    place: tuple[ColumnElement[bool], dict[Any, Any], Any], unless: tuple[ColumnElement[bool], ...]
) -> Update:
    when, changes, number = place
    return (
        EVENTS.update()
        .where(_E.id == EVENT_ID, when, window_open(), *unless)
        # A place taken is no edit of the event: its updated_at stays (no onupdate).
        .values({**changes, _E.updated_at: _E.updated_at})
        .returning(number.label("number"))
    )


def waitlist_position(number: Any) -> ColumnElement[Any]:
    """The waitlist position (1: the head) of waitlist ``number`` in the event: the
    numbers before it, less those that left the waitlist (promoted, held or cancelled).

    Waitlist numbers have no gaps (the counter rolls back with a failed attempt) and no
    registration row is deleted, so only the few rows that left are read (their partial
    index, ``ix_registrations_left_waitlist``), never the whole waitlist ahead. A number
    is given under the event row lock, held to COMMIT: on PostgreSQL the statement that
    takes one does not see the numbers given while it waited for the lock (committed
    after it began), and counts them as what they were when given, waiting.
    """
    # No "waitlist_seq IS NOT NULL" here: the comparison implies it, for both databases'
    # planners, and written out it made PostgreSQL's planner read the unique (event, number)
    # index instead, and through it the whole waitlist ahead (1.5-3.3 ms at 4,000).
    left = select(func.count()).where(
        _R.event_id == EVENT_ID,
        _R.waitlist_seq < number,
        _R.status != RegistrationStatus.WAITLISTED.value,
    )
    return number - left.scalar_subquery()


def add_person(dialect: str, when: ColumnElement[bool] | None = None) -> Insert:
    """Add the person (returning the id), or, when another request added the NIK since,
    wait for it and return that person's id."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = select(
        NIK_HASH,
        *(bindparam(name, type_=_P[name].type) for name in PERSON_FIELDS),
        NOW,
    ).where(
        true() if when is None else when
    )  # SQLite's INSERT ... SELECT ... ON CONFLICT needs a WHERE
    statement = insert(PEOPLE).from_select(["nik_hash", *PERSON_FIELDS, "created_at"], values)
    return statement.on_conflict_do_update(
        index_elements=[_P.nik_hash], set_={"nik_hash": statement.excluded.nik_hash}
    ).returning(_P.id)


def insert_registration(
    status: RegistrationStatus,
    person_id: ColumnElement[Any],
    number: ColumnElement[Any],
    source: Any = None,
    pool: Pool | None = None,
) -> Insert:
    """Insert the registration with its place (returning its id); ``source`` is the
    FROM of the values where ``person_id`` and ``number`` are columns. ``number`` is the
    bib of a confirmed place, the waitlist number, or a ballot entry's number; ``pool``
    the pool the place came from (a general place leaves the column out: NULL)."""
    confirmed = status == RegistrationStatus.CONFIRMED
    no_number = cast(null(), Integer)

    def numbered(when: RegistrationStatus) -> Any:
        return number if status == when else no_number

    columns: dict[str, Any] = {
        "event_id": EVENT_ID,
        "person_id": person_id,
        "status": bindparam("status", status.value, type_=_R.status.type),
        "bib_number": numbered(RegistrationStatus.CONFIRMED),
        "waitlist_seq": numbered(RegistrationStatus.WAITLISTED),
        "entry_number": numbered(RegistrationStatus.ENTERED),
        "confirmed_at": NOW if confirmed else cast(null(), _R.confirmed_at.type),
        "consent_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
        **{name: bindparam(name, type_=_R[name].type) for name in FIELDS},
    }
    if pool is not None:
        columns["pool"] = literal(pool.value, _R.pool.type)
    values = select(*columns.values())
    if source is not None:
        values = values.select_from(source)
    # The columns not given take their server defaults (a Python default would be bound
    # as a parameter nobody passes).
    insert = REGISTRATIONS.insert().from_select(list(columns), values, include_defaults=False)
    return insert.returning(_R.id)
