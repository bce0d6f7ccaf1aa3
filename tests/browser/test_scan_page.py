"""The volunteer's scan page in Chromium with JavaScript on: camera, handheld scanner, typing.

The camera is Chromium's fake capture device playing a .y4m file of a real bib's QR
(tests/browser/fakecam.py), so each camera file needs a browser of its own. The QR is
decoded by qr-scanner from static/vendor/ (``make vendor``); every request must go to
the test server, and the page must break no rule of the Content-Security-Policy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from funrun.accounts.models import User
from funrun.accounts.services import create_user
from funrun.bibs.services import payload_for
from funrun.checkin.models import CheckIn, ScanLog
from funrun.checkin.services import scan
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.fakecam import qr_video
from tests.conftest import need, person_payload

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor"
SHOTS = Path(os.environ.get("FUNRUN_SCREENSHOTS", "instance/screenshots"))
PASSWORD = "volunteer-password-1"
EMAIL = "relawan@example.org"
CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
WAIT_MS = 15_000  # the decoder needs a moment to start in a loaded CI machine


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def vendored() -> None:
    """The decoder must be in static/vendor/ (``make setup`` copies it from node_modules)."""
    need(
        (VENDOR / "qr-scanner.umd.min.js").is_file()
        and (VENDOR / "qr-scanner-worker.min.js").is_file(),
        "static/vendor/qr-scanner*.js missing (run `make vendor`)",
    )


@pytest.fixture
def scan_event(app: Flask, make_event: Callable[..., Event]) -> dict[str, Any]:
    """An event with two confirmed runners and a volunteer assigned to it."""
    event = make_event(quota=10)
    client = app.test_client()
    ids = []
    # Runner 1 is not a member (the desk offers enrolment); runner 2 is.
    for index, extra in ((1, {}), (2, {"member": True, "kpj_number": "12345678901"})):
        body = person_payload(index, full_name=f"Pelari {'AB'[index - 1]}ima", **extra)
        response = client.post(f"/api/v1/events/{event.slug}/registrations", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
        ids.append(response.get_json()["registration"]["id"])
    runners = [db.session.get(Registration, i) for i in ids]
    volunteer = create_user(EMAIL, "volunteer", password=PASSWORD, event_slugs=[event.slug])
    payloads = [payload_for(r) for r in runners]
    assert all(payloads)
    return {
        "event": event,
        "slug": event.slug,
        "event_id": event.id,
        "runners": [(r.id, r.bib, r.bib_number, r.full_name) for r in runners],
        "payloads": payloads,
        "volunteer_id": volunteer.id,
    }


def _forged(payload: str) -> str:
    """The payload with one character of its signature changed (same length)."""
    i = len(payload) - 10
    return payload[:i] + ("B" if payload[i] != "B" else "C") + payload[i + 1 :]


def _guarded_context(browser, live_server: str, **kw: Any):
    """A phone-sized context with JavaScript on whose requests may only go to the server."""
    context = browser.new_context(
        viewport={"width": 360, "height": 640},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        **kw,
    )
    allowed = urlsplit(live_server).netloc
    outside: list[str] = []
    seen: list[str] = []
    calls: list[tuple[str, str]] = []

    def guard(route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == allowed:
            seen.append(urlsplit(url).path)
            calls.append((route.request.method, urlsplit(url).path))
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    problems: list[str] = []

    def console(message) -> None:
        # Refused scans are answered 404/409/422, which Chromium logs as failed loads.
        expected = re.match(r"Failed to load resource: .* status of (404|409|422)\b", message.text)
        if (message.type == "error" and not expected) or "Content Security Policy" in message.text:
            problems.append(f"console {message.type}: {message.text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", console)
    page.outside_requests = outside  # type: ignore[attr-defined]
    page.seen_paths = seen  # type: ignore[attr-defined]
    page.calls = calls  # type: ignore[attr-defined]
    page.problems = problems  # type: ignore[attr-defined]
    return context, page


@pytest.fixture
def js_page(browser, live_server: str) -> Iterator[Any]:
    """A phone-sized page with JavaScript on, no camera, guarded like ``phone_page``."""
    context, page = _guarded_context(browser, live_server)
    yield page
    context.close()


@pytest.fixture
def camera_page(browser, live_server: str, tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """Open a page in a Chromium of its own whose camera shows the QR of the text given."""
    opened: list[Any] = []

    def _open(text: str) -> Any:
        video = qr_video(text, tmp_path / f"camera-{len(opened)}.y4m")
        instance = browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, *CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"],
        )
        opened.append(instance)
        context, page = _guarded_context(instance, live_server)
        context.grant_permissions(["camera"], origin=live_server)
        return page

    yield _open
    for instance in opened:
        instance.close()


# --- helpers ----------------------------------------------------------------------------


def _login(page, live_server: str, slug: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/staff$"))
    page.goto(f"{live_server}/staff/events/{slug}/scan")
    page.wait_for_selector("#result.result-idle")


def _wait_result(page, result: str, timeout: int = WAIT_MS) -> None:
    page.wait_for_selector(f"#result.result-{result}", timeout=timeout)


def _wait_counter(page, checked_in: int, total: int) -> None:
    page.wait_for_function(
        "([n, t]) => document.getElementById('count-in').textContent.trim() === String(n)"
        " && document.getElementById('count-total').textContent.trim() === String(t)",
        arg=[checked_in, total],
        timeout=WAIT_MS,
    )


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))  # the 360x640 viewport, as a phone shows it
    return path


def _checkins(registration_id: int) -> list[CheckIn]:
    db.session.rollback()  # see what the server's threads committed
    return list(
        db.session.scalars(select(CheckIn).where(CheckIn.registration_id == registration_id))
    )


def _assert_clean(page) -> None:
    assert page.outside_requests == []
    assert page.problems == []


def _assert_calls_the_api(page, slug: str) -> None:
    """The script's scans, counter and roster went to the public check-in API (issue 16,
    point 3): every POST it made, and every JSON read, is under /api/v1/."""
    posts = [path for method, path in page.calls if method == "POST" and path != "/login"]
    assert posts and set(posts) == {f"/api/v1/events/{slug}/checkins"}, posts
    assert f"/api/v1/events/{slug}/checkins/counts" in page.seen_paths
    assert not [p for p in page.seen_paths if p.startswith(f"/staff/events/{slug}/scan/")]


# --- the camera -------------------------------------------------------------------------


def test_camera_checks_in_a_real_bib_then_says_already(
    camera_page, live_server, scan_event, vendored
):
    """The fake camera shows bib 1's QR: checked in (in the DB), then "already" on a rescan."""
    reg_id, bib, _number, name = scan_event["runners"][0]
    page = camera_page(scan_event["payloads"][0])
    _login(page, live_server, scan_event["slug"])
    assert page.is_visible("#camera-start")
    assert page.is_hidden("#camera")
    _wait_counter(page, 0, 2)

    page.click("#camera-start")
    _wait_result(page, "checked_in")
    assert page.get_attribute("#camera-start", "aria-pressed") == "true"
    assert page.inner_text("#result-title").strip() == "Berhasil check-in"  # Indonesian first
    detail = page.inner_text("#result-detail")
    assert bib in detail and name in detail
    assert page.is_visible("#result-detail .enrol-flag")  # runner 1 is not a member
    _wait_counter(page, 1, 2)
    _shot(page, "10-scan-camera-checked-in")

    checkins = _checkins(reg_id)
    assert len(checkins) == 1
    assert checkins[0].station == "pickup"
    assert checkins[0].scanned_by_id == scan_event["volunteer_id"]
    # The code stays in front of the camera: one scan, not one every few seconds.
    page.wait_for_timeout(1500)
    assert page.is_visible("#result.result-checked_in")
    db.session.rollback()
    assert (
        db.session.scalar(
            select(db.func.count(ScanLog.id)).where(ScanLog.registration_id == reg_id)
        )
        == 1
    )

    # Off and on again: the same bib is now a repeat, with who checked it in first.
    page.click("#camera-start")
    assert page.get_attribute("#camera-start", "aria-pressed") == "false"
    page.wait_for_selector("#camera", state="hidden")
    page.click("#camera-start")
    _wait_result(page, "already_checked_in")
    assert page.inner_text("#result-title").strip() == "Sudah check-in"
    detail = page.inner_text("#result-detail")
    assert bib in detail and EMAIL in detail and "Pertama pada" in detail
    _shot(page, "11-scan-camera-already")
    assert len(_checkins(reg_id)) == 1
    _wait_counter(page, 1, 2)

    # The decoder and its worker came from our own static files, and nothing else did.
    assert "/static/vendor/qr-scanner.umd.min.js" in page.seen_paths
    assert "/static/vendor/qr-scanner-worker.min.js" in page.seen_paths
    _assert_calls_the_api(page, scan_event["slug"])
    _assert_clean(page)


