"""The supervisor's page of recent check-ins, where a mistaken check-in is undone."""

from __future__ import annotations

from funrun.checkin.models import ScanResult
from funrun.extensions import db
from tests.checkin.conftest import (
    PASSWORD,
    active_checkins,
    browser,
    desk_fields,
    login,
    scan_logs,
)
from tests.conftest import csrf_from


def _check_in(client, event, staff, code: str):
    response = client.post(
        f"/api/v1/events/{event.slug}/checkins",
        json={"code": code, **desk_fields(code)},
        headers=staff.headers,
    )
    assert response.status_code == 201, response.json
    return response.json["checkin_id"]


def test_organiser_undoes_a_checkin_from_the_list(app, client, make_event, make_staff, add_runners):
    event = make_event(quota=5)
    runner_id = add_runners(event, 1)[0]
    volunteer = make_staff("volunteer", events=(event.slug,))
    organiser = make_staff("organiser", password=PASSWORD)
    checkin_id = _check_in(client, event, volunteer, "1")

    page = browser(app)
    assert login(page, organiser.email).status_code == 302
    listing = page.get(f"/staff/events/{event.slug}/checkins")
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert "TST 0001" in html and volunteer.email.split("@")[0] in html

    undone = page.post(f"/staff/checkins/{checkin_id}/undo", data={"csrf_token": csrf_from(html)})
    assert undone.status_code == 302
    assert active_checkins(runner_id) == []
    assert [log.result for log in scan_logs()][-1] == ScanResult.UNDONE
    assert scan_logs()[-1].user_id == organiser.id
    # The runner can be checked in again after the undo.
    assert _check_in(client, event, volunteer, "1") != checkin_id
    # A second undo of the same check-in is refused, and says so.
    again = page.post(
        f"/staff/checkins/{checkin_id}/undo",
        data={"csrf_token": csrf_from(page.get(f"/staff/events/{event.slug}/checkins").text)},
        follow_redirects=True,
    )
    assert again.status_code == 200
    assert "flash-error" in again.get_data(as_text=True)


def test_undo_needs_csrf_and_a_supervisor(app, client, make_event, make_staff, add_runners):
    event = make_event(quota=5)
    runner_id = add_runners(event, 1)[0]
    volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    organiser = make_staff("organiser", password=PASSWORD)
    checkin_id = _check_in(client, event, volunteer, "1")

    as_volunteer = browser(app)
    login(as_volunteer, volunteer.email)
    assert as_volunteer.get(f"/staff/events/{event.slug}/checkins").status_code == 403
    token = csrf_from(as_volunteer.get(f"/staff/events/{event.slug}/scan").text)
    forbidden = as_volunteer.post(f"/staff/checkins/{checkin_id}/undo", data={"csrf_token": token})
    assert forbidden.status_code == 403

    as_organiser = browser(app)
    login(as_organiser, organiser.email)
    assert as_organiser.post(f"/staff/checkins/{checkin_id}/undo").status_code == 400
    token = csrf_from(as_organiser.get(f"/staff/events/{event.slug}/checkins").text)
    missing = as_organiser.post("/staff/checkins/999999/undo", data={"csrf_token": token})
    assert missing.status_code == 404
    anonymous = browser(app)
    assert anonymous.get(f"/staff/events/{event.slug}/checkins").status_code == 302
    db.session.rollback()
    assert len(active_checkins(runner_id)) == 1
