"""The runner's forms. Field checks are the request model's (registration/schemas.py, whose
fields call funrun/people/rules.py), shared with the API; the limits shown to browsers are
the same constants."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from funrun.events.models import Event
from funrun.people.rules import MAX_KPJ_TYPED, MAX_NIK_TYPED, MAX_PHONE_TYPED
from funrun.registration.schemas import MAX_CONTACT, MAX_EMAIL, MAX_NAME, MAX_OCCUPATION
from funrun.registration.services import SUBMISSION_SHAPE, EventTerms, new_submission_ref

#: Fields a runner may correct after registering.
CONTACT_FIELDS = (
    "phone",
    "email",
    "shirt_size",
    "occupation",
    "emergency_contact",
    "emergency_phone",
)


class ContactForm(FlaskForm):
    """Contact details, shirt size and emergency contact (also part of registering)."""

    phone = StringField(
        _l("Mobile number"),
        description=_l("e.g. 0812 3456 7890"),
        render_kw={
            "type": "tel",
            "autocomplete": "tel",
            "inputmode": "tel",
            "maxlength": MAX_PHONE_TYPED,
        },
    )
    email = StringField(
        _l("Email (optional)"),
        render_kw={"type": "email", "autocomplete": "email", "maxlength": MAX_EMAIL},
    )
    shirt_size = RadioField(_l("Shirt size"), choices=[], validate_choice=False)
    occupation = StringField(
        _l("Occupation (optional)"),
        description=_l("e.g. market trader, ojek driver, office worker"),
        render_kw={"maxlength": MAX_OCCUPATION},
    )
    emergency_contact = StringField(
        _l("Emergency contact (name)"),
        description=_l("Optional: someone we can call if something happens to you."),
        render_kw={"maxlength": MAX_CONTACT, "autocomplete": "off"},
    )
    emergency_phone = StringField(
        _l("Emergency contact phone"),
        description=_l("Optional: their mobile number."),
        render_kw={"type": "tel", "inputmode": "tel", "maxlength": MAX_PHONE_TYPED},
    )

    def for_event(self, event: Event | EventTerms) -> ContactForm:
        """Offer the event's shirt sizes."""
        self.shirt_size.choices = [SelectChoice(size, size) for size in event.shirt_sizes]
        return self

    def raw(self) -> dict[str, object]:
        """What was submitted, for the shared validation."""
        return {name: self[name].data for name in CONTACT_FIELDS}


class RegistrationForm(ContactForm):
    """Registering for one city's Fun Run."""

    full_name = StringField(
        _l("Full name as on your ID card (KTP)"),
        description=_l("No initials or nicknames."),
        render_kw={"autocomplete": "name", "maxlength": MAX_NAME},
    )
    nik = StringField(
        _l("NIK (16 digits)"),
        description=_l("The number on your KTP."),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": MAX_NIK_TYPED},
    )
    birth_date = StringField(
        _l("Birth date"),
        # The control shows the date in the phone's own order: the hint names no order.
        description=_l("Pick the date, as on your KTP."),
        render_kw={"type": "date", "autocomplete": "bday"},
    )
    gender = RadioField(
        _l("Gender"),
        choices=[SelectChoice("M", _l("Male")), SelectChoice("F", _l("Female"))],
        validate_choice=False,
    )
    member = RadioField(
        _l("Are you already a member of the workers' social-security scheme?"),
        choices=[
            SelectChoice("y", _l("Yes, I have a KPJ number")),
            SelectChoice("n", _l("Not yet")),
        ],
        validate_choice=False,
    )
    kpj_number = StringField(
        _l("KPJ number (members only, 11 digits)"),
        render_kw={"inputmode": "numeric", "maxlength": MAX_KPJ_TYPED},
    )
    consent = BooleanField()
    #: This form's own id (:func:`~funrun.registration.services.new_submission_ref`): sent
    #: again, the same form finds the registration it made instead of "already registered".
    submission = HiddenField()

    def sent_submission(self) -> str | None:
        """The id this form came back with; None when it is new, or came back without a
        well-formed one (the page, shown again, then carries a fresh id)."""
        ref = self.submission.data
        if isinstance(ref, str) and SUBMISSION_SHAPE.fullmatch(ref):
            return ref
        self.submission.data = new_submission_ref()
        return None

    def raw(self) -> dict[str, object]:
        """What was submitted, for the shared validation."""
        data = super().raw()
        for name in ("full_name", "nik", "birth_date", "gender", "member", "kpj_number"):
            data[name] = self[name].data
        data["consent"] = bool(self.consent.data)
        return data


class CancelForm(FlaskForm):
    """Confirms a cancellation (the CSRF token is the point)."""


class RemindersForm(FlaskForm):
    """The race-week reminder switch: ``on`` or ``off`` (its own route, apart from the
    contact form that posts to the manage page itself)."""

    reminders = HiddenField()

    def wanted(self) -> bool | None:
        """True for on, False for off, None for anything else."""
        return {"on": True, "off": False}.get(self.reminders.data or "")


class DisputeForm(RegistrationForm):
    """The desk voids a registration holding someone else's NIK and registers its owner.

    The person's own fields are the registration form's, checked by the same rules.
    """

    reason = TextAreaField(
        _l("Why is the other registration void?"),
        description=_l("e.g. The KTP shows this NIK is Ibu Siti's; the other name is not hers."),
        render_kw={"maxlength": 500, "rows": 3},
    )
    id_seen = BooleanField(_l("I have seen this person's ID card (KTP) and it carries this NIK."))
    #: The registration the desk reviewed (its id, never the NIK): voided only if unchanged.
    holder = HiddenField()
