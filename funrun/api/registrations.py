"""API: registering, a runner's registration by its manage token, cancelling, bib, data."""

from __future__ import annotations

from flask import jsonify, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.accounts.auth import bearer_token, bearer_user
from funrun.accounts.models import Role
from funrun.api import bp
from funrun.api.common import event_not_found, invalid, json_object, registration_or_problem
from funrun.api.problems import problem
from funrun.api.schemas.registrations import Registration
from funrun.bibs.services import NoBib, bib_pdf
from funrun.bibs.views import pdf_response
from funrun.extensions import limiter
from funrun.opening.api import busy
from funrun.privacy.requests import registration_export
from funrun.ratelimit import (
    exempt_from_partner_limit,
    exempt_from_public_limit,
    partner_limit,
    public_limit,
    token_key,
)
from funrun.registration.models import RegistrationSource
from funrun.registration.schemas import validate_registration
from funrun.registration.services import (
    AlreadyCancelled,
    DuplicateRegistration,
    RegistrationClosed,
    RegistrationSnapshot,
    cancel,
    current_privacy_notice,
    event_terms,
    register,
)
from funrun.registration.validation import RegistrationData, ValidationFailed


@bp.post("/events/<slug:slug>/registrations")
@limiter.limit(public_limit, exempt_when=exempt_from_public_limit)
@limiter.limit(partner_limit, key_func=token_key, exempt_when=exempt_from_partner_limit)
def create_registration(slug: str) -> Response | tuple[Response, int]:
    """Register a runner (public, or a partner with its token)."""
    user = bearer_user()
    if bearer_token() is not None and user is None:
        return problem(401, _("A valid API token is required."), kind="unauthorized")
    locale = str(get_locale())
    # The event and the notice in one query (the rush's hot path: no ORM session).
    event, notice = event_terms(slug, locale)
    if event is None:
        return event_not_found()
    if user is None and (queued := busy(event.id, event.slug)) is not None:
        return queued  # the event's orderly queue is busy (partners are not queued)
    body = json_object()
    if isinstance(body, Response):
        return body
    partner = user is not None and user.role == Role.PARTNER
    source = RegistrationSource.PARTNER if partner else RegistrationSource.API
    try:
        data = RegistrationData.of(validate_registration(body, event))
        new = register(
            event,
            data,
            notice=notice or current_privacy_notice(locale),
            source=source,
            locale=locale,
            created_by_id=user.id if user else None,
            partner_id=user.id if partner and user else None,
        )
    except ValidationFailed as failed:
        return invalid(failed.errors)
    except RegistrationClosed as refused:
        return problem(409, str(refused), kind="registration-closed")
    except DuplicateRegistration as refused:
        # Where a runner who lost their link gets a new one (no holder's data here).
        recover = url_for("api.recover_registration")
        return problem(409, str(refused), kind="duplicate-registration", recover_url=recover)
    response = jsonify(
        {"registration": Registration.of(new.snapshot, manage_token=new.manage_token)}
    )
    response.headers["Location"] = url_for("api.registration_detail", token=new.manage_token)
    return response, 201


@bp.get("/registrations/<token>")
def registration_detail(token: str) -> Response:
    """The registration a manage token opens."""
    found = registration_or_problem(token)
    if isinstance(found, Response):
        return found
    return jsonify({"registration": Registration.of(RegistrationSnapshot.of(found))})


@bp.post("/registrations/<token>/cancel")
def registration_cancel(token: str) -> Response:
    """Cancel; a freed place goes to the head of the waitlist."""
    found = registration_or_problem(token)
    if isinstance(found, Response):
        return found
    try:
        cancel(found)
    except AlreadyCancelled as refused:
        return problem(409, str(refused), kind="already-cancelled")
    return jsonify({"registration": Registration.of(RegistrationSnapshot.of(found))})


@bp.get("/registrations/<token>/bib.pdf")
def registration_bib_pdf(token: str) -> Response:
    """The runner's race bib and e-ticket as a PDF (confirmed registrations only)."""
    found = registration_or_problem(token)
    if isinstance(found, Response):
        return found
    try:
        data = bib_pdf(found)
    except NoBib as refused:
        return problem(409, str(refused), kind="no-bib")
    return pdf_response(data, f"bib-{found.event.bib_prefix}-{found.bib_number:04d}.pdf")


@bp.get("/registrations/<token>/my-data.json")
def registration_data(token: str) -> Response:
    """What this registration holds (NIK masked): never the person's other records."""
    found = registration_or_problem(token)
    if isinstance(found, Response):
        return found
    response = jsonify(registration_export(found))
    response.headers["Cache-Control"] = "private, no-store"
    return response
