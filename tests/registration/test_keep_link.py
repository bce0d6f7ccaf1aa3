"""Keeping the private link with no message provider (issue 18, point 3a): the
confirmation page's WhatsApp link to the runner's own number and its text file."""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import parse_qs, unquote, urlsplit

from funrun.extensions import db
from funrun.registration.models import Registration
from tests.browser.conftest import browser, live_server, phone_page  # noqa: F401  (fixtures)
from tests.checkin.conftest import browser as own_context_client
from tests.registration.test_pages import registered


def _href(html: str, element_id: str) -> str:
    match = re.search(rf'<a\b[^>]*\bid="{element_id}"[^>]*\bhref="([^"]*)"', html)
    assert match, element_id
    return html_lib.unescape(match.group(1))


def _runner() -> Registration:
    db.session.rollback()
    return db.session.scalars(db.select(Registration).order_by(Registration.id.desc())).first()


def test_the_confirmation_offers_whatsapp_to_the_runners_own_number(client, make_event):
    event = make_event(name="Fun Run 5K Medan", venue="Lapangan Merdeka", quota=5)
    token = registered(client, event, 1)
    html = client.get(f"/r/{token}?new=1").get_data(as_text=True)
    runner = _runner()
    whatsapp = urlsplit(_href(html, "send-to-whatsapp"))
    assert (whatsapp.scheme, whatsapp.netloc) == ("https", "wa.me")
    assert whatsapp.path == "/" + runner.phone.lstrip("+")  # E.164 digits: 628...
    [text] = parse_qs(whatsapp.query)["text"]
    manage = f"http://localhost/r/{token}"
    assert manage in text.splitlines()
    assert "Fun Run 5K Medan" in text and "Lapangan Merdeka" in text
    assert f"Nomor BIB: {runner.bib}" in text
    assert "Link pribadi saya" in text
    # No NIK (not even masked), no name: what leaves the site is the event, bib and link.
    assert runner.full_name not in text and not re.search(r"[0-9]{16}", text)
    # The same text as a file to save.
    saved = _href(html, "save-link")
    assert saved.startswith("data:text/plain;charset=utf-8,")
    assert unquote(saved.split(",", 1)[1]) == text + "\n"
    assert re.search(r'id="save-link"[^>]*download="[a-z0-9-]+-link-saya\.txt"', html)
    # Only on the confirmation: the page opened later (a shared screen) does not offer it.
    later = client.get(f"/r/{token}").get_data(as_text=True)
    assert "send-to-whatsapp" not in later and "save-link" not in later


def test_a_waitlisted_runner_keeps_the_link_in_english(app, make_event):
    # Each request in its own app context, as on a server: the chosen language applies.
    client = own_context_client(app)
    event = make_event(quota=1)
    registered(client, event, 1)
    client.get("/lang/en")
    token = registered(client, event, 2)
    html = client.get(f"/r/{token}?new=1").get_data(as_text=True)
    [text] = parse_qs(urlsplit(_href(html, "send-to-whatsapp")).query)["text"]
    assert "On the waitlist" in text and "My private link" in text
    assert f"http://localhost/r/{token}" in text
    assert "Send this to my WhatsApp" in html and "Save the link" in html


def test_a_phone_without_javascript_saves_the_link(
    phone_page,  # noqa: F811  (the browser fixtures imported above)
    live_server,  # noqa: F811
    client,
    make_event,
):
    event = make_event(quota=5)
    token = registered(client, event, 1)
    page = phone_page
    page.goto(f"{live_server}/r/{token}?new=1")
    assert page.is_visible("#send-to-whatsapp") and page.is_visible("#save-link")
    with page.expect_download() as info:
        page.click("#save-link")
    download = info.value
    assert download.suggested_filename.endswith("-link-saya.txt")
    with open(download.path(), encoding="utf-8") as saved:
        assert f"{live_server}/r/{token}" in saved.read()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.outside_requests == []  # type: ignore[attr-defined]
