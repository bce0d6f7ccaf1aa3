"""The admin's account forms; the rules they are checked against live in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from funrun.accounts.models import Role
from funrun.accounts.services import MIN_PASSWORD, find_user
from funrun.checkin.models import STATION_LABELS, STATIONS

ROLE_LABELS = {
    Role.ADMIN.value: _l("Admin"),
    Role.ORGANISER.value: _l("Organiser"),
    Role.VOLUNTEER.value: _l("Volunteer"),
    Role.PARTNER.value: _l("Partner (API only)"),
}


class ListedSelectField(SelectField):
    """A select whose refusal of an unlisted value speaks the page's language."""

    def __init__(self, label: object, *, invalid: object, **kwargs: object) -> None:
        super().__init__(label, **kwargs)  # type: ignore[arg-type]
        self.invalid = invalid

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(self.invalid)) from exc

    def pre_validate(self, form: FlaskForm) -> None:
        try:
            super().pre_validate(form)
        except ValidationError as exc:
            raise ValidationError(str(self.invalid)) from exc


TOO_LONG = _l("At most %(max)d characters.")


class CreateAccountForm(FlaskForm):
    """A new staff or partner account."""

    email = StringField(
        _l("Email"),
        validators=[
            DataRequired(message=_l("Enter an email address.")),
            Length(max=254, message=TOO_LONG),
        ],
        render_kw={"type": "email", "autocomplete": "off", "maxlength": 254},
    )
    role = ListedSelectField(
        _l("Role"),
        invalid=_l("Choose one of the roles listed."),
        choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()],
    )
    password = PasswordField(
        _l("Password"),
        description=_l(
            "At least %(n)d characters. Optional for a partner: without one it uses its API "
            "tokens only; with one it also signs in to its own pages.",
            n=MIN_PASSWORD,
        ),
        # Checked in validate_password: Optional() would skip it for an empty password.
        validators=[Length(max=200, message=TOO_LONG)],
        render_kw={"autocomplete": "new-password", "maxlength": 200},
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password", "maxlength": 200},
    )

    def validate_email(self, field: StringField) -> None:
        """One account per email address."""
        if find_user(field.data or "") is not None:
            raise ValidationError(_l("An account with this email already exists."))

    def validate_password(self, field: PasswordField) -> None:
        """Staff sign in with a password; a partner may (its own pages only)."""
        if self.role.data != Role.PARTNER and not field.data:
            raise ValidationError(_l("Staff accounts need a password."))
        if field.data and len(field.data) < MIN_PASSWORD:
            raise ValidationError(
                _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD)
            )


class AssignForm(FlaskForm):
    """Assign a volunteer to an event (choices set by the view)."""

    event_id = ListedSelectField(
        _l("Event"), invalid=_l("Choose one of the events listed."), coerce=int, choices=[]
    )
    station = ListedSelectField(
        _l("Station (optional)"),
        description=_l("Where their scan page opens; they can still switch stations there."),
        invalid=_l("Choose one of the stations listed."),
        choices=[SelectChoice("", _l("Any station"))]
        + [SelectChoice(s, STATION_LABELS[s]) for s in STATIONS],
    )


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class ChangePasswordForm(FlaskForm):
    """A signed-in staff member's new password (the current one first)."""

    current = PasswordField(
        _l("Current password"),
        validators=[
            DataRequired(message=_l("This field is required.")),
            Length(max=200, message=TOO_LONG),
        ],
        render_kw={"autocomplete": "current-password", "maxlength": 200},
    )
    password = PasswordField(
        _l("New password"),
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD),
        validators=[
            DataRequired(message=_l("This field is required.")),
            Length(max=200, message=TOO_LONG),
        ],
        render_kw={"autocomplete": "new-password", "maxlength": 200},
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password", "maxlength": 200},
    )

    def validate_password(self, field: PasswordField) -> None:
        """As long as a new account's."""
        if field.data and len(field.data) < MIN_PASSWORD:
            raise ValidationError(
                _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD)
            )
