"""The sponsor pages' forms: a sponsor's fields, and its list's upload. The checks live in
:mod:`funrun.sponsors.services` and :mod:`funrun.sponsors.nik_lists`."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

FIELDS = ("name", "budget_member_months", "budget_rupiah", "partner_id", "public_budget", "active")


class SponsorForm(FlaskForm):
    """Create or edit a sponsor."""

    code = StringField(
        _l("Code"),
        description=_l("Lower-case letters, digits and dashes, e.g. apbd-dki. Fixed once saved."),
        render_kw={"maxlength": 32, "autocomplete": "off"},
    )
    name = StringField(_l("Name"), render_kw={"maxlength": 160})
    public_budget = BooleanField(_l("Public budget (APBN/APBD): contribution reliefs do not apply"))
    active = BooleanField(_l("Active: desks may charge enrolments to it"), default=True)
    budget_member_months = StringField(
        _l("Budget in member-months"),
        description=_l("One member for one month is one member-month. Empty: no limit."),
        render_kw={"inputmode": "numeric", "maxlength": 20, "autocomplete": "off"},
    )
    budget_rupiah = StringField(
        _l("Budget in rupiah"),
        description=_l("Whole rupiah, e.g. 250.000.000. Empty: no limit."),
        render_kw={"inputmode": "numeric", "maxlength": 24, "autocomplete": "off"},
    )
    partner_id = SelectField(_l("Linked partner account"), choices=[], validate_choice=False)

    def with_partners(self, partners: list[tuple[int, str]]) -> SponsorForm:
        self.partner_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(pid), label) for pid, label in partners
        ]
        return self

    def raw(self, *, new: bool) -> dict[str, Any]:
        data = {name: self[name].data for name in FIELDS}
        if new:
            data["code"] = self.code.data
        return data


class ListUploadForm(FlaskForm):
    """Upload a sponsor's list of eligible NIKs."""

    file = FileField(
        _l("The list: a text file with one NIK per line, or a CSV with a nik column"),
        render_kw={"accept": ".csv,.txt,text/csv,text/plain"},
    )
    mode = RadioField(
        _l("What to do with the list"),
        choices=[
            SelectChoice("add", _l("Add these NIKs to the list")),
            SelectChoice("replace", _l("Replace the whole list with this file")),
        ],
        default="add",
        validate_choice=False,
    )
