"""A live server on the test database and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Every page
is routed through a guard that records (and blocks) any request to another host, so
a test can prove the pages load nothing from outside.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import need

CHROMIUM = os.environ.get("FUNRUN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _whole_bodies(app: Flask) -> Any:
    """The app with every answer read to its end (and its file closed) before it is sent.

    Werkzeug's development server leaves a static file's handle open when the browser
    drops the connection mid-answer (Chromium often abandons the favicon), and the
    ResourceWarning that follows fails the test it lands in. Nothing a browser test
    drives here streams without end; streamed downloads are tested through gunicorn.
    """

    def serve(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    return serve


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the test app on a free loopback port for the duration of a test."""
    server = make_server("127.0.0.1", 0, _whole_bodies(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


#: The session's Chromium. Test modules elsewhere import these fixtures, and pytest makes
#: each import a fixture of its own: a second Playwright started in the same thread fails
#: ("Sync API inside the asyncio loop"), so the later ones share the first one's browser.
_RUNNING: list[Any] = []


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless (skips without it; fails under FUNRUN_REQUIRE_ALL=1)."""
    need(
        os.path.exists(CHROMIUM) or shutil.which("chromium") is not None,
        "Chromium not installed (apt-get install chromium)",
    )
    if _RUNNING:
        yield _RUNNING[0]
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _RUNNING.append(instance)
        try:
            yield instance
        finally:
            _RUNNING.clear()
            instance.close()


@pytest.fixture
def phone_page(browser, live_server: str):
    """A 360x640 phone-sized page whose requests may only go to the live server."""
    context = browser.new_context(
        viewport={"width": 360, "height": 640},
        device_scale_factor=2,
        is_mobile=True,
        java_script_enabled=False,
    )
    page = context.new_page()
    outside: list[str] = []
    allowed = urlsplit(live_server).netloc

    def guard(route) -> None:
        if urlsplit(route.request.url).netloc == allowed:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.outside_requests = outside  # type: ignore[attr-defined]
    yield page
    context.close()
