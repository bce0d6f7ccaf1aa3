"""The waiting page in Chromium at 360x640, with JavaScript off: it shows the place and
the wait, fetches nothing from elsewhere, and its own refresh opens the form in turn."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.browser.conftest import browser  # noqa: F401  (fixtures)


def test_waiting_page_on_a_phone_refreshes_itself_into_the_form(
    browser,  # noqa: F811
    queued_server,
    make_event,
    tmp_path: Path,
):
    event = make_event(admit_rate=1, quota=100, name="Fun Run Jakarta")
    url = f"{queued_server}/events/{event.slug}/register"
    for _ in range(3):  # three arrived first: the phone is fourth, about 3 s away
        with httpx.Client() as other:
            assert other.get(url).status_code == 200
    context = browser.new_context(
        viewport={"width": 360, "height": 640},
        device_scale_factor=2,
        is_mobile=True,
        java_script_enabled=False,
    )
    page = context.new_page()
    outside: list[str] = []
    allowed = urlsplit(queued_server).netloc

    def guard(route) -> None:
        if urlsplit(route.request.url).netloc == allowed:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    try:
        answer = page.goto(url)
        assert answer is not None and answer.status == 200
        assert page.locator("h1").inner_text() == "Anda dalam antrean untuk Fun Run Jakarta"
        place = int(page.locator(".place strong").inner_text())
        assert 2 <= place <= 4
        assert "detik lagi" in page.locator(".wait").inner_text()
        # Nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        shot = Path(os.environ.get("QUEUE_SCREENSHOT") or tmp_path / "queue-360.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
        # No script: the page's own refresh brings the form when the turn comes.
        page.wait_for_selector("input[name=nik]", timeout=15_000)
        assert page.url == url
        assert outside == []
    finally:
        context.close()
