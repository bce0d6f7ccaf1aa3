"""Check-ins: the scan body, its outcome, the offline roster, counts and undo.

The result codes and stations come from :mod:`funrun.checkin.models`, not re-listed here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from funrun.api.schemas.base import Count, DateTime, Schema
from funrun.api.schemas.registrations import JWK as JWKRef
from funrun.checkin.models import STATIONS
from funrun.checkin.scanrequest import SCAN_ANSWERS, CheckInRequest
from funrun.registration.models import RegistrationStatus

#: ``POST /events/{slug}/checkins`` is declared once, beside the rules that check it.
__all__ = ["CheckInRequest"]

Station = Literal[STATIONS]  # type: ignore[valid-type]
ScanAnswer = Literal[SCAN_ANSWERS]  # type: ignore[valid-type]


class ScannedRunner(Schema):
    """The runner a scan found (no NIK, phone or email)."""

    id: int = None  # type: ignore[assignment]
    bib: str | None = None
    bib_number: int | None = None
    full_name: str = None  # type: ignore[assignment]
    shirt_size: str = None  # type: ignore[assignment]
    status: str = None  # type: ignore[assignment]
    member: bool = None  # type: ignore[assignment]
    enrolled: bool = Field(
        default=None,  # type: ignore[assignment]
        description="Enrolled at a venue already (any city).",
    )
    offer_enrolment: bool = None  # type: ignore[assignment]


class ProxyCollected(Schema):
    """The representative who collected (never their NIK)."""

    name: str
    named: str | None = Field(description="The representative the runner named, if any.")
    is_named: bool = Field(
        description="false: someone else than the named representative (or none was "
        "named); they need the runner's signed letter."
    )


class OtherEvent(Schema):
    """The event a bib of another event belongs to."""

    city: str


class CheckInOutcome(Schema):
    """What a scan answered."""

    result: ScanAnswer = Field(
        description="confirm_identity (200): a typed bib that would check the runner in; "
        "registration carries the name and bib to compare with the ID card, nothing was "
        "checked in; send it again with id_checked true. A typed bib of a runner already "
        "checked in answers already_checked_in at once."
    )
    other_event: OtherEvent = Field(
        default=None,  # type: ignore[assignment]
        description="With wrong_event: the city of the event the bib belongs to (a typed "
        "bib with another event's prefix, or a genuine QR of another event).",
    )
    replayed: bool
    conflict: bool = Field(
        default=None,  # type: ignore[assignment]
        description="The device answered checked_in offline, but another scan had checked "
        "the runner in first (first_at, first_by, first_device).",
    )
    registration: ScannedRunner | None
    checkin_id: int = None  # type: ignore[assignment]
    station: str = None  # type: ignore[assignment]
    first_at: DateTime = None  # type: ignore[assignment]
    first_by: str | None = None
    first_device: str | None = None
    proxy: ProxyCollected = None  # type: ignore[assignment]
    shirt_given: str = Field(
        default=None,  # type: ignore[assignment]
        description="The shirt size handed out instead of the registered one.",
    )
    proxy_limit: int = Field(
        default=None,  # type: ignore[assignment]
        description="With proxy_limit: the most runners one representative may collect for.",
    )
    message: str = Field(
        default=None,  # type: ignore[assignment]
        description="With proxy_limit: why, in the caller's language.",
    )


class ScanMark(Schema):
    """An active check-in at a station."""

    at: DateTime
    by: str | None = Field(description="the staff account")
    device: str | None


class RosterEvent(Schema):
    """The event a roster is for."""

    id: int = Field(description="as signed in bib payloads")
    slug: str
    city: str
    bib_prefix: str


class RosterRunner(Schema):
    """A registration with a bib, as the offline scanner holds it."""

    id: int
    bib_number: int
    bib: str
    status: RegistrationStatus
    full_name: str
    shirt_size: str
    member: bool
    enrolled: bool = Field(description="Enrolled at a venue already (any city).")
    checkins: dict[Station, ScanMark] = Field(description="The active check-in per station.")


class FirstScan(Schema):
    """The check-in that came first."""

    at: DateTime | None
    by: str | None
    device: str | None


class LateScan(Schema):
    """The queued scan that came second."""

    scanned_at: DateTime | None
    received_at: DateTime
    by: str | None
    device: str | None


class Conflict(Schema):
    """A queued scan answered checked_in offline after another device had checked the
    runner in: the runner may have been given two race packs."""

    id: int
    registration_id: int
    bib: str | None
    full_name: str
    station: str
    first: FirstScan
    late: LateScan


class Roster(Schema):
    """What an offline scanner needs to answer a scan: no NIK, phone or email of a runner.
    The ETag header carries version; send it back in If-None-Match to get 304 when
    nothing changed."""

    event: RosterEvent
    version: str
    generated_at: DateTime
    stations: list[str]
    keys: list[JWKRef] = Field(description="The accepted public keys, as in GET /signing-key.")
    runners: list[RosterRunner] = Field(
        description="Every registration with a bib (cancelled ones too, so their bibs "
        "answer not_confirmed)."
    )
    conflicts: list[Conflict]


class ShirtLeft(Schema):
    """One shirt size at the race-pack pickup: the stock set, handed out and left."""

    size: str
    quantity: int
    handed_out: int = Field(description="Pickups not undone, a swap counted as the size given.")
    left: int = Field(description="quantity - handed_out (below 0: more given than stocked).")
    low: bool = Field(description="At most 5 left.")


class StationCounts(Schema):
    """The live counter of a station."""

    station: str
    checked_in: Count
    confirmed: Count
    shirts: list[ShirtLeft] = Field(
        default=None,  # type: ignore[assignment]
        description="At pickup, for an event with shirt stock set: what is left per size.",
    )


class Undone(Schema):
    """A check-in taken back."""

    checkin_id: int
    undone_at: DateTime
