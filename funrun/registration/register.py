"""Registering a runner: a confirmed place with a bib while places last, else the waitlist.

A runner of a place pool the event keeps (:mod:`funrun.registration.pools`) takes the
pool's place first, then a general one; either way the kind of place is one statement.

One rule (:func:`register`) on every database, written with the statements of
:mod:`funrun.registration.places`. Which way they run is the one difference between the
databases, :func:`_write` below: on SQLite one after another in a write transaction
(BEGIN IMMEDIATE); on PostgreSQL composed into one autocommit statement (data-modifying
CTEs), a single round trip while the event row is locked (:func:`one_statement`).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    exists,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.exc import IntegrityError

from funrun import fastdb
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.messages import queueing
from funrun.messages.models import Channel, MessageKind
from funrun.people.crypto import data_cipher
from funrun.registration import places, pools
from funrun.registration.models import Pool, RegistrationSource, RegistrationStatus
from funrun.registration.notices import Notice
from funrun.registration.outcomes import (
    DuplicateRegistration,
    NewRegistration,
    RegistrationClosed,
    RegistrationError,
    RegistrationSnapshot,
)
from funrun.registration.terms import RegisterableEvent
from funrun.registration.tokens import (
    TOKEN_CONTEXT,
    TokenTaken,
    hash_token,
    manage_token_for,
    new_manage_token,
    token_taken,
)
from funrun.registration.validation import RegistrationData

#: A place of each kind, tried in this order (the waitlist first when the event was full).
_KINDS: tuple[str, ...] = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
#: A walk-up at the desk: a place in the quota, else one of the walk-up places beyond it;
#: never the waitlist (a runner at the desk leaves with a bib, or is told there is none).
_WALKUP_KINDS: tuple[str, ...] = (RegistrationStatus.CONFIRMED, places.WALKUP_PLACE)
#: A ballot not drawn yet: an entry, numbered; the draw gives the places (funrun.ballot).
_ENTRY: tuple[str, ...] = (RegistrationStatus.ENTERED,)


class NoWalkupPlace(RegistrationError):
    """The event is full and has no walk-up place left (a walk-up is not waitlisted)."""


def register(
    event: RegisterableEvent,
    data: RegistrationData,
    *,
    notice: Notice,
    source: RegistrationSource = RegistrationSource.WEB,
    locale: str = "id",
    created_by_id: int | None = None,
    partner_id: int | None = None,
    now: datetime | None = None,
    submission: str | None = None,
    walkup_place: bool = False,
) -> NewRegistration:
    """Register a person for ``event``: confirmed with a bib while places last, else waitlisted.

    ``submission`` (a form's :func:`~funrun.registration.tokens.new_submission_ref`) makes
    the manage token :func:`~funrun.registration.tokens.manage_token_for` it, so that
    :func:`~funrun.registration.tokens.resent_registration` finds the registration again
    when the same form comes back. Where that token is taken already (the same form, sent
    again with another person's details), the registration gets a random one.

    ``walkup_place``: a walk-up registered at the desk on race day takes a place in the
    quota, else one of the event's ``walkup_allowance`` places beyond it (still confirmed,
    with a bib), else is refused with :class:`NoWalkupPlace`; never the waitlist.
    """
    now = now or utcnow()
    if not event.accepts_registrations(now):
        raise RegistrationClosed(_("Registration for this event is closed."))
    cipher = data_cipher()
    params: dict[str, Any] = {
        "event_id": event.id,
        "now": now,
        "nik_hash": cipher.lookup_hash(data.nik),
        **data.person_row(cipher),
        **data.registration_row(),
        "privacy_notice_id": notice.id,
        "source": str(source),
        "locale": locale,
        "created_by_id": created_by_id,
        "partner_id": partner_id,
    }
    kinds = _kinds(event, params, now, walkup_place)
    params["message_now"] = now
    params["channels"] = queueing.channels()
    if submission is not None:
        try:
            return _made(event, data, now, params, kinds, manage_token_for(submission))
        except TokenTaken:
            pass
    return _made(event, data, now, params, kinds, None)


def _kinds(
    event: RegisterableEvent, params: dict[str, Any], now: datetime, walkup_place: bool
) -> tuple[str, ...]:
    """The kinds of place to try, in order. A runner of a pool the event keeps open
    tries its place there first while it had one when read (else after a general place),
    and joins the waitlist only while neither is left for them; every other runner the
    general places, then the waitlist (first when the event was full when read)."""
    if getattr(event, "balloting", False) and not walkup_place:
        return _ENTRY
    pool = pools.pool_for(params["is_member"], params["kpj_number"], False, params["partner_id"])
    pool_left = getattr(event, "pool_left", None)
    left = pool_left(pool.value, now) if pool is not None and pool_left is not None else None
    if walkup_place:
        return _WALKUP_KINDS if left is None else (_pool(pool), *_WALKUP_KINDS)
    full = getattr(event, "full", False)
    if left is None:
        return _KINDS[::-1] if full else _KINDS
    take, wait = _pool(pool), places.pool_kind(RegistrationStatus.WAITLISTED, pool)  # type: ignore[arg-type]
    if left > 0:
        return (take, RegistrationStatus.CONFIRMED, wait)
    return (
        (wait, RegistrationStatus.CONFIRMED, take)
        if full
        else (RegistrationStatus.CONFIRMED, wait, take)
    )


def _pool(pool: Any) -> str:
    return places.pool_kind(RegistrationStatus.CONFIRMED, pool)


def _made(
    event: RegisterableEvent,
    data: RegistrationData,
    now: datetime,
    params: dict[str, Any],
    kinds: tuple[str, ...],
    token: str | None,
) -> NewRegistration:
    """The registration stored with ``token`` (a fresh random one when None)."""
    token, params["manage_token_hash"] = (token, hash_token(token)) if token else new_manage_token()
    params["manage_token_encrypted"] = data_cipher().encrypt(token, context=TOKEN_CONTEXT)
    registration_id, status, number, position = _write(params, kinds)
    event_ref = (event.id, event.slug, event.bib_prefix)
    snapshot = RegistrationSnapshot.made(
        registration_id, event_ref, status, number, data, now, waitlist_position=position
    )
    return NewRegistration(token, snapshot)


def _duplicate() -> DuplicateRegistration:
    return DuplicateRegistration(
        _(
            "This NIK is already registered for this event. Use your manage link to see it. "
            "If you did not register it, bring your KTP to the race-pack desk."
        )
    )


def _refused(exc: IntegrityError) -> None:
    """Raise the answer to a write the unique indexes refused (no place was kept)."""
    message = str(exc.orig)
    if "active_person" in message or "registrations.event_id, registrations.person_id" in message:
        raise _duplicate() from exc
    if token_taken(exc):
        raise TokenTaken from exc


#: A registration's id, status, bib, waitlist or entry number, and waitlist position.
_Made = tuple[int, RegistrationStatus, int, int | None]


def _write(params: dict[str, Any], kinds: tuple[str, ...]) -> _Made:
    """Take a place of the first kind left and store the registration: its id, status,
    bib or waitlist number and waitlist position (None unless waitlisted). The one place
    where the databases differ."""
    if fastdb.available():
        return _in_one_statement(params, kinds)
    begin_write()
    try:
        made = _in_steps(params, kinds)
    except IntegrityError as exc:
        db.session.rollback()
        _refused(exc)
        raise
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return made


def _in_steps(params: dict[str, Any], kinds: tuple[str, ...]) -> _Made:
    """The rule's statements one by one, in the session's write transaction."""
    run = db.session.execute
    person_id = run(places.find_person(), params).scalar()
    # A person seen before may already hold a place: refuse before taking the event lock.
    if person_id is not None and run(places.holding(person_id), params).first() is not None:
        raise _duplicate()
    for _attempt in range(5):
        for kind in kinds:
            eligible = _eligible(kind, bindparam("person_id"))
            number = run(
                places.take_place(kind, eligible=eligible), {**params, "person_id": person_id}
            ).scalar()
            if number is not None:
                break
        else:
            if not run(places.is_open(), params).scalar():
                raise RegistrationClosed(_("Registration for this event is closed."))
            _refuse_without_waitlist(kinds)
            continue
        status = places.status_of(kind)
        if person_id is None:
            person_id = run(places.add_person("sqlite"), params).scalar_one()
        registration = _stepwise_insert(status, places.pool_of(kind))
        made = run(registration, {**params, "person_id": person_id, "number": number})
        registration_id = made.scalar_one()
        message = queueing.for_new_registration(_MESSAGE[status], params["channels"])
        if message is not None:
            run(message, {**params, "registration_id": registration_id})
        position = None
        if status == RegistrationStatus.WAITLISTED:
            position = run(_POSITION, {**params, "number": number}).scalar_one()
        return registration_id, status, number, position
    raise RuntimeError("event places kept changing; giving up")  # pragma: no cover


def _refuse_without_waitlist(kinds: tuple[str, ...]) -> None:
    """No place of any kind was left: a walk-up (who never joins the waitlist) is refused;
    an entry finding the ballot drawn (or the event no longer a ballot) meanwhile too."""
    if kinds == _ENTRY:
        raise RegistrationClosed(_("Entries for this ballot are closed."))
    if all(places.status_of(kind) != RegistrationStatus.WAITLISTED for kind in kinds):
        raise NoWalkupPlace(
            _("This event is full and has no walk-up places left: no bib can be given.")
        )


#: The waitlist position of the number just taken (:func:`places.waitlist_position`).
_POSITION = select(places.waitlist_position(bindparam("number", type_=Integer)))


@functools.cache
def _stepwise_insert(status: RegistrationStatus, pool: Pool | None = None) -> Any:
    """The registration's insert, given the person and the number read by earlier steps."""
    return places.insert_registration(
        status, bindparam("person_id"), bindparam("number"), pool=pool
    )


def _eligible(kind: str, person_id: Any) -> ColumnElement[bool] | None:
    """What the statement checks of a pool's rule for a kind of place (the rest, the
    runner's own answers, chose the kind): a non-member has no enrolment on record."""
    _status, _, pool = str(kind).partition(":")
    return places.no_enrolment(person_id) if pool == Pool.NON_MEMBER else None


#: The message that tells a runner which place they took.
_MESSAGE = {
    RegistrationStatus.CONFIRMED: MessageKind.CONFIRMED,
    RegistrationStatus.WAITLISTED: MessageKind.WAITLISTED,
    RegistrationStatus.ENTERED: MessageKind.BALLOT_ENTERED,
}


@functools.cache
def one_statement(kind: str, channels: tuple[Channel, ...] = ()) -> Select[Any]:
    """The rule's statements as one PostgreSQL statement (data-modifying CTEs).

    Refuse a second active place in the event, take a place with the conditional UPDATE
    of the event row, add the person if new, insert the registration and queue its
    message (:mod:`funrun.messages.queueing`, on ``channels``). Nothing is written
    when no place is taken; a race on the same person ends in the unique index, which
    undoes the whole statement. Answers whether the person holds a place already, the
    new registration's id, its number, whether the window is open, and a waitlisted
    runner's position (:func:`places.waitlist_position`, read in the same statement: the
    answer needs no second round trip).
    """
    found = places.find_person().cte("found")
    # A scalar subquery, not a join: the planner cannot see into a CTE, and a join walked
    # every active registration of the event.
    holder = places.holding(select(found.c.id).scalar_subquery()).cte("holder")
    status = places.status_of(kind)
    eligible = _eligible(kind, select(found.c.id).scalar_subquery())
    place = places.take_place(kind, ~exists(holder.select()), eligible=eligible).cte("place")
    added = places.add_person("postgresql", exists(place.select()) & ~exists(found.select())).cte(
        "added"
    )
    person = union_all(select(found.c.id), select(added.c.id)).cte("person")
    registration = places.insert_registration(
        status, person.c.id, place.c.number, place.join(person, true()), places.pool_of(kind)
    ).cte("reg")
    position = (
        select(places.waitlist_position(place.c.number)).scalar_subquery()
        if status == RegistrationStatus.WAITLISTED
        else null()
    )
    answer = select(
        exists(holder.select()),
        select(registration.c.id).scalar_subquery(),
        select(place.c.number).scalar_subquery(),
        places.is_open().scalar_subquery(),
        position,
    )
    message = queueing.for_new_registration(
        _MESSAGE[status], channels, registration.c.id, registration
    )
    if message is not None:
        answer = answer.add_cte(message.cte("message"))
    return answer


def _in_one_statement(params: dict[str, Any], kinds: tuple[str, ...]) -> _Made:
    """The rule on PostgreSQL: one autocommit statement per kind of place tried."""
    for _attempt in range(5):
        for kind in kinds:
            try:
                [(holds_place, registration_id, number, is_open, position)] = fastdb.run_hot(
                    one_statement(kind, params["channels"]), params
                )
            except IntegrityError as exc:
                _refused(exc)
                raise
            if holds_place:
                raise _duplicate()
            if registration_id is not None:
                fastdb.after_write()
                return registration_id, places.status_of(kind), number, position
            if not is_open:
                raise RegistrationClosed(_("Registration for this event is closed."))
        if _attempt:  # full twice over (not a place freed between two statements)
            _refuse_without_waitlist(kinds)
    raise RuntimeError("event places kept changing; giving up")  # pragma: no cover
