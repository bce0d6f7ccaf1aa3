"""Cleaning and checking an enrolment, shared by the desk page and the JSON API.

Like :func:`funrun.registration.validation.clean_registration`, every field is checked
and every problem reported at once, per field, in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from funrun.enrolment.choices import MANDATORY_PROGRAMMES, MONTHS, OCCUPATIONS, PAYMENT_CHANNELS
from funrun.enrolment.models import ContributionSchedule, Sponsor
from funrun.registration.validation import _NAME_OK, ValidationFailed, _Collector

MAX_BIRTH_PLACE = 60
MAX_MOTHER = 100
MAX_ADDRESS = 200
MAX_OCCUPATION_OTHER = 80
#: Integer columns hold rupiah: keep every amount far below 2**31.
MAX_INCOME = 1_000_000_000
#: Digits with optional thousands separators as people type them: 1500000, 1.500.000.
_TYPED_RUPIAH = re.compile(r"(?:Rp\.?\s*)?([0-9]{1,3}(?:[.,\s][0-9]{3})+|[0-9]{1,13})")


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


def _rupiah(c: _Collector, name: str, *, typed: bool) -> int | None:
    """A whole-rupiah amount: a JSON integer, or (typed in a form) digits with separators."""
    value = c.raw.get(name)
    if value is None or value == "":
        c.fail(name, _l("This field is required."))
        return None
    if isinstance(value, bool) or (isinstance(value, str) and not typed):
        c.fail(name, _l("Enter an amount in whole rupiah, e.g. 1500000."))
        return None
    if isinstance(value, str):
        match = _TYPED_RUPIAH.fullmatch(value.strip())
        if match is None:
            c.fail(name, _l("Enter an amount in whole rupiah, e.g. 1500000."))
            return None
        value = int(re.sub(r"[^0-9]", "", match.group(1)))
    if not isinstance(value, int):
        c.fail(name, _l("Enter an amount in whole rupiah, e.g. 1500000."))
        return None
    if not 0 <= value <= MAX_INCOME:
        c.fail(name, _l("Enter an amount in whole rupiah, e.g. 1500000."))
        return None
    return value


def _months(c: _Collector, *, typed: bool) -> int | None:
    value = c.raw.get("months")
    if typed and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if value is None or value == "":
        c.fail("months", _l("This field is required."))
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in MONTHS:
        c.fail("months", _l("Pay for 1, 3, 6 or 12 months."))
        return None
    return value


def _programmes(c: _Collector, schedule: ContributionSchedule) -> tuple[str, ...]:
    value = c.raw.get("programs")
    offered = {rate.programme for rate in schedule.rates}
    if value is None or value == []:
        c.fail("programs", _l("This field is required."))
        return ()
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        c.fail("programs", _l('A list of programmes, e.g. ["JKK", "JKM"].'))
        return ()
    if len(set(value)) != len(value) or not set(value) <= offered:
        c.fail("programs", _l("Choose from JKK, JKM and JHT, each once."))
        return ()
    if not set(MANDATORY_PROGRAMMES) <= set(value):
        c.fail("programs", _l("JKK and JKM are always included."))
        return ()
    return tuple(p for p in ("JKK", "JKM", "JHT") if p in value)


def _choice(c: _Collector, name: str, allowed: Sequence[str], message: Any) -> str | None:
    value = c.raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in allowed:
        c.fail(name, message)
        return None
    return value


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
    c = _Collector(raw)
    birth_place = c.text("birth_place", required=True, max_length=MAX_BIRTH_PLACE)
    mother = c.text("mother_maiden_name", required=True, max_length=MAX_MOTHER)
    if mother is not None and (len(mother) < 2 or not _NAME_OK.fullmatch(mother)):
        c.fail("mother_maiden_name", _l("Write the name as on the ID card, letters only."))
    address = c.text("address", required=True, max_length=MAX_ADDRESS)
    occupation = c.raw.get("occupation")
    if occupation is None or occupation == "":
        c.fail("occupation", _l("This field is required."))
        occupation = None
    elif not isinstance(occupation, str) or occupation not in OCCUPATIONS:
        c.fail("occupation", _l("Choose one of the listed occupations."))
        occupation = None
    other = c.text("occupation_other", required=occupation == "other", max_length=80)
    if occupation != "other":
        other = None
    income = _rupiah(c, "declared_income", typed=typed)
    if income is not None and income < schedule.min_income:
        c.fail(
            "declared_income",
            _l(
                "The lowest income basis is Rp %(amount)s a month.",
                amount=format_decimal(schedule.min_income),
            ),
        )
    elif income is not None and schedule.max_income is not None and income > schedule.max_income:
        c.fail(
            "declared_income",
            _l(
                "The highest income basis is Rp %(amount)s a month.",
                amount=format_decimal(schedule.max_income),
            ),
        )
    programmes = _programmes(c, schedule)
    months = _months(c, typed=typed)
    channel = _choice(
        c, "payment_channel", tuple(PAYMENT_CHANNELS), _l("Choose one of the listed channels.")
    )
    sponsor = _choice(
        c, "sponsor", tuple(s.code for s in sponsors), _l("Choose one of the listed sponsors.")
    )
    if "payment_channel" not in c.errors and "sponsor" not in c.errors:
        if channel is None and sponsor is None:
            c.fail("payment_channel", _l("Choose how the contribution is paid, or a sponsor."))
        elif channel is not None and sponsor is not None:
            c.fail("sponsor", _l("Choose a payment channel or a sponsor, not both."))
    consent = c.raw.get("consent")
    if consent is not True and not (
        isinstance(consent, str) and consent in ("y", "yes", "true", "on", "1")
    ):
        c.fail("consent", _l("The runner must agree to the enrolment notice."))
    if c.errors:
        raise ValidationFailed(c.errors)
    return EnrolmentData(
        birth_place=birth_place or "",
        mother_maiden_name=mother or "",
        address=address or "",
        occupation=occupation or "",
        occupation_other=other,
        declared_income=income or 0,
        programmes=programmes,
        months=months or 0,
        payment_channel=channel,
        sponsor_code=sponsor,
    )
