"""One function per rule about a person's details, shared by every front door.

The HTML forms (through :mod:`funrun.registration.schemas` and
:mod:`funrun.enrolment.validation`) and the JSON API's pydantic models call these same
functions, so a NIK, a phone number, a name or a date is accepted or refused the same way
everywhere, with the same translated message. A broken rule raises :class:`RuleBroken`
with every message that applies.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from funrun.people.nik import check_nik, normalise_nik

REQUIRED = _l("This field is required.")
#: Letters (any script) in words joined by a space, dot, comma, apostrophe or dash.
NAME_OK = re.compile(r"[^\W\d_]+(?:[ .,'\-][^\W\d_]*)*\.?")
_KPJ = re.compile(r"[0-9]{11}")  # ASCII digits only, as stored
#: What a checkbox or a yes/no radio sends, besides JSON's true and false.
YES = ("y", "yes", "true", "1", "on")
NO = ("n", "no", "false", "0")


class RuleBroken(ValueError):
    """A value broke a rule; ``messages`` say why, in the user's language.

    ``field``: the field to report it on, when a rule about two fields is checked with
    the second (None: the field being checked).
    """

    def __init__(self, *messages: Any, field: str | None = None) -> None:
        self.messages = [str(message) for message in messages]
        self.field = field
        super().__init__("; ".join(self.messages))


def is_blank(value: Any) -> bool:
    """Nothing was given: absent, null or the empty string."""
    return value is None or value == ""


def single_line(value: Any, *, max_length: int, required: bool = True) -> str | None:
    """A single-line text: trimmed, inner spaces collapsed, NFC, no control characters.

    Empty gives None when the field is optional, and the "required" message otherwise.
    """
    if is_blank(value):
        if required:
            raise RuleBroken(REQUIRED)
        return None
    if not isinstance(value, str):
        raise RuleBroken(_l("Must be text."))
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if not value:
        if required:
            raise RuleBroken(REQUIRED)
        return None
    if any(unicodedata.category(ch).startswith("C") or ch == "\ufffd" for ch in value):
        raise RuleBroken(_l("Contains characters that are not allowed."))
    if len(value) > max_length:
        raise RuleBroken(_l("At most %(n)d characters.", n=max_length))
    return value


def person_name(value: Any, *, max_length: int, message: Any) -> str:
    """A name as on an ID card: letters in words, at least two characters."""
    name = single_line(value, max_length=max_length)
    assert name is not None
    if len(name) < 2 or not NAME_OK.fullmatch(name):
        raise RuleBroken(message)
    return name


def parse_date(value: str) -> date | None:
    """Accept YYYY-MM-DD (the API, date inputs) and DD/MM/YYYY or DD-MM-YYYY (typed)."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day``."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def birth_date(value: Any) -> date:
    """A real birth date, typed or picked (no age rule: see :func:`check_age`)."""
    text = single_line(value, max_length=10)
    parsed = parse_date(text or "")
    if parsed is None:
        raise RuleBroken(_l("Enter a real date, e.g. 1990-08-17."))
    return parsed


def check_age(born: date, race_day: date, min_age: int, max_age: int | None) -> None:
    """A runner is born before race day, and their age on race day is within the event's
    limits (and humanly possible)."""
    if born > race_day:
        raise RuleBroken(_l("The birth date cannot be after the race."))
    age = age_on(born, race_day)
    if age < min_age:
        raise RuleBroken(_l("Runners must be at least %(n)d years old on race day.", n=min_age))
    if max_age is not None and age > max_age:
        raise RuleBroken(_l("Runners must be at most %(n)d years old on race day.", n=max_age))
    if age > 120:
        raise RuleBroken(_l("Enter a real date, e.g. 1990-08-17."))


def gender(value: Any) -> str:
    """M or F."""
    text = single_line(value, max_length=1)
    if text not in ("M", "F"):
        raise RuleBroken(_l("Choose male or female."))
    return text


#: How much may be typed before normalising (spaces and dashes between digit groups).
MAX_PHONE_TYPED = 32
MAX_NIK_TYPED = 32
MAX_KPJ_TYPED = 20


def nik(value: Any, born: date | None, sex: str | None) -> str:
    """A NIK, normalised, that agrees with the stated birth date and gender (when known)."""
    text = normalise_nik(single_line(value, max_length=MAX_NIK_TYPED) or "")
    errors = check_nik(text, born, sex).errors
    if errors:
        raise RuleBroken(*errors)
    return text


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


def mobile(value: Any, *, required: bool = True) -> str | None:
    """An Indonesian mobile number, stored in E.164 (None when optional and empty)."""
    text = single_line(value, max_length=MAX_PHONE_TYPED, required=required)
    if text is None:
        return None
    e164 = normalise_mobile(text)
    if e164 is None:
        raise RuleBroken(_l("Enter an Indonesian mobile number, e.g. 0812 3456 7890."))
    return e164


def email(value: Any, *, max_length: int) -> str | None:
    """An optional email address, normalised (no deliverability check)."""
    text = single_line(value, max_length=max_length, required=False)
    if text is None:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise RuleBroken(_l("Enter a valid email address.")) from None


def yes_no(value: Any) -> bool:
    """A yes/no answer: JSON true/false, or the form's checkbox and radio values."""
    if isinstance(value, bool):
        return value
    if value in YES:
        return True
    if value in NO:
        return False
    if is_blank(value):
        raise RuleBroken(REQUIRED)
    raise RuleBroken(_l("Must be yes or no."))


def consented(value: Any, message: Any) -> bool:
    """Consent given: only true itself or a checked box (1 == True must not pass)."""
    if value is True or (isinstance(value, str) and value in YES):
        return True
    raise RuleBroken(message)


def kpj_number(value: Any) -> str:
    """A member's KPJ number: 11 digits (spaces, dots and dashes dropped)."""
    text = single_line(value, max_length=MAX_KPJ_TYPED)
    text = re.sub(r"[\s.\-]", "", text or "")
    if not _KPJ.fullmatch(text):
        raise RuleBroken(_l("The KPJ number has 11 digits."))
    return text
