"""The schedules document checked: every problem found, each named by where it is.

A staff data file (``data/schedules.json``, the admins' schedule page), not a request: the
problems name the path in the document (``schedules[0].rates[1].rate_percent``) and
:func:`parse_document` returns the plain rows :mod:`funrun.enrolment.schedule` stores.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l

from funrun.enrolment.choices import MANDATORY_PROGRAMMES, OCCUPATIONS, PROGRAMMES

#: The document's format: 2 since reliefs have periods by sector and month (issue 17).
FORMAT = 2
MAX_RUPIAH = 1_000_000_000
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_CODE = re.compile(r"[a-z0-9][a-z0-9\-]{0,31}")
_PERCENT = re.compile(r"(100|[0-9]{1,2})(\.[0-9]{1,2})?")


class ScheduleDataError(Exception):
    """The schedule document is not valid; ``problems`` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class _Reader:
    problems: list[str]

    def fail(self, message: Any) -> None:
        self.problems.append(str(message))

    def text(self, obj: dict, key: str, where: str, *, max_length: int, required: bool = True):
        value = obj.get(key)
        if value is None and not required:
            return ""
        blank = isinstance(value, str) and not value.strip()
        if not isinstance(value, str) or (required and blank) or len(value) > max_length:
            self.fail(_l("%(where)s is missing or not valid.", where=f"{where}.{key}"))
            return ""
        # JSON escapes reach here as characters: "\u0000" (PostgreSQL refuses NUL in text,
        # a 500), a lone "\ud800", a right-to-left override. Line breaks and tabs are fine.
        if any(unicodedata.category(ch).startswith("C") and ch not in "\t\r\n" for ch in value):
            self.fail(_l("%(where)s is missing or not valid.", where=f"{where}.{key}"))
            return ""
        return value.strip()

    def code(self, obj: dict, key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not _CODE.fullmatch(value):
            self.fail(_l("%(where)s is missing or not valid.", where=f"{where}.{key}"))
            return ""
        return value

    def rupiah(self, obj: dict, key: str, where: str, *, nullable: bool = False) -> int | None:
        value = obj.get(key)
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RUPIAH:
            self.fail(_l("%(where)s must be a whole number of rupiah.", where=f"{where}.{key}"))
            return None
        return value

    def day(self, obj: dict, key: str, where: str, *, nullable: bool = False) -> date | None:
        value = obj.get(key)
        if value is None and nullable:
            return None
        try:
            return date.fromisoformat(value) if isinstance(value, str) else _raise()
        except ValueError:
            self.fail(_l("%(where)s must be a date (YYYY-MM-DD).", where=f"{where}.{key}"))
            return None

    def basis_points(self, obj: dict, key: str, where: str) -> int | None:
        """A percentage written as text ("1.00") as exact basis points (100)."""
        value = obj.get(key)
        if not isinstance(value, str) or not _PERCENT.fullmatch(value):
            self.fail(
                _l(
                    '%(where)s must be a percentage with at most two decimals, e.g. "1.00".',
                    where=f"{where}.{key}",
                )
            )
            return None
        points = Decimal(value) * 100
        if points > 10000:
            self.fail(_l("%(where)s is missing or not valid.", where=f"{where}.{key}"))
            return None
        return int(points)

    def flag(self, obj: dict, key: str, where: str, default: bool = False) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            self.fail(_l("%(where)s is missing or not valid.", where=f"{where}.{key}"))
            return default
        return value


def _raise() -> date:
    raise ValueError


def _rates(r: _Reader, items: Any, where: str) -> list[dict]:
    out = []
    if not isinstance(items, list):
        r.fail(_l("%(where)s is missing or not valid.", where=where))
        return out
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            r.fail(_l("%(where)s is missing or not valid.", where=at))
            continue
        programme = item.get("programme")
        # A list or an object is unhashable: ``in`` on the dict would raise (a 500).
        if not isinstance(programme, str) or programme not in PROGRAMMES:
            r.fail(_l("%(where)s: unknown programme.", where=at))
            continue
        row: dict[str, Any] = {"programme": programme, "rate_bp": None, "flat_amount": None}
        if ("rate_percent" in item) == ("flat_amount" in item):
            r.fail(_l("%(where)s needs either rate_percent or flat_amount.", where=at))
            continue
        if "rate_percent" in item:
            row["rate_bp"] = r.basis_points(item, "rate_percent", at)
        else:
            row["flat_amount"] = r.rupiah(item, "flat_amount", at)
        row["optional"] = r.flag(item, "optional", at)
        out.append(row)
    names = [row["programme"] for row in out]
    if len(set(names)) != len(names) or not set(MANDATORY_PROGRAMMES) <= set(names):
        r.fail(_l("%(where)s must list JKK and JKM, each programme once.", where=where))
    if any(row["optional"] for row in out if row["programme"] in MANDATORY_PROGRAMMES):
        r.fail(_l("%(where)s: JKK and JKM cannot be optional.", where=where))
    return out


def _brackets(r: _Reader, items: Any, where: str, min_income: int | None) -> list[dict]:
    out = []
    if not isinstance(items, list) or not items:
        r.fail(_l("%(where)s is missing or not valid.", where=where))
        return out
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            r.fail(_l("%(where)s is missing or not valid.", where=at))
            continue
        out.append(
            {
                "income_from": r.rupiah(item, "income_from", at),
                "income_to": r.rupiah(item, "income_to", at, nullable=True),
                "basis": r.rupiah(item, "basis", at, nullable=True),
            }
        )
    if r.problems:
        return out
    out.sort(key=lambda row: row["income_from"])
    ok = out[0]["income_from"] == min_income
    for row, following in zip(out, [*out[1:], None], strict=True):
        if row["income_to"] is not None and row["income_to"] < row["income_from"]:
            ok = False
        if following is not None and (
            row["income_to"] is None or following["income_from"] != row["income_to"] + 1
        ):
            ok = False
    if not ok:
        r.fail(
            _l(
                "%(where)s must start at min_income and follow each other without gaps "
                "or overlaps.",
                where=where,
            )
        )
    return out


def _month(r: _Reader, obj: dict, key: str, where: str) -> date | None:
    value = obj.get(key)
    if isinstance(value, str) and _MONTH.fullmatch(value):
        return date(int(value[:4]), int(value[5:]), 1)
    r.fail(_l("%(where)s must be a month (YYYY-MM).", where=f"{where}.{key}"))
    return None


def _periods(r: _Reader, items: Any, where: str, sectors: set[str]) -> list[dict]:
    out: list[dict] = []
    if not isinstance(items, list) or not items:
        r.fail(_l("%(where)s is missing or not valid.", where=where))
        return out
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            r.fail(_l("%(where)s is missing or not valid.", where=at))
            continue
        sector = item.get("sector")
        if sector is not None and (not isinstance(sector, str) or sector not in sectors):
            r.fail(_l("%(where)s: unknown sector.", where=at))
        row = {
            "sector": sector,
            "first_month": _month(r, item, "first_month", at),
            "last_month": _month(r, item, "last_month", at),
        }
        if row["first_month"] and row["last_month"] and row["last_month"] < row["first_month"]:
            r.fail(_l("%(where)s ends before it starts.", where=at))
        out.append(row)
    return out


def _sectors(r: _Reader, items: Any, where: str) -> list[dict]:
    out: list[dict] = []
    if items is None:
        return out
    if not isinstance(items, list):
        r.fail(_l("%(where)s is missing or not valid.", where=where))
        return out
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            r.fail(_l("%(where)s is missing or not valid.", where=at))
            continue
        occupations = item.get("occupations")
        if not isinstance(occupations, list) or any(
            not isinstance(o, str) or o not in OCCUPATIONS or o in seen for o in occupations
        ):
            r.fail(_l("%(where)s: each listed occupation in one sector only.", where=at))
            occupations = []
        seen.update(occupations)
        out.append(
            {
                "code": r.code(item, "code", at),
                "name": r.text(item, "name", at, max_length=160),
                "name_en": r.text(item, "name_en", at, max_length=160),
                "occupations": ",".join(occupations),
            }
        )
    codes = [row["code"] for row in out]
    if len(set(codes)) != len(codes):
        r.fail(_l("%(where)s: each code only once.", where=where))
    return out


def _reliefs(r: _Reader, items: Any, where: str, sectors: set[str]) -> list[dict]:
    out = []
    if items is None:
        return out
    if not isinstance(items, list):
        r.fail(_l("%(where)s is missing or not valid.", where=where))
        return out
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            r.fail(_l("%(where)s is missing or not valid.", where=at))
            continue
        programmes = item.get("programmes")
        if (
            not isinstance(programmes, list)
            or not programmes
            or any(not isinstance(p, str) or p not in PROGRAMMES for p in programmes)
        ):
            r.fail(_l("%(where)s: unknown programme.", where=at))
            programmes = []
        elif len(set(programmes)) != len(programmes):
            # Each once: repeated, they would not fit the column (a 500 on PostgreSQL).
            r.fail(_l("%(where)s is missing or not valid.", where=f"{at}.programmes"))
            programmes = []
        row = {
            "code": r.code(item, "code", at),
            "name": r.text(item, "name", at, max_length=160),
            "name_en": r.text(item, "name_en", at, max_length=160),
            "periods": _periods(r, item.get("periods"), f"{at}.periods", sectors),
            "discount_bp": r.basis_points(item, "discount_percent", at),
            "programmes": ",".join(programmes),
            "excludes_public_budget": r.flag(item, "excludes_public_budget", at),
            "source": r.text(item, "source", at, max_length=2000, required=False),
        }
        out.append(row)
    codes = [row["code"] for row in out]
    if len(set(codes)) != len(codes):
        r.fail(_l("%(where)s: each code only once.", where=where))
    return out


def parse_document(document: Any) -> tuple[list[dict], list[dict]]:
    """Check a whole schedules document; the schedules and sponsors as plain rows."""
    r = _Reader([])
    # Exactly the integer 1: in Python, true == 1 and 1.0 == 1 as well.
    if (
        not isinstance(document, dict)
        or type(document.get("format")) is not int
        or document["format"] != FORMAT
    ):
        raise ScheduleDataError([str(_l("%(where)s is missing or not valid.", where="format"))])
    schedules = document.get("schedules", [])
    sponsors = document.get("sponsors", [])
    if not isinstance(schedules, list) or not isinstance(sponsors, list):
        raise ScheduleDataError([str(_l("%(where)s is missing or not valid.", where="schedules"))])
    parsed = []
    for i, item in enumerate(schedules):
        at = f"schedules[{i}]"
        if not isinstance(item, dict):
            r.fail(_l("%(where)s is missing or not valid.", where=at))
            continue
        row: dict[str, Any] = {
            "code": r.code(item, "code", at),
            "name": r.text(item, "name", at, max_length=160),
            "effective_from": r.day(item, "effective_from", at),
            "effective_to": r.day(item, "effective_to", at, nullable=True),
            "min_income": r.rupiah(item, "min_income", at),
            "max_income": r.rupiah(item, "max_income", at, nullable=True),
            "brackets_complete": r.flag(item, "brackets_complete", at),
            "brackets_source": r.text(item, "brackets_source", at, max_length=2000, required=False),
            "source": r.text(item, "source", at, max_length=2000, required=False),
            "notes": r.text(item, "notes", at, max_length=4000, required=False),
        }
        if row["min_income"] is not None and row["min_income"] < 1:
            r.fail(_l("%(where)s must be a whole number of rupiah.", where=f"{at}.min_income"))
        if (
            row["effective_to"] is not None
            and row["effective_from"] is not None
            and row["effective_to"] < row["effective_from"]
        ):
            r.fail(_l("%(where)s ends before it starts.", where=at))
        row["rates"] = _rates(r, item.get("rates"), f"{at}.rates")
        row["brackets"] = _brackets(r, item.get("brackets"), f"{at}.brackets", row["min_income"])
        row["sectors"] = _sectors(r, item.get("sectors"), f"{at}.sectors")
        codes_here = {sector["code"] for sector in row["sectors"]}
        row["reliefs"] = _reliefs(r, item.get("reliefs"), f"{at}.reliefs", codes_here)
        parsed.append(row)
    codes = [row["code"] for row in parsed]
    if len(set(codes)) != len(codes):
        r.fail(_l("%(where)s: each code only once.", where="schedules"))
    sponsor_rows = []
    for i, item in enumerate(sponsors):
        at = f"sponsors[{i}]"
        if not isinstance(item, dict):
            r.fail(_l("%(where)s is missing or not valid.", where=at))
            continue
        sponsor_rows.append(
            {
                "code": r.code(item, "code", at),
                "name": r.text(item, "name", at, max_length=160),
                "public_budget": r.flag(item, "public_budget", at),
                "active": r.flag(item, "active", at, default=True),
            }
        )
    sponsor_codes = [row["code"] for row in sponsor_rows]
    if len(set(sponsor_codes)) != len(sponsor_codes):
        r.fail(_l("%(where)s: each code only once.", where="sponsors"))
    if r.problems:
        raise ScheduleDataError(r.problems)
    return parsed, sponsor_rows
