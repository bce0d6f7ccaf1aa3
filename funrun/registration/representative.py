"""The representative a runner names to collect their race pack (issue 19, point 5).

On the manage page a runner may name who will collect (a name as on an ID card and an
Indonesian mobile number, checked by the registration's own rules) or clear it. The desk
shows the name on the runner's card and warns when someone else collects; whoever
collects still needs the runner's signed letter and shows their own KTP
(funrun/checkin/pickup.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from pydantic import Field, ValidationInfo, WithJsonSchema
from werkzeug.wrappers import Response

from funrun import contracts
from funrun.contracts import RequestModel, ValidationFailed, checked
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.people import rules
from funrun.registration import bp
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.services import find_by_token
from funrun.registration.validation import national_format

MAX_NAME = 100
NAME_MESSAGE = _l("Write their full name as on their ID card, letters only.")


def _name(value: Any, _info: ValidationInfo) -> str | None:
    if rules.is_blank(value) or (isinstance(value, str) and not value.strip()):
        return None
    return rules.person_name(value, max_length=MAX_NAME, message=NAME_MESSAGE)


def _phone(value: Any, info: ValidationInfo) -> str | None:
    phone = rules.mobile(value, required=False)
    if phone is None and info.data.get("proxy_name"):
        raise rules.RuleBroken(rules.REQUIRED)
    return phone


class RepresentativeRequest(RequestModel):
    """Who will collect the race pack: both empty clears it; a name needs a phone."""

    proxy_name: Annotated[
        str | None, checked(_name), WithJsonSchema({"type": ["string", "null"]})
    ] = Field(default=None, validate_default=True)
    proxy_phone: Annotated[
        str | None, checked(_phone), WithJsonSchema({"type": ["string", "null"]})
    ] = Field(default=None, validate_default=True)


def read_representative(raw: dict[str, Any]) -> RepresentativeRequest:
    """The form's values checked; :class:`ValidationFailed` with field errors. A phone
    without a name is refused on the name."""
    checked_request = contracts.validate(RepresentativeRequest, raw)
    if checked_request.proxy_phone and not checked_request.proxy_name:
        raise ValidationFailed({"proxy_name": [str(rules.REQUIRED)]})
    return checked_request


def set_representative(registration: Registration, wanted: RepresentativeRequest) -> bool:
    """Save (or clear) the representative; False when the registration was cancelled."""
    registration_id = registration.id
    begin_write()
    try:
        current = db.session.get(Registration, registration_id, populate_existing=True)
        if current is None or current.status == RegistrationStatus.CANCELLED:
            db.session.rollback()
            return False
        current.proxy_name = wanted.proxy_name
        current.proxy_phone = wanted.proxy_phone
        current.updated_at = utcnow()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return True


class RepresentativeForm(FlaskForm):
    """The fields are read from the request (proxy_name, proxy_phone): CSRF only."""


@bp.route("/r/<token>/representative", methods=["POST"])
def representative(token: str) -> Response | tuple[str, int]:
    """Name who will collect the race pack, or clear it; back to the manage page."""
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    if not RepresentativeForm().validate():
        abort(400)
    raw = {name: request.form.get(name, "") for name in ("proxy_name", "proxy_phone")}
    if request.form.get("action") == "clear":
        raw = {"proxy_name": "", "proxy_phone": ""}
    try:
        wanted = read_representative(raw)
    except ValidationFailed as failed:
        flash(_("Some fields need correcting. See the messages below."), "error")
        return render_template(
            "registration/representative.html",
            registration=registration,
            token=token,
            values=raw,
            errors=failed.errors,
        ), 422
    if not set_representative(registration, wanted):
        flash(_("This registration was already cancelled."), "error")
    elif wanted.proxy_name:
        flash(_("Saved: %(name)s may collect your race pack.", name=wanted.proxy_name), "success")
    else:
        flash(_("Nobody is named to collect your race pack."), "success")
    return redirect(url_for("registration.manage", token=token, _anchor="representative"), 303)


@bp.app_template_global()
def representative_values(registration: Registration) -> dict[str, str]:
    """The form's values as stored (the phone as Indonesians write it)."""
    return {
        "proxy_name": registration.proxy_name or "",
        "proxy_phone": national_format(registration.proxy_phone) or "",
    }
