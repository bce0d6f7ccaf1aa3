"""The sponsor pages and the desk's eligibility note in Chromium at 1366x768 and 360x640,
in both languages: nothing wider than the screen (a wide table scrolls in its wrapper),
the refused lines of an upload listed masked, the desk's sponsor pre-selected. Screenshots
go to FUNRUN_SCREENSHOTS (default /tmp/funrun-sponsors)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from funrun.accounts.services import create_user
from funrun.enrolment.services import enrol_registered, prepare
from funrun.people.crypto import data_cipher
from tests.browser.conftest import browser, live_server  # noqa: F401  (fixtures)
from tests.conftest import person_payload
from tests.sponsors.conftest import APBD, list_niks, next_index, sponsored

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "/tmp/funrun-sponsors"))
PASSWORD = "sponsor-pages-password-1"
ORGANISER = "organiser-sponsors@example.org"
SIZES = {"laptop": (1366, 768), "phone": (360, 640)}
WIDTH = "() => document.documentElement.scrollWidth"


@pytest.fixture
def sponsor_world(app, make_event, add_runner, set_sponsor, on_finale_day):
    create_user(ORGANISER, "organiser", password=PASSWORD)
    event = make_event(city="Jakarta Pusat", slug="jakarta")
    set_sponsor(budget_member_months=1200, budget_rupiah=250_000_000)
    set_sponsor("csr-ojol", name="CSR Aplikator Ojek Daring Nusantara", budget_member_months=60)
    runners = [add_runner(event, full_name="Raden Ajeng Siti Nurhaliza Kusumawardhani")]
    runners += [add_runner(event) for _ in range(3)]
    list_niks(APBD, [data_cipher().decrypt(r.person.nik_encrypted) for r in runners])
    for runner in runners[1:]:
        ready = prepare(event, sponsored(months=12), walkup=False, registration=runner)
        enrol_registered(event, runner, ready, user=None, locale="id")
    return event, runners[0]


def _login(page, live: str) -> None:
    page.goto(f"{live}/login")
    page.fill("#email", ORGANISER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/staff$"))


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_the_sponsor_pages_fit_the_screen(
    browser,  # noqa: F811
    live_server,  # noqa: F811
    sponsor_world,
    tmp_path,
    size,
    lang,
):
    event, eligible = sponsor_world
    SHOTS.mkdir(parents=True, exist_ok=True)
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    page = context.new_page()
    try:
        _login(page, live_server)
        page.goto(f"{live_server}/staff/sponsors")
        assert page.locator("table.sponsors-table tbody tr").count() == 2
        assert page.evaluate(WIDTH) <= width
        page.screenshot(path=str(SHOTS / f"sponsors-{size}-{lang}.png"), full_page=True)

        listing = tmp_path / "daftar.csv"
        good = [person_payload(next_index())["nik"] for _ in range(3)]
        listing.write_text("nik,nama\n" + "\n".join([*good, "31740101010100001", "12AB"]))
        page.goto(f"{live_server}/staff/sponsors/{APBD}")
        page.set_input_files("input[type=file]", str(listing))
        page.click("form.list-form button[type=submit]")
        page.wait_for_selector("#upload-report")
        assert page.locator("table.refusals tbody tr").count() == 2
        html = page.content()
        assert all(nik not in html for nik in good)
        assert page.evaluate(WIDTH) <= width
        page.screenshot(path=str(SHOTS / f"sponsor-{size}-{lang}.png"), full_page=True)

        page.goto(f"{live_server}/staff/events/{event.slug}/enrol?registration={eligible.id}")
        assert page.locator(".sponsor-offer").count() == 1
        assert page.locator("input[name=payment_channel][value=sponsor]").is_checked()
        assert page.evaluate(WIDTH) <= width
        page.screenshot(path=str(SHOTS / f"desk-offer-{size}-{lang}.png"), full_page=True)
    finally:
        context.close()
