"""The dashboard's funnel in Chromium at 1366x768 and 360x640, in both languages: the
page never scrolls sideways and no step's label or figure is cut off its chart."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from funrun.accounts.services import create_user
from tests.browser.conftest import browser, live_server  # noqa: F401  (fixtures)
from tests.checkin.conftest import make_staff  # noqa: F401
from tests.payments.test_funnel import _story

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))
EMAIL = "funnel-organiser@example.org"
PASSWORD = "organiser-password-1"

#: Every text of every funnel chart against its SVG's viewBox (in the SVG's own units).
CLIPPED = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.funnel-chart')) {
    const width = svg.viewBox.baseVal.width;
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBBox();
      if (box.x < -0.5 || box.x + box.width > width + 0.5) out.push(text.textContent);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("size", [(1366, 768), (360, 640)])
def test_the_funnel_fits_and_nothing_is_cut_off(
    app,
    client,
    make_event,
    add_runner,
    enrol,
    make_staff,  # noqa: F811
    browser,  # noqa: F811
    live_server,  # noqa: F811
    size,
    lang,
):
    _story(client, make_event, add_runner, enrol, make_staff)
    create_user(EMAIL, "organiser", password=PASSWORD)
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(f"{live_server}/login")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/staff$"))
        for view in ("city", "aggregator", "sponsor"):
            page.goto(f"{live_server}/staff/dashboard?funnel={view}&lang={lang}#funnel")
            charts = page.locator("svg.funnel-chart")
            assert charts.count() >= 1
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.locator("#funnel").screenshot(
                path=str(SHOTS / f"funnel-{view}-{size[0]}-{lang}.png")
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= size[0] + 1
            assert page.evaluate(CLIPPED) == [], (view, size, lang)
            box = charts.first.bounding_box()
            assert box is not None and box["width"] >= 280  # readable, not a thumbnail
    finally:
        context.close()
