"""The values of a schedules document, one rule each, and where a problem is.

Each rule takes the value and pydantic's ``ValidationInfo`` (``typed`` in its context: typed
in a form, so amounts may be text and a blank optional box means none) and returns the
clean value or raises :class:`~funrun.people.rules.RuleBroken` with a message whose
``%(where)s`` names the place: a path in the document, or a label in the form. The models
of :mod:`funrun.enrolment.schedule_document` declare their fields with these rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from flask_babel import lazy_gettext as _l
from pydantic import AfterValidator, ValidationInfo
from pydantic_core import PydanticCustomError

from funrun.contracts import checked
from funrun.enrolment.choices import OCCUPATIONS, PROGRAMMES
from funrun.enrolment.schemas import rupiah
from funrun.people.rules import RuleBroken

#: The document's format: 2 since reliefs have periods by sector and month (issue 17).
FORMAT = 2
MAX_RUPIAH = 1_000_000_000
#: Dates and months outside these years are typing mistakes (and year 0 is no date at all).
FIRST_YEAR, LAST_YEAR = 2000, 2100
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MONTH_PATTERN = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_CODE = re.compile(r"[a-z0-9][a-z0-9\-]{0,31}")
_PERCENT = re.compile(r"(100|[0-9]{1,2})(\.[0-9]{1,2})?")
#: A model or list rule that found several problems at once (their places inside it).
SCHEDULE_RULES = "funrun_schedule_rules"

# Each message names its place with %(where)s: a path in the document, or a form's label.
INVALID = _l("%(where)s is missing or not valid.")
RUPIAH = _l("%(where)s must be a whole number of rupiah.")
DAY = _l("%(where)s must be a date (YYYY-MM-DD).")
MONTH = _l("%(where)s must be a month (YYYY-MM).")
YEARS = _l("%(where)s must be between the years 2000 and 2100.")
PERCENT = _l('%(where)s must be a percentage with at most two decimals, e.g. "1.00".')
ENDS_EARLY = _l("%(where)s ends before it starts.")
UNKNOWN_PROGRAMME = _l("%(where)s: unknown programme.")
RATE_OR_FLAT = _l("%(where)s needs either rate_percent or flat_amount.")
MANDATORY = _l("%(where)s must list JKK and JKM, each programme once.")
NOT_OPTIONAL = _l("%(where)s: JKK and JKM cannot be optional.")
BRACKETS = _l("%(where)s must start at min_income and follow each other without gaps or overlaps.")
UNKNOWN_SECTOR = _l("%(where)s: unknown sector.")
ONE_SECTOR = _l("%(where)s: each listed occupation in one sector only.")
ONCE = _l("%(where)s: each code only once.")
OVERLAP = _l("%(where)s overlaps another period of the same sector.")

Loc = tuple[str | int, ...]


def path_of(loc: Iterable[str | int]) -> str:
    """A place in the document as people read it: ``schedules[0].rates[1].rate_percent``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Problem:
    """One problem: where (a path in the document) and its message, in the user's language
    (``%(where)s`` still to fill)."""

    loc: Loc
    template: str

    @property
    def path(self) -> str:
        """The place as a path, e.g. ``schedules[0].min_income``."""
        return path_of(self.loc)

    def text(self, where: str | None = None) -> str:
        """The message naming ``where`` (default: the path)."""
        return self.template.replace("%(where)s", self.path if where is None else where)


# --- rules on one value (checked: they raise RuleBroken with the message) ----------------


def _typed(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("typed"))


def _blank_typed(value: Any, info: ValidationInfo) -> bool:
    """Nothing given: null, or (typed in a form) an empty box."""
    return value is None or (_typed(info) and isinstance(value, str) and not value.strip())


def text_rule(max_length: int, *, required: bool = True) -> Callable[[Any, ValidationInfo], str]:
    def rule(value: Any, _info: ValidationInfo) -> str:
        if value is None and not required:
            return ""
        blank = isinstance(value, str) and not value.strip()
        if not isinstance(value, str) or (required and blank) or len(value) > max_length:
            raise RuleBroken(INVALID)
        # JSON escapes reach here as characters: "\u0000" (PostgreSQL refuses NUL in text,
        # a 500), a lone "\ud800", a right-to-left override. Line breaks and tabs are fine.
        if any(unicodedata.category(ch).startswith("C") and ch not in "\t\r\n" for ch in value):
            raise RuleBroken(INVALID)
        return value.strip()

    return rule


def code_rule(value: Any, _info: ValidationInfo) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise RuleBroken(INVALID)
    return value


