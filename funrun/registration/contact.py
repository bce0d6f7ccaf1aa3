"""The contact details a runner may change after registering."""

from __future__ import annotations

from flask_babel import gettext as _

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue_for
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.outcomes import AlreadyCancelled
from funrun.registration.validation import ContactChange


def update_contact(registration: Registration, change: ContactChange) -> None:
    """Apply a runner's corrections to the fields they may change."""
    begin_write()
    if registration.status == RegistrationStatus.CANCELLED:
        raise AlreadyCancelled(_("This registration was already cancelled."))
    registration.phone = change.phone
    registration.email = change.email
    registration.shirt_size = change.shirt_size
    registration.occupation = change.occupation
    registration.emergency_contact = change.emergency_contact
    registration.emergency_phone = change.emergency_phone
    registration.updated_at = now = utcnow()
    db.session.flush()
    # Told at the address as it is now; one message per change (the time tells them apart).
    queue_for(MessageKind.DETAILS_CHANGED, registration.id, suffix=f":{now:%Y%m%d%H%M%S%f}")
    db.session.commit()
