"""Staff's side of messages: the delivery list and its counts, retrying failed messages,
a message shown as it was (or would be) sent, template previews and broadcasts."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update

from funrun.audit.services import record
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.facts import Facts, facts_for, sample_facts
from funrun.messages.models import Broadcast, Channel, Message, MessageKind, MessageStatus
from funrun.messages.queueing import channels, queue
from funrun.messages.rendering import WITH_BIB, email_html, render
from funrun.messages.wording import word
from funrun.registration.models import Registration, RegistrationStatus

PAGE_SIZE = 50
MAX_PAGE = 10_000
#: A broadcast with the same words for the same event within this time is the same one
#: (a double submit from two tabs, a replayed form).
SAME_BROADCAST = timedelta(minutes=1)

STATUS_NAMES = {
    MessageStatus.QUEUED: _l("queued"),
    MessageStatus.SENDING: _l("sending"),
    MessageStatus.SENT: _l("sent"),
    MessageStatus.HELD: _l("kept in outbox"),
    MessageStatus.FAILED: _l("failed"),
    MessageStatus.BOUNCED: _l("bounced"),
    MessageStatus.SKIPPED: _l("skipped"),
}
CHANNEL_NAMES = {
    Channel.EMAIL: _l("E-mail"),
    Channel.WHATSAPP: _l("WhatsApp"),
    Channel.SMS: _l("SMS"),
}


def status_name(status: str) -> str:
    """A message's state, in words."""
    return str(STATUS_NAMES.get(status, status))  # type: ignore[call-overload]


@dataclass(frozen=True)
class MessageFilter:
    """What the staff list shows; every field optional."""

    event_id: int | None = None
    status: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class MessageRow:
    """One line of the list (never the address itself: ``sent_to`` is masked)."""

    id: int
    created_at: datetime
    city: str
    event_id: int
    kind: str
    channel: str
    status: str
    attempts: int
    max_attempts: int
    sent_to: str | None
    error: str | None


def _filtered(query: Any, wanted: MessageFilter, *, with_status: bool = True) -> Any:
    if wanted.event_id is not None:
        query = query.where(Message.event_id == wanted.event_id)
    if wanted.kind:
        query = query.where(Message.kind == wanted.kind)
    if with_status and wanted.status:
        query = query.where(Message.status == wanted.status)
    return query


