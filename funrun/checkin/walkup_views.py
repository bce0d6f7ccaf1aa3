"""A walk-up leaves with a bib: register, take a place, check in (and enrol a non-member).

One flow at the desk, over the one registration rule (funrun/registration/register.py,
``walkup_place``: a place in the quota, else one of the event's walk-up places beyond
it, never the waitlist) and the one check-in rule (the new bib, typed, with the ID card
seen: the volunteer copied the NIK from it). A non-member goes through the enrolment
desk's walk-up (funrun/enrolment/views.py: registered, enrolled, then checked in here);
a member (or a runner who only races) through the form below. Both end on the bib to
write on a blank pre-printed bib, or to print.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, RadioField, StringField
from wtforms.fields.choices import SelectChoice

from funrun.accounts.access import DESK_STAFF, roles_required
from funrun.accounts.models import User
from funrun.bibs.services import NoBib, bib_pdf
from funrun.bibs.views import pdf_response
from funrun.checkin import bp
from funrun.checkin.desk import event_for_desk
from funrun.checkin.entry import TYPED
from funrun.checkin.models import CheckIn
from funrun.checkin.outcomes import ScanOutcome
from funrun.checkin.services import scan
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationSource, RegistrationStatus
from funrun.registration.services import RegistrationError, current_privacy_notice, register
from funrun.registration.validation import RegistrationData, ValidationFailed, clean_registration

#: The form's fields, as the registration rule reads them.
FIELDS = ("full_name", "nik", "birth_date", "gender", "phone", "email", "shirt_size", "kpj_number")


def check_in_walkup(event: Event, bib: str, *, user: User, device: str | None) -> ScanOutcome:
    """Check a walk-up in at the race-pack desk, through the one check-in rule: their new
    bib, typed, with the ID card seen (the volunteer copied the NIK from it)."""
    return scan(
        event, bib, user=user, station="pickup", method=TYPED, id_checked=True, device=device
    )


def _registered_already(event: Event, nik: str) -> bool:
    person_id = db.session.scalar(
        select(Person.id).where(Person.nik_hash == data_cipher().lookup_hash(nik))
    )
    if person_id is None:
        return False
    found = db.session.scalar(
        select(Registration.id).where(
            Registration.person_id == person_id,
            Registration.event_id == event.id,
            Registration.status != RegistrationStatus.CANCELLED,
        )
    )
    return found is not None


def register_walkup(
    event: Event, data: RegistrationData, *, user: User, locale: str, device: str | None
) -> int:
    """Register a walk-up who is not enrolling (a member, or a runner who only races) on a
    walk-up's place and check them in; the registration's id.

    Raises :class:`RegistrationError` (no place left, registered already, closed).
    """
    if _registered_already(event, data.nik):
        raise RegistrationError(
            _("This NIK is already registered for this event: find the runner by NIK instead.")
        )
    new = register(
        event,
        data,
        notice=current_privacy_notice(locale),
        source=RegistrationSource.WALKUP,
        locale=locale,
        created_by_id=user.id,
        walkup_place=True,
    )
    assert new.snapshot.bib is not None  # a walk-up's place is always confirmed
    check_in_walkup(event, new.snapshot.bib, user=user, device=device)
    return new.snapshot.id


class WalkupForm(FlaskForm):
    """A walk-up who does not enrol: the registration's fields, the KTP seen, consent."""

    full_name = StringField(_l("Full name (as on the KTP)"), render_kw={"maxlength": 100})
    nik = StringField(
        _l("NIK (16 digits, from the KTP)"),
        render_kw={"inputmode": "numeric", "maxlength": 16, "autocomplete": "off"},
    )
    birth_date = StringField(_l("Birth date"), render_kw={"type": "date"})
    gender = RadioField(
        _l("Gender"),
        choices=[SelectChoice("M", _l("Male")), SelectChoice("F", _l("Female"))],
        validate_choice=False,
    )
    phone = StringField(
        _l("Mobile number"),
        render_kw={"type": "tel", "inputmode": "tel", "maxlength": 32, "autocomplete": "off"},
    )
    email = StringField(_l("Email (optional)"), render_kw={"type": "email", "maxlength": 254})
    shirt_size = RadioField(_l("Shirt size"), choices=[], validate_choice=False)
    member = BooleanField(
        _l("Already a member (has a KPJ number)"), false_values=("", "false", "n", "no", "0")
    )
    kpj_number = StringField(
        _l("KPJ number (members)"), render_kw={"inputmode": "numeric", "maxlength": 11}
    )
    id_checked = BooleanField(_l("I have seen the KTP: name, NIK and birth date match"))
    consent = BooleanField(_l("The runner agrees to the privacy notice"))

    def for_event(self, event: Event) -> WalkupForm:
        self.shirt_size.choices = [SelectChoice(size, size) for size in event.shirt_sizes]
        return self

    def raw(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: self[name].data or "" for name in FIELDS}
        data["email"] = data["email"] or None
        data["member"] = bool(self.member.data)
        data["consent"] = bool(self.consent.data)
        return data


