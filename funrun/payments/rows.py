"""Reading a payment file: the header, then each line checked on its own (no database).

The scheme's file is CSV, UTF-8 (a byte-order mark is allowed), with the header
``participant_number,month,amount``: an 11-digit participant number, the month paid for
as ``YYYY-MM`` and the amount in whole rupiah. Rows are numbered from 1 for the line
after the header (blank lines are skipped but keep their number), so a row number is
the line to look at, less one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO

from funrun.enrolment.contribution import month_start

HEADER = ("participant_number", "month", "amount")
#: The largest amount a row may carry (the column is a 32-bit integer).
MAX_AMOUNT = 2_147_483_647

_NUMBER = re.compile(r"[0-9]{11}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_AMOUNT = re.compile(r"-?[0-9]{1,12}")

#: Every reason a row can be refused for: (field, code) -> words for the report.
REASONS: dict[tuple[str, str], str] = {
    ("row", "encoding"): "the line is not UTF-8 text",
    ("row", "columns"): "the line does not have 3 columns",
    ("participant_number", "malformed"): "the participant number is not 11 digits",
    ("participant_number", "unknown"): "no member has this participant number",
    ("month", "malformed"): "the month is not YYYY-MM",
    ("month", "before_first_month"): "the month is before the member's first covered month",
    ("month", "duplicate_in_file"): "this member and month are on an earlier row of the file",
    ("month", "already_recorded"): "this member's month was recorded by another file",
    ("amount", "malformed"): "the amount is not whole rupiah",
    ("amount", "not_positive"): "the amount is not above 0",
}


class HeaderError(ValueError):
    """The file cannot be read at all: no header, or not the expected one."""


@dataclass(frozen=True)
class Line:
    """One row of the file as read: its values as text, and what they mean when valid."""

    row: int
    values: tuple[str, ...]
    #: (field, code) of each problem found without the database; empty when valid.
    errors: dict[str, str]
    participant_number: str = ""
    month: date | None = None
    amount: int = 0

    @property
    def next_month(self) -> date:
        """The first day of the month after the one paid for."""
        assert self.month is not None
        return month_start(self.month, 1)


def _month(text: str) -> date | None:
    found = _MONTH.fullmatch(text)
    if not found:
        return None
    year, month = int(found.group(1)), int(found.group(2))
    if not 1 <= month <= 12 or year < 1900:
        return None
    return date(year, month, 1)


def check_line(row: int, values: list[str]) -> Line:
    """One row's values checked on their own."""
    values = [value.strip() for value in values]
    if len(values) != len(HEADER):
        return Line(row, tuple(values), {"row": "columns"})
    number, month_text, amount_text = values
    errors: dict[str, str] = {}
    if not _NUMBER.fullmatch(number):
        errors["participant_number"] = "malformed"
    month = _month(month_text)
    if month is None:
        errors["month"] = "malformed"
    amount = 0
    if not _AMOUNT.fullmatch(amount_text) or int(amount_text) > MAX_AMOUNT:
        errors["amount"] = "malformed"
    else:
        amount = int(amount_text)
        if amount <= 0:
            errors["amount"] = "not_positive"
    return Line(row, tuple(values), errors, number, month, amount)


def _split(text: str) -> list[str]:
    if '"' in text:
        return next(csv.reader([text]), [])
    return text.split(",")


def read_header(first: bytes) -> None:
    """Check the header line; raise :class:`HeaderError` when it is not the expected one."""
    try:
        text = first.decode("utf-8").removeprefix("\ufeff").strip("\r\n")
    except UnicodeDecodeError as exc:
        raise HeaderError("the header is not UTF-8 text") from exc
    found = tuple(name.strip().lower() for name in _split(text))
    if found != HEADER:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise HeaderError(f"the header must be {','.join(HEADER)} (found: {shown!r})")


def read_lines(source: IO[bytes]) -> Iterator[Line]:
    """Every row after the header, checked on its own, one at a time (memory stays flat)."""
    first = source.readline()
    if not first:
        raise HeaderError("the file is empty")
    read_header(first)
    for row, raw in enumerate(source, start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield Line(row, (), {"row": "encoding"})
            continue
        if not text.strip():
            continue
        yield check_line(row, _split(text))


def describe(errors: dict[str, str]) -> tuple[str, str]:
    """A refusal's codes (``field:code; ...``) and its words, for the report."""
    codes = "; ".join(f"{field}:{code}" for field, code in errors.items())
    words = "; ".join(REASONS.get((field, code), code) for field, code in errors.items())
    return codes, words
