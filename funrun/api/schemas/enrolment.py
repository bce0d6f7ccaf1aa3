"""Enrolment at the venue: the body, the contribution and the enrolment answered.

The listed values come from :mod:`funrun.enrolment.choices`, the limits from
:mod:`funrun.enrolment.validation`: the document and the checks read the same constants.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from funrun.api.schemas.base import Count, Schema
from funrun.api.schemas.registrations import NIK_PATTERN
from funrun.enrolment.choices import MONTHS, OCCUPATIONS, PAYMENT_CHANNELS, PROGRAMMES
from funrun.enrolment.validation import (
    MAX_ADDRESS,
    MAX_BIRTH_PLACE,
    MAX_MOTHER,
    MAX_OCCUPATION_OTHER,
)
from funrun.registration.validation import MAX_CONTACT, MAX_EMAIL, MAX_NAME

Occupation = Literal[tuple(OCCUPATIONS)]  # type: ignore[valid-type]
Programme = Literal[tuple(PROGRAMMES)]  # type: ignore[valid-type]
Months = Literal[MONTHS]  # type: ignore[valid-type]
PaymentChannel = Literal[tuple(PAYMENT_CHANNELS)]  # type: ignore[valid-type]


class EnrolmentRequest(Schema):
    """A registered runner (code) or a walk-up (full_name, nik, birth_date, gender, phone,
    shirt_size, email?), plus the enrolment fields. A walk-up is registered for the event
    (confirmed while places last, else waitlisted) and enrolled in one call."""

    code: str = Field(
        default=None,  # type: ignore[assignment]
        max_length=200,
        description="The bib's QR payload or a typed bib (registered runners).",
    )
    full_name: str = Field(default=None, max_length=MAX_NAME)  # type: ignore[assignment]
    nik: str = Field(default=None, pattern=NIK_PATTERN)  # type: ignore[assignment]
    birth_date: date = None  # type: ignore[assignment]
    gender: Literal["M", "F"] = None  # type: ignore[assignment]
    phone: str = None  # type: ignore[assignment]
    email: (
        Annotated[str, Field(max_length=MAX_EMAIL, json_schema_extra={"format": "email"})] | None
    ) = None
    shirt_size: str = None  # type: ignore[assignment]
    emergency_contact: Annotated[str, Field(max_length=MAX_CONTACT)] | None = None
    emergency_phone: str | None = None
    birth_place: str = Field(max_length=MAX_BIRTH_PLACE)
    mother_maiden_name: str = Field(max_length=MAX_MOTHER)
    address: str = Field(max_length=MAX_ADDRESS)
    occupation: Occupation
    occupation_other: Annotated[str, Field(max_length=MAX_OCCUPATION_OTHER)] | None = Field(
        default=None, description="Required when occupation is other."
    )
    declared_income: int = Field(
        ge=0,
        description="Whole rupiah a month; at least the schedule's lowest income basis "
        "(Rp 1.000.000 in the 2015 schedule).",
    )
    programs: list[Programme] = Field(
        min_length=2,
        json_schema_extra={"uniqueItems": True},
        description='JKK and JKM always, JHT optional: ["JKK", "JKM"] or ["JKK", "JKM", "JHT"].',
    )
    months: Months
    payment_channel: PaymentChannel | None = Field(
        default=None, description="How the runner pays; null or absent when a sponsor pays."
    )
    sponsor: str | None = Field(
        default=None,
        description="Code of a sponsor from the loaded schedule data (e.g. apbd-dki): the "
        "sponsor pays, and the amount due from the runner is 0.",
    )
    consent: Literal[True]


class Contribution(Schema):
    """Monthly amounts per programme and in total, whole rupiah."""

    jkk: Count
    jkm: Count
    jht: Count = Field(description="0 without JHT.")
    monthly_total: Count
    months: Months
    amount_due: Count = Field(description="What the runner pays now (0 when a sponsor pays).")


class Enrolment(Schema):
    """An enrolment just made."""

    id: int
    participant_number: str = Field(pattern="^[0-9]{11}$")
    registration_id: int
    registration_status: Literal["confirmed", "waitlisted"]
    bib: str | None
    full_name: str
    programs: list[str]
    income_basis: int
    contribution: Contribution
    sponsor_amount: Count
    reliefs: list[str]
    schedule: str
    valid_from: date
    paid_until: date
    manage_token: str = Field(default=None, description="Walk-ups only.")  # type: ignore[assignment]


class EnrolmentEnvelope(Schema):
    """One enrolment."""

    enrolment: Enrolment
