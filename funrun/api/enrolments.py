"""API: enrolling a runner or a walk-up at the venue, and the membership card."""

from __future__ import annotations

from flask import jsonify, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.accounts.access import can_scan
from funrun.accounts.auth import bearer_user, require_roles
from funrun.api import bp
from funrun.api.common import SCANNERS, event_not_found, invalid, json_object
from funrun.api.problems import problem
from funrun.api.schemas.enrolment import Enrolment
from funrun.bibs.views import pdf_response
from funrun.enrolment.services import (
    AlreadyEnrolled,
    AlreadyMember,
    EnrolmentError,
    RegistrationNotFound,
    enrol_registered,
    enrol_walkup,
    find_enrolment,
    prepare,
    registration_for_code,
)
from funrun.enrolment.services import enrolment_card as enrolment_card_pdf
from funrun.events.services import get_event
from funrun.registration.services import RegistrationError
from funrun.registration.validation import ValidationFailed
from funrun.sponsors.budget import SponsorRefused


@bp.post("/events/<slug:slug>/enrolments")
@require_roles(*SCANNERS)
def create_enrolment(slug: str) -> Response | tuple[Response, int]:
    """Enrol a registered runner (by bib ``code``) or a walk-up (person fields)."""
    user = bearer_user()
    event = get_event(slug)
    if event is None:
        return event_not_found()
    if user is None or not can_scan(user, event.id):
        return problem(403, _("You are not assigned to this event."), kind="forbidden")
    body = json_object()
    if isinstance(body, Response):
        return body
    locale = str(get_locale())
    try:
        registration = None
        if "code" in body:
            registration = registration_for_code(event, body.get("code"))
        prepared = prepare(event, body, walkup=registration is None, registration=registration)
        if registration is not None:
            result = enrol_registered(
                event, registration, prepared, user=user, locale=locale, source="api"
            )
        else:
            result = enrol_walkup(event, prepared, user=user, locale=locale, source="api")
    except ValidationFailed as failed:
        return invalid(failed.errors)
    except RegistrationNotFound as missing:
        return problem(404, str(missing), kind="not-found")
    except (AlreadyMember, AlreadyEnrolled) as refused:
        return problem(409, str(refused), kind="already-enrolled")
    except SponsorRefused as refused:  # over budget: the runner may enrol paying themselves
        return problem(409, str(refused), kind="sponsor-refused")
    except (EnrolmentError, RegistrationError) as refused:
        return problem(409, str(refused), kind="enrolment-refused")
    response = jsonify({"enrolment": Enrolment.of(result)})
    response.headers["Location"] = url_for("api.enrolment_card", number=result.participant_number)
    return response, 201


@bp.get("/enrolments/<number>/card.pdf")
@require_roles(*SCANNERS)
def enrolment_card(number: str) -> Response:
    """The membership card PDF of an enrolment (staff of its event)."""
    user = bearer_user()
    enrolment = find_enrolment(number)
    if enrolment is None or user is None:
        return problem(404, _("No enrolment with this participant number."), kind="not-found")
    if not can_scan(user, enrolment.event_id):
        return problem(403, _("You are not assigned to this event."), kind="forbidden")
    return pdf_response(enrolment_card_pdf(enrolment), f"kartu-peserta-{number}.pdf")
