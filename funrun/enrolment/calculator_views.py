"""The public contribution calculator on an event's page: what would membership cost me?

A plain GET form (it works without JavaScript) priced by the same function as the API's
public quote; no personal data is asked and nothing is stored.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from funrun.api.schemas.contributions import quote_from_query
from funrun.contracts import ValidationFailed
from funrun.enrolment import bp
from funrun.enrolment.choices import MANDATORY_PROGRAMMES, MONTHS, OCCUPATIONS
from funrun.events.services import get_event
from funrun.extensions import limiter
from funrun.ratelimit import exempt_from_public_limit, public_limit

#: The form's fields that the quote reads as they are (JHT becomes ``programs``).
QUERY_FIELDS = ("occupation", "income", "months")


class CalculatorForm(FlaskForm):
    """The calculator's questions: nothing that identifies a person."""

    class Meta:
        csrf = False  # a GET that changes nothing

    occupation = SelectField(
        _l("Occupation"),
        choices=[
            SelectChoice("", _l("Choose your occupation")),
            *(SelectChoice(code, label) for code, label in OCCUPATIONS.items()),
        ],
        validate_choice=False,
    )
    income = StringField(
        _l("Monthly income (Rp)"),
        description=_l("Whole rupiah, e.g. 1500000. The lowest income basis is Rp 1.000.000."),
        render_kw={"inputmode": "numeric", "maxlength": 20, "autocomplete": "off"},
    )
    jht = BooleanField(_l("Also JHT: old-age savings (optional)"))
    months = RadioField(
        _l("Months paid at once"),
        choices=[SelectChoice(str(m), str(m)) for m in MONTHS],
        default=str(MONTHS[0]),
        validate_choice=False,
    )

    def query(self, args: MultiDict[str, str]) -> MultiDict[str, str]:
        """The public quote's query for what was submitted (repeated values kept)."""
        query: MultiDict[str, str] = MultiDict(
            [(name, value) for name in QUERY_FIELDS for value in args.getlist(name)]
        )
        query["programs"] = ",".join((*MANDATORY_PROGRAMMES, *(["JHT"] if self.jht.data else [])))
        return query


@bp.route("/events/<slug:slug>/iuran")
@limiter.limit(public_limit, exempt_when=exempt_from_public_limit)
def calculator(slug: str) -> str | tuple[str, int]:
    """The calculator's form, and once it is sent, the contribution month by month."""
    event = get_event(slug)
    if event is None:
        abort(404)
    form = CalculatorForm(formdata=request.args)
    quote = None
    other_errors: list[str] = []
    if any(name in request.args for name in (*QUERY_FIELDS, "jht")):
        try:
            quote = quote_from_query(form.query(request.args), typed=True)
        except ValidationFailed as failed:
            for name, messages in failed.errors.items():
                if name in QUERY_FIELDS:
                    form[name].errors = list(messages)
                else:
                    other_errors.extend(messages)
    page = render_template(
        "enrolment/calculator.html",
        event=event,
        form=form,
        quote=quote,
        other_errors=other_errors,
    )
    invalid = any(form[name].errors for name in QUERY_FIELDS) or other_errors
    return (page, 422) if invalid else page
