"""The worker's side of messages: claim a batch, render each message from the
registration as it is now, hand it to its channel, record what happened.

Claiming is one UPDATE whose targets come from ``SELECT ... FOR UPDATE SKIP LOCKED``
(PostgreSQL; SQLite runs it in BEGIN IMMEDIATE), committed at once: the rows are then
``sending`` under this worker's lease. Each outcome is committed as soon as the channel
answers, so a worker killed mid-batch repeats at most the one message it was sending
(its lease runs out and another worker takes it; the repeat carries the same idempotency
key). A message whose workers died ``max_attempts`` times is failed, not tried forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages import mail, sms, whatsapp
from funrun.messages.facts import facts_for
from funrun.messages.models import Channel, Message, MessageKind, MessageStatus
from funrun.messages.rendering import WITH_BIB, render
from funrun.messages.transport import PermanentFailure, TransientFailure, Transport
from funrun.registration.models import Registration

log = logging.getLogger(__name__)

_NO_FSYNC = func.set_config("synchronous_commit", "off", True)

#: How long a claimed message is this worker's before another may take it.
LEASE = timedelta(minutes=2)
#: Messages claimed at once (one connection to the channel serves them all).
BATCH = 100
#: Waits before the 2nd, 3rd, ... try; the last is repeated until attempts run out.
BACKOFF = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)


def backoff(attempt: int, asked: float | None = None) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1-based), at least what the
    channel asked for (Retry-After)."""
    wait = BACKOFF[min(attempt, len(BACKOFF)) - 1]
    return timedelta(seconds=max(wait, asked or 0))


def transports(config: Mapping[str, Any]) -> dict[Channel, Transport]:
    """Each configured channel's transport."""
    found: dict[Channel, Transport] = {Channel.EMAIL: mail.from_config(config)}
    for channel, module in ((Channel.WHATSAPP, whatsapp), (Channel.SMS, sms)):
        transport = module.from_config(config)
        if transport is not None:
            found[channel] = transport
    return found


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    attempts: int
    max_attempts: int


def _claimable(now: Any) -> Any:
    return or_(
        and_(Message.status == MessageStatus.QUEUED, Message.next_attempt_at <= now),
        and_(Message.status == MessageStatus.SENDING, Message.lease_until < now),
    )