def rupiah_rule(*, nullable: bool = False, minimum: int = 0) -> Callable[..., int | None]:
    def rule(value: Any, info: ValidationInfo) -> int | None:
        if nullable and _blank_typed(value, info):
            return None
        try:  # the desk's rule: a JSON integer, or digits typed with separators
            amount = rupiah(value, typed=_typed(info))
        except RuleBroken:
            raise RuleBroken(RUPIAH) from None
        if not minimum <= amount <= MAX_RUPIAH:
            raise RuleBroken(RUPIAH)
        return amount

    return rule


def _in_years(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise RuleBroken(YEARS)
    return year


def day_rule(*, nullable: bool = False) -> Callable[..., date | None]:
    def rule(value: Any, info: ValidationInfo) -> date | None:
        if nullable and _blank_typed(value, info):
            return None
        text = value.strip() if isinstance(value, str) and _typed(info) else value
        if not isinstance(text, str) or not _DAY.fullmatch(text):
            raise RuleBroken(DAY)
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise RuleBroken(DAY) from None
        _in_years(day.year)
        return day

    return rule


def month_rule(value: Any, info: ValidationInfo) -> date:
    text = value.strip() if isinstance(value, str) and _typed(info) else value
    match = MONTH_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise RuleBroken(MONTH)
    return date(_in_years(int(match[1])), int(match[2]), 1)


def basis_points(value: Any, info: ValidationInfo) -> int:
    """A percentage written as text ("1.00") as exact basis points (100)."""
    if isinstance(value, str) and _typed(info):
        value = value.strip().replace(",", ".")
    if not isinstance(value, str) or not _PERCENT.fullmatch(value):
        raise RuleBroken(PERCENT)
    points = Decimal(value) * 100
    if points > 10000:
        raise RuleBroken(INVALID)
    return int(points)


def flag_rule(value: Any, _info: ValidationInfo) -> bool:
    if not isinstance(value, bool):
        raise RuleBroken(INVALID)
    return value


def programme_rule(value: Any, _info: ValidationInfo) -> str:
    # A list or an object is unhashable: ``in`` on the dict would raise (a 500).
    if not isinstance(value, str) or value not in PROGRAMMES:
        raise RuleBroken(UNKNOWN_PROGRAMME)
    return value


def programmes_rule(value: Any, _info: ValidationInfo) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RuleBroken(UNKNOWN_PROGRAMME)
    if any(not isinstance(p, str) or p not in PROGRAMMES for p in value):
        raise RuleBroken(UNKNOWN_PROGRAMME)
    if len(set(value)) != len(value):
        # Each once: repeated, they would not fit the column (a 500 on PostgreSQL).
        raise RuleBroken(INVALID)
    return list(value)


def occupations_rule(value: Any, _info: ValidationInfo) -> list[str]:
    if not isinstance(value, list) or any(
        not isinstance(o, str) or o not in OCCUPATIONS for o in value
    ):
        raise RuleBroken(ONE_SECTOR)
    if len(set(value)) != len(value):
        raise RuleBroken(ONE_SECTOR)
    return list(value)


def sector_rule(value: Any, info: ValidationInfo) -> str | None:
    """A sector code, or none (every sector); whether the schedule has it is checked there."""
    if _blank_typed(value, info):
        return None
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise RuleBroken(UNKNOWN_SECTOR)
    return value


# --- rules on a list or a model ----------------------------------------------------------


def after(rule: Callable[[Any, ValidationInfo], Any]) -> AfterValidator:
    """Like :func:`funrun.contracts.checked`, once the value is validated (lists, models)."""
    return AfterValidator(checked(rule).func)


def broken(*problems: tuple[Loc, Any]) -> PydanticCustomError:
    """Several problems found by one rule, each at its place inside the value checked."""
    pairs = [(tuple(loc), str(message)) for loc, message in problems]
    return PydanticCustomError(
        SCHEDULE_RULES,
        "{summary}",
        {"summary": "; ".join(m for _loc, m in pairs), "problems": pairs},
    )


def none_is_empty(value: Any) -> Any:
    return [] if value is None else value


def not_empty(value: list, _info: ValidationInfo) -> list:
    if not value:
        raise RuleBroken(INVALID)
    return value


def codes_once(value: list | None, _info: ValidationInfo) -> list:
    codes = [item.code for item in value or []]
    if len(set(codes)) != len(codes):
        raise RuleBroken(ONCE)
    return value or []


Code = Annotated[str, checked(code_rule)]
Name = Annotated[str, checked(text_rule(160))]
LongText = Annotated[str, checked(text_rule(2000, required=False))]
Rupiah = Annotated[int, checked(rupiah_rule())]
OptionalRupiah = Annotated[int | None, checked(rupiah_rule(nullable=True))]
Percent = Annotated[int, checked(basis_points)]
Flag = Annotated[bool, checked(flag_rule)]
Month = Annotated[date, checked(month_rule)]
