"""The desk on the scan page in Chromium (issue 19, point 4), JavaScript on, 360x640: a
burst of handheld scans stays listed (the last answers, with what was typed), and a
runner found by name or NIK is checked in from their card with the KTP tick."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from funrun.checkin.models import ScanLog
from funrun.extensions import db
from funrun.people.crypto import mask_nik
from tests.browser.test_scan_page import (  # noqa: F401  (fixtures reused here)
    _checkins,
    _login,
    _shot,
    _wait_result,
    js_page,
    scan_event,
)
from tests.conftest import person_payload

pytestmark = pytest.mark.browser


def _scan(page: Any, code: str) -> None:
    """A handheld scanner: the code typed into the box, then Enter."""
    page.fill("#code", code)
    page.press("#code", "Enter")


def _answers(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("#answer-items li").all_inner_texts()]


def test_a_burst_stays_listed_and_a_runner_is_found_and_checked_in(
    js_page,  # noqa: F811
    live_server,
    scan_event,  # noqa: F811
):
    page = js_page
    slug = scan_event["slug"]
    _login(page, live_server, slug)
    assert page.is_hidden("#answers")

    # Three codes within a second, as a handheld scanner fires them.
    first = scan_event["payloads"][0]
    for code in (first, "ZZZ 0042", first):
        _scan(page, code)
    page.wait_for_function(
        "() => document.querySelectorAll('#answer-items li').length === 3", timeout=15_000
    )
    answers = _answers(page)
    # Newest first: the repeat, the unknown prefix (with what was typed), the check-in.
    assert "Sudah check-in" in answers[0] and first[:12] in answers[0]
    assert first not in answers[0]  # a scanned payload is shortened
    assert "ZZZ 0042" in answers[1]
    assert "Berhasil check-in" in answers[2]
    _scan(page, "SMG 0999")
    _wait_result(page, "invalid")
    assert "SMG 0999" in page.inner_text("#result-detail .result-typed")
    _shot(page, "h19d-desk-answers-360")

    # A runner with only their KTP: found by name, checked in from the card.
    reg_id, bib, _number, name = scan_event["runners"][1]
    page.fill("#search-q", name.split()[1][:4])
    page.click("#search-form button[type=submit]")
    page.wait_for_selector(f".desk-card[data-registration='{reg_id}']")
    card = page.locator(f".desk-card[data-registration='{reg_id}']")
    nik = person_payload(2)["nik"]
    assert mask_nik(nik) in card.inner_text() and bib in card.inner_text()
    assert nik not in page.content()
    _shot(page, "h19d-desk-search-card-360")
    card.locator(".desk-card-form input[name=id_checked]").check()
    card.locator(".desk-card-form button[type=submit]").click()
    _wait_result(page, "checked_in")
    assert name in page.inner_text("#result-detail")
    page.wait_for_selector(f".desk-card.is-checked-in[data-registration='{reg_id}']")
    assert len(_checkins(reg_id)) == 1
    log = db.session.scalars(
        select(ScanLog).where(ScanLog.registration_id == reg_id).order_by(ScanLog.id.desc())
    ).first()
    assert (log.result, log.method, log.id_checked) == ("checked_in", "typed", True)
    assert len(_answers(page)) == 5  # the last five, no more
    _shot(page, "h19d-desk-checked-in-360")

    # By NIK: the card shows it masked, the page never holds it whole.
    page.fill("#search-q", nik)
    page.click("#search-form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('search-message').textContent.indexOf('NIK') !== -1"
    )
    assert mask_nik(nik) in page.inner_text("#desk-results")
    assert nik not in page.content().replace(page.input_value("#search-q"), "")

    # Too short: said in words, no cards.
    page.fill("#search-q", "ab")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#search-message.is-error")
    assert page.locator(".desk-card").count() == 0
    # The refused search is answered 400, which Chromium logs as a failed load.
    assert [p for p in page.problems if "status of 400" not in p] == []
    assert page.outside_requests == []
