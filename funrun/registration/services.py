"""The rules of registering: quota, waitlist, one active place per person, cancelling.

Every change to an event's places goes through the event row: a conditional UPDATE
(``confirmed_count < quota``) takes the row lock and the place in one statement, so no
two transactions can take the last place, on PostgreSQL (row lock held to COMMIT) and on
SQLite (every write transaction starts with BEGIN IMMEDIATE). Counters on the event row
roll back with the transaction, so bib numbers and waitlist order have no gaps from
failed attempts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from funrun import fastdb
from funrun.dbtx import begin_write, insert_ignore
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher, mask_nik
from funrun.people.models import Person
from funrun.registration import terms_cache
from funrun.registration.models import (
    PrivacyNotice,
    Registration,
    RegistrationSource,
    RegistrationStatus,
)
from funrun.registration.validation import ContactChange, RegistrationData

NOTICE_VERSION = "2026-11"
_NOTICE_DIR = Path(__file__).parent / "notices"
_REGISTRATIONS = Registration.__table__
_EVENTS = Event.__table__
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]{20,64}")


class RegistrationError(Exception):
    """A registration could not be made or changed; the message is for the user."""


class RegistrationClosed(RegistrationError):
    """The event is not taking registrations now."""


class DuplicateRegistration(RegistrationError):
    """This NIK already holds an active registration for the event."""


class AlreadyCancelled(RegistrationError):
    """The registration was cancelled before."""


@dataclass(frozen=True)
class RegistrationSnapshot:
    """What the runner sees of a registration, read once (no lazy loads afterwards)."""

    id: int
    event_id: int
    event_slug: str
    status: str
    bib: str | None
    bib_number: int | None
    waitlist_seq: int | None
    full_name: str
    nik_masked: str
    shirt_size: str
    is_member: bool
    created_at: datetime
    cancelled_at: datetime | None

    @classmethod
    def of(cls, registration: Registration) -> RegistrationSnapshot:
        """Read a stored registration (decrypting the NIK only to mask it)."""
        nik = data_cipher().decrypt(registration.person.nik_encrypted)
        return cls(
            id=registration.id,
            event_id=registration.event_id,
            event_slug=registration.event.slug,
            status=registration.status,
            bib=registration.bib,
            bib_number=registration.bib_number,
            waitlist_seq=registration.waitlist_seq,
            full_name=registration.full_name,
            nik_masked=mask_nik(nik),
            shirt_size=registration.shirt_size,
            is_member=registration.is_member,
            created_at=registration.created_at,
            cancelled_at=registration.cancelled_at,
        )


@dataclass(frozen=True)
class NewRegistration:
    """A registration just made, with the manage token shown to the runner once."""

    manage_token: str
    snapshot: RegistrationSnapshot

    @property
    def registration(self) -> Registration:
        """The stored registration (loaded on first use)."""
        return db.session.get_one(Registration, self.snapshot.id)


def hash_token(token: str) -> str:
    """SHA-256 of a manage token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_manage_token() -> tuple[str, str]:
    """A fresh unguessable manage token (192 bits) and its hash."""
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


#: A registration form's own id, made when the form is shown (128 random bits).
SUBMISSION_SHAPE = re.compile(r"[A-Za-z0-9_\-]{22,64}")


def new_submission_ref() -> str:
    """An id for a registration form about to be shown."""
    return secrets.token_urlsafe(16)


