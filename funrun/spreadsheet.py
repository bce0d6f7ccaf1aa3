"""Cells of every CSV and XLSX file funrun writes: text from users is never a formula.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (a tab
or a carriage return before one too) as a formula, so a runner's name, an event's city
or an address typed as ``=HYPERLINK("http://x","y")`` would become a live link in the
organiser's spreadsheet (CSV injection). Every CSV and XLSX writer (rosters, totals, the
enrolment export batches) writes its cells through this module:

- **CSV**: :func:`csv_cell` writes text that starts like a formula with a leading ``'``
  (spreadsheets show the text, the quote hidden), numbers as they are, nothing as ``""``.
- **Phones in CSV** (:func:`csv_phone`): an E.164 number (``+6281234567890``) is written
  as it is. The export batches are read by the scheme's core system, which takes E.164,
  and a ``'`` would corrupt the number there; the cell holds only a ``+`` and digits, so
  a spreadsheet can at worst show it as a number, never run anything. Any other value in
  a phone column is written as text (quoted when it starts like a formula).
- **XLSX**: every text cell is written by :func:`xlsx_text` with XlsxWriter's
  ``write_string``: a string cell, never a formula, whatever it starts with, and shown as
  typed (no quote). Phones are text cells too, so ``+62...`` keeps its plus and leading
  digits. :func:`workbook` makes every workbook with the options that keep XlsxWriter
  from turning strings into formulas, numbers or links anywhere.
"""

from __future__ import annotations

import csv
import re
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xlsxwriter
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

#: A cell starting with one of these is a formula to a spreadsheet program.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A phone number as the registration and enrolment forms store it (E.164).
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def csv_text(value: str) -> str:
    """Text as a CSV cell a spreadsheet shows and never runs (a ``'`` before a formula)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_cell(value: Any) -> Any:
    """Any value as a CSV cell: text made safe (:func:`csv_text`), None as ``""``, numbers
    and booleans as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    return value


def csv_phone(value: str | None) -> str:
    """A phone number as a CSV cell: an E.164 number as it is, anything else as text."""
    if not value:
        return ""
    return value if _E164.fullmatch(value) else csv_text(value)


def csv_writer(out: IO[str]) -> Any:
    """The CSV dialect of every file: comma-separated, minimal quoting, CRLF line ends."""
    return csv.writer(out, lineterminator="\r\n")


def workbook(target: IO[bytes]) -> xlsxwriter.Workbook:
    """An XlsxWriter workbook streaming rows to ``target`` (constant memory), where no
    string ever becomes a formula, a number or a link."""
    # Imported here: only XLSX downloads need it, and every worker would carry it.
    import xlsxwriter

    return xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "in_memory": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd hh:mm",
            "remove_timezone": True,
        },
    )


def xlsx_text(
    sheet: Worksheet, row: int, col: int, value: str | None, cell_format: Format | None = None
) -> None:
    """A text cell (never a formula); nothing for None unless the cell is formatted."""
    if value is not None:
        sheet.write_string(row, col, value, cell_format)
    elif cell_format is not None:
        sheet.write_blank(row, col, None, cell_format)


#: Phones are text cells in XLSX: ``+62...`` stays as typed, never a number or formula.
xlsx_phone = xlsx_text