def test_camera_shows_a_forged_bib_as_forged(camera_page, live_server, scan_event, vendored):
    """A QR whose signature was tampered with is refused and checks nobody in."""
    page = camera_page(_forged(scan_event["payloads"][0]))
    _login(page, live_server, scan_event["slug"])
    page.click("#camera-start")
    _wait_result(page, "invalid")
    assert page.inner_text("#result-title").strip() == "Kode palsu atau tidak terbaca"
    # Only what was scanned, shortened (issue 19): no runner.
    forged = _forged(scan_event["payloads"][0])
    assert (
        page.inner_text("#result-detail").strip() == f"Yang diketik atau dipindai: {forged[:12]}…"
    )
    _shot(page, "12-scan-camera-forged")
    assert _checkins(scan_event["runners"][0][0]) == []
    db.session.rollback()
    assert db.session.scalar(select(ScanLog.result)) == "invalid"
    _assert_clean(page)


# --- handheld scanner and typing ----------------------------------------------------------


def test_wedge_scan_and_typed_bib_check_in_and_count(js_page, live_server, scan_event, vendored):
    """A handheld scanner types the payload and Enter into the focused field; typing works too."""
    page = js_page
    page.clock.install()  # real time, but the 10 s poll can be fast-forwarded
    _login(page, live_server, scan_event["slug"])
    (reg1, bib1, _n1, name1), (reg2, bib2, number2, name2) = scan_event["runners"]
    _wait_counter(page, 0, 2)

    # The field has focus without anyone touching it: the scanner just types.
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type(scan_event["payloads"][0])
    page.keyboard.press("Enter")
    _wait_result(page, "checked_in")
    assert bib1 in page.inner_text("#result-detail")
    assert name1 in page.inner_text("#result-detail")
    _wait_counter(page, 1, 2)
    assert page.input_value("#code") == ""
    assert len(_checkins(reg1)) == 1

    # Focus comes back after a click elsewhere, and the same bib again is a repeat.
    page.click("h1")
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type(scan_event["payloads"][0])
    page.keyboard.press("Enter")
    _wait_result(page, "already_checked_in")
    assert EMAIL in page.inner_text("#result-detail")
    assert len(_checkins(reg1)) == 1

    # A bib number typed by hand, and the check-in button instead of Enter: first the
    # runner's name and bib, to compare with the ID card (issue 15), and nobody checked in.
    page.keyboard.type(f"{number2}")
    page.click("#scan-form button[type=submit]")
    _wait_result(page, "confirm_identity")
    detail = page.inner_text("#result-detail")
    assert bib2 in detail and name2 in detail and "KTP" in detail
    assert page.inner_text("#result-title").strip() == "BIB diketik: periksa kartu identitas"
    assert _checkins(reg2) == []
    _shot(page, "13-scan-typed-confirm-identity")
    page.click("#confirm-id")
    _wait_result(page, "checked_in")
    detail = page.inner_text("#result-detail")
    assert bib2 in detail and name2 in detail
    assert page.locator("#result-detail .enrol-flag").count() == 0  # runner 2 is a member
    _wait_counter(page, 2, 2)
    assert len(_checkins(reg2)) == 1

    # Junk typed in is refused, and nobody is checked in twice.
    page.keyboard.type("not a bib")
    page.keyboard.press("Enter")
    _wait_result(page, "invalid")
    _wait_counter(page, 2, 2)

    # Each scan carried its own client_ref (the question for the ID card is logged without
    # one), and how it was entered.
    db.session.rollback()
    logs = db.session.execute(
        select(ScanLog.result, ScanLog.method, ScanLog.id_checked, ScanLog.client_ref).order_by(
            ScanLog.id
        )
    ).all()
    assert [log[:3] for log in logs] == [
        ("checked_in", "scan", False),
        ("already_checked_in", "scan", False),
        ("confirm_identity", "typed", False),
        ("checked_in", "typed", True),
        ("invalid", "typed", False),
    ]
    refs = [log.client_ref for i, log in enumerate(logs) if i != 2]
    assert len(set(refs)) == 4 and all(refs) and logs[2].client_ref is None
    _assert_calls_the_api(page, scan_event["slug"])
    _assert_clean(page)


