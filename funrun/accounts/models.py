"""Staff and partner accounts, their event assignments, API tokens and sign-in state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db


class Role(StrEnum):
    """What an account may do."""

    ADMIN = "admin"
    ORGANISER = "organiser"
    VOLUNTEER = "volunteer"  # scoped to the events it is assigned
    PARTNER = "partner"  # registers its workers: the API, and its own pages (/partner/)


class User(UserMixin, db.Model):
    """A staff or partner account."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'organiser', 'volunteer', 'partner')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: Werkzeug (scrypt) hash; None for API-only partner accounts (a partner given a
    #: password signs in to its own pages, /partner/).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    #: A partner's organisation (the aggregator's name), as organisers and reports show it.
    organisation: Mapped[str | None] = mapped_column(String(160))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    assignments: Mapped[list[EventAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.active


class EventAssignment(db.Model):
    """A volunteer's assignment to an event (and optionally a station)."""

    __tablename__ = "event_assignments"
    __table_args__ = (UniqueConstraint("user_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    station: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship(back_populates="assignments")


class ApiToken(db.Model):
    """A bearer token for the API; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 of the token: a stolen database does not yield working tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, to tell tokens apart in lists.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class StaffSession(db.Model):
    """A signed-in browser: the cookie holds a random id, the server this row (its hash).

    Signing out, an admin's "End all sessions", a password change or the end of the
    working day (``FUNRUN_STAFF_SESSION_HOURS`` after ``created_at``) end it for good,
    whatever copies of the cookie exist.
    """

    __tablename__ = "staff_sessions"

    #: SHA-256 (hex) of the random id in the cookie: a stolen table opens no session.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Updated at most once a minute.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(200))


class SignInFailure(db.Model):
    """Failed sign-ins for one typed email, whichever clients they came from.

    Kept per email (its SHA-256), not per account, so an unknown email is slowed down
    exactly like a known one and the answers tell nobody which emails are staff.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_last_failed_at", "last_failed_at"),)

    #: SHA-256 (hex) of the lower-cased email.
    email_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Failures since ``window_started_at`` (the count restarts after the window).
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Sign-in refused until then, even with the right password.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Locks so far: each lasts twice as long as the one before (up to a cap).
    lockouts: Mapped[int] = mapped_column(default=0)
