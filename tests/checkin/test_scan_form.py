"""The scan page without JavaScript: a plain form (typed bib or wedge scanner) and CSRF."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from funrun.accounts.admin_services import assign_event
from funrun.accounts.models import User
from funrun.extensions import db
from tests.checkin.conftest import PASSWORD, active_checkins, browser, counts, login, scan_logs
from tests.conftest import csrf_from


@pytest.fixture
def desk(app: Flask, make_event, make_staff, add_runners):
    """A signed-in volunteer at the Semarang pickup desk; two confirmed runners."""
    event = make_event(slug="semarang", city="Semarang", bib_prefix="SMG", quota=2)
    runners = add_runners(event, 3)  # the third waits
    volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    client = browser(app)
    assert login(client, volunteer.email).status_code == 302
    return client, runners, volunteer


def counter(html: str) -> tuple[int, int]:
    match = re.search(
        r'<span id="count-in">(\d+)</span> / <span id="count-total">(\d+)</span>', html
    )
    assert match, "no counter on the page"
    return int(match.group(1)), int(match.group(2))


def result_class(html: str) -> str:
    match = re.search(r'<section id="result" class="result (result-[a-z_]+)"', html)
    assert match, "no result section"
    return match.group(1)


URL = "/staff/events/semarang/scan"


def test_typed_bib_through_the_form(desk):
    client, runners, volunteer = desk
    page = client.get(URL, query_string={"lang": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert counter(html) == (0, 2)
    assert result_class(html) == "result-idle"
    assert '<form method="post" id="scan-form"' in html and 'name="code"' in html
    token = csrf_from(html)

    # A typed bib first shows whose it is, with the button for the ID card (issue 15).
    asked = client.post(URL + "?lang=en", data={"code": "smg 0001", "csrf_token": token})

    assert asked.status_code == 200
    html = asked.get_data(as_text=True)
    assert result_class(html) == "result-confirm_identity"
    assert "SMG 0001" in html and "Typed bib: check the ID card" in html
    assert counts() == (0, 1)
    confirm = re.search(r'<form method="post" id="confirm-form".*?</form>', html, re.S)
    assert confirm, "no confirm step"
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', confirm.group(0)))
    assert fields["code"] == "smg 0001" and fields["id_checked"] == "1"
    assert "ID card checked: check in" in confirm.group(0)

    first = client.post(URL + "?lang=en", data=fields)

    assert first.status_code == 201
    html = first.get_data(as_text=True)
    assert result_class(html) == "result-checked_in"
    assert "Checked in" in html
    assert "SMG 0001" in html
    assert counter(html) == (1, 2)
    assert active_checkins(runners[0])[0].scanned_by_id == volunteer.id

    again = client.post(URL + "?lang=en", data={"code": "1", "csrf_token": token})

    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert result_class(html) == "result-already_checked_in"
    assert "Already checked in" in html
    assert volunteer.email in html  # by whom
    assert counter(html) == (1, 2)
    assert counts() == (1, 3)
    logs = scan_logs()
    assert [(log.result, log.method, log.id_checked) for log in logs] == [
        ("confirm_identity", "typed", False),
        ("checked_in", "typed", True),
        ("already_checked_in", "typed", False),
    ]


@pytest.mark.parametrize(
    ("code", "status", "css"),
    [
        ("garbage!!", 422, "result-invalid"),
        ("SMG 0099", 404, "result-unknown"),
        ("", 422, "result-invalid"),
        ("x" * 201, 422, "result-invalid"),
    ],
)
def test_rejected_codes_show_a_rejection_page(desk, code, status, css):
    client, _runners, _volunteer = desk
    token = csrf_from(client.get(URL).get_data(as_text=True))

    response = client.post(URL, data={"code": code, "csrf_token": token})

    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert result_class(html) == css
    assert counter(html) == (0, 2)
    assert counts()[0] == 0
    # Rejected scans are logged; refused input (empty, too long) is not a scan at all.
    assert counts()[1] == (1 if code in ("garbage!!", "SMG 0099") else 0)


def test_station_comes_from_the_address(desk):
    client, runners, _volunteer = desk
    token = csrf_from(client.get(URL + "?station=finish").get_data(as_text=True))
    response = client.post(
        URL + "?station=finish", data={"code": "2", "id_checked": "1", "csrf_token": token}
    )
    assert response.status_code == 201
    assert counter(response.get_data(as_text=True)) == (1, 2)
    assert len(active_checkins(runners[1], "finish")) == 1
    assert active_checkins(runners[1], "pickup") == []


def test_stations_are_named_in_the_page_language(desk):
    """The heading and the station links read "Pengambilan race pack", never the code."""
    client, _runners, _volunteer = desk
    for lang, pickup, start, finish in (
        ("id", "Pengambilan race pack", "Garis start", "Garis finis"),
        ("en", "Race-pack pickup", "Start line", "Finish line"),
    ):
        client.get(f"/lang/{lang}")
        html = client.get(URL + "?station=finish").get_data(as_text=True)
        assert re.search(rf"<h1>Semarang · {finish}</h1>", html), lang
        nav = re.search(r'<nav class="stations">(.*?)</nav>', html, re.S)
        assert nav, "no station links"
        links = re.findall(r">([^<>]+)</(?:a|strong)>", nav.group(1))
        assert links == [pickup, start, finish], (lang, links)


def test_the_page_opens_at_the_volunteers_assigned_station(
    app, make_event, make_staff, add_runners
):
    """Assigned to the finish line, a volunteer's scan page (and the events list) opens
    there; the station links still switch, as volunteers move between desks."""
    finish_event = make_event(slug="solo", city="Solo", bib_prefix="SOL", quota=5)
    other = make_event(slug="kediri", city="Kediri", bib_prefix="KDR", quota=5)
    runners = add_runners(finish_event, 1)
    staff = make_staff("volunteer", password=PASSWORD)
    user = db.session.get(User, staff.id)
    assign_event(user, finish_event.id, "finish")
    assign_event(user, other.id)  # any station: the page opens at pickup
    db.session.commit()
    client = browser(app)
    login(client, staff.email)
    client.get("/lang/en")
    events = client.get("/staff/scan").get_data(as_text=True)
    assert "Solo" in events and "Finish line" in events and "Kediri" in events
    assert events.count("Finish line") == 1 and "Race-pack pickup" not in events
    solo = client.get("/staff/events/solo/scan").get_data(as_text=True)
    assert "<h1>Solo · Finish line</h1>" in solo
    assert 'data-station="finish"' in solo and "station=finish" in solo  # the counter's URL
    assert "<h1>Kediri · Race-pack pickup</h1>" in client.get("/staff/events/kediri/scan").text
    # The address wins; an unknown station in it falls back to the assigned one.
    assert 'data-station="pickup"' in client.get("/staff/events/solo/scan?station=pickup").text
    assert 'data-station="finish"' in client.get("/staff/events/solo/scan?station=gate").text
    # A scan through the form with no station in the address counts at the finish line.
    token = csrf_from(solo)
    response = client.post(
        "/staff/events/solo/scan", data={"code": "1", "id_checked": "1", "csrf_token": token}
    )
    assert response.status_code == 201
    assert len(active_checkins(runners[0], "finish")) == 1
    assert active_checkins(runners[0], "pickup") == []
    # The page's counter asks the check-in API for its station.
    counter = "/api/v1/events/solo/checkins/counts?station=finish"
    assert f'data-counts-url="{counter}"' in solo
    assert client.get(counter).get_json()["checked_in"] == 1
    assert client.get("/api/v1/events/solo/checkins/counts?station=pickup").get_json() == {
        "station": "pickup",
        "checked_in": 0,
        "confirmed": 1,
    }


def test_form_without_csrf_is_400_and_writes_nothing(desk):
    client, runners, _volunteer = desk
    client.get(URL)
    for data in ({"code": "1"}, {"code": "1", "csrf_token": "forged-token"}):
        response = client.post(URL, data=data)
        assert response.status_code == 400
        assert "result-checked_in" not in response.get_data(as_text=True)
    assert counts() == (0, 0)
    assert active_checkins(runners[0]) == []


def test_csrf_token_of_another_session_is_refused(app, desk):
    client, _runners, _volunteer = desk
    stranger = browser(app)
    foreign = csrf_from(stranger.get("/login").get_data(as_text=True))
    response = client.post(URL, data={"code": "1", "csrf_token": foreign})
    assert response.status_code == 400
    assert counts() == (0, 0)
