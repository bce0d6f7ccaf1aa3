"""API handlers: parse, call the same services as the pages, answer JSON."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.wrappers import Response

from funrun.accounts.auth import bearer_token, bearer_user, require_roles, token_required
from funrun.accounts.models import Role
from funrun.api import bp
from funrun.api.openapi import openapi_document
from funrun.api.problems import problem
from funrun.bibs.services import NoBib, bib_pdf
from funrun.bibs.signing import bib_signer
from funrun.bibs.views import pdf_response
from funrun.checkin.apiauth import by_session, caller, csrf_refused, staff_roles
from funrun.checkin.models import STATIONS
from funrun.checkin.roster import roster_response
from funrun.checkin.services import (
    CheckInNotFound,
    ScanRequest,
    UndoError,
    can_scan,
    parse_scanned_at,
    read_desk,
    read_scan,
    scan_by_token,
    scan_request,
    session_desk,
    station_counts,
    undo_checkin,
)
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
from funrun.events.models import Event
from funrun.events.services import get_event, list_events, summarise
from funrun.extensions import limiter
from funrun.privacy.requests import registration_export
from funrun.ratelimit import (
    exempt_from_partner_limit,
    exempt_from_public_limit,
    partner_limit,
    public_limit,
    token_key,
)
from funrun.registration.models import Registration, RegistrationSource, RegistrationStatus
from funrun.registration.services import (
    AlreadyCancelled,
    DuplicateRegistration,
    RegistrationClosed,
    RegistrationError,
    RegistrationSnapshot,
    cancel,
    current_privacy_notice,
    event_terms,
    find_by_token,
    register,
    waitlist_position,
)
from funrun.registration.validation import ValidationFailed, clean_registration
from funrun.reports.figures import tour_figures


def registration_json(snapshot: RegistrationSnapshot, *, manage_token: str | None = None) -> dict:
    """A registration as the API shows it to its runner (NIK masked)."""
    body: dict[str, Any] = {
        "id": snapshot.id,
        "event": snapshot.event_slug,
        "status": snapshot.status,
        "bib": snapshot.bib,
        "bib_number": snapshot.bib_number,
        "qr": (
            bib_signer().sign(snapshot.event_id, snapshot.bib_number)
            if snapshot.status == RegistrationStatus.CONFIRMED and snapshot.bib_number is not None
            else None
        ),
        "waitlist_position": waitlist_position(snapshot),
        "full_name": snapshot.full_name,
        "nik_masked": snapshot.nik_masked,
        "shirt_size": snapshot.shirt_size,
        "member": snapshot.is_member,
        "created_at": snapshot.created_at.isoformat(),
        "cancelled_at": snapshot.cancelled_at.isoformat() if snapshot.cancelled_at else None,
    }
    if manage_token is not None:
        body["manage_token"] = manage_token
        body["manage_url"] = url_for("registration.manage", token=manage_token, _external=True)
    return body


def _event_not_found() -> Response:
    return problem(404, _("No event with this name."), kind="not-found")


@bp.get("/events")
def events_index() -> Response:
    """Every event with live places."""
    return jsonify({"events": [s.as_json() for s in summarise(list_events())]})


@bp.get("/events/<slug:slug>")
def event_detail(slug: str) -> Response:
    """One event with live places."""
    event = get_event(slug)
    if event is None:
        return _event_not_found()
    return jsonify(summarise([event])[0].as_json())


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
        return _event_not_found()
    if not request.is_json:
        return problem(415, _("Send JSON (Content-Type: application/json)."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, _("The body must be a JSON object."), kind="bad-request")
    source = (
        RegistrationSource.PARTNER if user and user.role == Role.PARTNER else RegistrationSource.API
    )
    try:
        data = clean_registration(body, event)
        new = register(
            event,
            data,
            notice=notice or current_privacy_notice(locale),
            source=source,
            locale=locale,
            created_by_id=user.id if user else None,
        )
    except ValidationFailed as failed:
        return problem(
            422, _("Some fields need correcting."), kind="validation", errors=failed.errors
        )
    except RegistrationClosed as refused:
        return problem(409, str(refused), kind="registration-closed")
    except DuplicateRegistration as refused:
        return problem(409, str(refused), kind="duplicate-registration")
    response = jsonify(
        {"registration": registration_json(new.snapshot, manage_token=new.manage_token)}
    )
    response.headers["Location"] = url_for("api.registration_detail", token=new.manage_token)
    return response, 201


def _registration_or_problem(token: str) -> Registration | Response:
    registration = find_by_token(token)
    if registration is None:
        return problem(404, _("No registration for this link."), kind="not-found")
    return registration


@bp.get("/registrations/<token>")
def registration_detail(token: str) -> Response:
    """The registration a manage token opens."""
    found = _registration_or_problem(token)
    if isinstance(found, Response):
        return found
    return jsonify({"registration": registration_json(RegistrationSnapshot.of(found))})


@bp.post("/registrations/<token>/cancel")
def registration_cancel(token: str) -> Response:
    """Cancel; a freed place goes to the head of the waitlist."""
    found = _registration_or_problem(token)
    if isinstance(found, Response):
        return found
    try:
        cancel(found)
    except AlreadyCancelled as refused:
        return problem(409, str(refused), kind="already-cancelled")
    return jsonify({"registration": registration_json(RegistrationSnapshot.of(found))})


@bp.get("/registrations/<token>/bib.pdf")
def registration_bib_pdf(token: str) -> Response:
    """The runner's race bib and e-ticket as a PDF (confirmed registrations only)."""
    found = _registration_or_problem(token)
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
    found = _registration_or_problem(token)
    if isinstance(found, Response):
        return found
    response = jsonify(registration_export(found))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/signing-key")
