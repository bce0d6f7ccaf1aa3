"""Issue 15, point 3: a plain QR must not check anyone in.

A QR holding just ``QTA 0003`` shown to a camera checked that runner in, because any text
that was not ``FR1...`` was read as a typed bib, and bib numbers are sequential. Now a
scanned code (``method`` "scan", the default) must be a signed bib; a typed bib answers
``confirm_identity`` with the runner's name until the volunteer sends it again with
``id_checked``; the scan log records both; a typed bib of another event names its city.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (the one-statement fast path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from funrun.accounts.models import User
from funrun.bibs.services import payload_for
from funrun.checkin.models import ScanLog, ScanResult
from funrun.checkin.services import scan
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from tests.checkin.conftest import (
    API,
    PASSWORD,
    Staff,
    active_checkins,
    assert_problem,
    browser,
    cancel_registration,
    counts,
    login,
    reg,
    scan_logs,
)
from tests.conftest import csrf_from


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    """Qatar-free, as the issue's example: the bibs of this event are QTA 0001..."""
    return make_event(slug="tasik", city="Tasikmalaya", bib_prefix="QTA", bib_first=1, quota=5)


@pytest.fixture
def medan(make_event: Callable[..., Event]) -> Event:
    return make_event(slug="medan", city="Medan", bib_prefix="MDN", bib_first=1, quota=5)


@pytest.fixture
def runners(event: Event, add_runners) -> list[int]:
    return add_runners(event, 4)  # QTA 0001 to QTA 0004


@pytest.fixture
def volunteer(make_staff, event: Event) -> Staff:
    return make_staff("volunteer", events=(event.slug,), password=PASSWORD)


def post(client: FlaskClient, staff: Staff, slug: str = "tasik", **body: Any) -> Any:
    return client.post(f"{API}/events/{slug}/checkins", json=body, headers=staff.headers)


