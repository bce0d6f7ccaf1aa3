"""Offline scanning in Chromium: the network drops, scanning goes on, nothing is lost.

Playwright's offline mode cuts the context off the network; the page must then load from
its service worker, answer scans from the roster in IndexedDB (signatures checked with
WebCrypto's Ed25519), queue them, and send each exactly once when the network is back.
Every request still goes through the route guard: nothing may leave for another host.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from funrun.accounts.services import create_user
from funrun.bibs.services import payload_for
from funrun.checkin.models import CheckIn, ScanLog
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.browser.test_scan_page import (  # noqa: F401
    _forged,
    _guarded_context,
    _shot,
    camera_page,
    vendored,
)
from tests.conftest import person_payload

pytestmark = pytest.mark.browser

PASSWORD = "volunteer-password-1"
WAIT_MS = 15_000
#: What Chromium logs for a request made while offline: expected here, nothing else is.
OFFLINE_NOISE = re.compile(r"ERR_INTERNET_DISCONNECTED|Failed to fetch|net::ERR_FAILED")


@pytest.fixture
def offline_event(app: Flask, make_event: Callable[..., Event]) -> dict[str, Any]:
    """Four confirmed runners and two volunteers of the event."""
    event = make_event(quota=10, bib_prefix="BTM")
    client = app.test_client()
    ids = []
    for index in range(1, 5):
        body = person_payload(index, full_name=f"Pelari {'ABCD'[index - 1]}")
        response = client.post(f"/api/v1/events/{event.slug}/registrations", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
        ids.append(response.get_json()["registration"]["id"])
    runners = [db.session.get(Registration, i) for i in ids]
    emails = ["relawan-a@example.org", "relawan-b@example.org"]
    for email in emails:
        create_user(email, "volunteer", password=PASSWORD, event_slugs=[event.slug])
    return {
        "slug": event.slug,
        "ids": ids,
        "numbers": [r.bib_number for r in runners],
        "payloads": [payload_for(r) for r in runners],
        "emails": emails,
    }


@pytest.fixture
def open_context(browser, live_server: str) -> Iterator[Callable[[], tuple[Any, Any]]]:
    """New guarded phone contexts (JavaScript on, service workers allowed)."""
    opened = []

    def _open() -> tuple[Any, Any]:
        context, page = _guarded_context(browser, live_server)
        opened.append(context)
        cut: list[str] = []

        def network_down(route) -> None:
            # Belt and braces beside Playwright's offline mode: while the test says the
            # network is down, any request that reaches the network fails, and is noted.
            if page.network_down:
                cut.append(route.request.url)
                route.abort("internetdisconnected")
            else:
                route.fallback()

        page.network_down = False  # type: ignore[attr-defined]
        page.cut_requests = cut  # type: ignore[attr-defined]
        context.route("**/*", network_down)  # runs before the guard (last added, first)
        return context, page

    yield _open
    for context in opened:
        context.close()


def _sign_in(page, live_server: str, email: str, slug: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/staff$"))
    page.goto(f"{live_server}/staff/events/{slug}/scan")
    # Ready for the network to drop: the worker holds the page, the roster is stored.
    page.wait_for_selector("#scan[data-offline-ready=true]", timeout=WAIT_MS)
    page.wait_for_selector("#scan[data-roster-version]", timeout=WAIT_MS)


def _type_scan(page, code: str, result: str) -> None:
    page.locator("#code").fill(code)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#result.result-{result}", timeout=WAIT_MS)


def _pending(page) -> int:
    if page.is_hidden("#pending"):
        return 0
    return int(page.inner_text("#pending-count").strip())


def _expect_pending(page, count: int) -> None:
    """The queue shows ``count`` scans not yet sent. The answer is drawn before the queue's
    write to IndexedDB ends, so the counter may follow a moment later: wait for it (up to
    WAIT_MS), then read it."""
    with contextlib.suppress(PlaywrightTimeout):  # the assertion below says what it shows
        page.wait_for_function(
            """n => {
                const box = document.querySelector("#pending");
                const shown = box && !box.hidden && box.offsetParent !== null;
                const text = document.querySelector("#pending-count")?.textContent.trim();
                return n === 0 ? !shown : shown && text === String(n);
            }""",
            arg=count,
            timeout=WAIT_MS,
        )
    assert _pending(page) == count


def _server_checkins() -> dict[int, int]:
    db.session.rollback()  # see what the server's threads committed
    rows = db.session.scalars(select(CheckIn).where(CheckIn.undone_at.is_(None))).all()
    out: dict[int, int] = {}
    for row in rows:
        out[row.registration_id] = out.get(row.registration_id, 0) + 1
    return out


def _go_offline(context, page, offline: bool = True) -> None:
    page.network_down = offline
    context.set_offline(offline)


def _clean(page) -> None:
    assert page.outside_requests == []
    problems = [p for p in page.problems if not OFFLINE_NOISE.search(p)]
    assert problems == []


def test_offline_scans_survive_a_reload_and_count_once(
    open_context,
    live_server,
    offline_event,
    vendored,  # noqa: F811
):
    """Scan offline (a forged bib and a repeat among them), reload offline, go online."""
    context, page = open_context()
    ids, numbers, payloads = (
        offline_event["ids"],
        offline_event["numbers"],
        offline_event["payloads"],
    )
    _sign_in(page, live_server, offline_event["emails"][0], offline_event["slug"])
    _expect_pending(page, 0)
    # Chromium itself finds the page installable (manifest, icons, service worker).
    cdp = context.new_cdp_session(page)
    installability = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito ones, where Chromium never offers to install.
    errors = [e["errorId"] for e in installability if e["errorId"] != "in-incognito"]
    assert errors == [], installability
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and manifest["url"].endswith("/scan/manifest.webmanifest")
    cdp.detach()

    _go_offline(context, page)
    _type_scan(page, payloads[0], "checked_in")
    assert page.is_visible("#result .pending-flag")
    assert "Pelari A" in page.inner_text("#result-detail")
    _type_scan(page, _forged(payloads[1]), "invalid")
    assert page.inner_text("#result-title").strip() == "Kode palsu atau tidak terbaca"
    _type_scan(page, payloads[0], "already_checked_in")  # the repeat
    # A bib typed by hand: offline too, the name and bib first, nothing queued until the
    # volunteer has compared the ID card (issue 15).
    _type_scan(page, str(numbers[2]), "confirm_identity")
    assert "Pelari C" in page.inner_text("#result-detail")
    _expect_pending(page, 3)
    page.click("#confirm-id")
    page.wait_for_selector("#result.result-checked_in", timeout=WAIT_MS)
    assert page.is_visible("#result .pending-flag")
    _type_scan(page, "9999", "unknown")
    _expect_pending(page, 5)
    assert "is-offline" in page.get_attribute("#network-state", "class")
    assert _server_checkins() == {}

    # Reload with no network: the service worker has the page, IndexedDB the queue.
    page.reload()
    page.wait_for_selector("#scan[data-ready=true]", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.getElementById('pending-count').textContent.trim() === '5'",
        timeout=WAIT_MS,
    )
    assert page.inner_text("#count-in").strip() == "2"  # the roster's count, pending included
    _type_scan(page, payloads[1], "checked_in")  # the real bib 2, after the reload
    assert page.inner_text("#count-in").strip() == "3"
    _type_scan(page, payloads[0], "already_checked_in")  # still known as checked in here
    _expect_pending(page, 7)
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "20-scan-offline-pending")
    assert _server_checkins() == {}
    # The reload did try the network (the worker asks it first) and was refused, so the
    # page, its script and the decoder came from the worker's cache.
    cut_paths = {urlsplit(url).path for url in page.cut_requests}
    assert f"/staff/events/{offline_event['slug']}/scan" in cut_paths

    _go_offline(context, page, False)
    page.wait_for_selector("#pending", state="hidden", timeout=WAIT_MS)
    page.wait_for_selector("#network-state.is-online", timeout=WAIT_MS)
    assert _server_checkins() == {ids[0]: 1, ids[1]: 1, ids[2]: 1}
    logs = db.session.scalars(select(ScanLog).order_by(ScanLog.id)).all()
    assert [log.result for log in logs] == [
        "checked_in",
        "invalid",
        "already_checked_in",
        "checked_in",
        "unknown",
        "checked_in",
        "already_checked_in",
    ]
    assert len({log.client_ref for log in logs}) == 7
    assert [(log.method, log.id_checked) for log in logs] == [
        ("scan", False),
        ("scan", False),
        ("scan", False),
        ("typed", True),
        ("typed", False),
        ("scan", False),
        ("scan", False),
    ]
    assert all(log.scanned_at is not None and log.device for log in logs)
    assert [log.offline_answer for log in logs] == [log.result for log in logs]
    assert page.is_hidden("#conflicts")

    # Sending again (another reload, another sync) counts nothing twice.
    page.reload()
    page.wait_for_selector("#scan[data-roster-version]", timeout=WAIT_MS)
    page.wait_for_timeout(500)
    assert _server_checkins() == {ids[0]: 1, ids[1]: 1, ids[2]: 1}
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(ScanLog.id))) == 7
    # The queue was sent to the public check-in API, and the roster came from it too.
    slug = offline_event["slug"]
    posts = {path for method, path in page.calls if method == "POST" and path != "/login"}
    assert posts == {f"/api/v1/events/{slug}/checkins"}, posts
    assert f"/api/v1/events/{slug}/roster" in page.seen_paths
    assert not [p for p in page.seen_paths if p.startswith(f"/staff/events/{slug}/scan/r")]
    _clean(page)


def test_two_devices_offline_scan_the_same_bib_and_both_see_the_conflict(
    open_context,
    live_server,
    offline_event,
    vendored,  # noqa: F811
):
    """Both phones say "checked in" offline; the server keeps one and both are told."""
    slug, payload = offline_event["slug"], offline_event["payloads"][0]
    first_ctx, first = open_context()
    second_ctx, second = open_context()
    first.clock.install()  # real time, but its next background sync can be fast-forwarded
    _sign_in(first, live_server, offline_event["emails"][0], slug)
    _sign_in(second, live_server, offline_event["emails"][1], slug)
    first_device = first.inner_text("#device-name").strip()
    second_device = second.inner_text("#device-name").strip()
    assert first_device.startswith("scan-") and first_device != second_device

    _go_offline(first_ctx, first)
    _go_offline(second_ctx, second)
    _type_scan(first, payload, "checked_in")
    _type_scan(second, payload, "checked_in")

    _go_offline(first_ctx, first, False)  # the first phone's scan reaches the server first
    first.wait_for_selector("#pending", state="hidden", timeout=WAIT_MS)
    _go_offline(second_ctx, second, False)
    second.wait_for_selector("#pending", state="hidden", timeout=WAIT_MS)
    assert _server_checkins() == {offline_event["ids"][0]: 1}

    # The late phone learns at once; the first at its next refresh.
    second.wait_for_selector("#conflicts li.conflict", timeout=WAIT_MS)
    first.clock.fast_forward(31_000)
    first.wait_for_selector("#conflicts li.conflict", timeout=WAIT_MS)
    for page in (first, second):
        text = page.inner_text("#conflicts")
        assert "BTM 0001" in text and "Pelari A" in text
        assert first_device in text and second_device in text
        assert offline_event["emails"][0] in text and offline_event["emails"][1] in text
    _shot(second, "21-scan-offline-conflict")
    db.session.rollback()
    late = db.session.scalars(select(ScanLog).order_by(ScanLog.id.desc())).first()
    assert late.result == "already_checked_in" and late.offline_answer == "checked_in"
    assert late.device == second_device
    _clean(first)
    _clean(second)


def test_a_queued_scan_from_a_device_with_a_wrong_clock_still_counts(
    open_context,
    live_server,
    offline_event,
    vendored,  # noqa: F811
):
    """A phone whose clock is 8 days behind: the server refuses the time, not the scan."""
    context, page = open_context()
    page.clock.install(time=datetime.now(UTC) - timedelta(days=8))
    _sign_in(page, live_server, offline_event["emails"][0], offline_event["slug"])
    _go_offline(context, page)
    _type_scan(page, offline_event["payloads"][3], "checked_in")
    _expect_pending(page, 1)
    before = datetime.now(UTC)
    _go_offline(context, page, False)
    page.wait_for_selector("#pending", state="hidden", timeout=WAIT_MS)
    assert _server_checkins() == {offline_event["ids"][3]: 1}
    (log,) = db.session.scalars(select(ScanLog)).all()
    assert log.result == "checked_in" and log.scanned_at is None
    assert log.received_at >= before - timedelta(seconds=1)
    _clean(page)


def test_a_server_that_answers_502_is_treated_as_no_network(
    open_context,
    live_server,
    offline_event,
    vendored,  # noqa: F811
):
    """The venue's proxy is up but the app is not: scans are answered here and sent later."""
    _context, page = open_context()
    page.clock.install()
    slug = offline_event["slug"]
    _sign_in(page, live_server, offline_event["emails"][0], slug)

    def bad_gateway(route) -> None:
        if route.request.method == "POST":
            route.fulfill(status=502, body="Bad Gateway", content_type="text/plain")
        else:
            route.fallback()

    page.route(f"{live_server}/api/v1/events/{slug}/checkins", bad_gateway)
    _type_scan(page, str(offline_event["numbers"][0]), "confirm_identity")
    _expect_pending(page, 0)
    page.click("#confirm-id")
    page.wait_for_selector("#result.result-checked_in", timeout=WAIT_MS)
    assert page.is_visible("#result .pending-flag")
    _expect_pending(page, 1)
    assert _server_checkins() == {}
    page.unroute(f"{live_server}/api/v1/events/{slug}/checkins")
    page.clock.fast_forward(16_000)  # the next background sync
    page.wait_for_selector("#pending", state="hidden", timeout=WAIT_MS)
    assert _server_checkins() == {offline_event["ids"][0]: 1}
    problems = [p for p in page.problems if "502" not in p]
    assert problems == [] and page.outside_requests == []


