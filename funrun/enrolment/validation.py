"""Cleaning and checking an enrolment, shared by the desk page and the JSON API.

Like :func:`funrun.registration.validation.clean_registration`, every field is checked
and every problem reported at once, per field, in the user's language: both run a request
model (here :class:`funrun.enrolment.schemas.EnrolmentFields`) whose fields call the
shared rules. The services take the frozen :class:`EnrolmentData` made from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from funrun.contracts import ValidationFailed, validate
from funrun.enrolment.models import ContributionSchedule, Sponsor
from funrun.enrolment.schemas import (
    MAX_ADDRESS,
    MAX_BIRTH_PLACE,
    MAX_INCOME,
    MAX_MOTHER,
    MAX_OCCUPATION_OTHER,
    EnrolmentFields,
)

__all__ = [
    "MAX_ADDRESS",
    "MAX_BIRTH_PLACE",
    "MAX_INCOME",
    "MAX_MOTHER",
    "MAX_OCCUPATION_OTHER",
    "EnrolmentData",
    "ValidationFailed",
    "clean_enrolment",
]


@dataclass(frozen=True)
class EnrolmentData:
    """An enrolment that passed every check (without the runner's identity)."""

    birth_place: str
    mother_maiden_name: str
    address: str
    occupation: str
    occupation_other: str | None
    declared_income: int
    programmes: tuple[str, ...]
    months: int
    payment_channel: str | None
    sponsor_code: str | None

    @classmethod
    def of(cls, body: EnrolmentFields) -> EnrolmentData:
        """The checked request as the services take it."""
        return cls(
            birth_place=body.birth_place,
            mother_maiden_name=body.mother_maiden_name,
            address=body.address,
            occupation=body.occupation,
            occupation_other=body.occupation_other,
            declared_income=body.declared_income,
            programmes=body.programs,
            months=body.months,
            payment_channel=body.payment_channel,
            sponsor_code=body.sponsor,
        )


def clean_enrolment(
    raw: Mapping[str, Any],
    schedule: ContributionSchedule,
    sponsors: Sequence[Sponsor],
    *,
    typed: bool = False,
) -> EnrolmentData:
    """Check every enrolment field against ``schedule``; raise ValidationFailed.

    ``typed``: the values come from a form, so numbers arrive as text; JSON must send
    numbers as numbers.
    """
    body = validate(EnrolmentFields, raw, schedule=schedule, sponsors=sponsors, typed=typed)
    return EnrolmentData.of(body)