def test_camera_with_a_plain_qr_checks_nobody_in(camera_page, live_server, scan_event, vendored):
    """Issue 15: a QR holding just the bib's text (``TST 0002``) is no bib: the camera's
    code must be signed, whatever it holds."""
    reg_id, bib, _number, _name = scan_event["runners"][1]
    page = camera_page(bib)
    _login(page, live_server, scan_event["slug"])
    page.click("#camera-start")
    _wait_result(page, "invalid")
    # Not even the name: only what the QR held (issue 19).
    assert page.inner_text("#result-detail").strip() == f"Yang diketik atau dipindai: {bib}"
    _shot(page, "14-scan-camera-plain-qr")
    page.wait_for_timeout(500)
    assert _checkins(reg_id) == []
    db.session.rollback()
    assert db.session.execute(select(ScanLog.result, ScanLog.method)).all() == [("invalid", "scan")]
    _wait_counter(page, 0, 2)
    _assert_clean(page)


def test_counter_follows_scans_from_other_devices(js_page, live_server, scan_event, vendored):
    """Another volunteer's check-in shows on this page's counter at the next 10 s poll."""
    page = js_page
    page.clock.install()
    _login(page, live_server, scan_event["slug"])
    _wait_counter(page, 0, 2)
    event = db.session.get(Event, scan_event["event_id"])
    user = db.session.get(User, scan_event["volunteer_id"])
    outcome = scan(event, scan_event["payloads"][1], user=user, station="pickup")
    assert str(outcome.result) == "checked_in"
    page.wait_for_timeout(300)
    assert page.inner_text("#count-in").strip() == "0"  # not yet polled
    page.clock.fast_forward(11_000)
    _wait_counter(page, 1, 2)
    _assert_clean(page)


def test_scan_form_still_works_without_javascript(phone_page, live_server, scan_event):
    """With JavaScript off the form posts and the server shows the result."""
    page = phone_page
    _login(page, live_server, scan_event["slug"])
    assert page.is_hidden("#camera-start")
    page.fill("#code", scan_event["payloads"][0])
    page.click("#scan-form button[type=submit]")
    page.wait_for_selector("#result.result-checked_in")
    assert scan_event["runners"][0][1] in page.inner_text("#result-detail")
    assert page.inner_text("#count-in").strip() == "1"
    assert len(_checkins(scan_event["runners"][0][0])) == 1
    # A typed bib: the confirm step with the name, then its button checks in.
    reg2, bib2, number2, name2 = scan_event["runners"][1]
    page.fill("#code", str(number2))
    page.click("#scan-form button[type=submit]")
    page.wait_for_selector("#result.result-confirm_identity")
    detail = page.inner_text("#result-detail")
    assert bib2 in detail and name2 in detail
    assert _checkins(reg2) == []
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#result.result-checked_in")
    assert page.inner_text("#count-in").strip() == "2"
    assert len(_checkins(reg2)) == 1
    assert page.outside_requests == []