def manage_token_for(submission: str) -> str:
    """The manage token a form's registration gets: derived from the form's id under the
    app's secret, so the same form sent again (the answer to the first was lost on the
    way, or a double tap) can be given its link again, though only its hash is stored.
    Shaped like :func:`new_manage_token`'s (32 URL-safe characters)."""
    key = current_app.secret_key
    key = key if isinstance(key, bytes) else str(key).encode()
    digest = hmac.new(key, b"funrun manage token\0" + submission.encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def resent_registration(event_id: int, nik: str, submission: str) -> str | None:
    """The manage token of the active registration this same form made for this NIK at
    the event, or None: another person's details in the same form never find it."""
    token = manage_token_for(submission)
    found = db.session.scalar(
        select(Registration.id)
        .join(Person, Person.id == Registration.person_id)
        .where(
            Registration.manage_token_hash == hash_token(token),
            Registration.event_id == event_id,
            Registration.status != RegistrationStatus.CANCELLED,
            Person.nik_hash == data_cipher().lookup_hash(nik),
        )
    )
    return token if found is not None else None


class _TokenTaken(Exception):
    """The form's derived manage token belongs to an earlier registration already."""


def _token_taken(exc: IntegrityError) -> bool:
    return "manage_token_hash" in str(exc.orig)


@functools.lru_cache(maxsize=8)
def _notice_text(locale: str) -> tuple[str, str, str]:
    """Body, consent label and their SHA-256 for ``locale`` (read once per process)."""
    body = (_NOTICE_DIR / f"privacy.{locale}.txt").read_text(encoding="utf-8").strip()
    with force_locale(locale):
        label = _(
            "I have read the privacy notice and agree that my data is processed "
            "for this Fun Run as it describes."
        )
    return body, label, hashlib.sha256(f"{body}\n\n{label}".encode()).hexdigest()


def current_privacy_notice(locale: str) -> PrivacyNotice:
    """The privacy notice shown now in ``locale``, stored once per distinct text."""
    locale = locale if locale in ("id", "en") else "id"
    return stored_notice(NOTICE_VERSION, locale, *_notice_text(locale))


def stored_notice(version: str, locale: str, body: str, label: str, digest: str) -> PrivacyNotice:
    """The stored notice with this text (``digest`` its SHA-256), stored now if new.

    Shared by every consent the app records (registration, enrolment): a runner's
    consent points at the exact words they were shown.
    """

    def find() -> PrivacyNotice | None:
        return db.session.scalar(
            select(PrivacyNotice).where(
                PrivacyNotice.locale == locale, PrivacyNotice.sha256 == digest
            )
        )

    notice = find()
    if notice is not None:
        return notice
    values = {
        "version": version,
        "locale": locale,
        "body": body,
        "consent_label": label,
        "sha256": digest,
        "created_at": utcnow(),
    }
    begin_write()
    db.session.execute(insert_ignore(PrivacyNotice, values))
    db.session.commit()
    return find()  # type: ignore[return-value]


def _person_id(data: RegistrationData) -> tuple[int, bool]:
    """Find or create the person with this NIK (safe when two requests race).

    Returns the id and whether the person is new: one round trip for a new person.
    """
    cipher = data_cipher()
    nik_hash = cipher.lookup_hash(data.nik)
    values = {
        "nik_hash": nik_hash,
        "nik_encrypted": cipher.encrypt(data.nik),
        "birth_date": data.birth_date,
        "gender": data.gender,
        "created_at": utcnow(),
    }
    people = Person.__table__
    for _attempt in range(3):
        person_id = db.session.scalar(insert_ignore(people, values).returning(people.c.id))
        if person_id is not None:
            return person_id, True
        # The key-share lock waits for a purge of this person (see _REGISTER_SQL): once
        # purged, the row no longer matches, and the next round adds the NIK afresh.
        person_id = db.session.scalar(
            select(Person.id).where(Person.nik_hash == nik_hash).with_for_update(key_share=True)
        )
        if person_id is not None:
            return person_id, False
    raise RuntimeError("person kept changing; giving up")  # pragma: no cover


def _has_active(event_id: int, person_id: int) -> bool:
    return (
        db.session.scalar(
            select(Registration.id).where(
                Registration.event_id == event_id,
                Registration.person_id == person_id,
                Registration.status != RegistrationStatus.CANCELLED,
            )
        )
        is not None
    )


def _take_place(event_id: int) -> tuple[RegistrationStatus, int]:
    """Take a confirmed place (returning its bib) or, when full, the next waitlist slot."""
    e = _EVENTS.c
    for _attempt in range(5):
        row = db.session.execute(
            _EVENTS.update()
            .where(e.id == event_id, e.confirmed_count < e.quota, e.bib_next <= e.bib_last)
            .values(confirmed_count=e.confirmed_count + 1, bib_next=e.bib_next + 1)
            .returning(e.bib_next)
        ).first()
        if row is not None:
            return RegistrationStatus.CONFIRMED, row[0] - 1
        # Only join the waitlist while the event is still full: a place freed in
        # between must be taken, never left empty behind a waitlist.
        row = db.session.execute(
            _EVENTS.update()
            .where(e.id == event_id, (e.confirmed_count >= e.quota) | (e.bib_next > e.bib_last))
            .values(waitlist_seq=e.waitlist_seq + 1)
            .returning(e.waitlist_seq)
        ).first()
        if row is not None:
            return RegistrationStatus.WAITLISTED, row[0]
    raise RuntimeError("event places kept changing; giving up")  # pragma: no cover


def _new_snapshot(
    registration_id: int,
    event_id: int,
    event_slug: str,
    bib_prefix: str,
    status: RegistrationStatus,
    number: int,
    data: RegistrationData,
    now: datetime,
) -> RegistrationSnapshot:
    """What the runner is shown of a registration just made (nothing read back)."""
    confirmed = status == RegistrationStatus.CONFIRMED
    return RegistrationSnapshot(
        id=registration_id,
        event_id=event_id,
        event_slug=event_slug,
        status=str(status),
        bib=f"{bib_prefix} {number:04d}" if confirmed else None,
        bib_number=number if confirmed else None,
        waitlist_seq=None if confirmed else number,
        full_name=data.full_name,
        nik_masked=mask_nik(data.nik),
        shirt_size=data.shirt_size,
        is_member=data.is_member,
        created_at=now,
        cancelled_at=None,
    )


class Notice(Protocol):
    """The privacy notice a registration consents to (a :class:`PrivacyNotice`, or its id)."""

    id: int


@dataclass(frozen=True)
class NoticeRef:
    """A stored privacy notice known by its id."""

    id: int


class RegisterableEvent(Protocol):
    """What registering needs of an event (an :class:`Event` or :class:`EventTerms`)."""

    id: int
    slug: str
    bib_prefix: str

    def accepts_registrations(self, now: datetime) -> bool: ...


@dataclass(frozen=True)
class EventTerms:
    """What registering reads of an event, without the ORM (the API's hot path)."""

    id: int
    slug: str
    bib_prefix: str
    date: date
    min_age: int
    max_age: int | None
    shirt_sizes: list[str]
    registration_open: bool
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    #: Full when read (no place or bib left): which write to try first, nothing more.
    full: bool = False

    #: The same rule as the model's.
    accepts_registrations = Event.accepts_registrations


_TERMS_SQL = """
SELECT e.id, e.slug, e.bib_prefix, e.date, e.min_age, e.max_age, e.shirt_sizes,
       e.registration_open, e.registration_opens_at, e.registration_closes_at,
       e.confirmed_count >= e.quota OR e.bib_next > e.bib_last,
       (SELECT n.id FROM privacy_notices n WHERE n.locale = %(locale)s AND n.sha256 = %(sha)s)
FROM events e WHERE e.slug = %(slug)s
"""


def event_terms(slug: str, locale: str) -> tuple[EventTerms | None, Notice | None]:
    """The event with ``slug`` and the privacy notice in force, in one query.

    On PostgreSQL without the session (so without its transaction); elsewhere through
    :func:`get_event` and :func:`current_privacy_notice`. The notice is None when its
    current text is not stored yet (:func:`current_privacy_notice` stores it).
    """
    locale = locale if locale in ("id", "en") else "id"
    if not fastdb.available():
        event = (
            db.session.scalar(select(Event).where(Event.slug == slug)) if len(slug) <= 64 else None
        )
        if event is None:
            return None, None
        terms = EventTerms(
            event.id,
            event.slug,
            event.bib_prefix,
            event.date,
            event.min_age,
            event.max_age,
            list(event.shirt_sizes),
            event.registration_open,
            event.registration_opens_at,
            event.registration_closes_at,
        )
        return terms, current_privacy_notice(locale)
    if len(slug) > 64:
        return None, None

    def load() -> tuple[EventTerms | None, Notice | None]:
        rows = fastdb.fetch(
            _TERMS_SQL, {"slug": slug, "locale": locale, "sha": _notice_text(locale)[2]}
        )
        if not rows:
            return None, None
        *fields, notice_id = rows[0]
        for at in (8, 9):
            fields[at] = fields[at].astimezone(UTC) if fields[at] is not None else None
        return EventTerms(*fields), NoticeRef(notice_id) if notice_id is not None else None

    seconds = current_app.config["FUNRUN_TERMS_CACHE_SECONDS"]
    return terms_cache.remembered((str(db.engine.url), slug, locale), seconds, load)


#: A registration on PostgreSQL in one autocommit statement: refuse a second active place
#: in the event, take a place with the conditional UPDATE of the event row (or, in the
#: waitlist variant, the next waitlist number while the event is full), add the person if
#: new, insert the registration. Nothing is written when no place is taken; a race on the
#: same person ends in the unique index, which undoes the whole statement.
_REGISTER_SQL = """
WITH found AS (
    -- The key-share lock waits for a purge holding this person (it locks the row for
    -- update and replaces the keyed hash); rechecked after the wait, a purged person no
    -- longer matches, and the NIK gets a new person instead of the anonymised one.
    SELECT id FROM people WHERE nik_hash = %(nik_hash)s FOR KEY SHARE
), holder AS (
    -- A scalar subquery, not a join: the planner cannot see into a CTE, and a join
    -- walked every active registration of the event.
    SELECT 1 FROM registrations r
    WHERE r.event_id = %(event_id)s AND r.person_id = (SELECT id FROM found)
      AND r.status <> 'cancelled'
), place AS (
    UPDATE events SET {take}
    WHERE id = %(event_id)s AND {when} AND {window} AND NOT EXISTS (SELECT 1 FROM holder)
    RETURNING {number} AS number
), added AS (
    INSERT INTO people (nik_hash, nik_encrypted, birth_date, gender, created_at)
    SELECT %(nik_hash)s, %(nik_encrypted)s, %(birth_date)s, %(gender)s, %(now)s
    WHERE EXISTS (SELECT 1 FROM place) AND NOT EXISTS (SELECT 1 FROM found)
    -- Added by another request since this statement began: wait for it, then use it.
    ON CONFLICT (nik_hash) DO UPDATE SET nik_hash = EXCLUDED.nik_hash
    RETURNING id
), person AS (
    SELECT id FROM found UNION ALL SELECT id FROM added
), reg AS (
    INSERT INTO registrations (
        event_id, person_id, status, bib_number, waitlist_seq, manage_token_hash, full_name,
        phone, email, shirt_size, is_member, kpj_number, occupation, emergency_contact,
        emergency_phone, privacy_notice_id, consent_at, source, locale, created_by_id,
        created_at, updated_at, confirmed_at)
    SELECT %(event_id)s, person.id, {status}, {bib}, {seq},
           %(token_hash)s, %(full_name)s, %(phone)s, %(email)s, %(shirt_size)s, %(is_member)s,
           %(kpj_number)s, %(occupation)s, %(emergency_contact)s, %(emergency_phone)s,
           %(notice_id)s, %(now)s, %(source)s, %(locale)s, %(created_by_id)s, %(now)s, %(now)s,
           {confirmed_at}
    FROM place, person
    RETURNING id, number
)
SELECT EXISTS (SELECT 1 FROM holder), (SELECT id FROM reg), (SELECT number FROM place),
       (SELECT {window} FROM events WHERE id = %(event_id)s)
"""
#: The registration window, checked by the write itself: the terms the caller read may be
#: a few seconds old (``terms_cache``), the event row under its lock is not.
_WINDOW = (
    "registration_open"
    " AND (registration_opens_at IS NULL OR registration_opens_at <= %(now)s)"
    " AND (registration_closes_at IS NULL OR registration_closes_at > %(now)s)"
)
_TAKE_PLACE_SQL = _REGISTER_SQL.format(
    window=_WINDOW,
    take="confirmed_count = confirmed_count + 1, bib_next = bib_next + 1",
    when="confirmed_count < quota AND bib_next <= bib_last",
    number="bib_next - 1",
    status="'confirmed'",
    bib="place.number",
    seq="NULL::int",
    confirmed_at="%(now)s",
).replace("RETURNING id, number", "RETURNING id")
# Only join the waitlist while the event is still full: a place freed in between must be
# taken, never left empty behind a waitlist.
_JOIN_WAITLIST_SQL = _REGISTER_SQL.format(
    window=_WINDOW,
    take="waitlist_seq = waitlist_seq + 1",
    when="(confirmed_count >= quota OR bib_next > bib_last)",
    number="waitlist_seq",
    status="'waitlisted'",
    bib="NULL::int",
    seq="place.number",
    confirmed_at="NULL::timestamptz",
).replace("RETURNING id, number", "RETURNING id")


def _register_in_one_statement(
    event_id: int,
    data: RegistrationData,
    params: dict[str, Any],
    refusals: tuple[Exception, Exception],
    full_first: bool,
) -> tuple[int, RegistrationStatus, int]:
    """:func:`register`'s write on PostgreSQL: the id, status and bib or waitlist number.

    ``refusals`` are the duplicate and the closed answers; ``full_first`` tries the
    waitlist first (the event was full when its terms were read), saving a round trip.
    """
    duplicate, closed = refusals
    attempts = [
        (_TAKE_PLACE_SQL, RegistrationStatus.CONFIRMED),
        (_JOIN_WAITLIST_SQL, RegistrationStatus.WAITLISTED),
    ]
    if full_first:
        attempts.reverse()
    cipher = data_cipher()
    params = {
        **params,
        "event_id": event_id,
        "nik_hash": cipher.lookup_hash(data.nik),
        "nik_encrypted": cipher.encrypt(data.nik),
        "birth_date": data.birth_date,
        "gender": data.gender,
    }
    for _attempt in range(5):
        for sql, status in attempts:
            try:
                holds_place, registration_id, number, is_open = fastdb.fetch(sql, params)[0]
            except IntegrityError as exc:
                if "active_person" in str(exc.orig):
                    raise duplicate from exc
                if _token_taken(exc):
                    raise _TokenTaken from exc
                raise
            if holds_place:
                raise duplicate
            if registration_id is not None:
                return registration_id, status, number
            if not is_open:
                raise closed
    raise RuntimeError("event places kept changing; giving up")  # pragma: no cover


def register(
    event: RegisterableEvent,
    data: RegistrationData,
    *,
    notice: Notice,
    source: RegistrationSource = RegistrationSource.WEB,
    locale: str = "id",
    created_by_id: int | None = None,
    now: datetime | None = None,
    submission: str | None = None,
) -> NewRegistration:
    """Register a person for ``event``: confirmed with a bib while places last, else waitlisted.

    ``submission`` (a form's :func:`new_submission_ref`) makes the manage token
    :func:`manage_token_for` it, so that :func:`resent_registration` finds the
    registration again when the same form comes back. Where that token is taken already
    (the same form, sent again with another person's details), the registration gets a
    random one.
    """
    attempt = functools.partial(
        _register,
        event,
        data,
        notice=notice,
        source=source,
        locale=locale,
        created_by_id=created_by_id,
        now=now,
    )
    if submission is not None:
        try:
            return attempt(token=manage_token_for(submission))
        except _TokenTaken:
            pass
    return attempt(token=None)


def _register(
    event: RegisterableEvent,
    data: RegistrationData,
    *,
    notice: Notice,
    source: RegistrationSource,
    locale: str,
    created_by_id: int | None,
    now: datetime | None,
    token: str | None,
) -> NewRegistration:
    now = now or utcnow()
    if not event.accepts_registrations(now):
        raise RegistrationClosed(_("Registration for this event is closed."))
    event_id, event_slug, bib_prefix = event.id, event.slug, event.bib_prefix
    notice_id = notice.id
    duplicate = DuplicateRegistration(
        _(
            "This NIK is already registered for this event. Use your manage link to see it. "
            "If you did not register it, bring your KTP to the race-pack desk."
        )
    )
    token, token_hash = (token, hash_token(token)) if token else new_manage_token()
    values = dict(
        manage_token_hash=token_hash,
        full_name=data.full_name,
        phone=data.phone,
        email=data.email,
        shirt_size=data.shirt_size,
        is_member=data.is_member,
        kpj_number=data.kpj_number,
        occupation=data.occupation,
        emergency_contact=data.emergency_contact,
        emergency_phone=data.emergency_phone,
        privacy_notice_id=notice_id,
        consent_at=now,
        source=str(source),
        locale=locale,
        created_by_id=created_by_id,
        created_at=now,
        updated_at=now,
    )
    if fastdb.available():
        params = {
            **values,
            "token_hash": token_hash,
            "notice_id": notice_id,
            "now": now,
        }
        closed = RegistrationClosed(_("Registration for this event is closed."))
        registration_id, status, number = _register_in_one_statement(
            event_id, data, params, (duplicate, closed), getattr(event, "full", False)
        )
        fastdb.after_write()
        return NewRegistration(
            token,
            _new_snapshot(
                registration_id, event_id, event_slug, bib_prefix, status, number, data, now
            ),
        )
    begin_write()
    try:
        person_id, new_person = _person_id(data)
        # A person seen before may already hold a place: fail before taking the event lock.
        if not new_person and _has_active(event_id, person_id):
            raise duplicate
        status, number = _take_place(event_id)
        values.update(
            event_id=event_id,
            person_id=person_id,
            status=str(status),
            bib_number=number if status == RegistrationStatus.CONFIRMED else None,
            waitlist_seq=number if status == RegistrationStatus.WAITLISTED else None,
            confirmed_at=now if status == RegistrationStatus.CONFIRMED else None,
        )
        # A Core insert: the ORM's unit of work costs more CPU than the rest of the request.
        registration_id = db.session.scalar(
            _REGISTRATIONS.insert().values(**values).returning(_REGISTRATIONS.c.id)
        )
        snapshot = _new_snapshot(
            registration_id, event_id, event_slug, bib_prefix, status, number, data, now
        )
    except IntegrityError as exc:
        db.session.rollback()
        if "active_person" in str(
            exc.orig
        ) or "registrations.event_id, registrations.person_id" in str(exc.orig):
            raise duplicate from exc
        if _token_taken(exc):
            raise _TokenTaken from exc
        raise
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return NewRegistration(token, snapshot)


def find_by_token(token: str) -> Registration | None:
    """The registration a manage token opens, or None (also for malformed tokens)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    return db.session.scalar(
        select(Registration).where(Registration.manage_token_hash == hash_token(token))
    )


def waitlist_position(registration: Registration | RegistrationSnapshot) -> int | None:
    """1 for the head of the waitlist; None when not waitlisted."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    return db.session.scalar(
        select(func.count()).where(
            Registration.event_id == registration.event_id,
            Registration.status == RegistrationStatus.WAITLISTED,
            Registration.waitlist_seq <= registration.waitlist_seq,
        )
    )