def signing_key() -> Response:
    """The public keys that verify bib QR payloads, as a JWK set (RFC 8037)."""
    response = jsonify(bib_signer().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document describing this API."""
    # Never from the Host or X-Forwarded-Host header (a cached document would send
    # clients elsewhere): the configured public URL, else a URL relative to this document.
    base = current_app.config.get("FUNRUN_PUBLIC_URL") or ""
    response = jsonify(openapi_document(base.rstrip("/") + bp.url_prefix))
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- check-in ---------------------------------------------------------------------------

SCANNERS = (Role.ADMIN, Role.ORGANISER, Role.VOLUNTEER)


@bp.post("/events/<slug:slug>/checkins")
def create_checkin(slug: str) -> Response | tuple[Response, int]:
    """Scan a bib (QR payload or typed number) at a station; idempotent per client_ref.

    ``method`` says how the code was entered: a scanned code must be a signed bib, a typed
    number answers ``confirm_identity`` until sent with ``id_checked`` (checkin/entry.py).

    Race morning's hot path. The token, the event and the assignment are checked first,
    with the same answers as :func:`require_roles` gives elsewhere; on PostgreSQL they are
    read by the scan's own statement (one round trip), which writes nothing when refused.
    """
    body = request.get_json(silent=True) if request.is_json else None
    req, refused = _scan_request(body)
    token = bearer_token()
    outcome = None
    if by_session():  # the scan page: the signed-in volunteer, CSRF-checked
        try:
            desk = session_desk(slug, caller())
        except CSRFError:
            return csrf_refused()
        if req is not None and desk.may_scan and desk.user is not None:
            outcome = scan_request(desk.event, req, user=desk.user)  # type: ignore[arg-type]
    elif req is not None:
        desk, outcome = scan_by_token(slug, token, req)
    else:
        desk = read_desk(slug, token)
    user, event = desk.user, desk.event
    if user is None:
        return token_required()
    if user.role not in SCANNERS:
        return problem(403, _("You are not allowed to do this."), kind="forbidden")
    if event is None:
        return _event_not_found()
    if not desk.may_scan:
        return problem(403, _("You are not assigned to this event."), kind="forbidden")
    if req is None:
        return refused  # type: ignore[return-value]
    if outcome is None:  # pragma: no cover - an allowed desk always answers
        return _event_not_found()
    return jsonify(outcome.as_json()), outcome.http_status


def _scan_request(body: object) -> tuple[ScanRequest | None, Response | None]:
    """The check-in body, checked; or the 400/422 answer it deserves (given once the caller
    is known to be allowed)."""
    if not isinstance(body, dict):
        return None, problem(400, _("The body must be a JSON object."), kind="bad-request")
    device = body.get("device") if isinstance(body.get("device"), str) else None
    try:
        return read_scan(
            body.get("code"),
            station=body.get("station", "pickup"),
            client_ref=body.get("client_ref"),
            scanned_at=parse_scanned_at(body.get("scanned_at")),
            device=(device or request.headers.get("User-Agent", ""))[:64] or None,
            offline_answer=body.get("offline_answer"),
            method=body.get("method"),
            id_checked=body.get("id_checked"),
        ), None
    except ValidationFailed as failed:
        errors = failed.errors
    return None, problem(422, _("Some fields need correcting."), kind="validation", errors=errors)


def _scanner_event(slug: str) -> Event | Response:
    """The event the caller may scan at, or the 404/403 answer (after
    :func:`staff_roles` has let the account in)."""
    user = caller()
    event = get_event(slug)
    if event is None:
        return _event_not_found()
    if user is None or not can_scan(user, event.id):
        return problem(403, _("You are not assigned to this event."), kind="forbidden")
    return event


@bp.get("/events/<slug:slug>/checkins/counts")
@staff_roles(*SCANNERS)
def checkin_counts(slug: str) -> Response:
    """The live counter for a station: checked in and confirmed."""
    event = _scanner_event(slug)
    if isinstance(event, Response):
        return event
    station = request.args.get("station", "pickup")
    if station not in STATIONS:
        return problem(
            422,
            _("Some fields need correcting."),
            kind="validation",
            errors={"station": [_("Unknown station.")]},
        )
    return jsonify({"station": station, **station_counts(event.id, station)})


@bp.get("/events/<slug:slug>/roster")
@staff_roles(*SCANNERS)
def roster(slug: str) -> Response:
    """What an offline scanner needs: runners, check-ins, conflicts, keys (ETag: 304)."""
    event = _scanner_event(slug)
    if isinstance(event, Response):
        return event
    response = roster_response(event, request)
    if by_session():
        # A cached scan page's CSRF token may be old: each refresh hands it a current one.
        response.headers["X-CSRFToken"] = generate_csrf()
    return response


@bp.post("/checkins/<id:checkin_id>/undo")
@staff_roles(Role.ADMIN, Role.ORGANISER)
def undo(checkin_id: int) -> Response:
    """A supervisor takes back a mistaken check-in (logged)."""
    user = caller()
    try:
        checkin = undo_checkin(checkin_id, user=user)  # type: ignore[arg-type]
    except CheckInNotFound as missing:
        return problem(404, str(missing), kind="not-found")
    except UndoError as refused:
        return problem(409, str(refused), kind="undo-refused")
    return jsonify({"checkin_id": checkin.id, "undone_at": checkin.undone_at.isoformat()})


# --- enrolment --------------------------------------------------------------------------


@bp.post("/events/<slug:slug>/enrolments")
@require_roles(*SCANNERS)
def create_enrolment(slug: str) -> Response | tuple[Response, int]:
    """Enrol a registered runner (by bib ``code``) or a walk-up (person fields)."""
    user = bearer_user()
    event = get_event(slug)
    if event is None:
        return _event_not_found()
    if user is None or not can_scan(user, event.id):
        return problem(403, _("You are not assigned to this event."), kind="forbidden")
    if not request.is_json:
        return problem(415, _("Send JSON (Content-Type: application/json)."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, _("The body must be a JSON object."), kind="bad-request")
    locale = str(get_locale())
    try:
        registration = None
        if "code" in body:
            registration = registration_for_code(event, body.get("code"))
        prepared = prepare(event, body, walkup=registration is None)
        if registration is not None:
            result = enrol_registered(
                event, registration, prepared, user=user, locale=locale, source="api"
            )
        else:
            result = enrol_walkup(event, prepared, user=user, locale=locale, source="api")
    except ValidationFailed as failed:
        return problem(
            422, _("Some fields need correcting."), kind="validation", errors=failed.errors
        )
    except RegistrationNotFound as missing:
        return problem(404, str(missing), kind="not-found")
    except (AlreadyMember, AlreadyEnrolled) as refused:
        return problem(409, str(refused), kind="already-enrolled")
    except (EnrolmentError, RegistrationError) as refused:
        return problem(409, str(refused), kind="enrolment-refused")
    body_out: dict[str, Any] = {"enrolment": result.as_json()}
    if result.manage_token is not None:
        body_out["enrolment"]["manage_token"] = result.manage_token
    response = jsonify(body_out)
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


# --- organisers -------------------------------------------------------------------------


@bp.get("/stats")
@require_roles(Role.ADMIN, Role.ORGANISER)
def stats() -> Response:
    """Per-city figures and the tour totals: the same numbers as the dashboard and exports."""
    response = jsonify(tour_figures().as_json())
    response.headers["Cache-Control"] = "private, no-store"
    return response
