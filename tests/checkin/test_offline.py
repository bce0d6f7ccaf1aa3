"""Offline scanning, server side: the roster, queued scans, conflicts, the installable page.

The browser half (IndexedDB, the service worker, WebCrypto) is in
tests/browser/test_offline_scan.py.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from funrun.bibs.services import payload_for
from funrun.bibs.signing import bib_signer
from funrun.events.models import Event
from funrun.people.crypto import data_cipher
from funrun.registration.models import Registration
from tests.api.test_openapi import Checker
from tests.checkin.conftest import (
    API,
    PASSWORD,
    Staff,
    active_checkins,
    assert_problem,
    browser,
    cancel_registration,
    counts,
    desk_fields,
    login,
    reg,
    scan_logs,
)
from tests.conftest import csrf_from


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    return make_event(slug="batam", city="Batam", bib_prefix="BTM", quota=3)


@pytest.fixture
def runners(event: Event, add_runners) -> list[int]:
    """Three confirmed runners (bibs 1-3) and one waitlisted (no bib)."""
    return add_runners(event, 4, email="runner@example.com")


@pytest.fixture
def volunteer(make_staff, event: Event) -> Staff:
    return make_staff("volunteer", events=(event.slug,), password=PASSWORD)


def _roster(client: FlaskClient, slug: str, staff: Staff, **headers: str):
    return client.get(f"{API}/events/{slug}/roster", headers={**staff.headers, **headers})


def _scan(client: FlaskClient, slug: str, staff: Staff, **body):
    body = {**desk_fields(body.get("code")), **body}
    return client.post(f"{API}/events/{slug}/checkins", json=body, headers=staff.headers)


# --- the roster ---------------------------------------------------------------------------


def test_roster_holds_what_a_scan_needs_and_no_more(client, event, runners, volunteer):
    cancel_registration(runners[2])  # bib 3 cancelled: the waitlisted runner gets bib 4
    _scan(client, event.slug, volunteer, code="1", device="phone-A")
    response = _roster(client, event.slug, volunteer)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'W/"{response.get_json()["version"]}"'
    assert "private" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["event"] == {"id": event.id, "slug": "batam", "city": "Batam", "bib_prefix": "BTM"}
    assert body["keys"] == bib_signer().jwks()["keys"]
    by_bib = {r["bib_number"]: r for r in body["runners"]}
    assert set(by_bib) == {1, 2, 3, 4}
    assert by_bib[3]["status"] == "cancelled"
    assert by_bib[4]["status"] == "confirmed"
    first = by_bib[1]
    assert set(first) == {
        "id",
        "bib_number",
        "bib",
        "status",
        "full_name",
        "shirt_size",
        "member",
        "enrolled",
        "checkins",
    }
    assert first["bib"] == "BTM 0001"
    assert set(first["checkins"]) == {"pickup"}
    assert first["checkins"]["pickup"]["by"] == volunteer.email
    assert first["checkins"]["pickup"]["device"] == "phone-A"
    assert by_bib[2]["checkins"] == {}
    # No NIK, phone or email of any runner, in any spelling.
    text = json.dumps(body)
    for registration_id in runners:
        stored = reg(registration_id)
        nik = data_cipher().decrypt(stored.person.nik_encrypted)
        assert nik not in text and nik[-6:] not in text
        assert stored.phone not in text and stored.phone[-8:] not in text
        assert stored.person.nik_hash not in text
    assert "runner@example.com" not in text and "@example.com" not in text


def test_roster_is_gzipped_for_clients_that_accept_it(client, event, runners, volunteer):
    plain = _roster(client, event.slug, volunteer)
    zipped = _roster(client, event.slug, volunteer, **{"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    body = json.loads(gzip.decompress(zipped.data))
    assert body["runners"] == plain.get_json()["runners"]
    assert zipped.headers["ETag"] == plain.headers["ETag"]


def test_roster_is_cheap_to_refresh_with_its_etag(client, event, runners, volunteer):
    first = _roster(client, event.slug, volunteer)
    etag = first.headers["ETag"]
    again = _roster(client, event.slug, volunteer, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    # A check-in, a cancellation and an undo each make a new version.
    _scan(client, event.slug, volunteer, code="2")
    after_scan = _roster(client, event.slug, volunteer, **{"If-None-Match": etag})
    assert after_scan.status_code == 200
    etag2 = after_scan.headers["ETag"]
    assert etag2 != etag
    cancel_registration(runners[0])
    after_cancel = _roster(client, event.slug, volunteer, **{"If-None-Match": etag2})
    assert after_cancel.status_code == 200
    assert after_cancel.headers["ETag"] != etag2


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("volunteer_here", 200),
        ("volunteer_elsewhere", 403),
        ("partner", 403),
        ("organiser", 200),
        ("admin", 200),
    ],
)
def test_roster_access_is_the_scanning_rule(
    client, make_event, make_staff, event, runners, who, status
):
    other = make_event(slug="medan", bib_prefix="MDN")
    staff = {
        "anonymous": None,
        "volunteer_here": lambda: make_staff("volunteer", events=(event.slug,)),
        "volunteer_elsewhere": lambda: make_staff("volunteer", events=(other.slug,)),
        "partner": lambda: make_staff("partner"),
        "organiser": lambda: make_staff("organiser"),
        "admin": lambda: make_staff("admin"),
    }[who]
    headers = staff().headers if staff else {}
    response = client.get(f"{API}/events/{event.slug}/roster", headers=headers)
    if status == 200:
        assert response.status_code == 200
        assert response.get_json()["runners"]
    else:
        assert_problem(response, status)


def test_roster_of_an_unknown_event_is_404(client, volunteer):
    assert_problem(_roster(client, "nowhere", volunteer), 404)


def test_the_page_roster_needs_a_session_of_someone_who_may_scan(
    app, event, runners, volunteer, make_staff, make_event
):
    other = make_event(slug="medan", bib_prefix="MDN")
    elsewhere_staff = make_staff("volunteer", events=(other.slug,), password=PASSWORD)
    # The page asks the check-in API's roster with its session (no token).
    roster_url = f"{API}/events/{event.slug}/roster"
    anonymous = browser(app)
    response = anonymous.get(roster_url)
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    here = browser(app)
    login(here, volunteer.email)
    response = here.get(roster_url)
    assert response.status_code == 200
    assert response.get_json()["event"]["slug"] == event.slug
    assert response.headers["X-CSRFToken"]  # a cached page refreshes its token here
    again = here.get(roster_url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.headers["X-CSRFToken"]
    elsewhere = browser(app)
    login(elsewhere, elsewhere_staff.email)
    assert elsewhere.get(roster_url).status_code == 403
    assert here.get(f"{API}/events/nowhere/roster").status_code == 404
    # A bearer call gets the roster without a session, so without a token to refresh.
    by_token = here.get(roster_url, headers=volunteer.headers)
    assert by_token.status_code == 200 and "X-CSRFToken" not in by_token.headers


# --- queued scans and conflicts -----------------------------------------------------------


def test_a_late_offline_check_in_is_a_conflict_reported_to_both(
    app, client, event, runners, volunteer, make_staff
):
    organiser = make_staff("organiser")
    supervisor_staff = make_staff("organiser", password=PASSWORD)
    payload = payload_for(reg(runners[0]))
    # Device A is online and checks bib 1 in; device B, offline, had said "checked in" too.
    first = _scan(client, event.slug, organiser, code=payload, device="phone-A")
    assert first.status_code == 201
    scanned_at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    late = _scan(
        client,
        event.slug,
        volunteer,
        code=payload,
        device="phone-B",
        client_ref="B-1",
        scanned_at=scanned_at,
        offline_answer="checked_in",
    )
    assert late.status_code == 200
    body = late.get_json()
    assert body["result"] == "already_checked_in"
    assert body["conflict"] is True
    assert body["first_by"] == organiser.email
    assert body["first_device"] == "phone-A"
    assert len(active_checkins(runners[0])) == 1
    # A replay of the queued scan is answered the same and counts nothing.
    before = counts()
    replay = _scan(
        client,
        event.slug,
        volunteer,
        code=payload,
        device="phone-B",
        client_ref="B-1",
        scanned_at=scanned_at,
        offline_answer="checked_in",
    )
    assert replay.get_json() == {**body, "replayed": True}
    assert counts() == before
    # Both devices learn of it from the roster, with both times and devices.
    roster = _roster(client, event.slug, organiser).get_json()
    (conflict,) = roster["conflicts"]
    assert conflict["bib"] == "BTM 0001"
    assert conflict["registration_id"] == runners[0]
    assert conflict["station"] == "pickup"
    assert conflict["first"]["device"] == "phone-A"
    assert conflict["first"]["by"] == organiser.email
    assert conflict["late"]["device"] == "phone-B"
    assert conflict["late"]["by"] == volunteer.email
    assert datetime.fromisoformat(conflict["late"]["scanned_at"]) == datetime.fromisoformat(
        scanned_at
    )
    assert conflict["first"]["at"] > conflict["late"]["scanned_at"]
    # The supervisor's list shows it too.
    supervisor = browser(app)
    login(supervisor, supervisor_staff.email)
    html = supervisor.get(f"/staff/events/{event.slug}/checkins").get_data(as_text=True)
    section = html.split('id="conflicts"', 1)[1].split("</section>", 1)[0]
    assert "BTM 0001" in section and "phone-A" in section and "phone-B" in section
    assert volunteer.email in section and organiser.email in section


def test_an_offline_repeat_or_a_matching_answer_is_no_conflict(client, event, runners, volunteer):
    at = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
    ok = _scan(
        client, event.slug, volunteer, code="1", client_ref="q1", scanned_at=at,
        offline_answer="checked_in",
    )  # fmt: skip
    assert ok.status_code == 201 and ok.get_json()["conflict"] is False
    repeat = _scan(
        client, event.slug, volunteer, code="1", client_ref="q2", scanned_at=at,
        offline_answer="already_checked_in",
    )  # fmt: skip
    assert repeat.status_code == 200 and repeat.get_json()["conflict"] is False
    forged = _scan(
        client, event.slug, volunteer, code="FR1AA:1:1:" + "A" * 103, client_ref="q3",
        scanned_at=at, offline_answer="invalid",
    )  # fmt: skip
    assert forged.status_code == 422 and forged.get_json()["result"] == "invalid"
    assert _roster(client, event.slug, volunteer).get_json()["conflicts"] == []
    logs = scan_logs()
    assert [log.offline_answer for log in logs] == ["checked_in", "already_checked_in", "invalid"]
    assert all(log.scanned_at is not None for log in logs)


@pytest.mark.parametrize("answer", ["undone", "yes", 1, ["checked_in"], ""])
def test_an_unknown_offline_answer_is_422_and_writes_nothing(
    client, event, runners, volunteer, answer
):
    response = _scan(client, event.slug, volunteer, code="1", offline_answer=answer)
    body = assert_problem(response, 422)
    assert "offline_answer" in body["errors"]
    assert counts() == (0, 0)


def test_the_page_sends_queued_scans_with_time_device_and_answer(app, event, runners, volunteer):
    page = browser(app)
    login(page, volunteer.email)
    html = page.get(f"/staff/events/{event.slug}/scan").get_data(as_text=True)
    token = csrf_from(html)
    url = f"{API}/events/{event.slug}/checkins"  # the page's script calls the API
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    body = {
        "code": "2",
        "client_ref": "page-1",
        "scanned_at": at,
        "device": "scan-ABCD",
        "offline_answer": "checked_in",
        # Typed offline, queued once the ID card was checked (the page's confirm step).
        "method": "typed",
        "id_checked": True,
    }
    response = page.post(url, json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201
    (checkin,) = active_checkins(runners[1])
    assert checkin.device == "scan-ABCD"
    assert checkin.checked_in_at == datetime.fromisoformat(at)
    again = page.post(url, json=body, headers={"X-CSRFToken": token})
    assert again.status_code == 201 and again.get_json()["replayed"] is True
    assert len(active_checkins(runners[1])) == 1
    assert [(log.method, log.id_checked) for log in scan_logs()] == [("typed", True)]
    for bad in ("yesterday", "2026-01-01T00:00:00", 5, (datetime.now(UTC) - timedelta(days=8))):
        value = bad.isoformat() if isinstance(bad, datetime) else bad
        response = page.post(
            url, json={**body, "client_ref": "page-2", "scanned_at": value},
            headers={"X-CSRFToken": token},
        )  # fmt: skip
        assert response.status_code == 422, value
        assert "scanned_at" in response.get_json()["errors"]
    assert counts() == (1, 1)


# --- installable ----------------------------------------------------------------------------


def test_the_scan_page_is_installable(app, client, event, volunteer):
    page = browser(app)
    login(page, volunteer.email)
    html = page.get(f"/staff/events/{event.slug}/scan").get_data(as_text=True)
    manifest_url = f"/staff/events/{event.slug}/scan/manifest.webmanifest"
    assert f'rel="manifest" href="{manifest_url}"' in html
    manifest = client.get(manifest_url)
    assert manifest.status_code == 200
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json()
    assert data["start_url"] == f"/staff/events/{event.slug}/scan"
    assert data["start_url"].startswith(data["scope"])
    assert data["display"] == "standalone"
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
    for icon in data["icons"]:
        with client.get(icon["src"]) as image:
            assert image.status_code == 200
            assert image.mimetype == "image/png"
    assert client.get("/staff/events/nowhere/scan/manifest.webmanifest").status_code == 404
    with client.get("/staff/scan-sw.js") as worker:
        assert worker.status_code == 200
        assert worker.mimetype == "text/javascript"
        assert "no-cache" in worker.headers["Cache-Control"]
        assert "worker-src 'self'" in worker.headers["Content-Security-Policy"]
    # The page registers the worker from /staff/ with the shell files it must keep.
    assert 'data-sw-scope="/staff/"' in html
    assert re.search(r"/staff/scan-sw.js\?v=[0-9a-f]{16}&amp;f=/static/", html)
    for name in ("js/scan-offline.js", "js/scan.js", "vendor/qr-scanner-worker.min.js"):
        assert f"f=/static/{name}" in html


def test_roster_answers_match_the_openapi_document(client, event, runners, volunteer, make_staff):
    document = client.get(f"{API}/openapi.json").get_json()
    check = Checker(client, document)
    _scan(client, event.slug, volunteer, code="1", device="phone-A")
    _scan(
        client, event.slug, volunteer, code="1", client_ref="x", device="phone-B",
        scanned_at=datetime.now(UTC).isoformat(), offline_answer="checked_in",
    )  # fmt: skip
    slug = {"slug": event.slug}
    headers = volunteer.headers
    first = check.call("GET", "/events/{slug}/roster", 200, params=slug, headers=headers)
    assert first.get_json()["conflicts"]
    etag = first.headers["ETag"]
    check.call(
        "GET",
        "/events/{slug}/roster",
        304,
        params=slug,
        headers={**headers, "If-None-Match": etag},
    )
    check.call("GET", "/events/{slug}/roster", 401, params=slug)
    partner = make_staff("partner")
    check.call("GET", "/events/{slug}/roster", 403, params=slug, headers=partner.headers)
    check.call("GET", "/events/{slug}/roster", 404, params={"slug": "nowhere"}, headers=headers)
    conflict = check.call(
        "POST",
        "/events/{slug}/checkins",
        200,
        params=slug,
        headers=headers,
        json={"code": "1", "client_ref": "x"},
    )
    assert conflict.get_json()["conflict"] is True
    assert isinstance(reg(runners[0]), Registration)
