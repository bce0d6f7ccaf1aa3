"""The admins' schedule forms: one schedule as rows of fields, and the JSON import.

The form only carries what was typed: :meth:`ScheduleEditForm.document` builds the
one-schedule document from it (blank rows left out) and the document's own models
(:mod:`funrun.enrolment.schedule_document`) check it; :meth:`ScheduleEditForm.show_problems`
puts each problem beside the field, row or table it names. No WTForms validators: their
messages are English only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from funrun.enrolment.choices import MONTHS, OCCUPATIONS
from funrun.enrolment.contribution import PROGRAMME_ORDER
from funrun.enrolment.schedule_document import FORMAT, Problem
from funrun.enrolment.schedule_values import Loc

RUPIAH_INPUT = {"inputmode": "numeric", "maxlength": 20, "autocomplete": "off"}
MONTH_INPUT = {"type": "month", "placeholder": "YYYY-MM", "maxlength": 7}
#: Blank rows shown beyond the filled ones, and how many more "Add rows" gives.
SPARE = {"brackets": 2, "sectors": 1, "reliefs": 1, "periods": 1}
MORE = {"brackets": 5, "sectors": 1, "reliefs": 1, "periods": 1}


class _Checkboxes(SelectMultipleField):
    """Several choices as checkboxes (no JavaScript needed)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RateRow(Form):
    """A programme's price: a percentage of the income basis or a flat amount."""

    programme = HiddenField()
    kind = SelectField(
        _l("Priced as"),
        choices=[
            SelectChoice("percent", _l("Percent of the income basis")),
            SelectChoice("flat", _l("Flat amount (Rp)")),
        ],
        validate_choice=False,
    )
    amount = StringField(_l("Rate or amount"), render_kw={"maxlength": 20, "autocomplete": "off"})
    optional = BooleanField(_l("The member may choose it"))


class BracketRow(Form):
    """Declared incomes from .. to .. pay on a basis."""

    income_from = StringField(_l("Income from (Rp)"), render_kw=RUPIAH_INPUT)
    income_to = StringField(_l("Income to (Rp)"), render_kw=RUPIAH_INPUT)
    basis = StringField(_l("Income basis (Rp)"), render_kw=RUPIAH_INPUT)


class SectorRow(Form):
    """A sector: its code, names and occupations."""

    code = StringField(_l("Code"), render_kw={"maxlength": 32, "autocomplete": "off"})
    name = StringField(_l("Name (Bahasa Indonesia)"), render_kw={"maxlength": 160})
    name_en = StringField(_l("Name (English)"), render_kw={"maxlength": 160})
    occupations = _Checkboxes(
        _l("Occupations"),
        choices=[SelectChoice(code, label) for code, label in OCCUPATIONS.items()],
        validate_choice=False,
    )


class PeriodRow(Form):
    """Contribution months a relief covers, for a sector or for every sector."""

    sector = SelectField(_l("Sector"), choices=[], validate_choice=False)
    first_month = StringField(_l("First month"), render_kw=MONTH_INPUT)
    last_month = StringField(_l("Last month"), render_kw=MONTH_INPUT)


class ReliefRow(Form):
    """A relief and its periods."""

    code = StringField(_l("Code"), render_kw={"maxlength": 32, "autocomplete": "off"})
    name = StringField(_l("Name (Bahasa Indonesia)"), render_kw={"maxlength": 160})
    name_en = StringField(_l("Name (English)"), render_kw={"maxlength": 160})
    discount_percent = StringField(_l("Discount (%)"), render_kw={"maxlength": 6})
    programmes = _Checkboxes(
        _l("Programmes discounted"),
        choices=[SelectChoice(code, code) for code in PROGRAMME_ORDER],
        validate_choice=False,
    )
    excludes_public_budget = BooleanField(_l("Not when a public budget (APBN/APBD) pays"))
    source = TextAreaField(_l("Source"), render_kw={"rows": 2, "maxlength": 2000})
    periods = FieldList(FormField(PeriodRow), max_entries=24)


