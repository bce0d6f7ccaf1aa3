"""Registrations for an event, and the privacy notices runners consented to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.models import Person


class RegistrationStatus(StrEnum):
    """Where a registration stands."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    #: A partner's group member's place (a bib, counted in the quota) until they confirm
    #: it themselves by their link, or it goes back at ``hold_expires_at``.
    HELD = "held"
    #: A ballot entry (funrun.ballot): no place yet; the draw confirms or waitlists it.
    ENTERED = "entered"


class Pool(StrEnum):
    """The pool of the event's quota a confirmed place came from (None: the general one)."""

    #: Not yet a member of the scheme: no KPJ number and no enrolment on record.
    NON_MEMBER = "non_member"
    #: Brought by a partner (aggregator): its API or a group import.
    PARTNER = "partner"


class RegistrationSource(StrEnum):
    """How a registration reached us."""

    WEB = "web"
    API = "api"
    PARTNER = "partner"
    WALKUP = "walkup"
    DEMO = "demo"
    #: A partner's group import (funrun.groups).
    GROUP = "group"


class PrivacyNotice(db.Model):
    """The exact privacy notice and consent wording shown, kept as proof of consent."""

    __tablename__ = "privacy_notices"
    __table_args__ = (UniqueConstraint("locale", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    #: The label of the consent box, exactly as shown next to it.
    consent_label: Mapped[str] = mapped_column(Text)
    #: SHA-256 of body and label: a changed text is a new notice, never an edit.
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: A registration given a waitlist number that is no longer waitlisted.
LEFT_WAITLIST = "waitlist_seq IS NOT NULL AND status <> 'waitlisted'"


class Registration(db.Model):
    """One person's place (confirmed, waitlisted or cancelled) in one event."""

    __tablename__ = "registrations"
    __table_args__ = (
        # One active registration per person per event, enforced by the database.
        Index(
            "uq_registrations_active_person",
            "event_id",
            "person_id",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
        # Bib numbers are unique in an event; a cancelled runner keeps (retires) theirs.
        UniqueConstraint("event_id", "bib_number"),
        UniqueConstraint("event_id", "waitlist_seq"),
        # Partial: only ballot entries have a number, and every other registration's
        # insert (the rush's hot statement) then maintains no entry in it.
        Index(
            "uq_registrations_event_id_entry_number",
            "event_id",
            "entry_number",
            unique=True,
            sqlite_where=text("entry_number IS NOT NULL"),
            postgresql_where=text("entry_number IS NOT NULL"),
        ),
        # What a check-in's composite foreign key points at (its registration and event).
        UniqueConstraint("id", "event_id"),
        Index("ix_registrations_event_status_seq", "event_id", "status", "waitlist_seq"),
        # Partial: most runners come alone, and a registration's insert (the rush's hot
        # statement) then maintains neither index.
        Index(
            "ix_registrations_partner_id",
            "partner_id",
            sqlite_where=text("partner_id IS NOT NULL"),
            postgresql_where=text("partner_id IS NOT NULL"),
        ),
        # Partial: the waitlist's numbers that left it (promoted, held or cancelled), by
        # which a position is read (funrun.registration.places.waitlist_position); a
        # registration's insert (confirmed, or waitlisted) maintains no entry in it.
        Index(
            "ix_registrations_left_waitlist",
            "event_id",
            "waitlist_seq",
            sqlite_where=text(LEFT_WAITLIST),
            postgresql_where=text(LEFT_WAITLIST),
        ),
        Index(
            "ix_registrations_group_import_id",
            "group_import_id",
            sqlite_where=text("group_import_id IS NOT NULL"),
            postgresql_where=text("group_import_id IS NOT NULL"),
        ),
        CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled', 'held', 'entered')",
            name="status_known",
        ),
        CheckConstraint("status <> 'entered' OR entry_number IS NOT NULL", name="entered_number"),
        CheckConstraint("pool IS NULL OR pool IN ('non_member', 'partner')", name="pool_known"),
        # A held place (a partner's group) has a bib and a deadline; it is confirmed by
        # the member alone, who consents then (consent is theirs, not the partner's).
        CheckConstraint("status <> 'held' OR bib_number IS NOT NULL", name="held_bib"),
        CheckConstraint("status <> 'held' OR hold_expires_at IS NOT NULL", name="held_until"),
        CheckConstraint(
            "consent_at IS NOT NULL OR group_import_id IS NOT NULL", name="consent_given"
        ),
        CheckConstraint("status <> 'confirmed' OR bib_number IS NOT NULL", name="confirmed_bib"),
        CheckConstraint("disputed_at IS NULL OR status = 'cancelled'", name="disputed_cancelled"),
        CheckConstraint(
            "status <> 'waitlisted' OR waitlist_seq IS NOT NULL", name="waitlisted_seq"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    #: Assigned in the same transaction that confirms the place.
    bib_number: Mapped[int | None]
    #: Position in the event's waitlist order when the runner joined it (kept after promotion).
    waitlist_seq: Mapped[int | None]
    #: A ballot entry's number in its event (published with the draw; kept after it).
    entry_number: Mapped[int | None]
    #: The entry's place in the draw's order (1 first), once drawn.
    ballot_rank: Mapped[int | None]
    #: The pool the confirmed place came from (:class:`Pool`; None: the general pool).
    pool: Mapped[str | None] = mapped_column(String(12))
    #: SHA-256 of the manage link token: what a link is looked up by.
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token itself, encrypted like the NIK (FUNRUN_DATA_KEY), so that the messages
    #: sent to the runner can carry their link; None for registrations made before.
    manage_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The runner turned race-week reminders off (transactional messages still go).
    reminders_off: Mapped[bool] = mapped_column(server_default=false())
    full_name: Mapped[str] = mapped_column(String(100))
    #: E.164, e.g. +6281234567890.
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    shirt_size: Mapped[str] = mapped_column(String(8))
    #: Already a member of the scheme (has a KPJ number) when registering.
    is_member: Mapped[bool]
    kpj_number: Mapped[str | None] = mapped_column(String(11))
    occupation: Mapped[str | None] = mapped_column(String(80))
    emergency_contact: Mapped[str | None] = mapped_column(String(100))
    emergency_phone: Mapped[str | None] = mapped_column(String(20))
    #: Who the runner named to collect their race pack (with a signed letter), if anyone.
    proxy_name: Mapped[str | None] = mapped_column(String(100))
    proxy_phone: Mapped[str | None] = mapped_column(String(20))
    #: The notice the runner consented to, and when; None only for a group member's
    #: held place until they confirm it themselves.
    privacy_notice_id: Mapped[int | None] = mapped_column(ForeignKey("privacy_notices.id"))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16), default=RegistrationSource.WEB)
    #: The language the runner used, for any message we send later.
    locale: Mapped[str] = mapped_column(String(8), default="id")
    #: The partner or staff account that registered this person, if any.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The partner (aggregator) who brought this runner: by the API or a group import.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The group import that took this place, if any (its member confirms by link).
    group_import_id: Mapped[int | None] = mapped_column(ForeignKey("group_imports.id"))
    #: A held place goes back (to the waitlist's first) if not confirmed by then.
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the personal fields were purged (funrun.privacy); None while held.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Voided at the desk: the NIK's real holder showed their KTP (funrun.registration.disputes).
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who voided it (a volunteer of the event, an organiser or an admin) and why.
    disputed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispute_reason: Mapped[str | None] = mapped_column(String(500))

    event: Mapped[Event] = relationship()
    person: Mapped[Person] = relationship()
    privacy_notice: Mapped[PrivacyNotice] = relationship()

    @property
    def bib(self) -> str | None:
        """The bib as shown, e.g. ``JKT 0042``; None until confirmed."""
        return None if self.bib_number is None else self.event.format_bib(self.bib_number)
