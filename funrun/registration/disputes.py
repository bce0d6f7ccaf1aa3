"""A NIK squatted by someone else: the desk voids that registration and registers the
person whose KTP it has seen.

Anyone who knows a NIK (it is on every KTP photocopy) can register it first; the real
person then meets "already registered". A volunteer of the event, an organiser or an
admin who has seen the real person's ID card voids the other registration: it is
cancelled by the same rule as any cancellation (the place goes back, the head of the
waitlist moves up), marked disputed with who and why, and audited; then the real person
registers through the normal rule (a place while the quota lasts, else the waitlist).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from funrun.audit.services import record
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationSource, RegistrationStatus
from funrun.registration.services import (
    NewRegistration,
    RegistrationClosed,
    RegistrationError,
    current_privacy_notice,
    lock_event,
    locked_registration,
    register,
    release_place,
)
from funrun.registration.validation import RegistrationData

#: Shortest and longest reason the desk must give (it is read in the audit log).
REASON_LENGTH = (5, 500)


class NothingToDispute(RegistrationError):
    """No active registration at this event holds the NIK."""


class DisputeChanged(RegistrationError):
    """The registration holding the NIK changed since the desk reviewed it."""


@dataclass(frozen=True)
class Holder:
    """What the desk sees of the registration holding a NIK (never the NIK itself)."""

    id: int
    full_name: str
    status: str
    bib: str | None
    source: str
    created_at: datetime
    checked_in: bool

    @classmethod
    def of(cls, registration: Registration) -> Holder:
        """Read what the review page shows."""
        from funrun.checkin.models import CheckIn

        checked_in = db.session.scalar(
            select(CheckIn.id).where(
                CheckIn.registration_id == registration.id, CheckIn.undone_at.is_(None)
            )
        )
        return cls(
            id=registration.id,
            full_name=registration.full_name,
            status=registration.status,
            bib=registration.bib,
            source=registration.source,
            created_at=registration.created_at,
            checked_in=checked_in is not None,
        )


def holder_of(event_id: int, nik: str) -> Registration | None:
    """The active registration at the event whose person has this NIK (by keyed hash)."""
    return db.session.scalar(
        select(Registration)
        .join(Person, Person.id == Registration.person_id)
        .where(
            Registration.event_id == event_id,
            Registration.status != RegistrationStatus.CANCELLED,
            Person.nik_hash == data_cipher().lookup_hash(nik),
        )
    )


def review(event: Event, data: RegistrationData) -> Holder:
    """The registration the desk is about to void; refuses when there is nothing to do."""
    if not event.accepts_registrations(utcnow()):
        raise RegistrationClosed(_("Registration for this event is closed."))
    holder = holder_of(event.id, data.nik)
    if holder is None:
        raise NothingToDispute(
            _("No active registration holds this NIK at this event: register the person as usual.")
        )
    return Holder.of(holder)


@dataclass(frozen=True)
class Resolution:
    """What resolving a dispute did."""

    voided_id: int
    promoted: int
    new: NewRegistration


def resolve(
    event: Event,
    data: RegistrationData,
    *,
    reviewed_id: int,
    reason: str,
    user_id: int,
    locale: str,
    now: datetime | None = None,
) -> Resolution:
    """Void the registration reviewed as holding ``data.nik`` and register the real person.

    The void is one transaction under the event's lock (cancel rule, disputed marks,
    audit row); the new registration follows through :func:`register`.
    """
    now = now or utcnow()
    if not event.accepts_registrations(now):
        raise RegistrationClosed(_("Registration for this event is closed."))
    event_id = event.id
    begin_write()
    try:
        lock_event(event_id)
        holder = holder_of(event_id, data.nik)
        if holder is None or holder.id != reviewed_id:
            raise DisputeChanged(_("This NIK's registration changed meanwhile. Look it up again."))
        current = locked_registration(holder.id)
        promoted = release_place(current, now)
        current.disputed_at = now
        current.disputed_by_id = user_id
        current.dispute_reason = reason
        record(
            "registration_disputed",
            user_id=user_id,
            target=f"registration #{current.id}",
            event_id=event_id,
            detail=reason,
        )
        db.session.flush()
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    new = register(
        event,
        data,
        notice=current_privacy_notice(locale),
        source=RegistrationSource.WALKUP,
        locale=locale,
        created_by_id=user_id,
        now=now,
    )
    return Resolution(voided_id=reviewed_id, promoted=len(promoted), new=new)


def clean_reason(raw: object) -> str | None:
    """The reason as stored (spaces tidied), or None when missing, too short or too long."""
    if not isinstance(raw, str):
        return None
    reason = " ".join(raw.split())
    low, high = REASON_LENGTH
    return reason if low <= len(reason) <= high else None
