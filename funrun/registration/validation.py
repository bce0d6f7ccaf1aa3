"""Cleaning and checking a registration, shared by the HTML form and the JSON API.

Both front doors pass what they received to :func:`clean_registration`, so they accept
and reject exactly the same things with the same messages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from funrun.events.models import Event
from funrun.people.nik import check_nik, normalise_nik

MAX_NAME = 100
MAX_OCCUPATION = 80
MAX_CONTACT = 100
MAX_EMAIL = 254

_NAME_OK = re.compile(r"[^\W\d_]+(?:[ .,'\-][^\W\d_]*)*\.?")
_KPJ = re.compile(r"[0-9]{11}")  # ASCII digits only, as stored


class ValidationFailed(Exception):
    """Input was rejected; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid input")
        self.errors = errors


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


@dataclass(frozen=True)
class ContactChange:
    """The fields a runner may correct after registering."""

    phone: str
    email: str | None
    shirt_size: str
    occupation: str | None
    emergency_contact: str | None
    emergency_phone: str | None


class _Collector:
    """Gathers field errors while each field is cleaned."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.errors: dict[str, list[str]] = {}

    def fail(self, name: str, message: Any) -> None:
        self.errors.setdefault(name, []).append(str(message))

    def text(self, name: str, *, required: bool, max_length: int) -> str | None:
        """A single-line text field: trimmed, NFC, no control characters."""
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, _l("This field is required."))
            return None
        if not isinstance(value, str):
            self.fail(name, _l("Must be text."))
            return None
        value = unicodedata.normalize("NFC", " ".join(value.split()))
        if not value:
            if required:
                self.fail(name, _l("This field is required."))
            return None
        if any(unicodedata.category(ch).startswith("C") or ch == "\ufffd" for ch in value):
            self.fail(name, _l("Contains characters that are not allowed."))
            return None
        if len(value) > max_length:
            self.fail(name, _l("At most %(n)d characters.", n=max_length))
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        """A yes/no field: JSON true/false, or the form's checkbox and radio values."""
        value = self.raw.get(name)
        if isinstance(value, bool):
            return value
        if value in ("y", "yes", "true", "1", "on"):
            return True
        if value in ("n", "no", "false", "0"):
            return False
        if value is None or value == "":
            self.fail(name, _l("This field is required."))
        else:
            self.fail(name, _l("Must be yes or no."))
        return None


def parse_date(value: str) -> date | None:
    """Accept YYYY-MM-DD (the API, date inputs) and DD/MM/YYYY or DD-MM-YYYY (typed)."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def normalise_mobile(raw: str) -> str | None:
    """An Indonesian mobile number in E.164, or None if it is not one."""
    digits = re.sub(r"[\s\-().]", "", raw)
    if digits.startswith("62"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, "ID")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 62 or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_format(e164: str | None) -> str | None:
    """A stored E.164 mobile as Indonesians write it: ``0812-3456-7890``."""
    if not e164:
        return e164
    try:
        number = phonenumbers.parse(e164, "ID")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day``."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _clean_contact(c: _Collector, event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {}
    phone_raw = c.text("phone", required=True, max_length=32)
    if phone_raw is not None:
        out["phone"] = normalise_mobile(phone_raw)
        if out["phone"] is None:
            c.fail("phone", _l("Enter an Indonesian mobile number, e.g. 0812 3456 7890."))
    email = c.text("email", required=False, max_length=MAX_EMAIL)
    out["email"] = None
    if email is not None:
        try:
            out["email"] = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            c.fail("email", _l("Enter a valid email address."))
    size = c.text("shirt_size", required=True, max_length=8)
    if size is not None:
        size = size.upper()
        if size not in event.shirt_sizes:
            c.fail("shirt_size", _l("Choose one of the listed shirt sizes."))
        out["shirt_size"] = size
    out["occupation"] = c.text("occupation", required=False, max_length=MAX_OCCUPATION)
    out["emergency_contact"] = c.text("emergency_contact", required=False, max_length=MAX_CONTACT)
    emergency_phone = c.text("emergency_phone", required=False, max_length=32)
    out["emergency_phone"] = None
    if emergency_phone is not None:
        out["emergency_phone"] = normalise_mobile(emergency_phone)
        if out["emergency_phone"] is None:
            c.fail("emergency_phone", _l("Enter an Indonesian mobile number, e.g. 0812 3456 7890."))
    return out


def clean_registration(raw: Mapping[str, Any], event: Event) -> RegistrationData:
    """Check every field of a new registration for ``event``; raise ValidationFailed."""
    c = _Collector(raw)
    name = c.text("full_name", required=True, max_length=MAX_NAME)
    if name is not None and (len(name) < 2 or not _NAME_OK.fullmatch(name)):
        c.fail("full_name", _l("Write your full name as on your ID card, letters only."))
    birth_date = None
    birth_raw = c.text("birth_date", required=True, max_length=10)
    if birth_raw is not None:
        birth_date = parse_date(birth_raw)
        if birth_date is None:
            c.fail("birth_date", _l("Enter a real date, e.g. 1990-08-17."))
        elif birth_date > event.date:
            c.fail("birth_date", _l("The birth date cannot be after the race."))
            birth_date = None
        elif age_on(birth_date, event.date) < event.min_age:
            c.fail(
                "birth_date",
                _l("Runners must be at least %(n)d years old on race day.", n=event.min_age),
            )
        elif event.max_age is not None and age_on(birth_date, event.date) > event.max_age:
            c.fail(
                "birth_date",
                _l("Runners must be at most %(n)d years old on race day.", n=event.max_age),
            )
        elif age_on(birth_date, event.date) > 120:
            c.fail("birth_date", _l("Enter a real date, e.g. 1990-08-17."))
    gender = c.text("gender", required=True, max_length=1)
    if gender is not None and gender not in ("M", "F"):
        c.fail("gender", _l("Choose male or female."))
        gender = None
    nik = c.text("nik", required=True, max_length=32)
    if nik is not None:
        nik = normalise_nik(nik)
        for message in check_nik(nik, birth_date, gender).errors:
            c.fail("nik", message)
    contact = _clean_contact(c, event)
    is_member = c.boolean("member")
    kpj = None
    if is_member:
        kpj = c.text("kpj_number", required=True, max_length=20)
        if kpj is not None:
            kpj = re.sub(r"[\s.\-]", "", kpj)
            if not _KPJ.fullmatch(kpj):
                c.fail("kpj_number", _l("The KPJ number has 11 digits."))
    consent = c.raw.get("consent")
    # Only true itself (or the form's checkbox values): 1 == True must not pass as consent.
    if consent is not True and not (
        isinstance(consent, str) and consent in ("y", "yes", "true", "on", "1")
    ):
        c.fail("consent", _l("You must agree to the privacy notice to register."))
    if c.errors:
        raise ValidationFailed(c.errors)
    return RegistrationData(
        full_name=name or "",
        nik=nik or "",
        birth_date=birth_date,  # type: ignore[arg-type]
        gender=gender or "",
        is_member=bool(is_member),
        kpj_number=kpj,
        **contact,
    )


def clean_contact_change(raw: Mapping[str, Any], event: Event) -> ContactChange:
    """Check the fields a runner may correct on the manage page; raise ValidationFailed."""
    c = _Collector(raw)
    contact = _clean_contact(c, event)
    if c.errors:
        raise ValidationFailed(c.errors)
    return ContactChange(**contact)
