"""A contribution explained in words at the desk (issue 17 point 4): the months table, each
programme before and after relief, the relief named in the reader's language, the months
covered and the next due date; on the review page and, from the stored rows, the done page."""

from __future__ import annotations

import re
from datetime import date

from flask import render_template_string
from flask_babel import force_locale

from funrun.enrolment import wording
from funrun.enrolment.quotes import price

MACRO = (
    '{% from "enrolment/_contribution.html" import contribution %}{{ contribution(quote, locale) }}'
)


def trader_quote():
    """The issue's market trader: JHT, 3 months, enrolled on 4 December 2026."""
    return price(
        date(2026, 12, 4),
        declared_income=1000000,
        programmes=("JKK", "JKM", "JHT"),
        months=3,
        occupation="trader",
    )


DEC = "Desember 2026 Rp 5.000 Rp 3.400 Rp 20.000 Rp 28.400 Keringanan iuran PP 50/2025 (50%)"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def render(app, quote, locale: str) -> str:
    with app.test_request_context(), force_locale(locale):
        return render_template_string(MACRO, quote=quote, locale=locale)


def test_the_macro_explains_the_traders_quote_in_indonesian(app):
    html = render(app, trader_quote(), "id")
    text = text_of(html)
    rows = re.findall(r'<tr data-month="([0-9-]+)">(.*?)</tr>', html, re.S)
    assert [(m, text_of(r).strip()) for m, r in rows] == [
        ("2026-12", DEC),
        ("2027-01", "Januari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800 tidak ada"),
        ("2027-02", "Februari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800 tidak ada"),
    ]
    assert "Rp 102.000" in text_of(re.search(r"<tfoot>.*</tfoot>", html, re.S).group(0))
    assert "Keringanan iuran PP 50/2025: JKK dan JKM dipotong 50%" in text
    assert "Diterapkan pada iuran Desember 2026" in text
    assert "JKK: Rp 10.000 → Rp 5.000" in text
    assert "JKM: Rp 6.800 → Rp 3.400" in text
    assert "JHT: Rp 20.000 (tanpa keringanan)" in text
    assert "Tarif penuh, tanpa keringanan: Januari 2027 - Februari 2027" in text
    assert "Bulan yang dibayar: Desember 2026 - Februari 2027 (3 bulan)" in text
    assert "Dasar penghasilan: Rp 1.000.000" in text
    assert "Iuran berikutnya jatuh tempo paling lambat 15 Maret 2027" in text
    assert "pp-50-2025" not in text  # the relief by name, not by its code


def test_the_macro_explains_the_traders_quote_in_english(app):
    text = text_of(render(app, trader_quote(), "en"))
    assert "December 2026 Rp 5,000 Rp 3,400 Rp 20,000 Rp 28,400" in text
    assert "Contribution relief PP 50/2025: JKK and JKM cut by 50%" in text
    assert "Applied to the contribution of December 2026" in text
    assert "JKK: Rp 10,000 → Rp 5,000" in text
    assert "Months covered: December 2026 - February 2027 (3 months)" in text
    assert "Next contribution due by 15 March 2027" in text
    assert "Rp 102,000" in text


def test_programme_lists_and_month_runs_join_with_and(app):
    with app.test_request_context(), force_locale("id"):
        assert wording.join_and(["JKK", "JKM", "JHT"]) == "JKK, JKM dan JHT"
        months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 5, 1)]
        assert wording.months_text(months) == "Januari 2026 - Februari 2026 dan Mei 2026"
        assert wording.percent(9900) == "99%" and wording.percent(1250) == "12,5%"
    with app.test_request_context(), force_locale("en"):
        assert wording.join_and(["JKK", "JKM"]) == "JKK and JKM"
        assert wording.months_text([date(2027, 3, 1)]) == "March 2027"
