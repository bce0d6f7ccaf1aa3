"""A lost manage link found again: the NIK plus the phone or email given at registration.

On a match each of the person's active registrations with that phone or email gets a new
manage token (the old link stops working) and a LINK_RECOVERED message to that phone or
email only, queued in the same transaction. The caller's answer never says whether
anything matched, and takes about as long either way: the same lookup runs, in the same
kind of transaction, and every call lasts at least :data:`FLOOR_SECONDS`.
"""

from __future__ import annotations

import secrets
import time
from typing import Literal

from sqlalchemy import func, select, update

from funrun.audit.services import record
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue_for
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.tokens import TOKEN_CONTEXT, new_manage_token

#: The shortest a recovery takes, matched or not (the write of a match fits well inside).
FLOOR_SECONDS = 0.15

Via = Literal["email", "phone"]


def recover_link(nik: str, contact: str, via: Via) -> int:
    """Give a new link to each active registration of ``nik`` whose ``via`` (phone in
    E.164, or email) is ``contact``, and queue the message carrying it; how many.

    ``nik`` and ``contact`` are checked and normalised already
    (:class:`funrun.api.schemas.recovery.RecoveryRequest`).
    """
    started = time.monotonic()
    try:
        return _rotate(data_cipher().lookup_hash(nik), contact, via)
    finally:
        left = FLOOR_SECONDS - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)


def _matches(nik_hash: str, contact: str, via: Via) -> list[tuple[int, int]]:
    """(registration id, event id) of the person's active registrations with ``contact``."""
    same = (
        func.lower(Registration.email) == contact.lower()
        if via == "email"
        else Registration.phone == contact
    )
    rows = db.session.execute(
        select(Registration.id, Registration.event_id)
        .join(Person, Person.id == Registration.person_id)
        .where(
            Person.nik_hash == nik_hash,
            Registration.status != RegistrationStatus.CANCELLED,
            Registration.purged_at.is_(None),
            same,
        )
        .order_by(Registration.id)
    )
    return [(row.id, row.event_id) for row in rows]


def _rotate(nik_hash: str, contact: str, via: Via) -> int:
    """The lookup and, on a match, the change: one write transaction either way."""
    begin_write()
    try:
        found = _matches(nik_hash, contact, via)
        for registration_id, event_id in found:
            _new_link(registration_id, event_id, via)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return len(found)


def _new_link(registration_id: int, event_id: int, via: Via) -> None:
    """A new token for one registration, its message and its audit row (no NIK in it)."""
    token, token_hash = new_manage_token()
    db.session.execute(
        update(Registration)
        .where(Registration.id == registration_id)
        .values(
            manage_token_hash=token_hash,
            manage_token_encrypted=data_cipher().encrypt(token, context=TOKEN_CONTEXT),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    queue_for(
        MessageKind.LINK_RECOVERED,
        registration_id,
        suffix=":" + secrets.token_hex(6),
        context={"contact": via, "via": via},
    )
    record(
        "link_recovered",
        user_id=None,
        target=f"registration #{registration_id}",
        event_id=event_id,
        detail=f"by {via}",
    )
