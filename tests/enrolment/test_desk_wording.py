"""A contribution explained in words at the desk (issue 17 point 4): the months table, each
programme before and after relief, the relief named in the reader's language, the months
covered and the next due date; on the review page and, from the stored rows, the done page."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import render_template_string
from flask_babel import force_locale

from funrun.enrolment import services as enrolment_services
from funrun.enrolment import wording
from funrun.enrolment.models import ContributionSchedule
from funrun.enrolment.quotes import price
from funrun.extensions import db
from tests.browser.conftest import browser, live_server, phone_page  # noqa: F401  (fixtures)
from tests.conftest import csrf_from
from tests.enrolment.test_desk import FORM, hidden_inputs, signed_in, stored

#: Where to keep the phone screenshots (FUNRUN_SHOTS_DIR), if anywhere.
SHOTS = Path(os.environ["FUNRUN_SHOTS_DIR"]) if os.environ.get("FUNRUN_SHOTS_DIR") else None

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
        ("2027-01", "Januari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800 tanpa keringanan"),
        ("2027-02", "Februari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800 tanpa keringanan"),
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


def test_one_month_reads_as_one(app):
    one = price(
        date(2026, 12, 4),
        declared_income=1500000,
        programmes=("JKK", "JKM"),
        months=1,
        occupation="ojek_driver",
    )
    text = text_of(render(app, one, "id"))
    assert "Bulan yang dibayar: Desember 2026 " in text and "(1 bulan)" not in text
    assert "Dasar penghasilan: Rp 1.600.000" in text  # the bracket's basis, not the income
    assert "JKK: Rp 16.000 → Rp 8.000" in text
    assert "Tarif penuh" not in text  # the relief covers the only month
    assert "Iuran berikutnya jatuh tempo paling lambat 15 Januari 2027" in text


def test_programme_lists_and_month_runs_join_with_and(app):
    with app.test_request_context(), force_locale("id"):
        assert wording.join_and(["JKK", "JKM", "JHT"]) == "JKK, JKM dan JHT"
        months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 5, 1)]
        assert wording.months_text(months) == "Januari 2026 - Februari 2026 dan Mei 2026"
        assert wording.percent(9900) == "99%" and wording.percent(1250) == "12,5%"
    with app.test_request_context(), force_locale("en"):
        assert wording.join_and(["JKK", "JKM"]) == "JKK and JKM"
        assert wording.months_text([date(2027, 3, 1)]) == "March 2027"


# --- the desk pages, for the market trader --------------------------------------------

#: 4 December 2026, 10.00 WIB.
DECEMBER_4 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)

TRADER = {**FORM, "occupation": "trader", "jht": "y", "months": "3", "payment_channel": "cash"}


@pytest.fixture
def on_december_4(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: DECEMBER_4)
    return DECEMBER_4


def enrol_trader(app, make_event, make_staff, add_runner, *, english: bool = False):
    """Through the desk pages: review, then confirm; (client, review html, done html)."""
    event = make_event()
    runner = add_runner(event, full_name="Siti Pedagang")
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    if english:
        client.get("/lang/en")
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    review = client.post(url, data={**TRADER, "csrf_token": token, "action": "review"})
    assert review.status_code == 200, review.get_data(as_text=True)
    html = review.get_data(as_text=True)
    done = client.post(url, data={**hidden_inputs(html), "action": "confirm"})
    assert done.status_code == 302, done.get_data(as_text=True)
    page = client.get(done.headers["Location"])
    assert page.status_code == 200
    return client, html, page.get_data(as_text=True)


def month_rows(html: str) -> list[tuple[str, str]]:
    rows = re.findall(r'<tr data-month="([0-9-]+)">(.*?)</tr>', html, re.S)
    return [(month, text_of(row).strip()) for month, row in rows]


ID_ROWS = [
    ("2026-12", DEC),
    ("2027-01", "Januari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800 tanpa keringanan"),
    ("2027-02", "Februari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800 tanpa keringanan"),
]
EN_ROWS = [
    ("2026-12", "December 2026 Rp 5,000 Rp 3,400 Rp 20,000 Rp 28,400 "
                "Contribution relief PP 50/2025 (50%)"),
    ("2027-01", "January 2027 Rp 10,000 Rp 6,800 Rp 20,000 Rp 36,800 no relief"),
    ("2027-02", "February 2027 Rp 10,000 Rp 6,800 Rp 20,000 Rp 36,800 no relief"),
]  # fmt: skip


def test_review_and_done_pages_explain_the_traders_months_in_indonesian(
    app, make_event, make_staff, add_runner, on_december_4
):
    _client, review, done = enrol_trader(app, make_event, make_staff, add_runner)
    for html in (review, done):
        text = text_of(html)
        assert month_rows(html) == ID_ROWS
        assert re.search(r'id="contribution-total">Rp 102.000<', html)
        assert re.search(r'id="amount-due">Rp 102.000<', html)
        assert "Keringanan iuran PP 50/2025: JKK dan JKM dipotong 50%" in text
        assert "Diterapkan pada iuran Desember 2026" in text
        assert "JKK: Rp 10.000 → Rp 5.000" in text and "JKM: Rp 6.800 → Rp 3.400" in text
        assert "Bulan yang dibayar: Desember 2026 - Februari 2027 (3 bulan)" in text
        assert "Iuran berikutnya jatuh tempo paling lambat 15 Maret 2027" in text
        assert "pp-50-2025" not in text
    # The months differ: no single "per month" figure is claimed.
    assert 'id="monthly-total"' not in review
    [enrolment] = stored()
    assert f"/staff/enrolments/{enrolment.participant_number}/kuitansi.pdf" in done
    assert enrolment.receipt_number in done


def test_review_and_done_pages_explain_the_traders_months_in_english(
    app, make_event, make_staff, add_runner, on_december_4
):
    _client, review, done = enrol_trader(app, make_event, make_staff, add_runner, english=True)
    for html in (review, done):
        text = text_of(html)
        assert month_rows(html) == EN_ROWS
        assert re.search(r'id="contribution-total">Rp 102,000<', html)
        assert "Contribution relief PP 50/2025: JKK and JKM cut by 50%" in text
        assert "Applied to the contribution of December 2026" in text
        assert "JKK: Rp 10,000 → Rp 5,000" in text
        assert "Full rate, no relief: January 2027 - February 2027" in text
        assert "Months covered: December 2026 - February 2027 (3 months)" in text
        assert "Next contribution due by 15 March 2027" in text
        assert "Keringanan" not in text


def test_the_done_page_shows_what_was_stored_not_a_new_price(
    app, make_event, make_staff, add_runner, on_december_4
):
    client, _review, _done = enrol_trader(app, make_event, make_staff, add_runner)
    [enrolment] = stored()
    # The relief is withdrawn from the schedule afterwards: the charged months stay.
    schedule = db.session.get_one(ContributionSchedule, enrolment.schedule_id)
    for relief in schedule.reliefs:
        if relief.code == "pp-50-2025":
            relief.discount_bp = 2500
    db.session.commit()
    html = client.get(f"/staff/enrolments/{enrolment.participant_number}").get_data(as_text=True)
    assert month_rows(html)[0][1].startswith("Desember 2026 Rp 5.000 Rp 3.400 Rp 20.000 Rp 28.400")
    assert re.search(r'id="contribution-total">Rp 102.000<', html)
    assert "JKK: Rp 10.000 → Rp 5.000" in text_of(html)
    assert "JKK dan JKM dipotong 50%" in text_of(html)  # the cut as charged


def test_a_sponsored_member_sees_the_months_and_no_receipt(
    app, make_event, make_staff, add_runner, on_december_4
):
    event = make_event()
    runner = add_runner(event)
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    form = {**FORM, "occupation": "street_sweeper", "payment_channel": "sponsor",
            "sponsor": "apbd-dki", "csrf_token": token}  # fmt: skip
    review = client.post(url, data=form).get_data(as_text=True)
    # APBD pays: no relief, the full rate every month, nothing due from the runner.
    assert [row for _m, row in month_rows(review)] == [
        "Desember 2026 Rp 10.000 Rp 6.800 Rp 16.800 tanpa keringanan",
        "Januari 2027 Rp 10.000 Rp 6.800 Rp 16.800 tanpa keringanan",
        "Februari 2027 Rp 10.000 Rp 6.800 Rp 16.800 tanpa keringanan",
    ]
    assert re.search(r'id="amount-due">Rp 0<', review)
    words = text_of(review)
    assert "Per bulan, tanpa keringanan: JKK: Rp 10.000 JKM: Rp 6.800" in words
    assert "Keringanan iuran" not in words
    done = client.post(url, data={**hidden_inputs(review), "action": "confirm"})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Iuran berikutnya jatuh tempo paling lambat 15 Maret 2027" in text_of(page)
    assert "kuitansi.pdf" not in page and 'id="receipt-number"' not in page


# --- on a 360 px phone, in Chromium ---------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_months_table_fits_a_360px_phone(
    phone_page,  # noqa: F811  (the browser tests' fixtures, imported above)
    live_server,  # noqa: F811
    make_event,
    make_staff,
    add_runner,
    on_december_4,
    lang,
):
    from funrun.accounts.models import User
    from funrun.enrolment.services import enrol_registered, prepare
    from tests.enrolment.conftest import PASSWORD, enrol_body

    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    # Twelve months, the relief for four of them: the longest table the desk shows.
    body = enrol_body(occupation="ojek_driver", programs=["JKK", "JKM", "JHT"], months=12)
    prepared = prepare(event, body, walkup=False)
    user = db.session.get(User, staff.id)
    result = enrol_registered(event, add_runner(event), prepared, user=user, locale="id")
    page = phone_page
    page.goto(f"{live_server}/lang/{lang}?next=/login")
    page.fill("#email", staff.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/staff/enrolments/{result.participant_number}")
    table = page.locator("#contribution-months")
    assert table.locator("tbody tr").count() == 12
    assert page.locator("link[href$='css/contribution.css']").count() == 1
    width = page.viewport_size["width"]
    assert width == 360
    boxes = [table.bounding_box()] + [
        table.locator("tbody tr").nth(i).bounding_box() for i in range(12)
    ]
    for box in boxes:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    # Nothing on the page is wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # The amounts of a month stay on their own lines, readable (not squeezed to nothing).
    first = table.locator("tbody tr").first
    assert "28" in first.inner_text() and "50/2025" in first.inner_text()
    for cell in first.locator("td").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    if SHOTS:
        page.screenshot(path=str(SHOTS / f"months-360-{lang}.png"), full_page=True)
    # Just above and below the width where the list becomes a table again, and a tablet.
    for wider in (600, 719, 721, 800, 1280):
        page.set_viewport_size({"width": wider, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth") <= wider, wider
        box = table.bounding_box()
        assert box is not None and box["x"] + box["width"] <= wider, (wider, box)
        if SHOTS:
            page.screenshot(path=str(SHOTS / f"months-{wider}-{lang}.png"))
    assert page.outside_requests == []