def claim(worker: str, limit: int = BATCH) -> list[Claimed]:
    """Take up to ``limit`` due messages for ``worker``; committed at once.

    Two statements in one transaction: the ids, locked (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so workers take different rows without waiting; SQLite's BEGIN IMMEDIATE
    lets one writer in), then the UPDATE of exactly those. A locking subquery inside the
    UPDATE's WHERE may be run again for every row the planner joins it to, each run
    skipping the rows locked by the last and taking the next: one claim then took a
    whole queue (bench/README.md, "Messages").
    """
    begin_write()
    now = utcnow()
    ids = list(
        db.session.scalars(
            select(Message.id)
            .where(_claimable(now))
            .order_by(Message.next_attempt_at, Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        db.session.rollback()
        return []
    rows = db.session.execute(
        update(Message)
        .where(Message.id.in_(ids))
        .values(
            status=MessageStatus.SENDING,
            worker=worker,
            lease_until=now + LEASE,
            attempts=Message.attempts + 1,
        )
        .returning(Message.id, Message.channel, Message.attempts, Message.max_attempts)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def _record(claimed: Claimed, holder: str, **values: Any) -> bool:
    """Record an outcome if the message is still this worker's; committed, in the
    transaction that read the message (one transaction a message).

    On PostgreSQL the commit does not wait for the WAL to reach the disk
    (``set_config('synchronous_commit', 'off', true)`` in the UPDATE itself: this
    transaction only, no extra round trip): a crash of the database server itself, not
    of the worker, could lose the last outcomes recorded, and those few messages would
    go again, with the same Message-ID.
    """
    begin_write()
    statement = (
        update(Message)
        .where(
            Message.id == claimed.id,
            Message.status == MessageStatus.SENDING,
            Message.worker == holder,
            Message.attempts == claimed.attempts,
        )
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.returning(_NO_FSYNC)
    else:
        statement = statement.returning(Message.id)
    recorded = db.session.execute(statement).first() is not None
    db.session.commit()
    return recorded


def _retry_or_fail(claimed: Claimed, worker: str, reason: str, asked: float | None) -> None:
    if claimed.attempts >= claimed.max_attempts:
        _record(claimed, worker, status=MessageStatus.FAILED, error=reason[:500])
    else:
        _record(
            claimed,
            worker,
            status=MessageStatus.QUEUED,
            worker=None,
            error=reason[:500],
            next_attempt_at=utcnow() + backoff(claimed.attempts, asked),
        )


def mask(channel: str, to: str) -> str:
    """Where a message went, as shown to staff and the runner: ``s***@example.com``,
    ``+62812****7890``."""
    if channel == Channel.EMAIL:
        local, _at, domain = to.partition("@")
        return f"{local[:1]}***@{domain}"[:120]
    return f"{to[:6]}****{to[-4:]}" if len(to) > 10 else "****"


def _bib_pdf(message: Message) -> bytes | None:
    """The bib and e-ticket PDF for the messages that carry it."""
    if message.channel != Channel.EMAIL or MessageKind(message.kind) not in WITH_BIB:
        return None
    from funrun.bibs.services import NoBib, bib_pdf

    registration = db.session.get(Registration, message.registration_id)
    try:
        return bib_pdf(registration) if registration is not None else None
    except NoBib:
        return None


def send_one(claimed: Claimed, worker: str, transport: Transport) -> str:
    """Render and send one claimed message; the state it ended in."""
    # The message, its registration and its event in one query: what follows finds them
    # in the session instead of asking for each.
    row = db.session.execute(
        select(Message, Registration, Event)
        .outerjoin(Registration, Registration.id == Message.registration_id)
        .join(Event, Event.id == Message.event_id)
        .where(Message.id == claimed.id)
    ).first()
    message = row[0] if row is not None else None
    if message is None:  # deleted with its registration meanwhile
        return MessageStatus.SKIPPED
    facts = facts_for(message)
    if facts is None:
        _record(claimed, worker, status=MessageStatus.SKIPPED, error="registration purged")
        return MessageStatus.SKIPPED
    if message.kind == MessageKind.REMINDER and _reminders_off(message):
        _record(claimed, worker, status=MessageStatus.SKIPPED, error="reminders turned off")
        return MessageStatus.SKIPPED
    event = db.session.get(Event, message.event_id)
    colour = event.bib_colour if event is not None else "#0A7A3D"
    rendered = render(
        message.key, facts, Channel(message.channel), bib_pdf=_bib_pdf(message), colour=colour
    )
    # The read transaction stays open while the channel answers (it holds no lock) and
    # the outcome commits it: one transaction a message.
    if rendered is None:
        _record(claimed, worker, status=MessageStatus.SKIPPED, error="no address on this channel")
        return MessageStatus.SKIPPED
    sent_to = mask(claimed.channel, rendered.to)
    try:
        reference = transport.send(rendered)
    except TransientFailure as exc:
        _retry_or_fail(claimed, worker, exc.reason, exc.retry_after)
        raise
    except PermanentFailure as exc:
        status = MessageStatus.BOUNCED if exc.bounced else MessageStatus.FAILED
        _record(claimed, worker, status=status, error=exc.reason[:500], sent_to=sent_to)
        return status
    held = isinstance(transport, mail.OutboxTransport)
    status = MessageStatus.HELD if held else MessageStatus.SENT
    _record(
        claimed,
        worker,
        status=status,
        sent_to=sent_to,
        provider_ref=(reference or "")[:200] or None,
        sent_at=utcnow(),
        error=None,
    )
    return status


def _reminders_off(message: Message) -> bool:
    registration = db.session.get(Registration, message.registration_id)
    return bool(registration and registration.reminders_off)


def send_due(
    worker: str,
    *,
    limit: int = BATCH,
    found: Callable[[Mapping[str, Any]], dict[Channel, Transport]] = transports,
) -> int:
    """Claim and send one batch of due messages; how many were claimed.

    On PostgreSQL the batch is shared out among ``FUNRUN_MESSAGE_SENDERS`` threads, each
    with its own connection to the channel and to the database: a message spends most of
    its time waiting on the channel's server, and the threads wait at once (SQLite has
    one writer: one thread). A channel that fails in a way that will fail the rest (its
    server is down) gives the rest of that thread's share back at once."""
    batch = claim(worker, limit)
    if not batch:
        return 0
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    senders = 1
    if db.session.get_bind().dialect.name == "postgresql":
        senders = max(1, int(app.config.get("FUNRUN_MESSAGE_SENDERS") or 1))
    by_channel: dict[str, list[Claimed]] = {}
    for claimed in batch:
        by_channel.setdefault(claimed.channel, []).append(claimed)
    shares = [
        (channel, claims[n::senders])
        for channel, claims in by_channel.items()
        for n in range(min(senders, len(claims)))
    ]
    if len(shares) == 1:
        _send_share(*shares[0], worker, found, app.config)
        return len(batch)
    db.session.remove()  # each thread works in an app context (and session) of its own

    def run(share: tuple[str, list[Claimed]]) -> None:
        with app.app_context():
            try:
                _send_share(*share, worker, found, app.config)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(shares), thread_name_prefix="funrun-send") as pool:
        list(pool.map(run, shares))
    return len(batch)


def _send_share(
    channel: str,
    claims: list[Claimed],
    worker: str,
    found: Callable[[Mapping[str, Any]], dict[Channel, Transport]],
    config: Mapping[str, Any],
) -> None:
    transport = found(config).get(Channel(channel))
    if transport is None:
        for claimed in claims:
            _retry_or_fail(claimed, worker, f"channel {channel} is not configured", None)
        return
    with transport:
        _send_all(claims, worker, transport)


def _send_all(claims: list[Claimed], worker: str, transport: Transport) -> None:
    for index, claimed in enumerate(claims):
        try:
            send_one(claimed, worker, transport)
        except TransientFailure as exc:
            log.warning("message %s not sent: %s", claimed.id, exc.reason)
            if _fails_the_rest(exc):
                for rest in claims[index + 1 :]:
                    _retry_or_fail(rest, worker, exc.reason, exc.retry_after)
                return
        except Exception as exc:  # a bug in rendering: recorded, retried, then failed
            db.session.rollback()
            log.exception("message %s could not be sent", claimed.id)
            _retry_or_fail(claimed, worker, f"{type(exc).__name__}: {exc}", None)


def _fails_the_rest(exc: TransientFailure) -> bool:
    """A server that is down or asks us to slow down will refuse the next one too."""
    reason = exc.reason.lower()
    return exc.retry_after is not None or "unreachable" in reason or "login" in reason
