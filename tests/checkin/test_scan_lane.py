"""The scan's lane (funrun/checkin/lane.py): a bearer client's scan answered in front of
Flask's dispatch, with the app's own answer; everything else goes on to the app.

Whether the app dispatched a request is seen by Flask's ``request_started`` signal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, request_started

from funrun.checkin.lane import ScanLane
from funrun.events.models import Event
from tests.checkin.conftest import API, Staff, active_checkins, assert_problem, scan_logs


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    return make_event(slug="jakarta", city="Jakarta", bib_prefix="JKT", bib_first=42, quota=5)


@pytest.fixture
def volunteer(make_staff, event: Event) -> Staff:
    return make_staff("volunteer", events=(event.slug,))


@pytest.fixture
def dispatched(app: Flask) -> Iterator[list[str]]:
    """The paths Flask dispatched while the test ran."""
    seen: list[str] = []

    def record(sender: Flask, **_extra: Any) -> None:
        from flask import request

        seen.append(request.path)

    request_started.connect(record, app)
    try:
        yield seen
    finally:
        request_started.disconnect(record, app)


def typed(number: int, ref: str, **more: Any) -> dict[str, Any]:
    return {"code": f"JKT{number:04d}", "station": "pickup", "client_ref": ref,
            "method": "typed", "id_checked": True, **more}  # fmt: skip


def through_the_app(app: Flask, path: str, body: dict[str, Any], staff: Staff) -> Any:
    """The same request answered by the app behind the lane (Flask's dispatch)."""
    lane = app.wsgi_app
    while not isinstance(lane, ScanLane):  # the queue's lane is in front of it
        lane = lane.wsgi_app  # type: ignore[attr-defined]
    with app.test_request_context(path, method="POST", json=body, headers=staff.headers) as ctx:
        environ = ctx.request.environ
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_exc: Any) -> None:
        captured.update(status=status, headers=headers)

    body_bytes = b"".join(lane.wsgi_app(environ, start_response))
    return captured["status"], dict(captured["headers"]), body_bytes


def test_a_bearer_scan_is_answered_by_the_lane_as_the_app_answers_it(
    app, client, event, volunteer, add_runners, dispatched
):
    first, second = add_runners(event, 2)
    path = f"{API}/events/{event.slug}/checkins"

    by_lane = client.post(path, json=typed(42, "lane-1"), headers=volunteer.headers)
    status, headers, body = through_the_app(app, path, typed(43, "app-1"), volunteer)

    assert dispatched == [path]  # only the request sent past the lane
    assert (by_lane.status, status) == ("201 CREATED", "201 CREATED")
    lane_answer, app_answer = by_lane.get_json(), app.json.loads(body)
    assert lane_answer["result"] == app_answer["result"] == "checked_in"
    assert lane_answer["registration"]["id"] == first
    assert app_answer["registration"]["id"] == second
    assert list(lane_answer) == list(app_answer)  # the same fields, in the same order
    assert list(lane_answer["registration"]) == list(app_answer["registration"])
    same = {k: v for k, v in headers.items() if k != "Content-Length"}
    assert {k: v for k, v in by_lane.headers.items() if k != "Content-Length"} == same
    assert by_lane.headers["Content-Length"] == str(len(by_lane.data))
    assert len(active_checkins(first)) == 1 and len(active_checkins(second)) == 1


def test_a_replay_through_the_lane_gives_the_first_answer(
    client, event, volunteer, add_runners, dispatched
):
    add_runners(event, 1)
    path = f"{API}/events/{event.slug}/checkins"

    first = client.post(path, json=typed(42, "again"), headers=volunteer.headers)
    again = client.post(path, json=typed(42, "again"), headers=volunteer.headers)

    assert dispatched == []
    assert first.status_code == again.status_code == 201
    assert again.get_json()["replayed"] is True
    assert len(scan_logs()) == 1


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no token", 401),
        ("a forged token", 401),
        ("not assigned", 403),
        ("no such event", 404),
        ("a field refused", 422),
        ("not a JSON object", 400),
        ("not UTF-8", 400),
    ],
)
def test_what_the_lane_does_not_answer_goes_to_the_app_with_its_body(
    make_staff, client, event, volunteer, add_runners, dispatched, case, status
):
    add_runners(event, 1)
    slug, headers = event.slug, dict(volunteer.headers)
    body: Any = typed(42, "refused")
    data = None
    if case == "no token":
        headers = {}
    elif case == "a forged token":
        headers = {"Authorization": "Bearer frn_forged"}
    elif case == "not assigned":
        headers = make_staff("volunteer").headers
    elif case == "no such event":
        slug = "nowhere"
    elif case == "a field refused":
        body["station"] = "kitchen"
    elif case == "not a JSON object":
        body = ["JKT0042"]
    else:
        data, body = b'{"code": "JKT\xff0042"}', None
    path = f"{API}/events/{slug}/checkins"

    if data is not None:
        answer = client.post(path, data=data, content_type="application/json", headers=headers)
    else:
        answer = client.post(path, json=body, headers=headers)

    problem = assert_problem(answer, status)
    assert dispatched == [path]  # the app answered, having read the same body
    if case == "a field refused":
        assert "station" in problem["errors"]
    assert scan_logs() == []


def test_the_scan_page_and_a_pickup_go_to_the_app(
    client, event, volunteer, add_runners, dispatched
):
    add_runners(event, 1)
    path = f"{API}/events/{event.slug}/checkins"
    pickup = typed(42, "pickup-1", proxy={"name": "Budi", "nik": "3171010101900001"})

    collected = client.post(path, json=pickup, headers=volunteer.headers)
    page = client.post(path, json=typed(42, "page-1"))  # no token: the page's session

    assert dispatched == [path, path]
    assert collected.status_code == 201, collected.get_data(as_text=True)
    assert collected.get_json()["result"] == "checked_in"
    assert page.status_code == 401  # no session here either
