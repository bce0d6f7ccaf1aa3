"""The organiser's dashboard in Chromium: drawn without JavaScript, updated in place with it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from funrun.accounts.services import create_user
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))
EMAIL = "penyelenggara@example.org"
PASSWORD = "organiser-password-1"


def _register(event, index: int) -> None:
    register(
        event,
        clean_registration(person_payload(index), event),
        notice=current_privacy_notice("id"),
    )


def _login(page, live_server: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/staff$"))


def test_dashboard_updates_itself_without_a_reload(app, browser, live_server, make_event):
    app.config["FUNRUN_DASHBOARD_POLL_SECONDS"] = 1
    create_user(EMAIL, "organiser", password=PASSWORD)
    jakarta = make_event(slug="jakarta", city="Jakarta", quota=50)
    make_event(slug="batam", city="Batam", quota=20)
    for index in range(3):
        _register(jakarta, 900 + index)

    context = browser.new_context(
        viewport={"width": 360, "height": 640}, device_scale_factor=2, is_mobile=True
    )
    allowed = urlsplit(live_server).netloc
    outside: list[str] = []
    problems: list[str] = []

    def guard(route) -> None:
        if urlsplit(route.request.url).netloc == allowed:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    try:
        _login(page, live_server)
        page.goto(f"{live_server}/staff/dashboard")
        confirmed = page.locator('dd [data-cell="total:confirmed"]')
        expect(confirmed).to_have_text("3")
        expect(page.locator("#live-note")).to_be_visible()
        # No check-ins yet: no chart of them (the shirt stock charts below are not live).
        assert page.locator("[data-chart] svg.chart").count() == 3
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "dashboard-360.png"))
        page.screenshot(path=str(SHOTS / "dashboard-360-full.png"), full_page=True)
        marker = page.evaluate_handle("document.getElementById('dashboard')")

        _register(jakarta, 950)  # another runner, while the page is open
        expect(confirmed).to_have_text("4", timeout=10_000)
        expect(page.locator('td[data-cell="jakarta:confirmed"]')).to_have_text("4")
        # The same document (no reload), with the chart redrawn from the server's SVG.
        assert page.evaluate("(el) => el === document.getElementById('dashboard')", marker)
        title = page.locator('[data-chart="quota_fill"] svg g title', has_text="Jakarta")
        expect(title).to_have_text("Jakarta: 4/50")
    finally:
        context.close()
    assert not outside, outside
    assert not problems, problems
