"""A registration's request models: what the form and the API may send, checked once.

:class:`RegistrationRequest` is the body of ``POST /api/v1/events/{slug}/registrations``
and what the registration, dispute and walk-up forms submit (:class:`MemberRequest`, the
same without consent, a group member's row in a partner's import); :class:`ContactRequest` the
manage page's corrections. Each field runs one rule of :mod:`funrun.people.rules` and
declares the JSON schema the OpenAPI document shows. Validate with the event in the
context: ``validate(RegistrationRequest, raw, event=event)``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask_babel import lazy_gettext as _l
from pydantic import Field, ValidationInfo, WithJsonSchema

from funrun import contracts
from funrun.contracts import RequestModel, checked
from funrun.people import rules
from funrun.people.rules import RuleBroken

MAX_NAME = 100
MAX_OCCUPATION = 80
MAX_CONTACT = 100
MAX_EMAIL = 254
NIK_PATTERN = "^[0-9]{16}$"
KPJ_PATTERN = "^[0-9]{11}$"


def _text(max_length: int) -> Any:
    return checked(lambda v, _i: rules.single_line(v, max_length=max_length, required=False))


def _shirt_size(value: Any, info: ValidationInfo) -> str:
    size = (rules.single_line(value, max_length=8) or "").upper()
    if size not in info.context["event"].shirt_sizes:
        raise RuleBroken(_l("Choose one of the listed shirt sizes."))
    return size


def _full_name(value: Any, _info: ValidationInfo) -> str:
    return rules.person_name(
        value,
        max_length=MAX_NAME,
        message=_l("Write your full name as on your ID card, letters only."),
    )


def _birth_date(value: Any, info: ValidationInfo) -> date:
    born = rules.birth_date(value)
    event = info.context["event"]
    if born <= event.date:
        # The NIK is compared with a real birth date even when the age is out of range.
        info.context["stated_birth_date"] = born
    rules.check_age(born, event.date, event.min_age, event.max_age)
    return born


def _nik(value: Any, info: ValidationInfo) -> str:
    return rules.nik(value, info.context.get("stated_birth_date"), info.data.get("gender"))


def _kpj_number(value: Any, info: ValidationInfo) -> str | None:
    return rules.kpj_number(value) if info.data.get("member") is True else None


def _schema(**schema: Any) -> WithJsonSchema:
    return WithJsonSchema(schema)


_OPTIONAL = ["string", "null"]


class ContactRequest(RequestModel):
    """The details a runner may correct after registering."""

    phone: Annotated[
        str,
        checked(lambda v, _i: rules.mobile(v)),
        _schema(type="string"),
    ] = Field(description="Indonesian mobile: 08xx, 628xx or +628xx.")
    email: Annotated[
        str | None,
        checked(lambda v, _i: rules.email(v, max_length=MAX_EMAIL)),
        _schema(type=_OPTIONAL, format="email", maxLength=MAX_EMAIL),
    ] = None
    shirt_size: Annotated[str, checked(_shirt_size), _schema(type="string")] = Field(
        description="One of the event's shirt_sizes."
    )
    occupation: Annotated[
        str | None, _text(MAX_OCCUPATION), _schema(type=_OPTIONAL, maxLength=MAX_OCCUPATION)
    ] = None
    emergency_contact: Annotated[
        str | None, _text(MAX_CONTACT), _schema(type=_OPTIONAL, maxLength=MAX_CONTACT)
    ] = None
    emergency_phone: Annotated[
        str | None,
        checked(lambda v, _i: rules.mobile(v, required=False)),
        _schema(type=_OPTIONAL),
    ] = None


CONSENT_NEEDED = _l("You must agree to the privacy notice to register.")


class MemberRequest(ContactRequest):
    """A runner's details without their consent: a group member a partner sends (the
    member consents on their own, when confirming the held place)."""

    full_name: Annotated[str, checked(_full_name), _schema(type="string", maxLength=MAX_NAME)] = (
        Field(description="Full name as on the ID card (KTP), letters only.")
    )
    birth_date: Annotated[date, checked(_birth_date), _schema(type="string", format="date")]
    gender: Annotated[
        str, checked(lambda v, _i: rules.gender(v)), _schema(type="string", enum=["M", "F"])
    ]
    # After birth_date and gender: the NIK must agree with both.
    nik: Annotated[str, checked(_nik), _schema(type="string", pattern=NIK_PATTERN)] = Field(
        description="16 digits; the birth date part must match birth_date and gender "
        "(women add 40 to the day)."
    )
    member: Annotated[bool, checked(lambda v, _i: rules.yes_no(v)), _schema(type="boolean")] = (
        Field(description="Already a member (has a KPJ number).")
    )
    # Checked even when absent: it is required when member is true.
    kpj_number: Annotated[
        str | None, checked(_kpj_number), _schema(type=_OPTIONAL, pattern=KPJ_PATTERN)
    ] = Field(default=None, validate_default=True, description="Required when member is true.")


class RegistrationRequest(MemberRequest):
    """A new registration: the runner's answers (POST /events/{slug}/registrations)."""

    MISSING = {"consent": CONSENT_NEEDED}

    consent: Annotated[
        bool,
        checked(lambda v, _i: rules.consented(v, CONSENT_NEEDED)),
        _schema(type="boolean", const=True),
    ] = Field(description="Explicit consent to the privacy notice at /privacy.")


def validate_registration(raw: Any, event: Any) -> RegistrationRequest:
    """``raw`` (a JSON object or a form's values) checked for ``event``."""
    return contracts.validate(RegistrationRequest, raw, event=event)


def validate_member(raw: Any, event: Any) -> MemberRequest:
    """A group member's details (no consent: theirs to give later) checked for ``event``."""
    return contracts.validate(MemberRequest, raw, event=event)


def validate_contact(raw: Any, event: Any) -> ContactRequest:
    """The manage page's corrections checked for ``event``."""
    return contracts.validate(ContactRequest, raw, event=event)
