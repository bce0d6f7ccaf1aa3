"""API check-in handlers: scan, counts, roster, undo (the scan page and bearer clients).

The other operations live beside this module: registrations.py, enrolments.py and
events.py (events, figures, keys, this API's document), imported at the end so that
importing this module registers every route.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS
from funrun.accounts.auth import bearer_token, token_required
from funrun.api import bp
from funrun.api.common import SCANNERS
from funrun.api.common import event_not_found as _event_not_found
from funrun.api.problems import problem
from funrun.checkin.apiauth import by_session, caller, csrf_refused, staff_roles
from funrun.checkin.models import STATIONS
from funrun.checkin.roster import roster_response
from funrun.checkin.scanrequest import with_device
from funrun.checkin.services import (
    CheckInNotFound,
    ScanRequest,
    UndoError,
    can_scan,
    read_desk,
    read_scan,
    scan_by_token,
    scan_request,
    session_desk,
    station_counts,
    undo_checkin,
)
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.events.stock import shirts_left
from funrun.registration.validation import ValidationFailed

# --- check-in ---------------------------------------------------------------------------


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
    try:
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
    except ValidationFailed as failed:  # a pickup's shirt size the event does not have
        return problem(
            422, _("Some fields need correcting."), kind="validation", errors=failed.errors
        )
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
    """The check-in body checked by its declared schema; or the 400/422 answer it deserves
    (given once the caller is known to be allowed)."""
    if not isinstance(body, dict):
        return None, problem(400, _("The body must be a JSON object."), kind="bad-request")
    try:
        return read_scan(with_device(body, request.headers.get("User-Agent", ""))), None
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
    body = {"station": station, **station_counts(event.id, station)}
    left = shirts_left(event) if station == "pickup" else []
    if left:
        body["shirts"] = [row.as_json() for row in left]
    return jsonify(body)


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
@staff_roles(*ORGANISERS)
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


# The other operations register their routes when imported.
from funrun.api import (  # noqa: E402, F401
    contributions,
    enrolments,
    events,
    groups,
    recovery,
    registrations,
)