def list_messages(wanted: MessageFilter, page: int = 1) -> tuple[list[MessageRow], bool]:
    """A page of messages, failed ones first, then newest first; and whether more follow."""
    failed_first = case((Message.status == MessageStatus.FAILED.value, 0), else_=1)
    query = _filtered(
        select(
            Message.id,
            Message.created_at,
            Event.city,
            Message.event_id,
            Message.kind,
            Message.channel,
            Message.status,
            Message.attempts,
            Message.max_attempts,
            Message.sent_to,
            Message.error,
        ).join(Event, Event.id == Message.event_id),
        wanted,
    )
    rows = db.session.execute(
        query.order_by(failed_first, Message.created_at.desc(), Message.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return [MessageRow(*row) for row in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE


def status_counts(wanted: MessageFilter) -> dict[str, int]:
    """How many messages (under the filter's event and kind) stand in each state."""
    query = _filtered(
        select(Message.status, func.count()).group_by(Message.status), wanted, with_status=False
    )
    found = {row[0]: row[1] for row in db.session.execute(query)}
    return {str(status): int(found.get(status, 0)) for status in MessageStatus}


def _reset(where: Any) -> Any:
    """The UPDATE that hands failed messages back to the worker for a full set of tries."""
    return (
        update(Message)
        .where(where, Message.status == MessageStatus.FAILED.value)
        .values(
            status=MessageStatus.QUEUED.value,
            next_attempt_at=utcnow(),
            attempts=0,
            worker=None,
            lease_until=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )


def retry(message_id: int, user_id: int | None) -> bool:
    """Queue a failed message again (audited); False when it is not failed (any more)."""
    begin_write()
    result = db.session.execute(_reset(Message.id == message_id))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return False
    message = db.session.get_one(Message, message_id)
    record(
        "message_retry",
        user_id=user_id,
        target=f"message {message_id}",
        event_id=message.event_id,
        detail=f"{message.kind} · {message.channel}",
    )
    db.session.commit()
    return True


def retry_failed(event: Event, user_id: int | None) -> int:
    """Queue every failed message of ``event`` again (audited); how many."""
    event_id, slug = event.id, event.slug
    begin_write()
    count = int(db.session.execute(_reset(Message.event_id == event_id)).rowcount)  # type: ignore[attr-defined]
    if count:
        record(
            "message_retry",
            user_id=user_id,
            target=slug,
            event_id=event_id,
            detail=f"{count} failed messages",
        )
    db.session.commit()
    return count


@dataclass(frozen=True)
class Shown:
    """A message as it was or would be sent on its channel."""

    subject: str
    text: str
    html: str | None
    #: ``html`` as the staff page's frame shows it (see :func:`framed`).
    frame: str | None
    attachments: tuple[str, ...]
    template: str | None
    parameters: tuple[str, ...]


STYLE = re.compile(r'\sstyle="[^"]*"')
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")


def framed(html: str, colour: str) -> str:
    """The e-mail's HTML for the staff page's sandboxed frame, which takes the page's
    strict policy: inline styles taken out, the stand-in stylesheet linked instead."""
    link = url_for("static", filename="css/email-frame.css")
    colour = colour if COLOUR.fullmatch(colour or "") else "#0A7A3D"
    html = STYLE.sub("", html)
    html = html.replace("</head>", f'<link rel="stylesheet" href="{link}"></head>', 1)
    return html.replace("<body>", f'<body data-colour="{colour}">', 1)


LINK = re.compile(r"(https?://[^\s\"'<>]*?/r/)([A-Za-z0-9_\-]+)")


def hide_links(text: str) -> str:
    """A runner's private link shortened to ``…/r/…`` (staff must not collect them)."""
    return LINK.sub(lambda m: f"{m.group(1)}…", text)


def show(facts: Facts, channel: Channel, *, key: str = "preview", colour: str = "#0A7A3D") -> Shown:
    """What ``facts`` make on ``channel`` (e-mail: subject, text, HTML, attachments named)."""
    if channel == Channel.EMAIL:
        wording = word(facts)
        attachments: tuple[str, ...] = ()
        if facts.kind in WITH_BIB and facts.bib:
            attachments = (f"bib-{facts.bib.replace(' ', '-')}.pdf",)
        html = email_html(wording, facts, colour)
        return Shown(
            subject=wording.subject,
            text=wording.text(),
            html=html,
            frame=framed(html, colour),
            attachments=attachments,
            template=None,
            parameters=(),
        )
    rendered = render(key, replace(facts, via=None), channel, colour=colour)
    assert rendered is not None  # sample and real facts always have a phone
    return Shown(
        subject=rendered.subject,
        text=rendered.text,
        html=None,
        frame=None,
        attachments=(),
        template=rendered.template,
        parameters=tuple(rendered.parameters or ()),
    )


def show_message(message: Message, *, reveal_link: bool) -> Shown | None:
    """``message`` as it was or would be sent now; None when its runner is gone. The
    private link is shortened unless ``reveal_link``."""
    facts = facts_for(message)
    if facts is None:
        return None
    event = db.session.get(Event, message.event_id)
    colour = event.bib_colour if event is not None else "#0A7A3D"
    shown = show(facts, Channel(message.channel), key=message.key, colour=colour)
    if reveal_link:
        return shown
    return replace(
        shown,
        text=hide_links(shown.text),
        html=hide_links(shown.html) if shown.html else None,
        frame=hide_links(shown.frame) if shown.frame else None,
        parameters=tuple(hide_links(p) for p in shown.parameters),
    )


def may_reveal_link(message: Message) -> bool:
    """Only an outbox message in development shows the runner's link in full."""
    return (
        message.status == MessageStatus.HELD and current_app.config.get("ENV_NAME") != "production"
    )


def preview(kind: MessageKind, locale: str, event: Event | None = None) -> dict[str, Shown]:
    """``kind`` in ``locale`` with a made-up runner, on e-mail and on WhatsApp."""
    facts = sample_facts(kind, locale, event)
    colour = event.bib_colour if event is not None else "#0A7A3D"
    return {
        Channel.EMAIL: show(facts, Channel.EMAIL, colour=colour),
        Channel.WHATSAPP: show(facts, Channel.WHATSAPP, colour=colour),
    }


# --- broadcasts -----------------------------------------------------------------------


def _audience(event_id: int) -> Any:
    r = Registration.__table__.c
    return (r.event_id == event_id) & (r.status == RegistrationStatus.CONFIRMED.value)


def recipients(event: Event) -> dict[str, int]:
    """How many messages a broadcast to ``event``'s confirmed runners would queue, per
    channel (e-mail: those who gave an address)."""
    base = select(func.count()).where(
        Registration.event_id == event.id,
        Registration.status == RegistrationStatus.CONFIRMED.value,
        Registration.purged_at.is_(None),
    )
    found: dict[str, int] = {}
    for channel in channels():
        query = base.where(Registration.email.is_not(None)) if channel == Channel.EMAIL else base
        found[str(channel)] = int(db.session.scalar(query) or 0)
    return found


def broadcast_facts(event: Event, locale: str, subject: str, body: str) -> Facts:
    """A broadcast's words with a made-up runner (the preview)."""
    return replace(sample_facts(MessageKind.BROADCAST, locale, event), subject=subject, body=body)


def create_broadcast(event: Event, text: dict[str, str | None], user_id: int | None) -> Broadcast:
    """Write the broadcast and queue it to every confirmed runner, in one transaction,
    audited. The same words for the same event within a minute give back that broadcast."""
    event_id, slug = event.id, event.slug
    begin_write()
    if db.session.get_bind().dialect.name == "postgresql":  # one broadcast at a time per event
        db.session.execute(select(Event.id).where(Event.id == event_id).with_for_update())
    same = db.session.scalar(
        select(Broadcast)
        .where(
            Broadcast.event_id == event_id,
            Broadcast.subject_id == text["subject_id"],
            Broadcast.body_id == text["body_id"],
            Broadcast.created_at >= utcnow() - SAME_BROADCAST,
        )
        .order_by(Broadcast.id.desc())
        .limit(1)
    )
    if same is not None:
        db.session.rollback()
        return same
    broadcast = Broadcast(event_id=event_id, author_id=user_id, **text)
    db.session.add(broadcast)
    db.session.flush()
    queue(
        MessageKind.BROADCAST,
        _audience(event_id),
        broadcast_id=broadcast.id,
        suffix=f":{broadcast.id}",
    )
    # Counted, not taken from queue(): its rowcount is -1 on PostgreSQL (psycopg).
    queued = int(
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.broadcast_id == broadcast.id)
        )
        or 0
    )
    broadcast.queued = queued
    record(
        "broadcast",
        user_id=user_id,
        target=slug,
        event_id=event_id,
        detail=f"{queued} messages · {text['subject_id']}",
    )
    db.session.commit()
    return broadcast


def broadcast_counts(broadcast_id: int) -> dict[str, int]:
    """How many of a broadcast's messages stand in each state."""
    query = (
        select(Message.status, func.count())
        .where(Message.broadcast_id == broadcast_id)
        .group_by(Message.status)
    )
    found = {row[0]: row[1] for row in db.session.execute(query)}
    return {str(status): int(found.get(status, 0)) for status in MessageStatus}


def broadcasts_of(event_id: int) -> list[Broadcast]:
    """An event's broadcasts, newest first."""
    return list(
        db.session.scalars(
            select(Broadcast)
            .where(Broadcast.event_id == event_id)
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(50)
        )
    )
