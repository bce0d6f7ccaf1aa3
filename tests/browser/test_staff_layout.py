"""Staff pages in Chromium at 1366x768 and 360x640, in both languages: the office layout.

No staff table is wider than its container on a laptop (none scrolls inside its wrapper);
on a phone a wide table scrolls inside its wrapper, never the page. No cell kept on one
line (times, numbers) is clipped, numbers sit under their right-aligned headers, audit
times take one line, names wrap at most once. The navigation shows each role its pages,
marks the current one, and folds into a menu on a phone, without JavaScript.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from funrun.accounts.services import create_user
from funrun.audit.services import record
from funrun.bibs.services import payload_for
from funrun.checkin.services import scan
from funrun.enrolment.models import ExportBatch
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))
PASSWORD = "staff-layout-password-1"
ADMIN = "admin-layout@example.org"
ORGANISER = "organiser-layout@example.org"
VOLUNTEER = "volunteer-layout@example.org"
CITIES = (
    "Jakarta",
    "Surabaya",
    "Bandung",
    "Medan",
    "Semarang",
    "Makassar",
    "Palembang",
    "Balikpapan",
    "Denpasar",
    "Yogyakarta",
    "Pekanbaru",
)
LONG_NAME = "Raden Ajeng Siti Nurhaliza Kusumawardhani Prawirodirdjo"
SIZES = {"laptop": (1366, 768), "phone": (360, 640)}

#: In the page: every table against its container, every one-line cell against its box.
MEASURE = """() => {
  const out = {pageWidth: document.documentElement.scrollWidth, tables: [], clipped: []};
  for (const table of document.querySelectorAll('main table')) {
    const wrap = table.closest('.table-wrap');
    const box = wrap || table.parentElement;
    out.tables.push({
      id: table.className, wrapped: !!wrap, width: table.scrollWidth,
      room: box.clientWidth, wrapScrolls: wrap ? wrap.scrollWidth > wrap.clientWidth + 1 : false,
    });
    for (const cell of table.querySelectorAll('th, td')) {
      if (getComputedStyle(cell).whiteSpace !== 'nowrap') continue;
      if (cell.scrollWidth > cell.clientWidth + 1)
        out.clipped.push(cell.className + ': ' + cell.textContent.trim());
    }
  }
  return out;
}"""

#: Right edges of each numeric header and the cells under it (first body row).
ALIGNMENT = """(selector) => {
  const table = document.querySelector(selector);
  const heads = [...table.querySelectorAll('thead th')];
  const cells = [...table.querySelector('tbody tr').children];
  return heads.map((th, i) => ({
    head: th.getBoundingClientRect().right, cell: cells[i].getBoundingClientRect().right,
    align: getComputedStyle(th).textAlign, cellAlign: getComputedStyle(cells[i]).textAlign,
    numeric: cells[i].classList.contains('num'),
  }));
}"""

#: How many lines each matching element's text takes.
LINES = """(selector) => [...document.querySelectorAll(selector)].map(el => {
  const range = document.createRange(); range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  return {text: el.textContent.trim(), lines: tops.size};
})"""


def _runner(event, index: int, **overrides) -> Registration:
    data = clean_registration(person_payload(index, **overrides), event)
    new = register(event, data, notice=current_privacy_notice("id"))
    return db.session.get_one(Registration, new.snapshot.id)


@pytest.fixture
def office(app, make_event):
    """Eleven cities, Jakarta with runners, check-ins, audit rows and export batches."""
    admin = create_user(ADMIN, "admin", password=PASSWORD)
    create_user(ORGANISER, "organiser", password=PASSWORD)
    events = [
        make_event(slug=city.lower(), city=city, quota=500 + 25 * n, date=date(2026, 12, 13))
        for n, city in enumerate(CITIES)
    ]
    jakarta = events[0]
    create_user(VOLUNTEER, "volunteer", password=PASSWORD, event_slugs=[jakarta.slug])
    runners = [
        _runner(jakarta, 7000 + i, **({"full_name": LONG_NAME} if i == 0 else {})) for i in range(8)
    ]
    for runner in runners[:4]:
        scan(jakarta, payload_for(runner), user=admin, station="pickup", device="scan-5EVF")
    scan(jakarta, payload_for(runners[0]), user=admin, station="pickup", device="scan-5EVF")
    record("account_create", user_id=admin.id, target=ORGANISER, detail="organiser")
    record(
        "event_edit",
        user_id=admin.id,
        target=jakarta.slug,
        event_id=jakarta.id,
        detail="quota 500 reminder 3",
    )
    for number in (1, 2):
        db.session.add(
            ExportBatch(
                number=number,
                count=12 * number,
                created_by_id=admin.id,
                csv_encrypted=b"x",
                json_encrypted=b"x",
                csv_sha256="0" * 64,
                json_sha256="0" * 64,
            )
        )
    db.session.commit()
    registration_id = db.session.scalar(
        select(Registration.id).where(Registration.full_name == LONG_NAME)
    )
    return {"jakarta": jakarta, "registration_id": registration_id}


def _context(browser, size: str):
    width, height = SIZES[size]
    return browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        is_mobile=size == "phone",
        java_script_enabled=False,
    )


def _login(page, live_server: str, email: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/staff$"))


TABLE_PAGES = (
    ("dashboard", "/staff/dashboard"),
    ("events", "/staff/events"),
    ("roster", "/staff/events/jakarta/roster"),
    ("checkins", "/staff/events/jakarta/checkins"),
    ("audit", "/staff/audit"),
    ("exports", "/staff/enrolment/exports"),
    ("accounts", "/staff/people"),
)


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_no_staff_table_overflows_or_clips(browser, live_server, office, size, lang):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = _context(browser, size)
    page = context.new_page()
    try:
        _login(page, live_server, ADMIN)
        width = SIZES[size][0]
        for name, path in TABLE_PAGES:
            page.goto(f"{live_server}{path}?lang={lang}")
            page.screenshot(path=str(SHOTS / f"staff-{name}-{size}-{lang}.png"), full_page=True)
            found = page.evaluate(MEASURE)
            assert found["tables"], f"{name}: no table"
            assert found["pageWidth"] <= width + 1, f"{name} ({size}, {lang}): the page scrolls"
            assert not found["clipped"], f"{name} ({size}, {lang}): clipped {found['clipped']}"
            for table in found["tables"]:
                if size == "laptop":
                    assert table["width"] <= table["room"] + 1, f"{name}: {table}"
                    assert not table["wrapScrolls"], f"{name}: {table} scrolls inside"
                else:
                    assert table["wrapped"] or table["width"] <= table["room"] + 1, (
                        f"{name}: {table} wider than the phone, not in a scrolling wrapper"
                    )
        if size == "laptop":
            _check_laptop_details(page, live_server, office, lang)
    finally:
        context.close()


def _check_laptop_details(page, live_server: str, office, lang: str) -> None:
    # Numbers right-aligned under right-aligned headers (the shirt sizes, the per-city table).
    page.goto(f"{live_server}/staff/dashboard?lang={lang}")
    for selector in ("table.figures:not(#payers)", "table.figures:last-of-type"):
        for column in page.evaluate(ALIGNMENT, selector):
            if column["numeric"]:
                assert column["align"] == "right" and column["cellAlign"] == "right"
                assert abs(column["head"] - column["cell"]) <= 1, column
    # Audit times on one line; roster times on one line, the long name on at most two.
    page.goto(f"{live_server}/staff/audit?lang={lang}")
    times = page.evaluate(LINES, "table.audit td.time")
    assert times and all(t["lines"] == 1 for t in times), times
    page.goto(f"{live_server}/staff/events/jakarta/roster?lang={lang}")
    assert all(t["lines"] == 1 for t in page.evaluate(LINES, "table.roster td.time")), "times"
    names = page.evaluate(LINES, "table.roster td.roster-name > a")
    assert any(n["text"] == LONG_NAME for n in names)
    assert all(n["lines"] <= 2 for n in names), names


def _links(page, where: str) -> dict[str, str | None]:
    found = page.locator(f"{where} a")
    return {
        found.nth(i).inner_text().strip(): found.nth(i).get_attribute("aria-current")
        for i in range(found.count())
    }


@pytest.mark.parametrize(
    ("email", "landing", "expected", "current"),
    [
        (
            ADMIN,
            "/staff/audit",
            {
                "Events",
                "Dashboard",
                "Scan",
                "Enrolment desk",
                "Personal data",
                "Exports",
                "Sponsors",
                "Messages",
                "Audit log",
                "Accounts",
            },
            "Audit log",
        ),
        (
            ORGANISER,
            "/staff/events",
            {"Events", "Dashboard", "Scan", "Enrolment desk", "Exports", "Sponsors", "Messages"},
            "Events",
        ),
        (VOLUNTEER, "/staff/scan", {"Scan", "Enrolment desk"}, "Scan"),
    ],
)
def test_the_navigation_shows_each_role_its_pages(
    browser, live_server, office, email, landing, expected, current
):
    context = _context(browser, "laptop")
    page = context.new_page()
    try:
        _login(page, live_server, email)
        page.goto(f"{live_server}{landing}?lang=en")
        assert page.locator(".staff-navlinks").is_visible()
        assert not page.locator(".staff-menu").is_visible()
        links = _links(page, ".staff-navlinks li:not(.staff-me)")
        assert set(links) == expected
        assert [name for name, mark in links.items() if mark == "page"] == [current]
        page.screenshot(path=str(SHOTS / f"staff-nav-{email.split('-')[0]}-laptop.png"))
        if email == VOLUNTEER:
            # Their one event's desk, directly; the roster is not theirs.
            desk = page.locator(".staff-navlinks a", has_text="Enrolment desk")
            assert desk.get_attribute("href") == "/staff/events/jakarta/enrol"
    finally:
        context.close()


def test_the_navigation_is_a_menu_on_a_phone_without_javascript(browser, live_server, office):
    context = _context(browser, "phone")
    page = context.new_page()
    try:
        _login(page, live_server, ORGANISER)
        page.goto(f"{live_server}/staff/dashboard?lang=id")
        assert not page.locator(".staff-navlinks").is_visible()
        menu = page.locator(".staff-menu")
        assert menu.is_visible()
        assert "Dasbor" in menu.locator("summary").inner_text()
        assert not menu.locator("a").first.is_visible()
        menu.locator("summary").click()
        assert menu.locator("a").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 361
        page.screenshot(path=str(SHOTS / "staff-nav-menu-phone-id.png"), full_page=True)
        menu.locator("a", has_text="Acara").click()
        page.wait_for_url(re.compile(r"/staff/events$"))
    finally:
        context.close()


OTHER_PAGES = (
    ("home", "/staff"),
    ("new-event", "/staff/events/new"),
    ("edit-event", "/staff/events/jakarta/edit"),
    ("registration", "/staff/events/jakarta/roster/{registration_id}"),
    ("privacy", "/staff/privacy"),
    ("schedules", "/staff/enrolment/schedules"),
    ("messages", "/staff/messages"),
    ("bibs", "/staff/events/jakarta/bibs"),
    ("choose", "/staff/scan"),
    ("scan", "/staff/events/jakarta/scan"),
)


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_every_other_staff_page_fits_the_screen(browser, live_server, office, size):
    context = _context(browser, size)
    page = context.new_page()
    try:
        _login(page, live_server, ADMIN)
        for name, path in OTHER_PAGES:
            lang = "en" if name in ("home", "registration", "scan") else "id"
            page.goto(f"{live_server}{path.format(**office)}?lang={lang}")
            page.screenshot(path=str(SHOTS / f"staff-{name}-{size}-{lang}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= SIZES[size][0] + 1, f"{name} ({size}): the page scrolls"
            assert page.locator("nav.staff-nav").count() == 1
    finally:
        context.close()
