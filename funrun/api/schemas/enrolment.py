"""Enrolment at the venue: the body, the contribution and the enrolment answered.

The body is the enrolment's own request model (:mod:`funrun.enrolment.schemas`, shared with
the desk's form) plus a bib code or a walk-up's person fields, taken from the
registration's request model: nothing is re-listed here.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, create_model

from funrun.api.schemas.base import Count, Schema
from funrun.enrolment.choices import MONTHS
from funrun.enrolment.lookups import MAX_CODE
from funrun.enrolment.results import EnrolmentResult
from funrun.enrolment.schemas import EnrolmentFields
from funrun.registration.schemas import RegistrationRequest

Months = Literal[MONTHS]  # type: ignore[valid-type]


#: A walk-up's person fields: the registration's own, optional here (a runner with a bib
#: sends code instead).
WALKUP_FIELDS = (
    "full_name",
    "nik",
    "birth_date",
    "gender",
    "phone",
    "email",
    "shirt_size",
    "emergency_contact",
    "emergency_phone",
)


def _optional(name: str) -> Any:
    info = RegistrationRequest.model_fields[name]
    return (info.rebuild_annotation(), Field(default=None, description=info.description))


EnrolmentRequest = create_model(  # type: ignore[call-overload]
    "EnrolmentRequest",
    __base__=EnrolmentFields,
    __doc__="A registered runner (code) or a walk-up (full_name, nik, birth_date, gender, "
    "phone, shirt_size, email?), plus the enrolment fields. A walk-up is registered for the "
    "event (confirmed while places last, else waitlisted) and enrolled in one call.",
    code=(
        Annotated[str, WithJsonSchema({"type": "string", "maxLength": MAX_CODE})],
        Field(
            default=None,
            description="The bib's QR payload or a typed bib (registered runners).",
        ),
    ),
    **{name: _optional(name) for name in WALKUP_FIELDS},
)


class CoveredMonth(Schema):
    """One covered month, priced with the schedule and relief in force that month."""

    month: str = Field(pattern="^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    jkk: Count
    jkm: Count
    jht: Count
    total: Count
    relief: str = Field(
        default=None,  # type: ignore[assignment]
        description="The code of the relief applied that month; absent without one.",
    )


class Contribution(Schema):
    """Amounts per programme, whole rupiah: those of the first covered month (the month
    of enrolment), then every covered month on its own; ``amount_due`` is their sum."""

    jkk: Count
    jkm: Count
    jht: Count = Field(description="0 without JHT.")
    monthly_total: Count
    months: Months
    amount_due: Count = Field(description="The sum of the covered months (0 when a sponsor pays).")
    basis: Count = Field(description="The income basis of the declared income's bracket.")
    per_month: list[CoveredMonth]


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

    @classmethod
    def of(cls, result: EnrolmentResult) -> dict[str, Any]:
        """The API's ``enrolment`` object (with the new manage token for a walk-up)."""
        q = result.quote
        body: dict[str, Any] = {
            "id": result.id,
            "participant_number": result.participant_number,
            "registration_id": result.registration_id,
            "registration_status": result.registration_status,
            "bib": result.bib,
            "full_name": result.full_name,
            "programs": list(q.programmes),
            "income_basis": q.income_basis,
            "contribution": q.as_json(),
            "sponsor_amount": q.sponsor_amount,
            "reliefs": list(q.relief_codes),
            "schedule": q.schedule_code,
            "valid_from": result.valid_from,
            "paid_until": result.paid_until,
        }
        if result.manage_token is not None:
            body["manage_token"] = result.manage_token
        return cls.dump(body)


class EnrolmentEnvelope(Schema):
    """One enrolment."""

    enrolment: Enrolment
