"""A group member confirms, or lets go, the place a partner holds for them.

The partner registered the member, but consent is the member's own: their private link
shows the privacy notice in force and a consent box, and only the member's own tick
confirms the place (status ``confirmed``, ``consent_at``, the notice shown, and the
CONFIRMED message with the bib). Letting it go is the normal cancel: the place goes to
the head of the waitlist. A place past its deadline goes back instead (:mod:`.expiry`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import select

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.groups import expiry
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue_for
from funrun.registration.cancelling import cancel, lock_event, locked_registration
from funrun.registration.models import Registration, RegistrationStatus


class Answer(StrEnum):
    """What a confirmation (or a decline) came to."""

    #: Confirmed now.
    CONFIRMED = "confirmed"
    #: Confirmed before (a replayed form): nothing changed.
    ALREADY_CONFIRMED = "already_confirmed"
    #: Let go now: the place went to the waitlist.
    DECLINED = "declined"
    #: The deadline had passed: the place went back (now, or before).
    EXPIRED = "expired"
    #: Cancelled before: nothing changed.
    CANCELLED = "cancelled"


def went_back(registration: Registration) -> bool:
    """A group place that went back unconfirmed (its deadline passed); the partner
    pages count them with the same rule in SQL (``partner_queries.WENT_BACK``)."""
    return (
        registration.status == RegistrationStatus.CANCELLED
        and registration.group_import_id is not None
        and registration.consent_at is None
        and registration.hold_expires_at is not None
        and registration.cancelled_at is not None
        and registration.cancelled_at >= registration.hold_expires_at
    )


def message(answer: Answer) -> str:
    """The answer in words, for the member's page."""
    return {
        Answer.CONFIRMED: _("Your place is confirmed. Your bib is below."),
        Answer.ALREADY_CONFIRMED: _("Your place was already confirmed."),
        Answer.DECLINED: _("You let the place go. It goes to the next runner on the waitlist."),
        Answer.EXPIRED: _("The deadline has passed: this held place went back."),
        Answer.CANCELLED: _("This registration was already cancelled."),
    }[answer]


def confirm(registration_id: int, notice_id: int, now: datetime | None = None) -> Answer:
    """Confirm a held place with the member's consent to notice ``notice_id``; committed.

    One transaction with the event's row and then the registration's locked, in the
    order every place change takes them (the expiry and a cancel too: the other order
    deadlocked with a worker releasing the same hold, found by the race test on a loaded
    machine): only a place still held and not past its deadline is confirmed. A replay
    (already confirmed) changes nothing.
    """
    now = now or utcnow()
    event_id = db.session.scalar(
        select(Registration.event_id).where(Registration.id == registration_id)
    )
    begin_write()
    try:
        if event_id is not None:
            lock_event(event_id)
        current = locked_registration(registration_id)
        if current.status != RegistrationStatus.HELD:
            db.session.rollback()
            return _settled(registration_id)
        if expiry.is_past(current, now):
            db.session.rollback()
            expiry.expire_one(registration_id, now)
            return Answer.EXPIRED
        current.status = RegistrationStatus.CONFIRMED
        current.consent_at = now
        current.privacy_notice_id = notice_id
        current.confirmed_at = now
        current.updated_at = now
        db.session.flush()
        queue_for(MessageKind.CONFIRMED, registration_id)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return Answer.CONFIRMED


def decline(registration: Registration, now: datetime | None = None) -> Answer:
    """Let a held place go: the normal cancel (the waitlist's head is promoted and told)."""
    now = now or utcnow()
    registration_id = registration.id
    if registration.status != RegistrationStatus.HELD:
        return _settled(registration_id)
    if expiry.is_past(registration, now):
        expiry.expire_one(registration_id, now)
        return Answer.EXPIRED
    cancel(registration, now)
    return Answer.DECLINED


def _settled(registration_id: int) -> Answer:
    """What a place no longer held stands at."""
    registration = db.session.get_one(Registration, registration_id)
    if registration.status == RegistrationStatus.CONFIRMED:
        return Answer.ALREADY_CONFIRMED
    if went_back(registration):
        return Answer.EXPIRED
    return Answer.CANCELLED
