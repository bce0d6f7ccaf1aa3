"""The message table: one row per message to one runner on one channel.

A row is queued in the same transaction as the change that causes it (a registration, a
cancellation, a promotion, ...), so a rolled-back change sends nothing and a committed
one is never lost. The worker claims rows (``sending``, with a lease), renders them from
the registration as it is then, hands them to the channel and records the outcome.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db


class MessageKind(StrEnum):
    """Why a message is sent; each has its own template."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    PROMOTED = "promoted"
    CANCELLED = "cancelled"
    DETAILS_CHANGED = "details_changed"
    REMINDER = "reminder"
    ENROLMENT_WELCOME = "enrolment_welcome"
    LINK_RECOVERED = "link_recovered"
    BROADCAST = "broadcast"
    #: A partner's group member: confirm your held place (and consent) by this link.
    GROUP_INVITE = "group_invite"
    #: A held place was not confirmed in time and went back.
    HOLD_EXPIRED = "hold_expired"
    #: An enrolled member's next month is due (after the race, from the payment files).
    PAYMENT_DUE = "payment_due"
    #: A ballot entry was received (its number, the draw's date, the seed's hash).
    BALLOT_ENTERED = "ballot_entered"
    #: The draw gave the entrant a place (with a bib).
    BALLOT_WON = "ballot_won"
    #: The draw put the entrant on the waitlist (their place in it).
    BALLOT_WAITLISTED = "ballot_waitlisted"


#: Messages a runner may turn off; every other kind is part of a change they made or
#: news about their race, and is always sent.
OPTIONAL_KINDS = frozenset({MessageKind.REMINDER})


class Channel(StrEnum):
    """How a message reaches the runner."""

    EMAIL = "email"
    WHATSAPP = "whatsapp"
    SMS = "sms"


class MessageStatus(StrEnum):
    """Where a message stands."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    #: Kept in the app's outbox (development without SMTP): readable by staff, sent nowhere.
    HELD = "held"
    FAILED = "failed"
    #: The address or number was refused for good; not tried again.
    BOUNCED = "bounced"
    #: Not sent on purpose (reminders turned off, the registration purged).
    SKIPPED = "skipped"


#: A message in one of these states is finished: nothing will send it again.
FINAL = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.HELD,
        MessageStatus.FAILED,
        MessageStatus.BOUNCED,
        MessageStatus.SKIPPED,
    }
)


class Message(db.Model):
    """One message to one runner on one channel.

    ``key`` is the idempotency key: unique, so a reminder or a broadcast queued twice is
    one message, and shown to the channel (the e-mail's Message-ID, the provider's
    reference) so a message repeated after a crash can be recognised. The text is not
    stored: it is rendered from the registration when sent (and again when shown).
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_status_due", "status", "next_attempt_at"),
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'held', 'failed', 'bounced', 'skipped')",
            name="status_known",
        ),
        CheckConstraint("channel IN ('email', 'whatsapp', 'sms')", name="channel_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED)
    #: The organiser's broadcast this message carries, if it is one.
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    #: What the template needs beyond the registration (what changed, a position).
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Where it went (masked: the last digits of a phone, the e-mail's domain kept).
    sent_to: Mapped[str | None] = mapped_column(String(120))
    #: The channel's own id for the message (a provider's message id).
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Broadcast(db.Model):
    """An organiser's message to every confirmed runner of an event (a venue or time
    change), written in Bahasa Indonesia and, optionally, English."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject_id: Mapped[str] = mapped_column(String(150))
    body_id: Mapped[str] = mapped_column(String(2000))
    subject_en: Mapped[str | None] = mapped_column(String(150))
    body_en: Mapped[str | None] = mapped_column(String(2000))
    #: How many messages it queued (one per runner and channel).
    queued: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
