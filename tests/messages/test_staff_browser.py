"""The staff message pages in Chromium, on a laptop and a phone: nothing wider than the
screen, no Content Security Policy complaint, the e-mail's look (and the event's colour)
in its sandboxed frame under the page's strict policy, nothing loaded from another host."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from funrun.accounts.services import create_user
from funrun.extensions import db
from funrun.messages.models import Broadcast, Message
from funrun.messages.staff import create_broadcast
from tests.browser.conftest import browser, live_server  # noqa: F401  (fixtures reused here)
from tests.checkin.conftest import PASSWORD, add_runners  # noqa: F401

EMAIL = "messages-organiser@example.org"
#: Set to a directory to keep the screenshots for a look by eye.
SHOTS = os.environ.get("FUNRUN_SCREENSHOTS")


@pytest.mark.parametrize("size", [(1366, 768), (360, 640)], ids=["laptop", "phone"])
def test_messages_and_progress_fit_the_screen(
    app,
    browser,  # noqa: F811
    live_server,  # noqa: F811
    make_event,
    add_runners,  # noqa: F811
    size,
):
    create_user(EMAIL, "organiser", password=PASSWORD)
    event = make_event(city="Yogyakarta", name="Fun Run Yogyakarta", quota=10, bib_colour="#b42318")
    add_runners(event, 4, email="runner@example.com")
    broadcast = create_broadcast(
        event, {"subject_id": "Lokasi start pindah", "body_id": "Gerbang selatan."}, None
    )
    broadcast_id = broadcast.id
    message_id = db.session.scalar(select(Message.id).order_by(Message.id).limit(1))
    db.session.commit()

    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height})
    allowed = urlsplit(live_server).netloc
    outside: list[str] = []
    problems: list[str] = []

    def guard(route) -> None:
        if urlsplit(route.request.url).netloc == allowed:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" else None,
    )
    try:
        page.goto(f"{live_server}/login")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/staff$"))
        for name, path in (
            ("list", "/staff/messages"),
            ("message", f"/staff/messages/{message_id}"),
            ("progress", f"/staff/broadcasts/{broadcast_id}"),
        ):
            page.goto(f"{live_server}{path}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (name, overflow)
            if name == "message":
                frame = page.frame_locator("iframe.msg-frame")
                colour = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
                assert colour == "rgb(244, 244, 240)"  # the e-mail's look, by the stand-in
                header = frame.locator("body > div > div").first
                brand = header.evaluate("d => getComputedStyle(d).backgroundColor")
                assert brand == "rgb(180, 35, 24)"  # the event's own colour
                if SHOTS:
                    Path(SHOTS).mkdir(parents=True, exist_ok=True)
                    page.locator("iframe.msg-frame").screenshot(
                        path=f"{SHOTS}/frame-{width}x{height}.png"
                    )
            if SHOTS:
                Path(SHOTS).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{SHOTS}/{name}-{width}x{height}.png", full_page=True)
        assert page.locator("svg.msg-progress rect").count() == 3
        # Written, previewed and sent in the browser: the paragraphs survive the preview.
        page.goto(f"{live_server}/staff/events/{event.slug}/broadcast")
        page.fill("#subject_id", "Jam start maju")
        page.fill("#body_id", "Start pukul 05.30.\n\nDatang lebih awal.")
        page.click("button[value=preview]")
        page.click("button[value=send]")
        page.wait_for_url(re.compile(r"/staff/broadcasts/\d+$"))
        db.session.rollback()
        sent = db.session.scalar(select(Broadcast).where(Broadcast.subject_id == "Jam start maju"))
        assert sent is not None and sent.body_id == "Start pukul 05.30.\n\nDatang lebih awal."
    finally:
        context.close()
    assert outside == []
    assert problems == []
