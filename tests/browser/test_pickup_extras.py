"""The desk card's pickup extras in Chromium (issue 19, points 5 and 6), JavaScript on,
360x640: the shirts left at the pickup, the representative a runner named on their card, a
pickup by someone else with another shirt size (their KTP's NIK typed, never shown), and
the row of shirts left after it; then the dashboard's stock against demand at 1366x768."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from funrun.accounts.services import create_user
from funrun.events.models import ShirtStock
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.browser.test_scan_page import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    _checkins,
    _login,
    _wait_result,
    js_page,
    scan_event,
)
from tests.conftest import make_nik

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))
REP_NIK = make_nik(__import__("datetime").date(1985, 5, 5), "M", serial=77)


def _shot(page: Any, name: str, full: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def _no_overflow(page: Any) -> None:
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= page.viewport_size["width"], wide


def test_pickup_by_someone_else_with_a_swap(js_page, live_server, scan_event):  # noqa: F811
    page = js_page
    slug, event_id = scan_event["slug"], scan_event["event_id"]
    reg_id, bib, _number, name = scan_event["runners"][0]
    runner = db.session.get(Registration, reg_id)
    runner.proxy_name, runner.proxy_phone = "Agus Wijaya", "+6281211112222"
    sizes = scan_event["event"].shirt_sizes
    db.session.add_all(
        ShirtStock(event_id=event_id, size=size, quantity=q)
        for size, q in zip(sizes, (12, 3, 1, 20, 0, 8), strict=False)
    )
    db.session.commit()

    _login(page, live_server, slug)
    assert page.is_visible("#shirt-stock")
    row = page.inner_text("#shirt-stock-items")
    assert f"{sizes[0]} 12" in row
    assert page.locator(".shirt-left.is-low").count() >= 1
    _no_overflow(page)
    _shot(page, "h19p-desk-top-360")

    page.fill("#search-q", bib)
    page.click("#search-form button[type=submit]")
    card = page.locator(f".desk-card[data-registration='{reg_id}']")
    card.wait_for()
    assert "Agus Wijaya" in card.inner_text() and "0812-1111-2222" in card.inner_text()
    assert card.locator("details.desk-pickup").get_attribute("open") is not None
    given = sizes[2] if runner.shirt_size != sizes[2] else sizes[3]
    card.locator("input[name=proxy_name]").fill("Dewi Sartika")
    card.locator("input[name=proxy_nik]").fill(REP_NIK)
    card.locator("select[name=shirt_given]").select_option(given)
    card.locator(".desk-pickup-form input[name=id_checked]").check()
    card.scroll_into_view_if_needed()
    _no_overflow(page)
    _shot(page, "h19p-desk-pickup-card-360")
    card.locator(".desk-pickup-form button[type=submit]").click()

    _wait_result(page, "checked_in")
    detail = page.inner_text("#result-detail")
    assert "Dewi Sartika" in detail and "Agus Wijaya" in detail and name in detail
    assert REP_NIK not in page.content()
    [checkin] = _checkins(reg_id)
    assert (checkin.proxy_name, checkin.shirt_given) == ("Dewi Sartika", given)
    left = page.inner_text(f".shirt-left[data-size='{given}']")
    assert left.split()[1] == str({sizes[2]: 0, sizes[3]: 19}[given])
    _no_overflow(page)
    _shot(page, "h19p-desk-pickup-done-360")


def test_dashboard_stock_against_demand(browser, live_server, scan_event):  # noqa: F811
    event_id = scan_event["event_id"]
    db.session.add(ShirtStock(event_id=event_id, size="M", quantity=1))
    db.session.commit()
    create_user("boss@example.org", "organiser", password=PASSWORD)
    for width, height in ((1366, 768), (360, 640)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{live_server}/login?lang=en")
        page.fill("#email", "boss@example.org")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/staff")
        page.goto(f"{live_server}/staff/dashboard?lang=en")
        board = page.locator("#shirt-stock-board")
        board.scroll_into_view_if_needed()
        assert "Shirt stock against demand" in board.inner_text()
        assert page.locator("#shirt-stock-board svg").count() == 1
        _no_overflow(page)
        _shot(page, f"h19p-dashboard-stock-{width}")
        # The desk as an organiser sees it on a laptop: the shirts left under the counter.
        page.goto(f"{live_server}/staff/events/{scan_event['slug']}/scan?station=pickup&lang=en")
        assert "M 1" in page.inner_text("#shirt-stock")
        _no_overflow(page)
        _shot(page, f"h19p-desk-top-{width}")
        context.close()
