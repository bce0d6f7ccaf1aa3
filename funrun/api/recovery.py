"""API: a lost manage link found again (public; limited per NIK and per client)."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from werkzeug.wrappers import Response

from funrun.api import bp
from funrun.api.common import invalid
from funrun.api.problems import problem
from funrun.api.schemas.recovery import RecoveryAccepted, validate_recovery
from funrun.registration.recovery import recover_link
from funrun.registration.recovery_views import recovery_limits, too_many_message
from funrun.registration.validation import ValidationFailed


def _breached(limit: RequestLimit) -> Response:
    return problem(429, too_many_message(limit), kind="too-many-requests")


def accepted_message() -> str:
    """The one answer, matched or not."""
    return _(
        "If this NIK and this phone number or email belong to a registration, a new "
        "private link is on its way there, and the old link no longer works."
    )


@bp.post("/registrations/recover")
@recovery_limits(_breached)
def recover_registration() -> Response | tuple[Response, int]:
    """Send a new manage link to the phone or email given at registration."""
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        return invalid({"body": [_("Send a JSON object with nik and contact.")]})
    try:
        checked = validate_recovery(body)
    except ValidationFailed as failed:
        return invalid(failed.errors)
    recover_link(checked.nik, checked.contact, checked.via)
    answer = RecoveryAccepted.dump({"accepted": True, "message": accepted_message()})
    return jsonify(answer), 202
