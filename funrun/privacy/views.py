"""The admin's personal-data page: find a person by NIK, download their data, delete it.

The NIK is posted (never put in a URL, so never in an access log), looked up by its keyed
hash, and not echoed back: the page shows it masked and later forms carry the person's
database id only.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun.accounts.access import roles_required
from funrun.accounts.models import Role
from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.people.crypto import data_cipher, mask_nik
from funrun.people.models import Person
from funrun.privacy import bp
from funrun.privacy.requests import (
    delete_person,
    export_person,
    lookup_person,
    registration_export,
)
from funrun.privacy.services import PrivacyError
from funrun.registration.models import Registration
from funrun.registration.services import find_by_token


def _page(person: Person | None = None, status: int = 200) -> Response:
    registrations: list[Registration] = []
    enrolment = None
    masked = None
    if person is not None:
        registrations = list(
            db.session.scalars(
                select(Registration)
                .where(Registration.person_id == person.id)
                .order_by(Registration.id)
            )
        )
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.person_id == person.id))
        masked = mask_nik(data_cipher().decrypt(person.nik_encrypted))
    response = make_response(
        render_template(
            "privacy/person.html",
            person=person,
            registrations=registrations,
            enrolment=enrolment,
            masked_nik=masked,
        ),
        status,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _person_or_404(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None:
        abort(404)
    return person


@bp.route("/staff/privacy", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def person_page() -> Response:
    """GET: the NIK form. POST: the person with that NIK, what is held, and the actions."""
    if request.method == "GET":
        return _page()
    try:
        person = lookup_person(request.form.get("nik", "")[:40], user_id=current_user.id)
    except PrivacyError:
        flash(_("A NIK has 16 digits."), "error")
        return _page(status=400)
    if person is None:
        flash(_("No data is held for this NIK."), "error")
        return _page(status=404)
    return _page(person)


@bp.route("/staff/privacy/<id:person_id>", methods=["GET"])
@roles_required(Role.ADMIN)
def person_view(person_id: int) -> Response:
    """The person's page again (after a deletion), by database id."""
    return _page(_person_or_404(person_id))


@bp.route("/staff/privacy/<id:person_id>/export", methods=["POST"])
@roles_required(Role.ADMIN)
def person_export_file(person_id: int) -> Response:
    """Everything held about the person, as a JSON download (with their NIK: it is theirs),
    once the desk has seen the person's ID card: a NIK alone is on every KTP photocopy."""
    person = _person_or_404(person_id)
    if request.form.get("id_seen") != "yes":
        flash(
            _("Check the person's ID card (KTP) against this NIK first, then tick the box."),
            "error",
        )
        return _page(person, status=400)
    body = export_person(person, user_id=current_user.id, id_card_seen=True)
    response = make_response(body)
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="personal-data-{person_id}.json"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/staff/privacy/<id:person_id>/delete", methods=["POST"])
@roles_required(Role.ADMIN)
def person_delete(person_id: int) -> Response:
    """Cancel the person's places (the waitlist moves up), then purge their personal data."""
    person = _person_or_404(person_id)
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm the deletion."), "error")
        return _page(person, status=400)
    try:
        done = delete_person(person, user_id=current_user.id)
    except PrivacyError:
        flash(
            _(
                "This person's enrolment has not been exported to the scheme yet. "
                "Make the export batch first, then delete."
            ),
            "error",
        )
        return _page(person, status=409)
    flash(
        _(
            "Personal data deleted: %(cancelled)d place(s) cancelled, "
            "%(promoted)d runner(s) moved up from the waitlist.",
            cancelled=done.cancelled,
            promoted=done.promoted,
        ),
        "success",
    )
    return redirect(url_for("privacy.person_view", person_id=person_id), code=303)


@bp.route("/r/<token>/my-data.json")
def runner_data(token: str) -> Response:
    """What this registration holds, as JSON, from its manage link (the NIK masked).

    Never the person's other registrations or enrolment: whoever typed a NIK holds a link.
    """
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    response = make_response(registration_export(registration))
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
