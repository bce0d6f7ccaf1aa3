"""What several API modules answer alike: the not-found problems and a JSON body."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.accounts.access import DESK_STAFF
from funrun.api.problems import problem
from funrun.registration.models import Registration
from funrun.registration.services import find_by_token

#: Who may scan and enrol at an event they are assigned to.
SCANNERS = DESK_STAFF


def event_not_found() -> Response:
    """The 404 for a slug that names no event."""
    return problem(404, _("No event with this name."), kind="not-found")


def json_object() -> dict[str, Any] | Response:
    """The request's JSON object, or the 415/400 problem it deserves."""
    if not request.is_json:
        return problem(415, _("Send JSON (Content-Type: application/json)."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, _("The body must be a JSON object."), kind="bad-request")
    return body


def invalid(errors: dict[str, list[str]]) -> Response:
    """The 422 problem with the messages per field."""
    return problem(422, _("Some fields need correcting."), kind="validation", errors=errors)


def registration_or_problem(token: str) -> Registration | Response:
    """The registration a manage token opens, or the 404 problem."""
    registration = find_by_token(token)
    if registration is None:
        return problem(404, _("No registration for this link."), kind="not-found")
    return registration
