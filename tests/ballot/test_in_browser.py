"""The ballot's pages in Chromium on a 360x640 phone, in Bahasa Indonesia, without
JavaScript: the event page before and after the draw, an entrant's page, the organiser's
ballot page through the draw. Nothing scrolls sideways, nothing loads from elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

from funrun.jobs.worker import Worker
from tests.ballot.conftest import close_entries, enter_many
from tests.checkin.conftest import PASSWORD

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))


def _look(page, url: str, name: str) -> str:
    """Open ``url`` in Indonesian, keep a screenshot; the page's text."""
    page.goto(url)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"ballot-{name}-360-id.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 361, f"{name}: the page scrolls sideways ({width} px)"
    return page.inner_text("main")


def test_ballot_pages_on_a_phone(app, client, make_ballot, make_staff, phone_page, live_server):
    event = make_ballot(quota=3, name="Fun Run Jakarta", city="Jakarta")
    slug = event.slug
    entries = enter_many(client, event, 8)
    organiser = make_staff("organiser", password=PASSWORD)
    page = phone_page
    page.context.add_cookies([{"name": "lang", "value": "id", "url": live_server}])

    text = _look(page, f"{live_server}/events/{slug}", "event-open")
    assert "Tempat diundi" in text and "Ikut undian" in text
    assert event.ballot_seed_sha256 in text
    text = _look(page, f"{live_server}/events/{slug}/register", "form")
    assert "belum tempat" in text and "Ikut undian" in text
    token = entries[0]["registration"]["manage_token"]
    text = _look(page, f"{live_server}/r/{token}?new=1", "entry")
    assert "nomor undian" in text.lower() and "belum tempat" in text

    page.goto(f"{live_server}/login")
    page.fill("#email", organiser.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    text = _look(page, f"{live_server}/staff/events/{slug}/ballot", "staff-open")
    assert "Tombol undian muncul" in text
    close_entries(event)
    text = _look(page, f"{live_server}/staff/events/{slug}/ballot", "staff-closed")
    page.click("#draw-ballot")
    assert "Undian sedang berjalan" in page.inner_text("main")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ballot-staff-drawing-360-id.png"), full_page=True)
    assert Worker(app).run(burst=True) == 1
    text = _look(page, f"{live_server}/staff/events/{slug}/ballot", "staff-drawn")
    assert "3 dapat tempat dengan BIB, 5 di daftar tunggu" in text

    text = _look(page, f"{live_server}/events/{slug}", "event-drawn")
    assert "Undian sudah dilakukan" in text and "Hasil undian (CSV, tanpa nama)" in text
    text = _look(page, f"{live_server}/r/{token}", "entry-drawn")
    assert page.outside_requests == []