def lock_event(event_id: int) -> None:
    """Take the event row lock for the rest of the transaction (SQLite: already held)."""
    db.session.execute(select(Event.id).where(Event.id == event_id).with_for_update())


def promote_waitlist(event_id: int, now: datetime | None = None) -> list[Registration]:
    """Confirm waitlisted runners, head first, into free places. Caller holds the event lock."""
    now = now or utcnow()
    counts = db.session.execute(
        select(Event.quota, Event.confirmed_count, Event.bib_next, Event.bib_last).where(
            Event.id == event_id
        )
    ).one()
    free = min(counts.quota - counts.confirmed_count, counts.bib_last - counts.bib_next + 1)
    if free <= 0:
        return []
    heads = list(
        db.session.scalars(
            select(Registration)
            .where(
                Registration.event_id == event_id,
                Registration.status == RegistrationStatus.WAITLISTED,
            )
            .order_by(Registration.waitlist_seq)
            .limit(free)
            .with_for_update()
        )
    )
    for offset, registration in enumerate(heads):
        registration.status = RegistrationStatus.CONFIRMED
        registration.bib_number = counts.bib_next + offset
        registration.confirmed_at = now
        registration.updated_at = now
    if heads:
        db.session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(
                confirmed_count=Event.confirmed_count + len(heads),
                bib_next=Event.bib_next + len(heads),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
    return heads


def cancel(registration: Registration, now: datetime | None = None) -> list[Registration]:
    """Cancel a registration; a freed place goes to the head of the waitlist (returned)."""
    now = now or utcnow()
    event_id, registration_id = registration.event_id, registration.id
    begin_write()
    try:
        lock_event(event_id)
        current = locked_registration(registration_id)
        promoted = release_place(current, now)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return promoted


def locked_registration(registration_id: int) -> Registration:
    """The registration, read afresh under its row lock (caller holds the event lock)."""
    return db.session.execute(
        select(Registration)
        .where(Registration.id == registration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def release_place(current: Registration, now: datetime) -> list[Registration]:
    """Cancel a registration read by :func:`locked_registration`: a freed place goes to the
    head of the waitlist (returned). The one rule behind a cancel and a disputed void."""
    if current.status == RegistrationStatus.CANCELLED:
        raise AlreadyCancelled(_("This registration was already cancelled."))
    was_confirmed = current.status == RegistrationStatus.CONFIRMED
    current.status = RegistrationStatus.CANCELLED
    current.cancelled_at = now
    current.updated_at = now
    db.session.flush()
    if not was_confirmed:
        return []
    db.session.execute(
        update(Event)
        .where(Event.id == current.event_id)
        .values(confirmed_count=Event.confirmed_count - 1)
        .execution_options(synchronize_session=False)
    )
    return promote_waitlist(current.event_id, now)


def update_contact(registration: Registration, change: ContactChange) -> None:
    """Apply a runner's corrections to the fields they may change."""
    begin_write()
    if registration.status == RegistrationStatus.CANCELLED:
        raise AlreadyCancelled(_("This registration was already cancelled."))
    registration.phone = change.phone
    registration.email = change.email
    registration.shirt_size = change.shirt_size
    registration.occupation = change.occupation
    registration.emergency_contact = change.emergency_contact
    registration.emergency_phone = change.emergency_phone
    registration.updated_at = utcnow()
    db.session.commit()
