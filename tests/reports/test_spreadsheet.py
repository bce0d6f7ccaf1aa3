"""funrun.spreadsheet: the one place where CSV and XLSX cells are made safe."""

from __future__ import annotations

import io

import openpyxl
import pytest

from funrun.reports.roster_files import sheet_name
from funrun.spreadsheet import (
    FORMULA_START,
    csv_cell,
    csv_phone,
    csv_text,
    workbook,
    xlsx_phone,
    xlsx_text,
)

PHONE = "+6281234567890"


@pytest.mark.parametrize("start", FORMULA_START)
def test_text_starting_like_a_formula_gets_a_quote_in_csv(start):
    assert csv_text(f"{start}SUM(1)") == f"'{start}SUM(1)"
    assert csv_cell(f"{start}1") == f"'{start}1"


def test_other_csv_cells_are_left_as_they_are():
    assert csv_text("Jakarta") == "Jakarta" and csv_text("") == ""
    assert csv_text("a=1") == "a=1"  # only the first character counts
    assert csv_cell(None) == "" and csv_cell(12) == 12 and csv_cell(0.5) == 0.5


def test_an_e164_phone_stays_as_it_is_in_csv_anything_else_is_text():
    assert csv_phone(PHONE) == PHONE  # the scheme's system reads E.164
    assert csv_phone(None) == "" and csv_phone("") == ""
    assert csv_phone("+62 812 3456") == "'+62 812 3456"
    assert csv_phone("+1+1") == "'+1+1"
    assert csv_phone("=1+1") == "'=1+1"
    assert csv_phone("08123456789") == "08123456789"


def _read_back(write) -> list[openpyxl.cell.cell.Cell]:
    target = io.BytesIO()
    book = workbook(target)
    sheet = book.add_worksheet("x")
    write(sheet)
    book.close()
    return list(openpyxl.load_workbook(io.BytesIO(target.getvalue())).active[1])


def test_a_phone_is_a_text_cell_in_xlsx_and_keeps_its_plus():
    [cell] = _read_back(lambda sheet: xlsx_phone(sheet, 0, 0, PHONE))
    assert cell.value == PHONE and cell.data_type == "s"


def test_xlsx_text_is_never_a_formula_whatever_it_starts_with():
    texts = ['=HYPERLINK("http://x","y")', "+1+1", "-1", "@SUM(1)", "\t=1"]

    def write(sheet):
        for col, text in enumerate(texts):
            xlsx_text(sheet, 0, col, text)
        sheet.write(0, len(texts), "=1+1")  # the generic write, under workbook()'s options
        xlsx_text(sheet, 0, len(texts) + 1, None)

    cells = _read_back(write)
    assert [c.value for c in cells] == [*texts, "=1+1"]
    assert {c.data_type for c in cells} == {"s"}


def test_an_xlsxwriter_workbook_of_its_own_would_have_made_a_formula():
    """What workbook()'s options prevent: XlsxWriter's defaults turn '=...' into a formula."""
    import xlsxwriter

    target = io.BytesIO()
    book = xlsxwriter.Workbook(target)
    book.add_worksheet("x").write(0, 0, "=1+1")
    book.close()
    [cell] = openpyxl.load_workbook(io.BytesIO(target.getvalue())).active[1]
    assert cell.data_type == "f"


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("'s-Hertogenbosch", "s-Hertogenbosch"),
        ("Jakarta'", "Jakarta"),
        ("a/b[c]:d*e?f\\g", "a b c  d e f g"),
        ("'''", "roster"),
        ("x" * 40, "x" * 31),
    ],
)
def test_a_worksheet_name_excel_accepts(title, name):
    assert sheet_name(title) == name
    book = workbook(io.BytesIO())
    book.add_worksheet(sheet_name(title))  # XlsxWriter refuses what Excel would
    book.close()
