"""Queue messages in the caller's transaction: each is a row of ``messages``, inserted by
one ``INSERT ... SELECT`` beside the change that causes it, so it commits or rolls back
with that change. The worker (:mod:`funrun.messages.sending`) sends them.

Which channels a message takes is configuration (:func:`channels`): e-mail while messages
are on (SMTP, or the outbox in development) for runners who gave an address; WhatsApp or
SMS for every runner once a provider is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    String,
    bindparam,
    cast,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.messages.models import Channel, Message, MessageKind, MessageStatus
from funrun.registration.models import Registration, RegistrationStatus

MESSAGES = Message.__table__
_R = Registration.__table__.c


def channels_from(config: Mapping[str, Any]) -> tuple[Channel, ...]:
    """The channels messages take under ``config`` (none when messages are off)."""
    if str(config.get("FUNRUN_MESSAGES", "on")).lower() == "off":
        return ()
    found = [Channel.EMAIL]
    if config.get("FUNRUN_WHATSAPP_URL"):
        found.append(Channel.WHATSAPP)
    elif config.get("FUNRUN_SMS_URL"):
        found.append(Channel.SMS)
    return tuple(found)


def channels() -> tuple[Channel, ...]:
    """The channels of this app's messages."""
    return channels_from(current_app.config)


def _key(kind: str, registration_id: Any, channel: str, suffix: str) -> ColumnElement[str]:
    """``kind:registration:channel[:suffix]``: the message's idempotency key."""
    return literal(f"{kind}:") + cast(registration_id, String) + literal(f":{channel}{suffix}")


def _row(
    kind: str,
    channel: Channel,
    registration_id: Any,
    event_id: Any,
    *,
    suffix: str = "",
    broadcast_id: int | None = None,
) -> list[Any]:
    now = bindparam("message_now", type_=MESSAGES.c.created_at.type)
    return [
        _key(kind, registration_id, channel, suffix),
        registration_id,
        event_id,
        literal(kind),
        literal(str(channel)),
        literal(MessageStatus.QUEUED.value),
        cast(literal(broadcast_id), Integer),
        literal(0),
        literal(8),
        now,
        now,
    ]


_COLUMNS = [
    "key",
    "registration_id",
    "event_id",
    "kind",
    "channel",
    "status",
    "broadcast_id",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "created_at",
]


def for_new_registration(
    kind: MessageKind, chosen: tuple[Channel, ...], registration_id: Any = None, source: Any = None
) -> Insert | None:
    """The insert of a new registration's message, given its id (``registration_id``, a
    column of ``source`` in a PostgreSQL CTE, or the ``registration_id`` parameter) and
    the registration's own parameters (``event_id``, ``email``)."""
    if not chosen:
        return None
    registration_id = (
        bindparam("registration_id", type_=Integer)
        if registration_id is None
        else (registration_id)
    )
    event_id = bindparam("event_id", type_=Integer)
    selects = []
    for channel in chosen:
        query = select(*_row(kind, channel, registration_id, event_id))
        if source is not None:
            query = query.select_from(source)
        if channel == Channel.EMAIL:
            query = query.where(bindparam("email", type_=_R.email.type).is_not(None))
        selects.append(query)
    rows = selects[0] if len(selects) == 1 else union_all(*selects)
    return MESSAGES.insert().from_select(_COLUMNS, rows)


def queue(
    kind: MessageKind,
    where: ColumnElement[bool],
    *,
    suffix: str = "",
    broadcast_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> int:
    """Queue ``kind`` for each registration matching ``where``, on every channel it can
    take, in the session's transaction; how many messages were queued.

    A message already queued under the same key (a reminder, a broadcast, a promotion)
    is not queued twice. Reminders skip runners who turned them off.
    """
    chosen = channels()
    if not chosen:
        return 0
    selects = []
    for channel in chosen:
        query = select(
            *_row(kind, channel, _R.id, _R.event_id, suffix=suffix, broadcast_id=broadcast_id)
        ).where(where, _R.purged_at.is_(None))
        if channel == Channel.EMAIL:
            query = query.where(_R.email.is_not(None))
        if kind == MessageKind.REMINDER:
            query = query.where(~_R.reminders_off)
        selects.append(query)
    rows = selects[0] if len(selects) == 1 else union_all(*selects)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(MESSAGES)
        .from_select(_COLUMNS, rows)
        .on_conflict_do_nothing(index_elements=[MESSAGES.c.key])
    )
    # Counted from RETURNING: psycopg's rowcount for INSERT ... SELECT ... ON CONFLICT is -1.
    ids = list(db.session.scalars(statement.returning(MESSAGES.c.id), {"message_now": utcnow()}))
    if ids and context is not None:
        db.session.execute(MESSAGES.update().where(MESSAGES.c.id.in_(ids)).values(context=context))
    return len(ids)


def queue_for(kind: MessageKind, registration_id: int, **options: Any) -> int:
    """Queue ``kind`` for one registration (see :func:`queue`)."""
    return queue(kind, _R.id == registration_id, **options)


def queue_promoted(registration_ids: list[int]) -> int:
    """Tell runners promoted from the waitlist that they have a place and a bib."""
    if not registration_ids:
        return 0
    return queue(
        MessageKind.PROMOTED,
        _R.id.in_(registration_ids) & (_R.status == RegistrationStatus.CONFIRMED.value),
    )
