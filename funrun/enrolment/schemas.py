"""An enrolment's request model: what the desk's form and the API send, checked once.

Validate with the schedule in force, the active sponsors and whether the values were
typed in a form (numbers as text) or sent as JSON (numbers as numbers)::

    validate(EnrolmentFields, raw, schedule=schedule, sponsors=sponsors, typed=False)
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from pydantic import Field, ValidationInfo, WithJsonSchema

from funrun.contracts import RequestModel, checked
from funrun.enrolment.choices import (
    MANDATORY_PROGRAMMES,
    MONTHS,
    OCCUPATIONS,
    PAYMENT_CHANNELS,
    PROGRAMMES,
)
from funrun.people import rules
from funrun.people.rules import REQUIRED, RuleBroken, is_blank

if TYPE_CHECKING:
    from funrun.enrolment.models import ContributionSchedule

MAX_BIRTH_PLACE = 60
MAX_MOTHER = 100
MAX_ADDRESS = 200
MAX_OCCUPATION_OTHER = 80
#: Integer columns hold rupiah: keep every amount far below 2**31.
MAX_INCOME = 1_000_000_000
#: Digits with optional thousands separators as people type them: 1500000, 1.500.000.
_TYPED_RUPIAH = re.compile(r"(?:Rp\.?\s*)?([0-9]{1,3}(?:[.,\s][0-9]{3})+|[0-9]{1,13})")
#: What the document says of a list of programmes (the desk's and the quote's).
PROGRAMMES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "enum": list(PROGRAMMES)},
    "uniqueItems": True,
    "minItems": len(MANDATORY_PROGRAMMES),
    "maxItems": len(PROGRAMMES),
}
CONSENT_NEEDED = _l("The runner must agree to the enrolment notice.")


def rupiah(value: Any, *, typed: bool) -> int:
    """A whole-rupiah amount: a JSON integer, or (typed in a form) digits with separators."""
    bad = _l("Enter an amount in whole rupiah, e.g. 1500000.")
    if is_blank(value):
        raise RuleBroken(REQUIRED)
    if isinstance(value, bool) or (isinstance(value, str) and not typed):
        raise RuleBroken(bad)
    if isinstance(value, str):
        match = _TYPED_RUPIAH.fullmatch(value.strip())
        if match is None:
            raise RuleBroken(bad)
        value = int(re.sub(r"[^0-9]", "", match.group(1)))
    if not isinstance(value, int) or not 0 <= value <= MAX_INCOME:
        raise RuleBroken(bad)
    return value


def _income(value: Any, info: ValidationInfo) -> int:
    return declared_income(value, info.context["schedule"], typed=info.context.get("typed", False))


def declared_income(value: Any, schedule: ContributionSchedule, *, typed: bool) -> int:
    """A declared monthly income that ``schedule`` accepts (its lowest and highest basis)."""
    income = rupiah(value, typed=typed)
    if income < schedule.min_income:
        amount = format_decimal(schedule.min_income)
        raise RuleBroken(_l("The lowest income basis is Rp %(amount)s a month.", amount=amount))
    if schedule.max_income is not None and income > schedule.max_income:
        amount = format_decimal(schedule.max_income)
        raise RuleBroken(_l("The highest income basis is Rp %(amount)s a month.", amount=amount))
    return income


def listed_occupation(value: Any, _info: ValidationInfo) -> str:
    """One of the listed occupation codes."""
    if is_blank(value):
        raise RuleBroken(REQUIRED)
    if not isinstance(value, str) or value not in OCCUPATIONS:
        raise RuleBroken(_l("Choose one of the listed occupations."))
    return value


def _occupation_other(value: Any, info: ValidationInfo) -> str | None:
    other = info.data.get("occupation") == "other"
    text = rules.single_line(value, max_length=MAX_OCCUPATION_OTHER, required=other)
    return text if other else None


def _programmes(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    return chosen_programmes(value, {rate.programme for rate in info.context["schedule"].rates})


def chosen_programmes(value: Any, offered: Collection[str]) -> tuple[str, ...]:
    """The programmes chosen from ``offered`` (JKK and JKM always), in the listed order."""
    if value is None or value == []:
        raise RuleBroken(REQUIRED)
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise RuleBroken(_l('A list of programmes, e.g. ["JKK", "JKM"].'))
    if len(set(value)) != len(value) or not set(value) <= offered:
        raise RuleBroken(_l("Choose from JKK, JKM and JHT, each once."))
    if not set(MANDATORY_PROGRAMMES) <= set(value):
        raise RuleBroken(_l("JKK and JKM are always included."))
    return tuple(p for p in PROGRAMMES if p in value)


def months_paid(value: Any, info: ValidationInfo) -> int:
    """1, 3, 6 or 12 (text of digits too, when typed in a form)."""
    if info.context.get("typed") and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if is_blank(value):
        raise RuleBroken(REQUIRED)
    if isinstance(value, bool) or not isinstance(value, int) or value not in MONTHS:
        raise RuleBroken(_l("Pay for 1, 3, 6 or 12 months."))
    return value


def _channel(value: Any, _info: ValidationInfo) -> str | None:
    if is_blank(value):
        return None
    if not isinstance(value, str) or value not in PAYMENT_CHANNELS:
        raise RuleBroken(_l("Choose one of the listed channels."))
    return value


def listed_sponsor(value: Any, info: ValidationInfo) -> str | None:
    """An active sponsor's code, or None; beside a payment channel, exactly one of the two."""
    sponsor = None
    if not is_blank(value):
        if not isinstance(value, str) or value not in {s.code for s in info.context["sponsors"]}:
            raise RuleBroken(_l("Choose one of the listed sponsors."))
        sponsor = value
    if "payment_channel" in info.data:  # the channel itself was acceptable
        channel = info.data["payment_channel"]
        if channel is None and sponsor is None:
            raise RuleBroken(
                _l("Choose how the contribution is paid, or a sponsor."), field="payment_channel"
            )
        if channel is not None and sponsor is not None:
            raise RuleBroken(_l("Choose a payment channel or a sponsor, not both."))
    return sponsor