def test_offline_a_plain_qr_from_the_camera_is_invalid_and_checks_nobody_in(
    camera_page,  # noqa: F811
    live_server,
    offline_event,
    vendored,  # noqa: F811
):
    """Issue 15, offline: the camera shows a QR holding just ``BTM 0003``. The page says
    "invalid" from its roster (a camera's code must be signed), and the queued scan,
    sent when the network is back, checks nobody in either."""
    page = camera_page(f"BTM {offline_event['numbers'][2]:04d}")
    cut: list[str] = []

    def network_down(route) -> None:  # as open_context does: no request may get through
        if page.network_down:
            cut.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.fallback()

    page.network_down = False
    page.context.route("**/*", network_down)
    _sign_in(page, live_server, offline_event["emails"][0], offline_event["slug"])
    _go_offline(page.context, page)
    page.click("#camera-start")
    page.wait_for_selector("#result.result-invalid", timeout=WAIT_MS)
    assert page.is_visible("#result .pending-flag")  # answered here
    assert "Pelari C" not in page.inner_text("#result-detail")
    page.click("#camera-start")  # off: one scan is enough
    _expect_pending(page, 1)
    assert _server_checkins() == {}
    db.session.rollback()
    assert db.session.scalars(select(ScanLog)).all() == []
    _go_offline(page.context, page, False)
    page.wait_for_selector("#pending", state="hidden", timeout=WAIT_MS)
    assert _server_checkins() == {}
    rows = db.session.scalars(select(ScanLog)).all()
    (log,) = rows
    assert (log.result, log.method, log.offline_answer) == ("invalid", "scan", "invalid")
    _clean(page)
