"""The public quote: its query, checked by the enrolment's own rules, and its answer.

``GET /api/v1/contributions/quote`` and the calculator on the event page both call
:func:`quote_from_query`, so the page and the API cannot disagree, and it prices through
:func:`funrun.enrolment.quotes.price` like the enrolment desk. No personal data is asked
and nothing is stored.

The query is text. The API reads it strictly (``income=1500000``); the page's form is
``typed`` (``1.500.000`` and ``Rp 1.500.000`` as people write them).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from pydantic import Field, ValidationInfo, WithJsonSchema
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from funrun.api.schemas.base import OpenApiSchema, Schema
from funrun.api.schemas.enrolment import Contribution
from funrun.contracts import RequestModel, ValidationFailed, checked, validate
from funrun.dbtypes import utcnow
from funrun.enrolment.choices import MANDATORY_PROGRAMMES, MONTHS, OCCUPATIONS, PROGRAMMES
from funrun.enrolment.contribution import Quote, in_force, month_start
from funrun.enrolment.errors import NoSchedule
from funrun.enrolment.models import ContributionSchedule, Sponsor
from funrun.enrolment.quotes import price
from funrun.enrolment.schedule import active_sponsors
from funrun.enrolment.schemas import (
    MAX_INCOME,
    PROGRAMMES_SCHEMA,
    chosen_programmes,
    declared_income,
    listed_occupation,
    listed_sponsor,
    months_paid,
    rupiah,
)
from funrun.extensions import db
from funrun.people.rules import RuleBroken

#: Contribution months follow the calendar at the agency (WIB).
WIB = ZoneInfo("Asia/Jakarta")
#: How far ahead of the current month a quote may start.
MONTHS_AHEAD = 24
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
#: Text of digits the API reads as a number (13 digits: far above any accepted amount).
_NUMBER = re.compile(r"[0-9]{1,13}")
REPEATED = _l("Give this value once.")


def jakarta_today() -> date:
    """Today's date in Jakarta (WIB)."""
    return utcnow().astimezone(WIB).date()


def pricing_day(start: date, today: date) -> date:
    """The day a quote is priced on: today in the current month, else the 1st of ``start``."""
    return today if start == month_start(today) else start


def _number(value: Any) -> Any:
    """Text of digits as an int; anything else unchanged, for the rule to refuse."""
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return int(value)
    return value


def _start(value: Any, info: ValidationInfo) -> date:
    """The first covered month: from the earliest schedule's to MONTHS_AHEAD ahead."""
    today: date = info.context["today"]
    if value is None:
        return month_start(today)
    match = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match[2]) <= 12:
        raise RuleBroken(_l("Write the first month as YYYY-MM, e.g. 2026-12."))
    earliest: date | None = info.context["earliest"]
    last = month_start(today, MONTHS_AHEAD)
    asked = (int(match[1]), int(match[2]))
    if asked > (last.year, last.month) or (
        earliest is not None and asked < (earliest.year, earliest.month)
    ):
        first = earliest or month_start(today)
        raise RuleBroken(
            _l(
                "Choose a first month from %(first)s to %(last)s.",
                first=format_date(first, "MMMM y"),
                last=format_date(last, "MMMM y"),
            )
        )
    return date(asked[0], asked[1], 1)


def _schedule(info: ValidationInfo) -> ContributionSchedule | None:
    """The schedule of the first covered month (the current month's when start is bad)."""
    today: date = info.context["today"]
    start = info.data.get("start", month_start(today))
    return in_force(info.context["schedules"], pricing_day(start, today))


def _income(value: Any, info: ValidationInfo) -> int:
    typed = info.context["typed"]
    value = value if typed else _number(value)
    schedule = _schedule(info)
    if schedule is None:  # the start's problem says so; still check the amount
        return rupiah(value, typed=typed)
    return declared_income(value, schedule, typed=typed)


