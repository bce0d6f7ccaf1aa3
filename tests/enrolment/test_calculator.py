"""The contribution calculator on the event page: a plain GET form, no JavaScript needed.

"Today" is 4 December 2026 in Jakarta: a market trader's PP 50/2025 relief covers
December 2026 only, an ojek driver's runs to March 2027. The schedules are the shipped
ones (tests/enrolment/conftest.py loads them).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from funrun.api.schemas import contributions as quote_schema
from funrun.enrolment.models import ContributionSchedule, Enrolment, EnrolmentMonth
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import Registration
from tests.browser.conftest import browser, live_server, phone_page  # noqa: F401  (fixtures)
from tests.browser.test_scan_page import SHOTS
from tests.checkin.conftest import browser as own_context_client
from tests.conftest import build_app

#: 10.00 WIB on Friday 4 December 2026.
TODAY = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
TOO_MANY = "Too many requests. Please wait a minute and try again."
TRADER = {"occupation": "trader", "income": "1.000.000", "jht": "y", "months": "3"}


@pytest.fixture(autouse=True)
def on_4_december_2026(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calculator prices on 4 December 2026 (WIB)."""
    monkeypatch.setattr(quote_schema, "utcnow", lambda: TODAY)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Each request in its own app context, as on a server (the language is not kept)."""
    return own_context_client(app)


@pytest.fixture
def event(make_event) -> Event:
    return make_event(slug="jakarta", city="Jakarta", name="Fun Run Jakarta")


def calculate(client, slug: str = "jakarta", **params: Any) -> Any:
    return client.get(f"/events/{slug}/iuran", query_string=params)


def text_of(html: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (tags dropped, spaces collapsed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def month_totals(html: str) -> list[tuple[str, str]]:
    """(YYYY-MM, total) of each row of the months table."""
    rows = re.findall(r'<tr data-month="([0-9-]+)">(.*?)</tr>', html, re.S)
    return [(month, _total(body)) for month, body in rows]


def _total(row_html: str) -> str:
    match = re.search(r'class="num month-total"[^>]*>([^<]+)<', row_html)
    assert match
    return match.group(1).strip()


def translated(app: Flask, message: str, locale: str = "id", **values: Any) -> str:
    """``message`` in ``locale``, escaped as the page writes it."""
    with app.test_request_context("/"), force_locale(locale):
        return str(escape(gettext(message, **values)))


def stored_rows() -> tuple[int, ...]:
    db.session.rollback()
    return tuple(
        db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Person, Registration, Enrolment, EnrolmentMonth)
    )


# --- with the test client (no JavaScript at all) ------------------------------------------


def test_the_event_page_links_to_the_calculator(client, event):
    page = client.get("/events/jakarta").get_data(as_text=True)
    assert 'href="/events/jakarta/iuran"' in page
    assert "Berapa iuran saya?" in page
    english = client.get("/events/jakarta?lang=en").get_data(as_text=True)
    assert "What would membership cost me?" in english


def test_the_empty_form_asks_no_personal_data(client, event):
    response = calculate(client)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    form = page[page.index("<form") : page.index("</form>")]
    assert 'method="get"' in form
    assert "csrf_token" not in form
    names = set(re.findall(r'name="([^"]+)"', form))
    assert names == {"occupation", "income", "jht", "months"}
    assert 'id="amount-due"' not in page
    assert re.search(r'<input checked id="months-0" name="months" type="radio" value="1">', form)


def test_a_trader_with_jht_for_3_months_in_indonesian(client, event, app):
    response = calculate(client, **TRADER)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert text_of(page, "amount-due") == "Rp 102.000"
    assert month_totals(page) == [
        ("2026-12", "Rp 28.400"),
        ("2027-01", "Rp 36.800"),
        ("2027-02", "Rp 36.800"),
    ]
    assert text_of(page, "contribution-total") == "Rp 102.000"
    assert "Desember 2026" in page and "Keringanan" in page
    # The form keeps what was sent.
    assert re.search(r'<option selected value="trader">', page)
    assert 'value="1.000.000"' in page
    assert re.search(r'<input checked id="jht"', page)
    assert re.search(r'<input checked id="months-1" name="months" type="radio" value="3">', page)
    assert stored_rows() == (0, 0, 0, 0)


def test_the_same_in_english(client, event):
    page = calculate(client, lang="en", **TRADER).get_data(as_text=True)
    assert text_of(page, "amount-due") == "Rp 102,000"
    assert "December 2026" in page and "January 2027" in page
    assert "Contribution relief PP 50/2025" in page
    assert '<input type="hidden" name="lang" value="en">' in page  # the next submit stays English


def test_an_ojek_driver_keeps_the_relief_to_march_and_income_is_on_its_basis(client, event):
    """Rp 1.500.000 is priced on its bracket's basis, Rp 1.600.000: JKK 16.000 (8.000 cut)."""
    page = calculate(client, occupation="ojek_driver", income="Rp 1.500.000", months="6").get_data(
        as_text=True
    )
    halved, full = "Rp 11.400", "Rp 22.800"  # 8.000 + 3.400, 16.000 + 6.800
    assert [total for _month, total in month_totals(page)] == [halved] * 4 + [full] * 2
    assert text_of(page, "amount-due") == "Rp 91.200"
    assert "Rp 1.600.000" in page  # the basis, in words


