"""The enrolment desk's forms. Field checks live in enrolment.validation, shared with the API."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from funrun.enrolment.choices import MONTHS, OCCUPATIONS, PAYMENT_CHANNELS
from funrun.enrolment.models import Sponsor
from funrun.events.models import Event

ENROLMENT_FIELDS = (
    "birth_place",
    "mother_maiden_name",
    "address",
    "occupation",
    "occupation_other",
    "declared_income",
    "jht",
    "months",
    "payment_channel",
    "sponsor",
    "consent",
)
WALKUP_FIELDS = ("full_name", "nik", "birth_date", "gender", "phone", "email", "shirt_size")
SPONSOR_CHANNEL = "sponsor"


class EnrolmentForm(FlaskForm):
    """Enrolling a runner whose registration the desk already has (a scanned bib)."""

    birth_place = StringField(_l("Place of birth"), render_kw={"maxlength": 60})
    mother_maiden_name = StringField(
        _l("Mother's maiden name"),
        description=_l("As on the family card (KK)."),
        render_kw={"maxlength": 100, "autocomplete": "off"},
    )
    address = TextAreaField(
        _l("Address"), render_kw={"maxlength": 200, "rows": 3, "autocomplete": "street-address"}
    )
    occupation = RadioField(
        _l("Occupation"),
        choices=[SelectChoice(code, label) for code, label in OCCUPATIONS.items()],
        validate_choice=False,
    )
    occupation_other = StringField(_l("Occupation, if other"), render_kw={"maxlength": 80})
    declared_income = StringField(
        _l("Declared monthly income (Rp)"),
        description=_l("Whole rupiah, e.g. 1500000. The lowest income basis is Rp 1.000.000."),
        render_kw={"inputmode": "numeric", "maxlength": 20, "autocomplete": "off"},
    )
    jht = BooleanField(_l("Also JHT: old-age savings (optional)"))
    months = RadioField(
        _l("Months paid now"),
        choices=[SelectChoice(str(m), str(m)) for m in MONTHS],
        validate_choice=False,
    )
    payment_channel = RadioField(
        _l("Payment"),
        choices=[
            *(SelectChoice(code, label) for code, label in PAYMENT_CHANNELS.items()),
            SelectChoice(SPONSOR_CHANNEL, _l("Paid by a sponsor")),
        ],
        validate_choice=False,
    )
    sponsor = SelectField(_l("Sponsor (when a sponsor pays)"), choices=[], validate_choice=False)
    consent = BooleanField()

    def with_sponsors(self, sponsors: list[Sponsor]) -> EnrolmentForm:
        """Offer the active sponsors."""
        self.sponsor.choices = [SelectChoice("", "—")] + [
            SelectChoice(s.code, s.name) for s in sponsors
        ]
        return self

    def raw(self) -> dict[str, Any]:
        """What was submitted, in the shape the shared validation (and the API) uses."""
        data: dict[str, Any] = {
            name: self[name].data
            for name in ENROLMENT_FIELDS
            if name not in ("jht", "consent", "payment_channel", "sponsor")
        }
        data["programs"] = ["JKK", "JKM", *(["JHT"] if self.jht.data else [])]
        channel = self.payment_channel.data
        data["payment_channel"] = None if channel == SPONSOR_CHANNEL else channel
        data["sponsor"] = self.sponsor.data if channel == SPONSOR_CHANNEL else None
        data["consent"] = bool(self.consent.data)
        return data

    def hidden_fields(self) -> list[tuple[str, str]]:
        """Every field as (name, value), to carry through the confirm step."""
        out = []
        for name in self._hidden_names():
            value = self[name].data
            if isinstance(value, bool):
                if value:
                    out.append((name, "y"))
            elif value not in (None, ""):
                out.append((name, str(value)))
        return out

    def _hidden_names(self) -> tuple[str, ...]:
        return ENROLMENT_FIELDS


class WalkupForm(EnrolmentForm):
    """Registering and enrolling a runner who did not register online."""

    full_name = StringField(
        _l("Full name as on the ID card (KTP)"), render_kw={"autocomplete": "off", "maxlength": 100}
    )
    nik = StringField(
        _l("NIK (16 digits)"),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 32},
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

    def for_event(self, event: Event) -> WalkupForm:
        """Offer the event's shirt sizes."""
        self.shirt_size.choices = [SelectChoice(size, size) for size in event.shirt_sizes]
        return self

    def raw(self) -> dict[str, Any]:
        data = super().raw()
        for name in WALKUP_FIELDS:
            data[name] = self[name].data
        return data

    def _hidden_names(self) -> tuple[str, ...]:
        return (*WALKUP_FIELDS, *ENROLMENT_FIELDS)


class ExportForm(FlaskForm):
    """Makes a new export batch (the CSRF token is the point)."""
