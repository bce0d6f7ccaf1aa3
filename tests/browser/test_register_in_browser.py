"""A runner registers on a phone-sized Chromium with JavaScript switched off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from funrun.extensions import db
from funrun.registration.models import Registration

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))

pytestmark = pytest.mark.browser


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _fill_valid(page) -> None:
    page.fill("#full_name", "Siti Rahmawati")
    page.fill("#nik", "3174 0157 0890 0001")
    page.fill("#birth_date", "1990-08-17")
    page.check("input[name=gender][value=F]")
    page.fill("#phone", "0812 3456 7890")
    page.check("input[name=shirt_size][value=M]")
    page.check("input[name=member][value=n]")
    page.fill("#occupation", "Pedagang pasar")
    page.check("#consent")


def test_register_without_javascript(phone_page, live_server, make_event):
    """Home, city page, form, confirmation with a bib: all in Indonesian, nothing external."""
    event = make_event(city="Jakarta", name="Fun Run 5K Jakarta", quota=5, bib_prefix="JKT")
    page = phone_page
    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "id"
    _shot(page, "01-tour")
    page.click(f"a[href='/events/{event.slug}']")
    _shot(page, "02-city")
    page.click(f"a[href='/events/{event.slug}/register']")
    _fill_valid(page)
    _shot(page, "03-form-filled")
    page.click("button[type=submit]")
    page.wait_for_selector(".bib")
    _shot(page, "04-confirmation")
    assert page.locator(".bib").inner_text().strip() == "JKT 0001"
    assert "/r/" in page.url
    db.session.rollback()  # end this thread's read snapshot; the server wrote since
    registration = db.session.scalar(db.select(Registration))
    assert registration is not None and registration.status == "confirmed"
    # The full NIK never reaches the page; the masked one does.
    assert "3174015708900001" not in page.content()
    assert "3174**********01" in page.content()
    assert page.outside_requests == []


def test_errors_show_next_to_fields(phone_page, live_server, make_event):
    """A wrong NIK and a landline get messages beside their fields; typed values stay."""
    event = make_event(quota=5)
    page = phone_page
    page.goto(f"{live_server}/events/{event.slug}/register")
    _fill_valid(page)
    page.fill("#nik", "3174011708900001")  # male day for a woman
    page.fill("#phone", "021 555 1234")
    page.click("button[type=submit]")
    page.wait_for_selector(".errors")
    _shot(page, "05-form-errors")
    assert page.locator("#nik-error").is_visible()
    assert page.locator("#phone-error").is_visible()
    assert page.input_value("#full_name") == "Siti Rahmawati"
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Registration.id))) == 0
    assert page.outside_requests == []


def test_full_event_waitlists_and_cancel_promotes(phone_page, live_server, make_event):
    """With the only place taken, the next runner is waitlisted; a cancel promotes them."""
    event = make_event(quota=1)
    page = phone_page
    urls = []
    for nik, birth, name in (
        ("3174015708900001", "1990-08-17", "Siti Rahmawati"),
        ("3174015808900001", "1990-08-18", "Dewi Lestari"),
    ):
        page.goto(f"{live_server}/events/{event.slug}/register")
        _fill_valid(page)
        page.fill("#full_name", name)
        page.fill("#nik", nik)
        page.fill("#birth_date", birth)
        page.click("button[type=submit]")
        page.wait_for_selector(".ticket")
        urls.append(page.url.split("?")[0])
    _shot(page, "06-waitlisted")
    assert "status-waitlisted" in (page.locator(".ticket").get_attribute("class") or "")
    page.goto(urls[0] + "/cancel")
    page.click("button[type=submit]")
    page.wait_for_selector(".ticket")
    page.goto(urls[1])
    assert page.locator(".bib").inner_text().strip() == "TST 0002"
    _shot(page, "07-promoted")
    assert page.outside_requests == []
