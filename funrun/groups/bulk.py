"""Held places for a chunk of a group's members, in one transaction.

The place rule is the registration's own (:mod:`funrun.registration.places`): under the
event row's lock, ``take_places`` takes as many places as the chunk has members (the
same conditional UPDATE as one runner's place, counted by ``places``), the members past
the quota get the next waitlist numbers by the same rule (the partner pool's places, if
the event keeps any, are taken first: a group's members are the partner's runners), and
the counters move exactly as for that many runners registering one by one. People are
found or added by the NIK's keyed hash as :func:`~funrun.registration.register.register`
does; a member already holding a place in the event is refused. Each held member's
invitation is queued in the same transaction. All of it Core statements run with many
parameter sets at once (``executemany``, batched into multi-row statements on both
databases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from funrun.dbtx import begin_write
from funrun.extensions import db
from funrun.groups.models import GroupImport, GroupImportRefusal
from funrun.messages import queueing
from funrun.messages.models import MessageKind
from funrun.registration import places
from funrun.registration.models import Pool, RegistrationSource, RegistrationStatus

REFUSALS = GroupImportRefusal.__table__
_E, _P, _R = places.EVENTS.c, places.PEOPLE.c, places.REGISTRATIONS.c


@dataclass(frozen=True)
class ImportRef:
    """What a chunk needs of its import (read once: the chunks commit in between)."""

    id: int
    event_id: int
    partner_id: int
    locale: str
    body_format: str

    @classmethod
    def of(cls, group: GroupImport) -> ImportRef:
        """The import's fixed facts."""
        return cls(group.id, group.event_id, group.partner_id, group.locale, group.body_format)


@dataclass
class Member:
    """A row that passed the registration's checks: its number and what is stored."""

    row: int
    nik_hash: str
    person: dict[str, Any]
    registration: dict[str, Any]


@dataclass
class ChunkResult:
    """What a chunk did: places held, waitlisted and refused, by row."""

    held: int = 0
    waitlisted: int = 0
    refusals: list[dict[str, Any]] = field(default_factory=list)


