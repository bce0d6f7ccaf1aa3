"""The desk's page for a squatted NIK: review the registration holding it, then void it and
register the person whose KTP the volunteer has seen (rules in registration.disputes)."""

from __future__ import annotations

from flask import flash, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from funrun.accounts.access import DESK_STAFF, roles_required
from funrun.checkin.desk import event_for_desk
from funrun.events.models import Event
from funrun.registration import bp
from funrun.registration.disputes import (
    DisputeChanged,
    Holder,
    NothingToDispute,
    clean_reason,
    resolve,
    review,
)
from funrun.registration.forms import DisputeForm
from funrun.registration.services import (
    AlreadyCancelled,
    DuplicateRegistration,
    RegistrationClosed,
    current_privacy_notice,
)
from funrun.registration.validation import ValidationFailed, clean_registration


def _page(
    event: Event, form: DisputeForm, status: int = 200, holder: Holder | None = None
) -> tuple[str, int]:
    notice = current_privacy_notice(str(get_locale()))
    return (
        render_template(
            "registration/dispute.html", event=event, form=form, holder=holder, notice=notice
        ),
        status,
    )


@bp.route("/staff/events/<slug:slug>/disputes", methods=["GET", "POST"])
@roles_required(*DESK_STAFF)
def dispute_page(slug: str) -> Response | tuple[str, int]:
    """GET: the form. POST: the registration holding the NIK to review, or, confirmed,
    that registration voided and the person registered."""
    event = event_for_desk(slug)
    form = DisputeForm().for_event(event)
    form.sent_submission()  # a fresh id on the page; the desk never resends a form
    if request.method == "GET":
        return _page(event, form)
    if not form.validate():
        return _page(event, form, 400)
    try:
        data = clean_registration(form.raw(), event)
    except ValidationFailed as failed:
        for name, messages in failed.errors.items():
            if name in form:
                form[name].errors = list(messages)
        flash(_("Some fields need correcting. See the messages below."), "error")
        return _page(event, form, 422)
    reason = clean_reason(form.reason.data)
    refused = False
    if reason is None:
        form.reason.errors = [_("Say in 5 to 500 characters why the registration is void.")]
        refused = True
    if not form.id_seen.data:
        form.id_seen.errors = [_("Check the person's ID card (KTP) against this NIK first.")]
        refused = True
    if refused:
        return _page(event, form, 422)
    try:
        holder = review(event, data)
    except (NothingToDispute, RegistrationClosed) as refusal:
        flash(str(refusal), "error")
        return _page(event, form, 409)
    if form.holder.data != str(holder.id) or request.form.get("action") != "void":
        form.holder.data = str(holder.id)
        return _page(event, form, 200, holder=holder)
    try:
        done = resolve(
            event,
            data,
            reviewed_id=holder.id,
            reason=reason,  # type: ignore[arg-type]  (checked above)
            user_id=current_user.id,
            locale=str(get_locale()),
        )
    except (DisputeChanged, AlreadyCancelled, DuplicateRegistration, RegistrationClosed) as err:
        flash(str(err), "error")
        form.holder.data = ""
        return _page(event, form, 409)
    return (
        render_template(
            "registration/dispute_done.html",
            event=event,
            done=done,
            snapshot=done.new.snapshot,
            token=done.new.manage_token,
        ),
        201,
    )