@dataclass
class Places:
    """Where each part of the built document came from in the form."""

    fields: dict[Loc, Field] = field(default_factory=dict)
    labels: dict[Loc, str] = field(default_factory=dict)


def _blank(*values: Any) -> bool:
    return not any(v.strip() if isinstance(v, str) else v for v in values)


class ScheduleEditForm(FlaskForm):
    """One schedule as a form (a new one when ``code`` is shown), and an example to price."""

    code = StringField(
        _l("Code"),
        description=_l("Lower-case letters, digits and dashes, e.g. bpu-2027. It cannot change."),
        render_kw={"maxlength": 32, "autocomplete": "off"},
    )
    name = StringField(_l("Name"), render_kw={"maxlength": 160})
    effective_from = StringField(_l("In force from"), render_kw={"type": "date"})
    effective_to = StringField(
        _l("In force until (last day)"),
        description=_l("Blank while no later schedule replaces it."),
        render_kw={"type": "date"},
    )
    source = TextAreaField(_l("Source"), render_kw={"rows": 2, "maxlength": 2000})
    notes = TextAreaField(_l("Notes"), render_kw={"rows": 2, "maxlength": 4000})
    min_income = StringField(_l("Lowest income basis (Rp)"), render_kw=RUPIAH_INPUT)
    max_income = StringField(
        _l("Highest declared income (Rp)"),
        description=_l("Blank: no highest."),
        render_kw=RUPIAH_INPUT,
    )
    brackets_complete = BooleanField(_l("The bracket table is checked against the regulation"))
    brackets_source = TextAreaField(
        _l("Source of the bracket table"), render_kw={"rows": 2, "maxlength": 2000}
    )
    rates = FieldList(FormField(RateRow), max_entries=len(PROGRAMME_ORDER))
    brackets = FieldList(FormField(BracketRow), max_entries=200)
    sectors = FieldList(FormField(SectorRow), max_entries=20)
    reliefs = FieldList(FormField(ReliefRow), max_entries=20)

    example_income = StringField(
        _l("Declared monthly income (Rp)"), default="1000000", render_kw=RUPIAH_INPUT
    )
    example_occupation = SelectField(
        _l("Occupation"),
        choices=[SelectChoice(code, label) for code, label in OCCUPATIONS.items()],
        default="trader",
        validate_choice=False,
    )
    example_months = SelectField(
        _l("Months paid"),
        choices=[SelectChoice(str(m), str(m)) for m in MONTHS],
        default="3",
        validate_choice=False,
    )
    example_jht = BooleanField(_l("Also JHT"), default=True)
    example_start = StringField(_l("First month covered"), render_kw=MONTH_INPUT)

    def add_rows(self, counts: dict[str, int]) -> None:
        """Blank rows at the end of each table (and of each relief's periods)."""
        for _i in range(counts["brackets"]):
            self.brackets.append_entry()
        for _i in range(counts["sectors"]):
            self.sectors.append_entry()
        for _i in range(counts["reliefs"]):
            self.reliefs.append_entry()
        for relief in self.reliefs:
            for _i in range(counts["periods"]):
                relief.form.periods.append_entry()
        self.offer_sectors()

    def offer_sectors(self) -> None:
        """Periods choose among the sectors in the form (or every sector)."""
        codes = [row.form.code.data.strip() for row in self.sectors if row.form.code.data]
        choices = [SelectChoice("", _("Every sector"))]
        choices += [SelectChoice(code, code) for code in dict.fromkeys(codes)]
        for relief in self.reliefs:
            for period in relief.form.periods:
                chosen = period.form.sector.data
                extra = [SelectChoice(chosen, chosen)] if chosen and chosen not in codes else []
                period.form.sector.choices = choices + extra

    def document(self, code: str | None) -> tuple[dict[str, Any], Places]:
        """The one-schedule document typed here (blank rows left out), and where each part
        of it came from."""
        places = Places()
        here: Loc = ("schedules", 0)

        def keep(loc: Loc, source: Field, label: Any = None) -> None:
            places.fields[here + loc] = source
            places.labels[here + loc] = str(label if label is not None else source.label.text)

        schedule: dict[str, Any] = {"code": code if code is not None else self.code.data}
        keep(("code",), self.code)
        for name in (
            "name", "effective_from", "effective_to", "source", "notes", "min_income",
            "max_income", "brackets_complete", "brackets_source",
        ):  # fmt: skip
            schedule[name] = self[name].data
            keep((name,), self[name])
        keep((), self, _("This schedule"))
        schedule["rates"] = self._rates(keep)
        schedule["brackets"] = rows = []
        keep(("brackets",), self.brackets, _("The income basis brackets"))
        for i, entry in enumerate(self.brackets):
            row = entry.form
            if _blank(row.income_from.data, row.income_to.data, row.basis.data):
                continue
            at: Loc = ("brackets", len(rows))
            rows.append({n: row[n].data for n in ("income_from", "income_to", "basis")})
            keep(at, entry, _("Bracket %(n)d", n=i + 1))  # as numbered on the page
            for n in ("income_from", "income_to", "basis"):
                keep((*at, n), row[n])
        schedule["sectors"] = self._sectors(keep)
        schedule["reliefs"] = self._reliefs(keep)
        return {"format": FORMAT, "schedules": [schedule], "sponsors": []}, places

    def _rates(self, keep: Any) -> list[dict[str, Any]]:
        rates = []
        keep(("rates",), self.rates, _("The rates"))
        for entry in self.rates:
            row = entry.form
            if _blank(row.amount.data):
                continue
            at: Loc = ("rates", len(rates))
            price = "flat_amount" if row.kind.data == "flat" else "rate_percent"
            rates.append(
                {
                    "programme": row.programme.data,
                    price: row.amount.data,
                    "optional": row.optional.data,
                }
            )
            keep(at, entry, row.programme.data)
            keep((*at, "programme"), row.amount, row.programme.data)
            keep((*at, price), row.amount, row.programme.data)
            keep((*at, "optional"), row.optional)
        return rates

    def _sectors(self, keep: Any) -> list[dict[str, Any]]:
        sectors = []
        keep(("sectors",), self.sectors, _("The sectors"))
        for i, entry in enumerate(self.sectors):
            row = entry.form
            names = ("code", "name", "name_en", "occupations")
            if _blank(*(row[n].data for n in names)):
                continue
            at: Loc = ("sectors", len(sectors))
            sectors.append({n: row[n].data for n in names})
            keep(at, entry, _("Sector %(n)d", n=i + 1))
            for n in names:
                keep((*at, n), row[n])
        return sectors

    def _reliefs(self, keep: Any) -> list[dict[str, Any]]:
        reliefs = []
        keep(("reliefs",), self.reliefs, _("The reliefs"))
        names = (
            "code", "name", "name_en", "discount_percent", "programmes",
            "excludes_public_budget", "source",
        )  # fmt: skip
        for i, entry in enumerate(self.reliefs):
            row = entry.form
            periods = [
                (k, p) for k, p in enumerate(row.periods)
                if not _blank(*(p.form[n].data for n in PERIOD))
            ]  # fmt: skip
            if not periods and _blank(*(row[n].data for n in names)):
                continue
            at: Loc = ("reliefs", len(reliefs))
            relief = {n: row[n].data for n in names}
            relief["periods"] = [{n: p.form[n].data for n in PERIOD} for _k, p in periods]
            reliefs.append(relief)
            keep(at, entry, _("Relief %(n)d", n=i + 1))
            for n in names:
                keep((*at, n), row[n])
            keep((*at, "periods"), row.periods, _("Its periods"))
            for j, (k, period) in enumerate(periods):
                keep((*at, "periods", j), period, _("Period %(n)d", n=k + 1))
                for n in PERIOD:
                    keep((*at, "periods", j, n), period.form[n])
        return reliefs

    def show_problems(self, issues: list[Problem], places: Places) -> list[tuple[str, str]]:
        """Put each problem beside what it names; every problem as (anchor, message) for a
        summary at the top of the page (anchor "" for one naming nothing in the form)."""
        self.row_errors: dict[str, list[str]] = {}
        summary: list[tuple[str, str]] = []
        for issue in issues:
            loc = issue.loc
            while loc and loc not in places.fields:
                loc = loc[:-1]
            if not loc:
                summary.append(("", issue.text()))
                continue
            target, text = places.fields[loc], issue.text(places.labels[loc])
            if isinstance(target, FlaskForm):
                summary.append(("", text))
            elif isinstance(target, FieldList | FormField):
                self.row_errors.setdefault(target.id, []).append(text)
                anchor = f"{target.id}-error" if isinstance(target, FieldList) else target.id
                summary.append((anchor, text))
            else:
                target.errors = [*target.errors, text]
                summary.append((target.id, text))
        return summary

    def errors_of(self, key: str) -> list[str]:
        """Problems shown for a table or a row (by its id)."""
        return getattr(self, "row_errors", {}).get(key, [])


