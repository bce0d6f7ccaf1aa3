"""Finding the runner at the desk (a scanned bib, a registration id) and enrolments."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from funrun.bibs.services import parse_typed_bib
from funrun.bibs.signing import Verdict, bib_signer
from funrun.enrolment.errors import RegistrationNotFound
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.registration.validation import ValidationFailed

#: The longest code the desk takes (a signed bib is at most 120 characters).
MAX_CODE = 200


def registration_for_code(event: Event, code: object) -> Registration:
    """The registration a scanned QR payload or typed bib names at ``event``."""
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed({"code": [str(_l("Scan a bib or type its number."))]})
    if len(code) > MAX_CODE:
        raise ValidationFailed({"code": [str(_l("At most %(n)d characters.", n=MAX_CODE))]})
    code = code.strip()
    if code.upper().startswith("FR1") or len(code) > 24:
        verification = bib_signer().verify(code, event.id)
        if verification.verdict == Verdict.WRONG_EVENT:
            raise ValidationFailed({"code": [str(_l("This bib is for another event."))]})
        if verification.verdict != Verdict.VALID:
            raise ValidationFailed({"code": [str(_l("Forged or unreadable code"))]})
        number = verification.bib_number
    else:
        number = parse_typed_bib(code, event)
        if number is None:
            raise ValidationFailed({"code": [str(_l("Scan a bib or type its number."))]})
    registration = db.session.scalar(
        select(Registration).where(
            Registration.event_id == event.id, Registration.bib_number == number
        )
    )
    if registration is None:
        raise RegistrationNotFound(_("No runner of this event has that bib."))
    return registration


def registration_of_event(event: Event, registration_id: int) -> Registration | None:
    """A registration of ``event`` by id (None for another event's)."""
    return db.session.scalar(
        select(Registration).where(
            Registration.id == registration_id, Registration.event_id == event.id
        )
    )


def enrolment_of_person(person_id: int) -> Enrolment | None:
    """The person's enrolment, in any city, or None."""
    return db.session.scalar(select(Enrolment).where(Enrolment.person_id == person_id))


def find_enrolment(participant_number: str) -> Enrolment | None:
    """The enrolment with this participant number, or None."""
    if not (participant_number.isascii() and participant_number.isdigit()):
        return None
    return db.session.scalar(
        select(Enrolment).where(Enrolment.participant_number == participant_number)
    )
