"""Who may scan, count and undo: the API (bearer tokens, or the scan page's session with
its CSRF token) and the staff pages (sign-in).

Table-driven over every kind of caller. Refused calls write nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from funrun.accounts.models import User
from funrun.checkin.services import scan
from funrun.events.models import Event
from funrun.extensions import db
from tests.checkin.conftest import (
    API,
    PASSWORD,
    PROBLEM,
    Staff,
    active_checkins,
    browser,
    counts,
    login,
)
from tests.conftest import csrf_from

WHO = ["anonymous", "volunteer_here", "volunteer_elsewhere", "partner", "organiser", "admin"]


class World:
    """Two events, a runner to scan and a check-in to undo, and one account of each kind."""

    def __init__(self, make_event, make_staff, add_runners, *, passwords: bool) -> None:
        self.event = make_event(slug="surabaya", city="Surabaya", bib_prefix="SBY", quota=5)
        self.other = make_event(slug="malang", city="Malang", bib_prefix="MLG", quota=5)
        self.slug = self.event.slug
        self.runners = add_runners(self.event, 2)  # bibs 1 and 2
        add_runners(self.other, 1)
        password = PASSWORD if passwords else None
        self.staff: dict[str, Staff | None] = {
            "anonymous": None,
            "volunteer_here": make_staff("volunteer", events=(self.slug,), password=password),
            "volunteer_elsewhere": make_staff(
                "volunteer", events=(self.other.slug,), password=password
            ),
            "partner": make_staff("partner", password=password),
            "organiser": make_staff("organiser", password=password),
            "admin": make_staff("admin", password=password),
        }
        # Runner 1 is checked in at pickup (something to undo); runner 2 is not.
        scanner = db.session.get(User, self.staff["admin"].id)
        outcome = scan(
            db.session.get(Event, self.event.id),
            "1",
            user=scanner,
            method="typed",
            id_checked=True,
        )
        self.checkin_id = outcome.checkin.id


@pytest.fixture
def world(make_event, make_staff, add_runners) -> World:
    return World(make_event, make_staff, add_runners, passwords=False)


# --- the API ---------------------------------------------------------------------------

#: Expected status per endpoint and caller.
API_MATRIX: dict[str, dict[str, int]] = {
    "scan": {
        "anonymous": 401,
        "volunteer_here": 201,
        "volunteer_elsewhere": 403,
        "partner": 403,
        "organiser": 201,
        "admin": 201,
    },
    "counts": {
        "anonymous": 401,
        "volunteer_here": 200,
        "volunteer_elsewhere": 403,
        "partner": 403,
        "organiser": 200,
        "admin": 200,
    },
    "undo": {
        "anonymous": 401,
        "volunteer_here": 403,
        "volunteer_elsewhere": 403,
        "partner": 403,
        "organiser": 200,
        "admin": 200,
    },
}


def call_api(client: FlaskClient, world: World, endpoint: str, headers: dict[str, str]) -> Any:
    if endpoint == "scan":
        return client.post(
            f"{API}/events/{world.slug}/checkins",
            json={"code": "SBY0002", "method": "typed", "id_checked": True},
            headers=headers,
        )
    if endpoint == "counts":
        return client.get(f"{API}/events/{world.slug}/checkins/counts", headers=headers)
    return client.post(f"{API}/checkins/{world.checkin_id}/undo", headers=headers)


@pytest.mark.parametrize("who", WHO)
def test_api_access(client, world, who):
    staff = world.staff[who]
    headers = staff.headers if staff else {}

    for endpoint in ("counts", "scan", "undo"):
        before = counts()
        response = call_api(client, world, endpoint, headers)

        expected = API_MATRIX[endpoint][who]
        assert response.status_code == expected, (endpoint, response.get_data(as_text=True))
        assert "Set-Cookie" not in response.headers
        if expected >= 400:
            assert response.mimetype == PROBLEM
            assert response.get_json()["status"] == expected
            if expected == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert counts() == before, endpoint
        elif endpoint == "counts":
            assert response.get_json() == {"station": "pickup", "checked_in": 1, "confirmed": 2}
        elif endpoint == "scan":
            assert response.get_json()["result"] == "checked_in"
            assert active_checkins(world.runners[1])[0].scanned_by_id == staff.id
        else:
            assert active_checkins(world.runners[0]) == []
            assert counts() == (before[0], before[1] + 1)
    # What was refused left the runners as they were.
    scanned = API_MATRIX["scan"][who] < 400
    undone = API_MATRIX["undo"][who] < 400
    assert len(active_checkins(world.runners[1])) == int(scanned)
    assert len(active_checkins(world.runners[0])) == int(not undone)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer frn_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "frn_token-without-scheme",
        "Bearer " + "frn_" + "x" * 200,
    ],
)
def test_api_refuses_bad_tokens(client, world, authorization):
    before = counts()
    for endpoint in API_MATRIX:
        response = call_api(client, world, endpoint, {"Authorization": authorization})
        assert response.status_code == 401, (endpoint, response.get_data(as_text=True))
        assert response.mimetype == PROBLEM
    assert counts() == before


def _page_token(client: FlaskClient, slug: str) -> str:
    """The CSRF token the scan page carries (as its script reads it)."""
    html = client.get(f"/staff/events/{slug}/scan").get_data(as_text=True)
    found = re.search(r'data-csrf="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("bad_token", [None, "", "not-the-token"])
def test_a_session_call_without_a_valid_csrf_token_is_refused(app, page_world, bad_token):
    """The scan page's session authenticates the check-in API only with its CSRF token:
    without one, a check-in or an undo is a 400 problem document and changes nothing."""
    world = page_world
    signed_in = browser(app)
    assert login(signed_in, world.staff["organiser"].email).status_code == 302
    _page_token(signed_in, world.slug)  # the session holds a token; this request lacks it
    headers = {} if bad_token is None else {"X-CSRFToken": bad_token}
    before = counts()
    for endpoint in ("scan", "undo"):
        response = call_api(signed_in, world, endpoint, headers)
        assert response.status_code == 400, endpoint
        assert response.mimetype == PROBLEM
        assert response.get_json()["type"].endswith("/csrf")
    assert counts() == before
    assert len(active_checkins(world.runners[0])) == 1
    assert active_checkins(world.runners[1]) == []
    # Reading needs no token (a GET changes nothing).
    assert call_api(signed_in, world, "counts", {}).status_code == 200


@pytest.mark.parametrize("who", WHO)
def test_api_access_by_the_page_session(app, page_world, who):
    """The same answers as by token, for a signed-in browser sending its CSRF token."""
    world = page_world
    client = signed_in_as(app, world, who)
    page = world.other.slug if who == "volunteer_elsewhere" else world.slug
    headers: dict[str, str] = {}
    if who == "partner":  # signed in to its own pages: their CSRF token, not a scan page's
        headers = {"X-CSRFToken": csrf_from(client.get("/partner/").get_data(as_text=True))}
    elif who != "anonymous":
        headers = {"X-CSRFToken": _page_token(client, page)}
    for endpoint in API_MATRIX:
        expected = API_MATRIX[endpoint][who]
        response = call_api(client, world, endpoint, headers)
        assert response.status_code == expected, (endpoint, response.get_data(as_text=True))
        if expected >= 400:
            assert response.mimetype == PROBLEM
    assert len(active_checkins(world.runners[1])) == int(API_MATRIX["scan"][who] < 400)


def test_a_bearer_call_needs_no_csrf_token_and_opens_no_session(app, page_world):
    """Other clients send a token, never a CSRF token, and get no cookie: even from a
    browser that is signed in on the pages, the token decides."""
    world = page_world
    signed_in = browser(app)
    assert login(signed_in, world.staff["organiser"].email).status_code == 302
    volunteer = world.staff["volunteer_here"]
    answer = call_api(signed_in, world, "scan", volunteer.headers)
    assert answer.status_code == 201
    assert "Set-Cookie" not in answer.headers
    assert "Cookie" not in answer.headers.get("Vary", "")
    assert active_checkins(world.runners[1])[0].scanned_by_id == volunteer.id
    # Other API routes never open the session, token or not.
    listing = signed_in.get(f"{API}/events")
    assert "Cookie" not in listing.headers.get("Vary", "")
    assert signed_in.get(f"{API}/stats").status_code == 401


def test_deactivated_volunteer_token_stops_working(client, world):
    volunteer = world.staff["volunteer_here"]
    assert call_api(client, world, "counts", volunteer.headers).status_code == 200
    db.session.get(User, volunteer.id).active = False
    db.session.commit()
    assert call_api(client, world, "counts", volunteer.headers).status_code == 401
    assert call_api(client, world, "scan", volunteer.headers).status_code == 401
    assert active_checkins(world.runners[1]) == []


# --- the staff pages -------------------------------------------------------------------


@pytest.fixture
def page_world(make_event, make_staff, add_runners) -> World:
    return World(make_event, make_staff, add_runners, passwords=True)


def signed_in_as(app: Flask, world: World, who: str) -> FlaskClient:
    """A browser of its own; signed in unless anonymous (a partner signs in to its own
    pages, never to a scan desk)."""
    staff = world.staff[who]
    client = browser(app)
    if staff is not None:
        response = login(client, staff.email)
        assert response.status_code == 302, response.get_data(as_text=True)
    return client


#: "counts" is the check-in API's counter the page calls with its session (401, not a
#: redirect, for a browser nobody is signed in on).
PAGE_EXPECTED: dict[str, dict[str, int]] = {
    "anonymous": {"choose": 302, "get": 302, "post": 302, "counts": 401},
    "partner": {"choose": 403, "get": 403, "post": 403, "counts": 403},
    "volunteer_elsewhere": {"choose": 200, "get": 403, "post": 403, "counts": 403},
    "volunteer_here": {"choose": 200, "get": 200, "post": 201, "counts": 200},
    "organiser": {"choose": 200, "get": 200, "post": 201, "counts": 200},
    "admin": {"choose": 200, "get": 200, "post": 201, "counts": 200},
}


@pytest.mark.parametrize("who", WHO)
def test_scan_pages_access(app, page_world, who):
    world = page_world
    client = signed_in_as(app, world, who)
    expected = PAGE_EXPECTED[who]
    scan_url = f"/staff/events/{world.slug}/scan"
    # A valid CSRF token for this browser's session, whatever it may see.
    token = csrf_from(client.get("/login").get_data(as_text=True))
    before = counts()

    responses = {
        "choose": client.get("/staff/scan"),
        "get": client.get(scan_url),
        # A typed bib whose runner showed their ID card (the page's confirm step).
        "post": client.post(
            scan_url, data={"code": "SBY 0002", "id_checked": "1", "csrf_token": token}
        ),
        "counts": client.get(f"{API}/events/{world.slug}/checkins/counts"),
    }

    for name, response in responses.items():
        assert response.status_code == expected[name], (name, response.get_data(as_text=True))
        if expected[name] == 302:
            assert re.match(r"(http://localhost)?/login\?next=", response.headers["Location"])
    choose = responses["choose"].get_data(as_text=True)
    if who == "volunteer_elsewhere":
        assert "/staff/events/malang/scan" in choose
        assert scan_url not in choose
    elif expected["choose"] == 200:
        assert scan_url in choose
    if expected["post"] == 201:
        assert "result-checked_in" in responses["post"].get_data(as_text=True)
        assert counts() == (before[0] + 1, before[1] + 1)
        assert responses["counts"].get_json() == {
            "station": "pickup",
            "checked_in": 2,
            "confirmed": 2,
        }
        assert active_checkins(world.runners[1])[0].scanned_by_id == world.staff[who].id
    else:
        assert counts() == before
        assert active_checkins(world.runners[1]) == []


def test_unknown_event_page_is_404_for_staff(app, page_world):
    client = signed_in_as(app, page_world, "organiser")
    assert client.get("/staff/events/nowhere/scan").status_code == 404
    assert client.get(f"{API}/events/nowhere/checkins/counts").status_code == 404


def test_signing_out_ends_scanning(app, page_world):
    client = signed_in_as(app, page_world, "volunteer_here")
    scan_url = f"/staff/events/{page_world.slug}/scan"
    token = csrf_from(client.get(scan_url).get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get(scan_url).status_code == 302
    assert client.post(scan_url, data={"code": "2", "csrf_token": token}).status_code in (302, 400)
    assert active_checkins(page_world.runners[1]) == []