def result_of(response: Any, status: int, result: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"] == result
    return body


# --- the camera: only a signed bib -------------------------------------------------------


@pytest.mark.parametrize("method", [None, "scan"])
@pytest.mark.parametrize("code", ["QTA 0003", "QTA0003", "3", "0003", "qta-0003"])
def test_a_plain_qr_checks_nobody_in(client, volunteer, runners, method, code):
    body: dict[str, Any] = {"code": code}
    if method is not None:
        body["method"] = method
    answer = result_of(post(client, volunteer, **body), 422, "invalid")
    assert answer["registration"] is None  # not even the name
    assert active_checkins(runners[2]) == []
    assert counts() == (0, 1)
    [log] = scan_logs()
    assert (log.result, log.method, log.code_kind, log.id_checked) == (
        "invalid",
        "scan",
        "qr",
        False,
    )
    assert log.registration_id is None and log.bib_number is None


def test_a_signed_bib_from_the_camera_checks_in(client, volunteer, runners):
    answer = result_of(
        post(client, volunteer, code=payload_for(reg(runners[2])), method="scan"), 201, "checked_in"
    )
    assert answer["registration"]["bib"] == "QTA 0003"
    [log] = scan_logs()
    assert (log.method, log.code_kind, log.id_checked) == ("scan", "qr", False)


def test_the_service_reads_a_code_as_scanned_unless_told(app, event, volunteer, runners):
    """The rule sits below every caller: scan() itself refuses unsigned text by default."""
    user = db.session.get(User, volunteer.id)
    outcome = scan(db.session.get(Event, event.id), "QTA 0003", user=user)
    assert outcome.result == ScanResult.INVALID and outcome.http_status == 422
    assert counts() == (0, 1)


# --- typed bibs: the ID card first ---------------------------------------------------------


def test_a_typed_bib_asks_for_the_id_card_then_checks_in(client, volunteer, runners):
    asked = result_of(
        post(client, volunteer, code="QTA 0003", method="typed", client_ref="dev-1:7"),
        200,
        "confirm_identity",
    )
    runner = reg(runners[2])
    assert asked["registration"]["full_name"] == runner.full_name
    assert asked["registration"]["bib"] == "QTA 0003"
    assert "checkin_id" not in asked
    assert active_checkins(runners[2]) == []
    assert counts() == (0, 1)  # the attempt is logged, nothing else is stored

    # The same scan again with the ID card checked (the same client_ref, as the page may).
    done = result_of(
        post(
            client,
            volunteer,
            code="QTA 0003",
            method="typed",
            id_checked=True,
            client_ref="dev-1:7",
        ),
        201,
        "checked_in",
    )
    assert done["replayed"] is False
    assert len(active_checkins(runners[2])) == 1
    logs = scan_logs()
    assert [(log.result, log.method, log.id_checked, log.client_ref) for log in logs] == [
        ("confirm_identity", "typed", False, None),
        ("checked_in", "typed", True, "dev-1:7"),
    ]
    assert logs[0].registration_id == logs[1].registration_id == runners[2]

    # A replay of that client_ref answers the first check-in and changes nothing, with or
    # without the ID flag.
    for extra in ({"id_checked": True}, {}):
        replay = result_of(
            post(client, volunteer, code="QTA 0003", method="typed", client_ref="dev-1:7", **extra),
            201,
            "checked_in",
        )
        assert replay["replayed"] is True
        assert replay["checkin_id"] == done["checkin_id"]
    assert counts() == (1, 2)


def test_a_typed_bib_without_the_id_card_stores_no_checkin_on_repeats(client, volunteer, runners):
    for _ in range(3):
        result_of(post(client, volunteer, code="2", method="typed"), 200, "confirm_identity")
    result_of(
        post(client, volunteer, code="2", method="typed", id_checked=False), 200, "confirm_identity"
    )
    assert active_checkins(runners[1]) == []
    assert counts() == (0, 4)


def test_answers_that_check_nobody_in_need_no_id_card(client, volunteer, runners, event):
    """Unknown, not confirmed and already checked in are answered at once."""
    result_of(post(client, volunteer, code="99", method="typed"), 404, "unknown")
    cancel_registration(runners[3])
    result_of(post(client, volunteer, code="4", method="typed"), 409, "not_confirmed")
    result_of(post(client, volunteer, code=payload_for(reg(runners[0]))), 201, "checked_in")
    again = result_of(post(client, volunteer, code="1", method="typed"), 200, "already_checked_in")
    assert again["first_by"] == volunteer.email
    assert len(active_checkins(runners[0])) == 1


def test_a_typed_signed_payload_is_as_good_as_a_scanned_one(client, volunteer, runners):
    """Pasted or typed in full, the signature still proves the bib."""
    payload = payload_for(reg(runners[0]))
    result_of(post(client, volunteer, code=payload, method="typed"), 201, "checked_in")
    [log] = scan_logs()
    assert (log.method, log.code_kind) == ("typed", "qr")


# --- another event ------------------------------------------------------------------------


def test_a_typed_bib_of_another_event_names_its_city(client, volunteer, runners, medan):
    for id_checked in (False, True):
        answer = result_of(
            post(client, volunteer, code="MDN 0001", method="typed", id_checked=id_checked),
            409,
            "wrong_event",
        )
        assert answer["other_event"] == {"city": "Medan"}
        assert answer["registration"] is None
    # A prefix no event has is no bib at all.
    nowhere = result_of(post(client, volunteer, code="ZZZ 0001", method="typed"), 422, "invalid")
    assert "other_event" not in nowhere
    assert counts() == (0, 3)


def test_a_signed_bib_of_another_event_names_its_city(
    client, volunteer, runners, medan, add_runners
):
    [there] = add_runners(medan, 1)
    answer = result_of(post(client, volunteer, code=payload_for(reg(there))), 409, "wrong_event")
    assert answer["other_event"] == {"city": "Medan"}


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"method": "camera"}, "method"),
        ({"method": ""}, "method"),
        ({"method": 1}, "method"),
        ({"method": ["typed"]}, "method"),
        ({"id_checked": "yes"}, "id_checked"),
        ({"id_checked": 1}, "id_checked"),
        ({"method": "typed", "id_checked": "true"}, "id_checked"),
    ],
)
def test_bad_method_or_id_flag_is_a_problem_and_writes_nothing(
    client, volunteer, runners, extra, field
):
    problem = assert_problem(post(client, volunteer, code="1", **extra), 422)
    assert list(problem["errors"]) == [field]
    assert counts() == (0, 0)


