"""What was sent to one runner: their registration's messages, newest first, for their
manage page and their data export. Only what the message table holds: the kind, the
channel, where it went (masked), its state and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select

from funrun.extensions import db
from funrun.messages.models import Channel, Message, MessageStatus

#: How many messages the manage page lists (the export has them all).
PAGE_LIMIT = 20


@dataclass(frozen=True)
class SentMessage:
    """One message to the runner, as they may see it."""

    kind: str
    channel: str
    status: str
    #: Masked (the last digits of a phone, the e-mail's domain); None once purged or
    #: before the worker tried it.
    sent_to: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def at(self) -> datetime:
        """When it went, or when it was queued if it has not gone yet."""
        return self.sent_at or self.created_at

    def local(self, zone: str) -> datetime:
        """:attr:`at` in the event's time zone."""
        return self.at.astimezone(ZoneInfo(zone))

    def as_json(self) -> dict[str, Any]:
        """For a data export."""
        return {
            "kind": self.kind,
            "channel": self.channel,
            "status": self.status,
            "sent_to": self.sent_to,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


def for_registration(registration_id: int, limit: int | None = PAGE_LIMIT) -> list[SentMessage]:
    """This registration's messages, newest first (at most ``limit``; None: all)."""
    query = (
        select(
            Message.kind,
            Message.channel,
            Message.status,
            Message.sent_to,
            Message.created_at,
            Message.sent_at,
        )
        .where(Message.registration_id == registration_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [SentMessage(*row) for row in db.session.execute(query)]


def channel_name(channel: str) -> str:
    """A channel, in words."""
    names = {
        Channel.EMAIL: _("e-mail"),
        Channel.WHATSAPP: _("WhatsApp"),
        Channel.SMS: _("SMS"),
    }
    return names.get(channel, channel)  # type: ignore[call-overload,no-any-return]


def state_name(status: str) -> str:
    """A message's state, in the runner's words."""
    names = {
        MessageStatus.QUEUED: _("on its way"),
        MessageStatus.SENDING: _("on its way"),
        MessageStatus.SENT: _("sent"),
        MessageStatus.HELD: _("kept in the outbox (test server)"),
        MessageStatus.FAILED: _("failed"),
        MessageStatus.BOUNCED: _("not delivered: address refused"),
        MessageStatus.SKIPPED: _("skipped"),
    }
    return names.get(status, status)  # type: ignore[call-overload,no-any-return]
