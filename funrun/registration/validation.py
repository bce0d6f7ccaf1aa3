"""Cleaning and checking a registration, shared by the HTML forms and the JSON API.

Both front doors pass what they received to :func:`clean_registration`, which runs the
request model of :mod:`funrun.registration.schemas` (its fields call the rules of
:mod:`funrun.people.rules`), so they accept and reject exactly the same things with the
same messages. The services take the frozen dataclasses below, made from that model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import phonenumbers

from funrun.contracts import ValidationFailed
from funrun.events.models import Event
from funrun.people.crypto import DataCipher
from funrun.people.rules import age_on, normalise_mobile, parse_date
from funrun.registration.schemas import (
    MAX_CONTACT,
    MAX_EMAIL,
    MAX_NAME,
    MAX_OCCUPATION,
    ContactRequest,
    MemberRequest,
    validate_contact,
    validate_registration,
)

if TYPE_CHECKING:
    from funrun.registration.terms import EventTerms

__all__ = [
    "MAX_CONTACT",
    "MAX_EMAIL",
    "MAX_NAME",
    "MAX_OCCUPATION",
    "ContactChange",
    "RegistrationData",
    "ValidationFailed",
    "age_on",
    "clean_contact_change",
    "clean_registration",
    "national_format",
    "normalise_mobile",
    "parse_date",
]


@dataclass(frozen=True)
class RegistrationData:
    """A registration that passed every check, normalised for storage."""

    full_name: str
    nik: str
    birth_date: date
    gender: str
    phone: str
    email: str | None
    shirt_size: str
    is_member: bool
    kpj_number: str | None
    occupation: str | None
    emergency_contact: str | None
    emergency_phone: str | None

    @classmethod
    def of(cls, body: MemberRequest) -> RegistrationData:
        """The checked request as the services take it."""
        return cls(
            full_name=body.full_name,
            nik=body.nik,
            birth_date=body.birth_date,
            gender=body.gender,
            phone=body.phone,
            email=body.email,
            shirt_size=body.shirt_size,
            is_member=body.member,
            kpj_number=body.kpj_number,
            occupation=body.occupation,
            emergency_contact=body.emergency_contact,
            emergency_phone=body.emergency_phone,
        )

    def person_row(self, cipher: DataCipher) -> dict[str, Any]:
        """The person's stored fields (the NIK encrypted; its keyed hash is the caller's)."""
        return {
            "nik_encrypted": cipher.encrypt(self.nik),
            "birth_date": self.birth_date,
            "gender": self.gender,
        }

    def registration_row(self) -> dict[str, Any]:
        """The registration's own stored fields, as the runner gave them."""
        return {
            "full_name": self.full_name,
            "phone": self.phone,
            "email": self.email,
            "shirt_size": self.shirt_size,
            "is_member": self.is_member,
            "kpj_number": self.kpj_number,
            "occupation": self.occupation,
            "emergency_contact": self.emergency_contact,
            "emergency_phone": self.emergency_phone,
        }


@dataclass(frozen=True)
class ContactChange:
    """The fields a runner may correct after registering."""

    phone: str
    email: str | None
    shirt_size: str
    occupation: str | None
    emergency_contact: str | None
    emergency_phone: str | None

    @classmethod
    def of(cls, body: ContactRequest) -> ContactChange:
        """The checked corrections as the services take them."""
        return cls(
            phone=body.phone,
            email=body.email,
            shirt_size=body.shirt_size,
            occupation=body.occupation,
            emergency_contact=body.emergency_contact,
            emergency_phone=body.emergency_phone,
        )


def national_format(e164: str | None) -> str | None:
    """A stored E.164 mobile as Indonesians write it: ``0812-3456-7890``."""
    if not e164:
        return e164
    try:
        number = phonenumbers.parse(e164, "ID")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def clean_registration(raw: Mapping[str, Any], event: Event | EventTerms) -> RegistrationData:
    """Check every field of a new registration for ``event`` (read either way: the rules
    use its date, age bounds and shirt sizes); raise ValidationFailed."""
    return RegistrationData.of(validate_registration(raw, event))


def clean_contact_change(raw: Mapping[str, Any], event: Event) -> ContactChange:
    """Check the fields a runner may correct on the manage page; raise ValidationFailed."""
    return ContactChange.of(validate_contact(raw, event))