def test_the_scan_log_refuses_an_unknown_method(app, event, volunteer):
    """The CHECK constraint keeps the column to the two methods (and NULL for undos)."""
    row = {
        "event_id": event.id,
        "station": "pickup",
        "result": "invalid",
        "code_kind": "qr",
        "received_at": utcnow(),
    }
    with pytest.raises(IntegrityError):
        db.session.execute(insert(ScanLog), [{**row, "method": "camera"}])
    db.session.rollback()
    db.session.execute(insert(ScanLog), [{**row, "method": None}, {**row, "method": "typed"}])
    db.session.commit()
    assert [log.id_checked for log in scan_logs()] == [False, False]


# --- the scan page (session + CSRF) --------------------------------------------------------


def test_the_page_follows_the_same_rule(app, volunteer, runners):
    page = browser(app)
    assert login(page, volunteer.email).status_code == 302
    token = csrf_from(page.get("/staff/events/tasik/scan").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    url = f"{API}/events/tasik/checkins"  # what the page's script calls, with its session

    camera = page.post(url, json={"code": "QTA 0003", "method": "scan"}, headers=headers)
    assert (camera.status_code, camera.get_json()["result"]) == (422, "invalid")
    typed = page.post(url, json={"code": "3", "method": "typed"}, headers=headers)
    assert (typed.status_code, typed.get_json()["result"]) == (200, "confirm_identity")
    assert typed.get_json()["registration"]["bib"] == "QTA 0003"
    assert active_checkins(runners[2]) == []
    checked = page.post(
        url, json={"code": "3", "method": "typed", "id_checked": True}, headers=headers
    )
    assert (checked.status_code, checked.get_json()["result"]) == (201, "checked_in")
    assert [(log.result, log.method, log.id_checked) for log in scan_logs()] == [
        ("invalid", "scan", False),
        ("confirm_identity", "typed", False),
        ("checked_in", "typed", True),
    ]


def test_the_form_reads_a_wedge_scanners_signed_payload_as_scanned(app, volunteer, runners):
    """No JavaScript: a signed payload in the box checks in at once (method scan); the
    plain text a plain QR would make a wedge type is a typed bib, which needs the ID card."""
    page = browser(app)
    login(page, volunteer.email)
    url = "/staff/events/tasik/scan?lang=en"
    token = csrf_from(page.get(url).get_data(as_text=True))
    signed = page.post(url, data={"code": payload_for(reg(runners[0])), "csrf_token": token})
    assert signed.status_code == 201
    plain = page.post(url, data={"code": "QTA 0003", "csrf_token": token})
    assert plain.status_code == 200
    html = plain.get_data(as_text=True)
    assert "result-confirm_identity" in html and reg(runners[2]).full_name in html
    assert active_checkins(runners[2]) == []
    # A forged "id_checked" on a signed-looking code proves nothing more than the signature.
    forged = page.post(url, data={"code": "FR1AA:1:3:XYZ", "id_checked": "1", "csrf_token": token})
    assert forged.status_code == 422
    assert [(log.result, log.method) for log in scan_logs()] == [
        ("checked_in", "scan"),
        ("confirm_identity", "typed"),
        ("invalid", "scan"),
    ]


def test_the_runners_history_shows_the_id_card_asked_for(app, client, make_staff, runners):
    """An organiser reading a runner's history sees that someone typed their bib."""
    volunteer = make_staff("volunteer", events=("tasik",))
    result_of(post(client, volunteer, code="3", method="typed"), 200, "confirm_identity")
    organiser = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    login(page, organiser.email)
    page.get("/lang/en")
    html = page.get(f"/staff/events/tasik/roster/{runners[2]}").get_data(as_text=True)
    assert "typed bib at Race-pack pickup: the ID card was asked for" in html