@bp.route("/staff/events/<slug:slug>/walkup", methods=["GET", "POST"])
@roles_required(*DESK_STAFF)
def walkup(slug: str) -> Response | str | tuple[str, int]:
    """Start a walk-up: enrol a non-member (the enrolment desk), or register a member."""
    event = event_for_desk(slug)
    form = WalkupForm().for_event(event)
    locale = str(get_locale())
    context = {
        "event": event,
        "form": form,
        "notice": current_privacy_notice(locale),
        "places_left": event.remaining + event.walkup_allowance,
    }
    if request.method == "GET":
        return render_template("checkin/walkup.html", **context)
    if not form.validate():
        abort(400)
    problems: dict[str, list[str]] = {}
    if not form.id_checked.data:
        problems["id_checked"] = [_("Check the KTP first: the walk-up is checked in with it.")]
    try:
        data = clean_registration(form.raw(), event)
    except ValidationFailed as failed:
        problems.update(failed.errors)
    if problems:
        for name, messages in problems.items():
            if name in form:
                form[name].errors = list(messages)
            else:
                flash(" ".join(messages), "error")
        flash(_("Some fields need correcting. See the messages below."), "error")
        return render_template("checkin/walkup.html", **context), 422
    try:
        registration_id = register_walkup(
            event,
            data,
            user=current_user,
            locale=locale,
            device=request.headers.get("User-Agent", "")[:64] or None,
        )
    except RegistrationError as refused:
        flash(str(refused), "error")
        return render_template("checkin/walkup.html", **context), 409
    return redirect(url_for("checkin.walkup_done", slug=slug, registration_id=registration_id))


def _walkup_of(event: Event, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        abort(404)
    return registration


def pickup_checkin(registration_id: int) -> CheckIn | None:
    """The runner's active check-in at the race-pack desk, if any."""
    return db.session.scalar(
        select(CheckIn).where(
            CheckIn.registration_id == registration_id,
            CheckIn.station == "pickup",
            CheckIn.undone_at.is_(None),
        )
    )


@bp.route("/staff/events/<slug:slug>/walkup/<id:registration_id>")
@roles_required(*DESK_STAFF)
def walkup_done(slug: str, registration_id: int) -> str:
    """The walk-up's bib, to write on a blank pre-printed bib or to print."""
    event = event_for_desk(slug)
    registration = _walkup_of(event, registration_id)
    return render_template(
        "checkin/walkup_done.html",
        event=event,
        registration=registration,
        checkin=pickup_checkin(registration.id),
    )


@bp.route("/staff/events/<slug:slug>/registrations/<id:registration_id>/bib.pdf")
@roles_required(*DESK_STAFF)
def desk_bib_pdf(slug: str, registration_id: int) -> Response:
    """A runner's bib, printed at the desk (a walk-up's, or a lost one)."""
    event = event_for_desk(slug)
    registration = _walkup_of(event, registration_id)
    try:
        data = bib_pdf(registration)
    except NoBib:
        abort(404)
    return pdf_response(data, f"bib-{event.bib_prefix}-{registration.bib_number:04d}.pdf")
