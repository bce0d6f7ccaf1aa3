"""A group member confirms the place their partner holds, on a 360x640 phone-sized
Chromium with JavaScript off, in Indonesian (issue 20): first without the consent box (a
clear message, nothing changes), then with it (the confirmed page with the bib); and a
partner's own pages on the same phone. Screenshots in FUNRUN_SCREENSHOTS (instance/ by
default; /tmp when looking by hand)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from werkzeug.security import generate_password_hash

from funrun.extensions import db
from funrun.registration.models import Registration
from tests.groups.held_rows import make_held, make_import, make_partner

SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))

pytestmark = pytest.mark.browser


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _no_overflow(page: Any) -> None:
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 360, f"the page is {wide}px wide at 360px"


def test_a_member_confirms_the_held_place_on_a_phone(phone_page, live_server, make_event):
    event = make_event(name="Fun Run 5K Solo", city="Solo", quota=5, bib_prefix="SLO")
    partner = make_partner()
    batch = make_import(event, partner)
    held = make_held(event.id, batch.id, partner.id, 1)
    page = phone_page
    page.goto(f"{live_server}/r/{held.token}")
    assert page.locator("html").get_attribute("lang") == "id"
    text = page.locator("main").inner_text()
    assert "Koperasi Ojek Sejahtera mendaftarkan Anda ke Fun Run 5K Solo di Solo" in text
    assert "Disimpan sampai" in text and "SLO 0001" in text
    assert page.locator("#consent").is_visible()
    for button in ("#confirm-place", "#decline-place"):
        box = page.locator(button).bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 360
    _no_overflow(page)
    _shot(page, "held-01-page")

    # Without the box ticked: a clear message beside it, nothing changes.
    page.click("#confirm-place")
    page.wait_for_selector("#consent-error")
    assert "Centang kotak" in page.locator("#consent-error").inner_text()
    _no_overflow(page)
    _shot(page, "held-02-no-consent")
    db.session.rollback()
    assert db.session.get_one(Registration, held.id).status == "held"

    # Read the notice, tick the box, confirm: the confirmed page with the bib and its PDF.
    page.click("details.notice summary")
    assert page.locator("details.notice p").first.is_visible()
    page.check("#consent")
    page.click("#confirm-place")
    page.wait_for_selector(".bib")
    text = page.locator("main").inner_text()
    assert "Tempat Anda sudah terkonfirmasi" in text
    assert page.locator(".bib").inner_text().strip() == "SLO 0001"
    assert page.locator("a[href$='/bib.pdf']").count() == 1
    _no_overflow(page)
    _shot(page, "held-03-confirmed")
    db.session.rollback()
    row = db.session.get_one(Registration, held.id)
    assert row.status == "confirmed" and row.consent_at is not None
    assert held.nik not in page.content()
    assert page.outside_requests == []  # type: ignore[attr-defined]


def test_a_partners_pages_on_a_phone(phone_page, live_server, make_event):
    event = make_event(name="Fun Run 5K Solo", city="Solo", quota=5, bib_prefix="SLO")
    partner = make_partner(
        password_hash=generate_password_hash("correct horse battery", method="pbkdf2:sha256:1000")
    )
    batch = make_import(event, partner, "ojek-2026-12", total_rows=3, processed_rows=3, accepted=2)
    make_held(event.id, batch.id, partner.id, 1)
    make_held(event.id, batch.id, partner.id, 2)
    # An event whose name has one long word (a sponsor's, a URL): its upload box still
    # fits the phone (a fieldset is as wide as its widest word unless told otherwise).
    make_event(name="Fun Run " + "Sponsorship" * 6, city="Medan", quota=5, bib_prefix="MDN")
    page = phone_page
    page.goto(f"{live_server}/login")
    page.fill("#email", "hr@ojek.example")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_selector("h1")
    assert page.url.endswith("/partner/")
    assert "Koperasi Ojek Sejahtera" in page.locator("h1").inner_text()
    _no_overflow(page)
    _shot(page, "partner-01-home")
    page.goto(f"{live_server}/partner/members")
    assert page.locator("tr.place-held").count() == 2
    assert "Disimpan sampai" in page.locator("main").inner_text()
    _no_overflow(page)
    _shot(page, "partner-02-members")
    page.goto(f"{live_server}/partner/imports/{batch.id}")
    _no_overflow(page)
    _shot(page, "partner-03-import")
    assert page.outside_requests == []  # type: ignore[attr-defined]
