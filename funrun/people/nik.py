"""Checks on the Indonesian national identity number (NIK).

16 digits: province (2), regency/city (2), district (2), birth date DDMMYY with 40 added
to the day for women, and a serial from 0001. There is no check digit, so the strongest
test is agreement with the birth date and gender the person states. The two-digit year
is resolved from the stated birth date, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l

#: Province codes in use (93-96 are the Papua provinces created after 2015).
PROVINCE_CODES = frozenset(
    [
        *range(11, 20),
        21,
        *range(31, 37),
        *range(51, 54),
        *range(61, 66),
        *range(71, 77),
        81,
        82,
        *range(91, 97),
    ]
)

#: ASCII digits only: ``\d`` also matches other scripts' digits (e.g. fullwidth), which
#: would store and hash the same NIK under a second spelling and defeat de-duplication.
_DIGITS = re.compile(r"[0-9]{16}")


@dataclass
class NikCheck:
    """The outcome of checking a NIK: errors reject it, warnings only inform."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def normalise_nik(raw: str) -> str:
    """Drop the spaces, dots and dashes people type between digit groups."""
    return re.sub(r"[\s.\-]", "", raw)


def _day_exists(year2: int, month: int, day: int) -> bool:
    """Whether DD/MM/YY is a real date in either century (29 Feb only in leap years)."""
    for century in (1900, 2000):
        try:
            date(century + year2, month, day)
        except ValueError:
            continue
        return True
    return False


def check_nik(nik: str, birth_date: date | None, gender: str | None) -> NikCheck:
    """Check a normalised NIK against the stated birth date and gender."""
    result = NikCheck()
    if not _DIGITS.fullmatch(nik):
        result.errors.append(str(_l("NIK must be exactly 16 digits.")))
        return result
    if int(nik[:2]) not in PROVINCE_CODES:
        result.warnings.append(str(_l("The NIK's region code is not one we know.")))
    day, month, year2 = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    encoded_female = day > 40
    real_day = day - 40 if encoded_female else day
    if not 1 <= month <= 12 or not _day_exists(year2, month, real_day):
        result.errors.append(str(_l("The NIK does not contain a valid birth date.")))
        return result
    if nik[12:] == "0000":
        result.errors.append(str(_l("The NIK's serial number cannot be 0000.")))
    if birth_date is not None:
        try:
            encoded = date(birth_date.year, month, real_day)
        except ValueError:
            encoded = None
        if encoded is None or encoded != birth_date or year2 != birth_date.year % 100:
            result.errors.append(
                str(_l("The birth date in the NIK does not match the birth date you gave."))
            )
    if gender in ("M", "F") and encoded_female != (gender == "F"):
        result.errors.append(
            str(_l("The NIK does not match the gender you gave (women add 40 to the day)."))
        )
    return result