def _upsert_people(members: list[Member], now: datetime) -> dict[str, int]:
    """Add the members' people (or find them by the NIK's keyed hash): ``{hash: id}``.

    Called under the event lock, as a registration adds its person after taking its
    place: a runner registering alone meanwhile waits for the event row before adding
    theirs, never holding a person this chunk waits for (the other order deadlocked).
    Run with many parameter sets and no RETURNING (the ids are read after), so psycopg
    sends one prepared statement per row in a pipeline instead of a multi-row statement
    of 6,000 placeholders it would parse every time."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(places.PEOPLE)
    statement = statement.on_conflict_do_update(
        index_elements=[_P.nik_hash], set_={"nik_hash": statement.excluded.nik_hash}
    )
    hashes = sorted(m.nik_hash for m in members)
    rows = [
        {"nik_hash": m.nik_hash, "created_at": now, **m.person}
        for m in sorted(members, key=lambda m: m.nik_hash)
    ]
    db.session.execute(statement, rows)
    found = db.session.execute(select(_P.id, _P.nik_hash).where(_P.nik_hash.in_(hashes)))
    return {row.nik_hash: row.id for row in found}


def _holders(event_id: int, person_ids: list[int]) -> dict[int, int | None]:
    """The people already holding a place in the event: ``{person id: their import}``."""
    found = db.session.execute(
        select(_R.person_id, _R.group_import_id).where(
            _R.event_id == event_id,
            _R.person_id.in_(person_ids),
            _R.status != RegistrationStatus.CANCELLED.value,
        )
    )
    return {row.person_id: row.group_import_id for row in found}


#: A block of the partner pool's places (:func:`~funrun.registration.places.take_places`).
_PARTNER_POOL = places.pool_kind(RegistrationStatus.CONFIRMED, Pool.PARTNER)


def _take(kind: str, count: int, event_id: int, now: datetime) -> int | None:
    """The first number of ``count`` places of ``kind`` (all or none), or None."""
    if count == 0:
        return None
    return db.session.execute(
        places.take_places(kind), {"event_id": event_id, "now": now, "places": count}
    ).scalar()


def hold_chunk(
    group: ImportRef,
    members: list[Member],
    refusals: list[dict[str, Any]],
    *,
    rows: int,
    now: datetime,
) -> ChunkResult:
    """Store a chunk of ``rows`` rows in one committed transaction: the valid
    ``members`` held (or waitlisted), ``refusals`` (``{row, errors}``) recorded, and the
    import's progress moved on."""
    result = ChunkResult(refusals=list(refusals))
    begin_write()
    try:
        if members:
            event = _lock_event(group.event_id, now)
            people = _upsert_people(members, now)
            accepted = _place_members(group, event, members, people, result, now)
            if accepted:
                _insert_registrations(accepted)
            held = [
                row["manage_token_hash"]
                for row in accepted
                if row["status"] == RegistrationStatus.HELD.value
            ]
            if held:
                # Found by the unique token hashes: an index lookup a row, whatever the
                # statistics say (by event and bib range the planner, its statistics
                # taken on an empty table, walked every held place of the event).
                queueing.queue(MessageKind.GROUP_INVITE, _R.manage_token_hash.in_(held))
        if result.refusals:
            db.session.execute(
                REFUSALS.insert(),
                [
                    {"import_id": group.id, "waitlisted": False, **refusal}
                    for refusal in result.refusals
                ],
            )
        refused = sum(1 for r in result.refusals if not r.get("waitlisted"))
        db.session.execute(
            update(GroupImport)
            .where(GroupImport.id == group.id)
            .values(
                processed_rows=GroupImport.processed_rows + rows,
                accepted=GroupImport.accepted + result.held + result.waitlisted,
                refused=GroupImport.refused + refused,
            )
            .execution_options(synchronize_session=False)
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


#: The columns of a group's registration row (:func:`_place_members`), in COPY's order.
_COLUMNS = (
    "event_id",
    "person_id",
    "status",
    "bib_number",
    "waitlist_seq",
    "hold_expires_at",
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
    "source",
    "created_by_id",
    "partner_id",
    "group_import_id",
    "locale",
    "consent_at",
    "privacy_notice_id",
    "confirmed_at",
    "created_at",
    "updated_at",
    "pool",
)
_COPY = (
    "COPY registrations (event_id, person_id, status, bib_number, waitlist_seq, "
    "hold_expires_at, manage_token_hash, manage_token_encrypted, full_name, phone, email, "
    "shirt_size, is_member, kpj_number, occupation, emergency_contact, emergency_phone, "
    "source, created_by_id, partner_id, group_import_id, locale, consent_at, "
    "privacy_notice_id, confirmed_at, created_at, updated_at, pool) FROM STDIN"
)


def _insert_registrations(rows: list[dict[str, Any]]) -> None:
    """The chunk's registrations: one INSERT with many parameter sets (no RETURNING: see
    :func:`_upsert_people`), or on PostgreSQL :func:`_copy_registrations`."""
    if db.session.get_bind().dialect.name == "postgresql":
        _copy_registrations(rows)
        return
    db.session.execute(places.REGISTRATIONS.insert(), rows)


def _copy_registrations(rows: list[dict[str, Any]]) -> None:
    """PostgreSQL only: COPY the chunk's registrations through the session's connection
    (in its transaction, under the event lock: no one else can place these people in
    the event meanwhile, and the unique indexes still check every row)."""
    if set(rows[0]) != set(_COLUMNS):  # pragma: no cover - the row and COPY drifted apart
        raise ValueError("a group registration's columns are not COPY's")
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(_COPY) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([row[name] for name in _COLUMNS])


def _lock_event(event_id: int, now: datetime) -> Any:
    """Take the event row's lock for the chunk; what placing members reads of it."""
    return db.session.execute(
        select(
            _E.quota,
            _E.confirmed_count,
            _E.bib_next,
            _E.bib_last,
            _E.group_hold_days,
            places.window_open().label("open"),
            (_E.quota - _E.confirmed_count - places.reserved()).label("general"),
            case((places.pools_open(), _E.pool_partner - _E.pool_partner_taken), else_=0).label(
                "partner_pool"
            ),
        )
        .where(_E.id == event_id)
        .with_for_update(of=places.EVENTS),
        {"event_id": event_id, "now": now},
    ).one()


def _place_members(
    group: ImportRef,
    event: Any,
    members: list[Member],
    people: dict[str, int],
    result: ChunkResult,
    now: datetime,
) -> list[dict[str, Any]]:
    """Under the event lock: the registrations to insert (held first, then waitlisted);
    members already holding a place, or with the window closed, go to the refusals."""
    holders = _holders(group.event_id, list(people.values()))

    fresh: list[Member] = []
    for member in members:
        holder = holders.get(people[member.nik_hash], 0)
        if holder == 0:
            fresh.append(member)
            continue
        message = (
            _("This NIK appears on an earlier row of this import.")
            if holder == group.id
            else _("This NIK is already registered for this event.")
        )
        result.refusals.append({"row": member.row, "errors": {"nik": [message]}})
    if not event.open:
        closed = _("Registration for this event is closed.")
        result.refusals.extend({"row": m.row, "errors": {"event": [closed]}} for m in fresh)
        return []
    # The partner pool's places first (a group's members are the partner's runners),
    # then general ones, then the waitlist: as many runners registering one by one.
    bibs = max(0, event.bib_last - event.bib_next + 1)
    from_pool = max(0, min(len(fresh), event.partner_pool, bibs))
    general = max(0, min(len(fresh) - from_pool, event.general, bibs - from_pool))
    held, waiting = fresh[: from_pool + general], fresh[from_pool + general :]
    first_bib = _take(_PARTNER_POOL, from_pool, group.event_id, now)
    first_general = _take(RegistrationStatus.CONFIRMED, general, group.event_id, now)
    first_seq = _take(RegistrationStatus.WAITLISTED, len(waiting), group.event_id, now)
    if first_bib is None:
        first_bib = first_general
    taken = (from_pool, first_bib), (general, first_general), (len(waiting), first_seq)
    if any(count and first is None for count, first in taken):  # pragma: no cover
        raise RuntimeError("the event's places changed under its lock")
    until = now + timedelta(days=event.group_hold_days)
    common = {
        "event_id": group.event_id,
        "source": RegistrationSource.GROUP.value,
        "created_by_id": group.partner_id,
        "partner_id": group.partner_id,
        "group_import_id": group.id,
        "locale": group.locale,
        "consent_at": None,
        "privacy_notice_id": None,
        "confirmed_at": None,
        "created_at": now,
        "updated_at": now,
    }
    rows: list[dict[str, Any]] = []
    for offset, member in enumerate(held):
        rows.append(
            {
                **common,
                **member.registration,
                "person_id": people[member.nik_hash],
                "status": RegistrationStatus.HELD.value,
                "bib_number": first_bib + offset,  # type: ignore[operator]
                "waitlist_seq": None,
                "hold_expires_at": until,
                "pool": Pool.PARTNER.value if offset < from_pool else None,
            }
        )
    full = _("The event is full: this member is on the waitlist.")
    for offset, member in enumerate(waiting):
        rows.append(
            {
                **common,
                **member.registration,
                "person_id": people[member.nik_hash],
                "status": RegistrationStatus.WAITLISTED.value,
                "bib_number": None,
                "waitlist_seq": first_seq + offset,  # type: ignore[operator]
                "hold_expires_at": None,
                "pool": None,
            }
        )
        result.refusals.append({"row": member.row, "errors": {"place": [full]}, "waitlisted": True})
    result.held, result.waitlisted = len(held), len(waiting)
    return rows
