"""In Chromium: scan a non-member's bib with the camera, follow to the desk, enrol, get the card.

The whole path a volunteer takes at the venue, with JavaScript on and the fake camera
showing the runner's real bib QR; every request must stay on the test server.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from funrun.enrolment import services as enrolment_services
from funrun.enrolment.card import card_payload, verify_card_payload
from funrun.enrolment.models import Enrolment
from funrun.enrolment.schedule import load_file
from funrun.extensions import db
from tests.bibs.test_pdf import read_back
from tests.browser.test_scan_page import (  # noqa: F401  (fixtures)
    _login,
    _shot,
    _wait_result,
    camera_page,
    scan_event,
    vendored,
)
from tests.enrolment.conftest import FINALE

pytestmark = pytest.mark.browser


@pytest.fixture
def enrolment_day(app, monkeypatch):
    """The shipped schedule, and enrolments dated on the Jakarta finale (13 Dec 2015)."""
    load_file()
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: FINALE)


def test_scan_a_non_member_enrol_and_download_the_card(
    camera_page,  # noqa: F811  (the scan page tests' fixtures, imported above)
    live_server,
    scan_event,  # noqa: F811
    vendored,  # noqa: F811
    enrolment_day,
    tmp_path,
):
    reg_id, bib, _number, name = scan_event["runners"][0]  # runner 1 is not a member
    page = camera_page(scan_event["payloads"][0])
    _login(page, live_server, scan_event["slug"])
    page.click("#camera-start")
    _wait_result(page, "checked_in")
    link = page.locator("#result-detail a.enrol-link")
    assert link.is_visible()
    link.click()
    page.wait_for_url(re.compile(rf"/enrol\?registration={reg_id}$"))
    assert name in page.inner_text(".runner") and bib in page.inner_text(".runner")

    page.fill("#birth_place", "Jakarta")
    page.fill("#mother_maiden_name", "Sri Wahyuni")
    page.fill("#address", "Jl. Kebon Sirih 10, Jakarta Pusat")
    page.check("input[name=occupation][value=ojek_driver]")
    page.fill("#declared_income", "1000000")
    page.check("#jht")
    page.check("input[name=months][value='3']")
    page.check("input[name=payment_channel][value=cash]")
    page.check("#consent")
    _shot(page, "20-enrolment-desk-filled")
    page.click("button[value=review]")
    page.wait_for_selector("#contribution")
    assert page.inner_text("#monthly-total").strip() == "Rp 36.800"
    assert page.inner_text("#amount-due").strip() == "Rp 110.400"
    _shot(page, "21-enrolment-review")
    db.session.rollback()
    assert db.session.scalar(select(Enrolment.id)) is None  # nothing before confirming

    page.click("#confirm")
    page.wait_for_selector("#participant-number")
    number = page.inner_text("#participant-number").strip()
    assert re.fullmatch(r"[0-9]{11}", number)
    _shot(page, "22-enrolment-done")
    db.session.rollback()
    enrolment = db.session.scalar(select(Enrolment))
    assert enrolment.participant_number == number and enrolment.registration_id == reg_id

    with page.expect_download() as download_info:
        page.click("#card-link")
    download = download_info.value
    path = tmp_path / "card.pdf"
    download.save_as(path)
    [card] = read_back(path.read_bytes(), tmp_path / "read", "card")
    assert card.qr_texts == [card_payload(number)]
    assert verify_card_payload(card.qr_texts[0]) == number
    assert page.outside_requests == []
    assert page.problems == []