def _line(max_length: int) -> Any:
    return checked(lambda v, _i: rules.single_line(v, max_length=max_length))


def _schema(**schema: Any) -> WithJsonSchema:
    return WithJsonSchema(schema)


class EnrolmentFields(RequestModel):
    """The enrolment's own fields (a walk-up adds a registration's person fields)."""

    MISSING = {"consent": CONSENT_NEEDED}

    birth_place: Annotated[
        str, _line(MAX_BIRTH_PLACE), _schema(type="string", maxLength=MAX_BIRTH_PLACE)
    ]
    mother_maiden_name: Annotated[
        str,
        checked(
            lambda v, _i: rules.person_name(
                v,
                max_length=MAX_MOTHER,
                message=_l("Write the name as on the ID card, letters only."),
            )
        ),
        _schema(type="string", maxLength=MAX_MOTHER),
    ]
    address: Annotated[str, _line(MAX_ADDRESS), _schema(type="string", maxLength=MAX_ADDRESS)]
    occupation: Annotated[
        str, checked(listed_occupation), _schema(type="string", enum=list(OCCUPATIONS))
    ]
    # Checked even when absent: it is required when occupation is other.
    occupation_other: Annotated[
        str | None,
        checked(_occupation_other),
        _schema(type=["string", "null"], maxLength=MAX_OCCUPATION_OTHER),
    ] = Field(default=None, validate_default=True, description="Required when occupation is other.")
    declared_income: Annotated[int, checked(_income), _schema(type="integer", minimum=0)] = Field(
        description="Whole rupiah a month; at least the schedule's lowest income basis "
        "(Rp 1.000.000 in the 2015 schedule)."
    )
    programs: Annotated[
        tuple[str, ...],
        checked(_programmes),
        _schema(**PROGRAMMES_SCHEMA),
    ] = Field(
        description='JKK and JKM always, JHT optional: ["JKK", "JKM"] or ["JKK", "JKM", "JHT"].'
    )
    months: Annotated[int, checked(months_paid), _schema(type="integer", enum=list(MONTHS))]
    payment_channel: Annotated[
        str | None,
        checked(_channel),
        _schema(type=["string", "null"], enum=[*PAYMENT_CHANNELS, None]),
    ] = Field(default=None, description="How the runner pays; null or absent when a sponsor pays.")
    # Checked even when absent, after the channel: exactly one of the two is needed.
    sponsor: Annotated[str | None, checked(listed_sponsor), _schema(type=["string", "null"])] = (
        Field(
            default=None,
            validate_default=True,
            description="Code of a sponsor from the loaded schedule data (e.g. apbd-dki): the "
            "sponsor pays, and the amount due from the runner is 0. A sponsor with a list of "
            "eligible NIKs pays only for people on it, within its budget (else a 422 on this "
            "field, or a 409 sponsor-refused). Neither this nor payment_channel sent: an active "
            "sponsor listing the runner's NIK with budget left is chosen.",
        )
    )
    consent: Annotated[
        bool,
        checked(lambda v, _i: rules.consented(v, CONSENT_NEEDED)),
        _schema(type="boolean", const=True),
    ]
