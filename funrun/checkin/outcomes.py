"""What a scan answers: the runner as a scan shows them, the first check-in, the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from funrun.checkin.models import ScanResult
from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.registration.models import Registration

if TYPE_CHECKING:
    from funrun.checkin.pickup import PickupView

HTTP_STATUS = {
    ScanResult.CHECKED_IN: 201,
    ScanResult.ALREADY: 200,
    ScanResult.UNKNOWN: 404,
    ScanResult.INVALID: 422,
    ScanResult.WRONG_EVENT: 409,
    ScanResult.NOT_CONFIRMED: 409,
    ScanResult.CONFIRM_IDENTITY: 200,
    ScanResult.PROXY_LIMIT: 409,
    ScanResult.UNDONE: 200,
}
_ENROLMENTS = Enrolment.__table__


@dataclass(frozen=True)
class RunnerView:
    """What a scan shows of the runner (read before the write; no NIK)."""

    id: int
    bib: str | None
    bib_number: int | None
    full_name: str
    shirt_size: str
    status: str
    is_member: bool
    #: Enrolled at a venue (any city) already: the desk has nothing to offer.
    enrolled: bool = False

    @classmethod
    def of(cls, registration: Registration, prefix: str) -> RunnerView:
        """Copy the fields a scan answer needs."""
        number = registration.bib_number
        return cls(
            id=registration.id,
            bib=f"{prefix} {number:04d}" if number is not None else None,
            bib_number=number,
            full_name=registration.full_name,
            shirt_size=registration.shirt_size,
            status=registration.status,
            is_member=registration.is_member,
            enrolled=_enrolled(registration.person_id),
        )


@dataclass(frozen=True)
class CheckInView:
    """A check-in as a scan answer shows it: for repeats, when and by whom it was first."""

    id: int
    station: str
    checked_in_at: datetime
    scanned_by: str | None
    #: The label of the device that scanned it (tells two phones of one volunteer apart).
    device: str | None = None


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to a scan, with the runner and (for repeats) the first check-in."""

    result: ScanResult
    registration: RunnerView | None = None
    checkin: CheckInView | None = None
    replayed: bool = False
    #: What the device answered offline, for a queued scan.
    offline_answer: str | None = None
    #: For "wrong_event": the city of the event the bib belongs to, when known.
    other_city: str | None = None
    #: A pickup's details (a representative, a shirt size swapped): checkin/pickup.py.
    pickup: PickupView | None = None

    @property
    def conflict(self) -> bool:
        """The device said "checked in" offline, but another scan had come first."""
        return self.offline_answer == ScanResult.CHECKED_IN and self.result == ScanResult.ALREADY

    @property
    def http_status(self) -> int:
        """The status code the API answers with."""
        return HTTP_STATUS[self.result]

    def as_json(self) -> dict:
        """The outcome as the check-in API and the scan page show it (no NIK)."""
        body: dict = {
            "result": str(self.result),
            "registration": None,
            "replayed": self.replayed,
            "conflict": self.conflict,
        }
        reg = self.registration
        if reg is not None:
            body["registration"] = {
                "id": reg.id,
                "bib": reg.bib,
                "bib_number": reg.bib_number,
                "full_name": reg.full_name,
                "shirt_size": reg.shirt_size,
                "status": reg.status,
                "member": reg.is_member,
                # Non-members are who the enrolment desk is for.
                "enrolled": reg.enrolled,
                "offer_enrolment": not reg.is_member and not reg.enrolled,
            }
        if self.result == ScanResult.WRONG_EVENT and self.other_city:
            body["other_event"] = {"city": self.other_city}
        if self.checkin is not None:
            body["checkin_id"] = self.checkin.id
            body["station"] = self.checkin.station
            if self.result == ScanResult.ALREADY:
                body["first_at"] = self.checkin.checked_in_at.isoformat()
                body["first_by"] = self.checkin.scanned_by
                body["first_device"] = self.checkin.device
        if self.pickup is not None:
            body.update(self.pickup.as_json())
        return body


class ScanEvent(Protocol):
    """What scanning needs of an event (an :class:`Event`, or a :class:`Desk`'s)."""

    id: int
    bib_prefix: str


class Scanner(Protocol):
    """What scanning needs of the person scanning."""

    id: int
    email: str


def _enrolled(person_id: int) -> bool:
    """Whether the person is enrolled already (at any event)."""
    return (
        db.session.scalar(select(_ENROLMENTS.c.id).where(_ENROLMENTS.c.person_id == person_id))
        is not None
    )