@pytest.mark.parametrize(
    ("change", "field", "message", "values"),
    [
        ({"income": ""}, "income", "This field is required.", {}),
        ({"income": "lima juta"}, "income", "Enter an amount in whole rupiah, e.g. 1500000.", {}),
        ({"income": "-1500000"}, "income", "Enter an amount in whole rupiah, e.g. 1500000.", {}),
        ({"income": "2000000000"}, "income", "Enter an amount in whole rupiah, e.g. 1500000.", {}),
        (
            {"income": "900000"},
            "income",
            "The lowest income basis is Rp %(amount)s a month.",
            {"amount": "1.000.000"},
        ),
        ({"occupation": "astronaut"}, "occupation", "Choose one of the listed occupations.", {}),
        ({"occupation": ""}, "occupation", "This field is required.", {}),
        ({"months": "2"}, "months", "Pay for 1, 3, 6 or 12 months.", {}),
        ({"income": ["1000000", "2000000"]}, "income", "Give this value once.", {}),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_bad_input_keeps_the_form_with_a_message(
    client, event, app, change, field, message, values
):
    sent = {**TRADER, **change}
    response = calculate(client, **sent)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    errors = re.search(rf'<ul class="errors" id="{field}-error">(.*?)</ul>', page, re.S)
    assert errors, page
    assert translated(app, message, **values) in errors.group(1)
    assert 'id="amount-due"' not in page
    # What was typed stays in the form, to correct.
    if field == "income" and isinstance(sent["income"], str):
        assert f'value="{escape(sent["income"])}"' in page
    assert re.search(r'<input checked id="jht"', page)
    assert stored_rows() == (0, 0, 0, 0)


def test_bad_input_in_english(client, event):
    response = calculate(client, lang="en", occupation="trader", income="abc", months="2")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter an amount in whole rupiah, e.g. 1500000." in page
    assert "Pay for 1, 3, 6 or 12 months." in page
    assert 'value="abc"' in page


def test_no_schedule_says_so_above_the_form(client, event):
    db.session.execute(db.update(ContributionSchedule).values(effective_to=date(2026, 12, 31)))
    db.session.commit()
    response = calculate(client, lang="en", **TRADER)
    assert response.status_code == 422
    assert "No contribution schedule is in force in January 2027" in text_of(
        response.get_data(as_text=True), "quote-errors"
    )


def test_an_unknown_event_is_a_404(client, event):
    assert calculate(client, slug="atlantis", **TRADER).status_code == 404


# --- in Chromium at 360x640, JavaScript off -----------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(
    ("lang", "link", "total"),
    [
        ("id", "Berapa iuran saya?", "Rp 102.000"),
        ("en", "What would membership cost me?", "Rp 102,000"),
    ],
)
def test_a_phone_without_javascript_works_it_out(
    phone_page,  # noqa: F811  (the browser fixtures imported above)
    live_server,  # noqa: F811
    event,
    lang,
    link,
    total,
):
    page = phone_page
    page.goto(f"{live_server}/events/jakarta")
    if lang == "en":  # the language switch in the header (a cookie, no script)
        page.click("nav.lang a[hreflang=en]")
        page.wait_for_selector("html[lang=en]")
    page.get_by_role("link", name=link).click()
    page.wait_for_selector("form.calculator-form")
    assert page.locator("#amount-due").count() == 0
    page.select_option("#occupation", "trader")
    page.fill("#income", "1000000")
    page.check("#jht")
    page.check("input[name=months][value='3']")
    page.click("#calculate")
    page.wait_for_selector("#amount-due")
    assert page.inner_text("#amount-due").strip() == total
    assert page.inner_text("#contribution-total").strip() == total
    assert page.locator("#contribution-months tbody tr").count() == 3
    # The form is pre-filled for another try, and the page fits the phone's width.
    assert page.input_value("#income") == "1000000"
    assert page.is_checked("#jht") and page.is_checked("input[name=months][value='3']")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"calculator-360-{lang}.png"), full_page=True)
    # A mistake: the message in the page's language, the figures kept.
    page.fill("#income", "abc")
    page.click("#calculate")
    page.wait_for_selector("#income-error")
    assert page.input_value("#income") == "abc"
    expected = "Masukkan jumlah" if lang == "id" else "Enter an amount"
    assert expected in page.inner_text("#income-error")
    assert page.outside_requests == []
    assert stored_rows() == (0, 0, 0, 0)


def test_the_page_is_rate_limited_like_registering(event, database_url):
    """The public limit per client (3 a minute here); the 429 page is in the reader's language."""
    limited = build_app(
        database_url,
        FUNRUN_RATE_LIMITS="3/minute",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
    )
    try:
        client = own_context_client(limited)
        assert [calculate(client, **TRADER).status_code for _ in range(3)] == [200, 200, 200]
        refused = calculate(client, **TRADER)
        assert refused.status_code == 429
        assert translated(limited, TOO_MANY) in refused.get_data(as_text=True)
    finally:
        with limited.app_context():
            db.engine.dispose()
