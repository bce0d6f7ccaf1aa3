"""Check-ins (one per runner and station) and the log of every scan, rejected ones too."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from funrun.accounts.models import User
from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db
from funrun.registration.models import Registration

STATIONS = ("pickup", "start", "finish")
#: What people read for a station; the codes above are what the API and exports carry.
STATION_LABELS = {
    "pickup": _l("Race-pack pickup"),
    "start": _l("Start line"),
    "finish": _l("Finish line"),
}
#: A queued scan the device answered "checked in" that the server found already checked
#: in (by another device while this one was offline): a runner may have had two packs.
CONFLICT_WHERE = "offline_answer = 'checked_in' AND result = 'already_checked_in'"
#: How a code reached the desk: "scan" (a camera or a handheld scanner read a QR) or
#: "typed" (a person typed a bib number). Only a signed bib proves anything by itself.
METHODS = ("scan", "typed")
#: The database refuses a station it does not know (check-ins and the scan log).
STATION_CHECK = "station IN (" + ", ".join(f"'{name}'" for name in STATIONS) + ")"


class ScanResult(StrEnum):
    """What a scan answered."""

    CHECKED_IN = "checked_in"
    ALREADY = "already_checked_in"
    UNKNOWN = "unknown"
    INVALID = "invalid"  # malformed or forged
    WRONG_EVENT = "wrong_event"
    NOT_CONFIRMED = "not_confirmed"
    #: A typed bib that would check the runner in: compare the ID card, then send again.
    CONFIRM_IDENTITY = "confirm_identity"
    #: A representative who collected for as many runners as the event allows.
    PROXY_LIMIT = "proxy_limit"
    UNDONE = "undone"  # a supervisor took a check-in back


class CheckIn(db.Model):
    """A runner checked in at a station; at most one active per runner and station."""

    __tablename__ = "checkins"
    __table_args__ = (
        # Two devices scanning the same bib at once make exactly one check-in.
        Index(
            "uq_checkins_active",
            "registration_id",
            "station",
            unique=True,
            sqlite_where=text("undone_at IS NULL"),
            postgresql_where=text("undone_at IS NULL"),
        ),
        Index("ix_checkins_event_station", "event_id", "station", "checked_in_at"),
        # How many runners a representative collected for (the limit per event).
        Index("ix_checkins_event_proxy", "event_id", "proxy_nik_hash"),
        # A check-in belongs to its registration's event: (registration, event) together
        # must name a registration, so no statement can file a runner under another event.
        ForeignKeyConstraint(
            ["registration_id", "event_id"], ["registrations.id", "registrations.event_id"]
        ),
        CheckConstraint(STATION_CHECK, name="station_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    registration_id: Mapped[int]
    station: Mapped[str] = mapped_column(String(16))
    #: When the device scanned it (may be earlier than received, for queued scans).
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scanned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device: Mapped[str | None] = mapped_column(String(64))
    #: A race pack collected by a representative: their name and the keyed hash of the
    #: NIK on the ID card the volunteer saw (never the NIK itself).
    proxy_name: Mapped[str | None] = mapped_column(String(100))
    proxy_nik_hash: Mapped[str | None] = mapped_column(String(64))
    #: The shirt size handed out, when it differs from the one registered (a swap).
    shirt_given: Mapped[str | None] = mapped_column(String(8))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    registration: Mapped[Registration] = relationship()
    scanned_by: Mapped[User | None] = relationship(foreign_keys=[scanned_by_id])


class ScanLog(db.Model):
    """Every scan and undo: who, which device, when, what it answered."""

    __tablename__ = "scan_log"
    __table_args__ = (
        # A device's client_ref is answered once per event; a replay gets the first answer.
        Index(
            "uq_scan_log_event_client_ref",
            "event_id",
            "client_ref",
            unique=True,
            sqlite_where=text("client_ref IS NOT NULL"),
            postgresql_where=text("client_ref IS NOT NULL"),
        ),
        Index("ix_scan_log_event_received", "event_id", "received_at"),
        # The roster lists the event's conflicts on every refresh: find them without a scan.
        Index(
            "ix_scan_log_event_conflicts",
            "event_id",
            sqlite_where=text(CONFLICT_WHERE),
            postgresql_where=text(CONFLICT_WHERE),
        ),
        CheckConstraint("method IN ('scan', 'typed')", name="method_known"),
        CheckConstraint(STATION_CHECK, name="station_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    #: Indexed: the audit page filters scans by who made them.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    station: Mapped[str] = mapped_column(String(16))
    device: Mapped[str | None] = mapped_column(String(64))
    #: The device's unique id for this scan (offline queues resend it).
    client_ref: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(24))
    #: "qr" or "typed"; never the payload itself (it identifies a runner).
    code_kind: Mapped[str] = mapped_column(String(8))
    #: How the code was entered (see METHODS); NULL for an undo, which is no scan.
    method: Mapped[str | None] = mapped_column(String(8))
    #: The volunteer said they compared the runner's ID card (a typed bib needs it).
    id_checked: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Indexed: a runner's history and the roster's conflicts look scans up by runner. Not
    #: tied to the event: a bib of another event is logged under the scanning one.
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id"), index=True)
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id"))
    bib_number: Mapped[int | None]
    #: What the device answered while offline, for a queued scan (else NULL); see
    #: CONFLICT_WHERE.
    offline_answer: Mapped[str | None] = mapped_column(String(24))
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
