"""What registering answers: the refusals (domain exceptions) and what the runner sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from funrun.extensions import db
from funrun.people.crypto import data_cipher, mask_nik
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.validation import RegistrationData


class RegistrationError(Exception):
    """A registration could not be made or changed; the message is for the user."""


class RegistrationClosed(RegistrationError):
    """The event is not taking registrations now."""


class DuplicateRegistration(RegistrationError):
    """This NIK already holds an active registration for the event."""


class AlreadyCancelled(RegistrationError):
    """The registration was cancelled before."""


@dataclass(frozen=True)
class RegistrationSnapshot:
    """What the runner sees of a registration, read once (no lazy loads afterwards)."""

    id: int
    event_id: int
    event_slug: str
    status: str
    bib: str | None
    bib_number: int | None
    waitlist_seq: int | None
    #: A ballot entry's number in its event (kept after the draw); None otherwise.
    entry_number: int | None
    full_name: str
    nik_masked: str
    shirt_size: str
    is_member: bool
    created_at: datetime
    cancelled_at: datetime | None
    #: A waitlisted registration's position as the statement that made it read it
    #: (:func:`~funrun.registration.places.waitlist_position`); None when not read.
    waitlist_position: int | None = None

    @classmethod
    def of(cls, registration: Registration) -> RegistrationSnapshot:
        """Read a stored registration (decrypting the NIK only to mask it)."""
        nik = data_cipher().decrypt(registration.person.nik_encrypted)
        return cls(
            id=registration.id,
            event_id=registration.event_id,
            event_slug=registration.event.slug,
            status=registration.status,
            bib=registration.bib,
            bib_number=registration.bib_number,
            waitlist_seq=registration.waitlist_seq,
            entry_number=registration.entry_number,
            full_name=registration.full_name,
            nik_masked=mask_nik(nik),
            shirt_size=registration.shirt_size,
            is_member=registration.is_member,
            created_at=registration.created_at,
            cancelled_at=registration.cancelled_at,
        )

    @classmethod
    def made(
        cls,
        registration_id: int,
        event: tuple[int, str, str],
        status: RegistrationStatus,
        number: int,
        data: RegistrationData,
        now: datetime,
        *,
        waitlist_position: int | None = None,
    ) -> RegistrationSnapshot:
        """What the runner is shown of a registration just made (nothing read back);
        ``event`` is its id, slug and bib prefix, ``waitlist_position`` a waitlisted
        runner's, read by the statement that made it."""
        event_id, event_slug, bib_prefix = event
        confirmed = status == RegistrationStatus.CONFIRMED
        return cls(
            id=registration_id,
            event_id=event_id,
            event_slug=event_slug,
            status=str(status),
            bib=f"{bib_prefix} {number:04d}" if confirmed else None,
            bib_number=number if confirmed else None,
            waitlist_seq=number if status == RegistrationStatus.WAITLISTED else None,
            entry_number=number if status == RegistrationStatus.ENTERED else None,
            full_name=data.full_name,
            nik_masked=mask_nik(data.nik),
            shirt_size=data.shirt_size,
            is_member=data.is_member,
            created_at=now,
            cancelled_at=None,
            waitlist_position=waitlist_position,
        )


@dataclass(frozen=True)
class NewRegistration:
    """A registration just made, with the manage token shown to the runner once."""

    manage_token: str
    snapshot: RegistrationSnapshot

    @property
    def registration(self) -> Registration:
        """The stored registration (loaded on first use)."""
        return db.session.get_one(Registration, self.snapshot.id)