def _programmes(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    chosen = value.split(",") if isinstance(value, str) else value
    schedule = _schedule(info)
    offered = {rate.programme for rate in schedule.rates} if schedule else set(PROGRAMMES)
    return chosen_programmes(chosen, offered)


def _months(value: Any, info: ValidationInfo) -> int:
    return months_paid(_number(value), info)


def _schema(**schema: Any) -> WithJsonSchema:
    return WithJsonSchema(schema)


class QuoteQuery(RequestModel):
    """What would membership cost: no personal data, nobody enrolled.

    ``start`` comes first: its month's schedule checks the income and the programmes.
    """

    start: Annotated[
        date,
        checked(_start),
        _schema(type="string", pattern="^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-12"]),
    ] = Field(
        default=None,
        validate_default=True,
        description="The first covered month, YYYY-MM (default: the current month in "
        f"Jakarta); from the month of the earliest schedule to {MONTHS_AHEAD} months ahead.",
    )
    income: Annotated[
        int,
        checked(_income),
        _schema(type="integer", minimum=0, maximum=MAX_INCOME, examples=[1500000]),
    ] = Field(
        description="Declared monthly income, whole rupiah; at least the schedule's lowest "
        "income basis (Rp 1.000.000 in the 2015 schedule)."
    )
    occupation: Annotated[
        str,
        checked(listed_occupation),
        _schema(type="string", enum=list(OCCUPATIONS), examples=["trader"]),
    ] = Field(description="A listed occupation: reliefs depend on its sector.")
    programs: Annotated[
        tuple[str, ...],
        checked(_programmes),
        _schema(**PROGRAMMES_SCHEMA, examples=[["JKK", "JKM", "JHT"]]),
    ] = Field(
        default=MANDATORY_PROGRAMMES,
        description="Comma-separated: JKK and JKM always, JHT optional (default JKK,JKM).",
    )
    months: Annotated[
        int, checked(_months), _schema(type="integer", enum=list(MONTHS), examples=[3])
    ] = Field(description="Months paid at once.")
    sponsor: Annotated[str | None, checked(listed_sponsor), _schema(type="string")] = Field(
        default=None,
        description="Code of a listed sponsor (e.g. apbd-dki): the sponsor pays, so the "
        "amount due is 0, and reliefs that exclude public budgets do not apply.",
    )


def _parameter(name: str, schema: dict[str, Any], required: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": "query", "required": required}
    if schema.get("default", "") is None:
        del schema["default"]
    if "description" in schema:
        out["description"] = schema.pop("description")
    examples = schema.pop("examples", None)
    if examples:
        out["example"] = examples[0]
    if schema.get("type") == "array":
        out.update(style="form", explode=False)
    out["schema"] = schema
    return out


def query_parameters() -> tuple[dict[str, Any], ...]:
    """The query's fields as OpenAPI parameters (the model is their one declaration)."""
    document = QuoteQuery.model_json_schema(schema_generator=OpenApiSchema)
    required = set(document.get("required", ()))
    return tuple(
        _parameter(name, dict(schema), name in required)
        for name, schema in document["properties"].items()
    )


class ContributionQuote(Schema):
    """A contribution worked out without enrolling anyone."""

    contribution: Contribution


def _single_values(args: MultiDict[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each field's value, and a problem for each field given more than once."""
    raw: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for name in QuoteQuery.model_fields:
        values = args.getlist(name)
        if values:
            raw[name] = values[0]
        if len(values) > 1:
            repeated[name] = [str(REPEATED)]
    return raw, repeated


def quote_from_query(args: MultiDict[str, str], *, typed: bool = False) -> Quote:
    """Price the contribution a query asks about; raise ValidationFailed with every problem.

    ``typed``: the values were typed in the calculator's form (amounts with separators).
    """
    raw, repeated = _single_values(args)
    today = jakarta_today()
    schedules = list(db.session.scalars(select(ContributionSchedule)))
    sponsors = active_sponsors()
    earliest = min((s.effective_from for s in schedules), default=None)
    context = {
        "today": today,
        "earliest": month_start(earliest) if earliest else None,
        "schedules": schedules,
        "sponsors": sponsors,
        "typed": typed,
    }
    try:
        query = validate(QuoteQuery, raw, **context)
    except ValidationFailed as failed:
        raise ValidationFailed({**failed.errors, **repeated}) from None
    if repeated:
        raise ValidationFailed(repeated)
    sponsor: Sponsor | None = next((s for s in sponsors if s.code == query.sponsor), None)
    try:
        return price(
            pricing_day(query.start, today),
            declared_income=query.income,
            programmes=query.programs,
            months=query.months,
            occupation=query.occupation,
            sponsor=sponsor,
            schedules=schedules,
        )
    except NoSchedule as missing:
        raise ValidationFailed({"start": [str(missing)]}) from None