PERIOD = ("sector", "first_month", "last_month")


def form_data(schedule: dict[str, Any]) -> dict[str, Any]:
    """A schedule of the document (as ``dump_document`` writes it) as the form's data."""
    rates = {rate["programme"]: rate for rate in schedule.get("rates", [])}

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    def rate_row(programme: str) -> dict[str, Any]:
        rate = rates.get(programme, {})
        flat = rate.get("flat_amount") is not None
        return {
            "programme": programme,
            "kind": "flat" if flat else "percent",
            "amount": text(rate.get("flat_amount") if flat else rate.get("rate_percent")),
            "optional": bool(rate.get("optional")),
        }

    return {
        **{key: text(schedule.get(key)) for key in ("code", "name", "source", "notes")},
        **{key: text(schedule.get(key)) for key in ("effective_from", "effective_to")},
        **{key: text(schedule.get(key)) for key in ("min_income", "max_income")},
        "brackets_complete": bool(schedule.get("brackets_complete")),
        "brackets_source": text(schedule.get("brackets_source")),
        "rates": [rate_row(p) for p in PROGRAMME_ORDER],
        "brackets": [{k: text(v) for k, v in b.items()} for b in schedule.get("brackets", [])],
        "sectors": [dict(s) for s in schedule.get("sectors", [])],
        "reliefs": [
            {
                **relief,
                "periods": [{**p, "sector": text(p["sector"])} for p in relief["periods"]],
            }
            for relief in schedule.get("reliefs", [])
        ],
    }


def form_fields(schedule: dict[str, Any]) -> list[tuple[str, str]]:
    """What a browser sends for ``schedule`` shown in the form (no blank rows), with the
    example's defaults."""
    form = ScheduleEditForm(formdata=None, data=form_data(schedule), meta={"csrf": False})
    pairs: list[tuple[str, str]] = []

    def walk(fields: Any) -> None:
        for item in fields:
            if isinstance(item, FieldList):
                for entry in item:
                    walk(entry.form)
            elif isinstance(item, FormField):
                walk(item.form)
            elif isinstance(item, SelectMultipleField):
                pairs.extend((item.name, value) for value in item.data or [])
            elif isinstance(item, BooleanField):
                if item.data:
                    pairs.append((item.name, "y"))
            elif item.name != "csrf_token":
                pairs.append((item.name, "" if item.data is None else str(item.data)))

    walk(form)
    return pairs


class ScheduleImportForm(FlaskForm):
    """Every schedule and sponsor as one JSON document (bulk import)."""

    document = TextAreaField(_l("Schedules and sponsors (JSON)"), render_kw={"rows": 16})
