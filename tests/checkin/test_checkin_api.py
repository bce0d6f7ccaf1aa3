"""The check-in API: answers and statuses of the contract, replays, undo, counts, bad input.

Every refused request answers problem details (never a 500) and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from nacl.signing import SigningKey

from funrun.bibs.services import payload_for
from funrun.bibs.signing import BibSigner, bib_signer
from funrun.events.models import Event
from tests.checkin.conftest import (
    API,
    PROBLEM,
    Staff,
    active_checkins,
    assert_no_payload_in_log,
    assert_problem,
    cancel_registration,
    counts,
    desk_fields,
    reg,
    scan_logs,
)

RESULT_STATUS = {
    "checked_in": 201,
    "already_checked_in": 200,
    "unknown": 404,
    "invalid": 422,
    "wrong_event": 409,
    "not_confirmed": 409,
}


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    return make_event(slug="jakarta", city="Jakarta", bib_prefix="JKT", bib_first=42, quota=3)


@pytest.fixture
def other_event(make_event: Callable[..., Event]) -> Event:
    return make_event(slug="medan", city="Medan", bib_prefix="MDN", bib_first=42, quota=3)


@pytest.fixture
def volunteer(make_staff, event: Event) -> Staff:
    return make_staff("volunteer", events=(event.slug,))


@pytest.fixture
def organiser(make_staff) -> Staff:
    return make_staff("organiser")


def checkins_url(slug: str) -> str:
    return f"{API}/events/{slug}/checkins"


def post_scan(client: FlaskClient, staff: Staff, slug: str, **body: Any) -> Any:
    """A scan as the desk sends it (a typed bib with the ID card checked: desk_fields)."""
    body = {**desk_fields(body.get("code")), **body}
    return client.post(checkins_url(slug), json=body, headers=staff.headers)


def answered(response: Any, result: str) -> dict[str, Any]:
    """A scan answer (plain JSON, not a problem) with ``result`` and its status."""
    assert response.status_code == RESULT_STATUS[result], response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["result"] == result
    assert "Set-Cookie" not in response.headers
    return body


def qr(registration_id: int) -> str:
    payload = payload_for(reg(registration_id))
    assert payload is not None
    return payload


# --- the answers -----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["qr", "42", "0042", "JKT0042", "jkt-0042"])
def test_checked_in_is_201(client, event, volunteer, add_runners, code):
    [runner] = add_runners(event, 1)

    body = answered(
        post_scan(client, volunteer, event.slug, code=qr(runner) if code == "qr" else code),
        "checked_in",
    )

    assert body["replayed"] is False
    assert body["station"] == "pickup"
    registration = body["registration"]
    assert (registration["id"], registration["bib"], registration["status"]) == (
        runner,
        "JKT 0042",
        "confirmed",
    )
    assert {"full_name", "shirt_size", "member", "offer_enrolment"} <= set(registration)
    assert not any("nik" in key for key in registration)
    [checkin] = active_checkins(runner)
    assert body["checkin_id"] == checkin.id
    assert "first_at" not in body and "first_by" not in body


def test_already_checked_in_is_200_with_first_at_and_first_by(
    client, event, volunteer, organiser, add_runners
):
    [runner] = add_runners(event, 1)
    scanned_at = (datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=0)
    first = answered(
        post_scan(
            client, volunteer, event.slug, code=qr(runner), scanned_at=scanned_at.isoformat()
        ),
        "checked_in",
    )

    body = answered(post_scan(client, organiser, event.slug, code="jkt 42"), "already_checked_in")

    assert body["checkin_id"] == first["checkin_id"]
    assert body["first_by"] == volunteer.email
    assert datetime.fromisoformat(body["first_at"]) == scanned_at
    assert body["registration"]["id"] == runner
    assert len(active_checkins(runner)) == 1


def test_unknown_is_404(client, event, volunteer, add_runners):
    add_runners(event, 1)
    for code in ("43", "JKT 0999", bib_signer().sign(event.id, 500)):
        body = answered(post_scan(client, volunteer, event.slug, code=code), "unknown")
        assert body["registration"] is None
    assert counts() == (0, 3)


def test_invalid_is_422_for_malformed_and_forged(client, event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    genuine = qr(runner)
    head, signature = genuine.rsplit(":", 1)
    changed = signature[:40] + ("B" if signature[40] == "A" else "A") + signature[41:]
    codes = [
        "not a bib",
        "MDN0042",
        genuine[:-5],
        f"{head}:{changed}",
        genuine.replace(":42:", ":43:"),
        BibSigner(SigningKey.generate()).sign(event.id, 42),
    ]
    add_runners(event, 1)  # bib 43 exists

    for code in codes:
        body = answered(post_scan(client, volunteer, event.slug, code=code), "invalid")
        assert body["registration"] is None

    assert counts() == (0, len(codes))
    assert_no_payload_in_log(genuine, *codes)


def test_wrong_event_is_409(client, event, other_event, volunteer, add_runners):
    add_runners(event, 1)
    [there] = add_runners(other_event, 1)

    body = answered(post_scan(client, volunteer, event.slug, code=qr(there)), "wrong_event")

    assert body["registration"] is None
    assert counts() == (0, 1)


def test_not_confirmed_is_409_for_cancelled_and_waitlisted(client, event, volunteer, add_runners):
    runners = add_runners(event, 4)  # quota 3: the fourth waits
    payload = qr(runners[0])
    cancel_registration(runners[0])  # the waiting runner is promoted to bib 45
    assert reg(runners[3]).bib_number == 45

    for code in (payload, "42", "JKT-0042"):
        body = answered(post_scan(client, volunteer, event.slug, code=code), "not_confirmed")
        assert body["registration"]["status"] == "cancelled"
    cancel_registration(runners[3])
    body = answered(post_scan(client, volunteer, event.slug, code="45"), "not_confirmed")
    assert body["registration"]["id"] == runners[3]
    assert counts() == (0, 4)


# --- stations --------------------------------------------------------------------------


def test_stations_are_independent(client, event, volunteer, add_runners):
    add_runners(event, 1)
    answered(post_scan(client, volunteer, event.slug, code="42"), "checked_in")
    answered(
        post_scan(client, volunteer, event.slug, code="42", station="pickup"), "already_checked_in"
    )

    start = answered(
        post_scan(client, volunteer, event.slug, code="42", station="start"), "checked_in"
    )
    finish = answered(
        post_scan(client, volunteer, event.slug, code="42", station="finish"), "checked_in"
    )

    assert (start["station"], finish["station"]) == ("start", "finish")
    assert counts() == (3, 4)


def test_unknown_station_is_a_422_problem(client, event, volunteer, add_runners):
    add_runners(event, 1)
    for station in ("gate", "", "Start", " pickup", None, 1, ["start"], {"a": 1}):
        response = post_scan(client, volunteer, event.slug, code="42", station=station)
        body = assert_problem(response, 422)
        assert list(body["errors"]) == ["station"], station
        assert all(body["errors"]["station"])
    assert counts() == (0, 0)


# --- client_ref ------------------------------------------------------------------------


def test_client_ref_replay_answers_the_same_and_writes_nothing(
    client, event, volunteer, add_runners
):
    [runner, _other] = add_runners(event, 2)
    first = post_scan(client, volunteer, event.slug, code=qr(runner), client_ref="phone7:000123")
    first_body = answered(first, "checked_in")
    before = counts()

    for body in (
        {"code": qr(runner)},
        {"code": "43"},  # another runner: still the first answer
        {"code": "42", "station": "finish"},
    ):
        replay = post_scan(client, volunteer, event.slug, client_ref="phone7:000123", **body)
        assert replay.status_code == 201
        assert replay.get_json() == {**first_body, "replayed": True}

    assert counts() == before == (1, 1)


def test_replay_of_a_rejection_is_the_same_rejection(client, event, volunteer, add_runners):
    add_runners(event, 1)
    first = answered(
        post_scan(client, volunteer, event.slug, code="99", client_ref="a-1"), "unknown"
    )
    replay = post_scan(client, volunteer, event.slug, code="42", client_ref="a-1")
    assert replay.status_code == 404
    assert replay.get_json() == {**first, "replayed": True}
    assert counts() == (0, 1)


# --- the log ---------------------------------------------------------------------------


def test_every_scan_is_logged_with_user_device_and_result(
    client, event, other_event, volunteer, add_runners
):
    [runner, cancelled] = add_runners(event, 2)
    [there] = add_runners(other_event, 1)
    cancelled_qr = qr(cancelled)
    cancel_registration(cancelled)
    scans = [
        ({"code": qr(runner), "device": "gate-1"}, "checked_in"),
        ({"code": "42", "device": "gate-2"}, "already_checked_in"),
        ({"code": "123", "device": "gate-3"}, "unknown"),
        ({"code": "zzz", "device": "gate-4"}, "invalid"),
        ({"code": qr(there), "device": "gate-5"}, "wrong_event"),
        ({"code": cancelled_qr, "device": "gate-6"}, "not_confirmed"),
    ]
    for body, result in scans:
        answered(post_scan(client, volunteer, event.slug, **body), result)
    # Without a device label, the User-Agent names the device.
    answered(
        client.post(
            checkins_url(event.slug),
            json={"code": "42", **desk_fields("42")},
            headers={**volunteer.headers, "User-Agent": "ScannerApp/2.1"},
        ),
        "already_checked_in",
    )

    logs = scan_logs()
    assert [log.result for log in logs] == [result for _b, result in scans] + ["already_checked_in"]
    assert [log.device for log in logs] == [f"gate-{n}" for n in range(1, 7)] + ["ScannerApp/2.1"]
    assert {log.user_id for log in logs} == {volunteer.id}
    assert_no_payload_in_log(*(body["code"] for body, _result in scans))


def test_device_labels_are_stored_safely(client, event, volunteer, add_runners):
    add_runners(event, 3)
    for n, device in enumerate(["x" * 100, "nul\x00here", "lone\ud800surrogate"]):
        data = json.dumps({"code": str(42 + n), "device": device, **desk_fields("42")})
        response = client.post(
            checkins_url(event.slug),
            data=data,
            content_type="application/json",
            headers=volunteer.headers,
        )
        answered(response, "checked_in")
    assert [log.device for log in scan_logs()] == ["x" * 64, "nulhere", "lonesurrogate"]


# --- undo ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["organiser", "admin"])
def test_undo_by_a_supervisor_frees_the_runner(
    client, event, volunteer, make_staff, add_runners, role
):
    [runner] = add_runners(event, 1)
    supervisor = make_staff(role)
    first = answered(post_scan(client, volunteer, event.slug, code="42"), "checked_in")

    response = client.post(f"{API}/checkins/{first['checkin_id']}/undo", headers=supervisor.headers)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["checkin_id"] == first["checkin_id"]
    assert datetime.fromisoformat(body["undone_at"]).tzinfo is not None
    assert active_checkins(runner) == []
    undo_log = scan_logs()[-1]
    assert (undo_log.result, undo_log.user_id, undo_log.checkin_id) == (
        "undone",
        supervisor.id,
        first["checkin_id"],
    )
    again = answered(post_scan(client, volunteer, event.slug, code="42"), "checked_in")
    assert again["checkin_id"] != first["checkin_id"]

    before = counts()
    twice = client.post(f"{API}/checkins/{first['checkin_id']}/undo", headers=supervisor.headers)
    assert_problem(twice, 409)
    missing = client.post(f"{API}/checkins/99999/undo", headers=supervisor.headers)
    assert_problem(missing, 404)
    assert counts() == before
    assert len(active_checkins(runner)) == 1


def test_volunteer_may_not_undo(client, event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    first = answered(post_scan(client, volunteer, event.slug, code="42"), "checked_in")
    response = client.post(f"{API}/checkins/{first['checkin_id']}/undo", headers=volunteer.headers)
    assert_problem(response, 403)
    assert len(active_checkins(runner)) == 1
    assert counts() == (1, 1)


# --- counts ----------------------------------------------------------------------------


def test_counts_are_checked_in_over_confirmed(client, event, volunteer, organiser, add_runners):
    runners = add_runners(event, 4)  # 3 confirmed, 1 waiting
    url = f"{API}/events/{event.slug}/checkins/counts"

    def get(station: str | None = None) -> dict[str, Any]:
        response = client.get(
            url, query_string={"station": station} if station else None, headers=volunteer.headers
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    assert get() == {"station": "pickup", "checked_in": 0, "confirmed": 3}
    for code in ("42", "43", "43", "junk"):
        post_scan(client, volunteer, event.slug, code=code)
    post_scan(client, volunteer, event.slug, code="42", station="finish")
    assert get() == {"station": "pickup", "checked_in": 2, "confirmed": 3}
    assert get("finish") == {"station": "finish", "checked_in": 1, "confirmed": 3}
    assert get("start") == {"station": "start", "checked_in": 0, "confirmed": 3}
    [checkin] = active_checkins(runners[1])
    client.post(f"{API}/checkins/{checkin.id}/undo", headers=organiser.headers)
    assert get()["checked_in"] == 1
    body = assert_problem(
        client.get(url, query_string={"station": "gate"}, headers=volunteer.headers), 422
    )
    assert list(body["errors"]) == ["station"]
    assert_problem(
        client.get(f"{API}/events/nowhere/checkins/counts", headers=volunteer.headers), 404
    )


# --- bad input -------------------------------------------------------------------------

BAD_BODIES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("no body", {}, 400, None),
    ("form body", {"data": {"code": "42"}}, 400, None),
    ("text body", {"data": "42", "content_type": "text/plain"}, 400, None),
    ("broken json", {"data": '{"code": ', "content_type": "application/json"}, 400, None),
    ("json array", {"json": ["42"]}, 400, None),
    ("json string", {"json": "42"}, 400, None),
    ("json number", {"json": 42}, 400, None),
    ("json null", {"data": "null", "content_type": "application/json"}, 400, None),
    ("code missing", {"json": {"station": "pickup"}}, 422, "code"),
    ("code empty", {"json": {"code": ""}}, 422, "code"),
    ("code blank", {"json": {"code": "   "}}, 422, "code"),
    ("code null", {"json": {"code": None}}, 422, "code"),
    ("code number", {"json": {"code": 42}}, 422, "code"),
    ("code list", {"json": {"code": ["42"]}}, 422, "code"),
    ("code object", {"json": {"code": {"bib": 42}}}, 422, "code"),
    ("code too long", {"json": {"code": "4" * 201}}, 422, "code"),
    ("client_ref empty", {"json": {"code": "42", "client_ref": ""}}, 422, "client_ref"),
    ("client_ref long", {"json": {"code": "42", "client_ref": "r" * 65}}, 422, "client_ref"),
    ("client_ref space", {"json": {"code": "42", "client_ref": "a b"}}, 422, "client_ref"),
    ("client_ref slash", {"json": {"code": "42", "client_ref": "a/b"}}, 422, "client_ref"),
    ("client_ref quote", {"json": {"code": "42", "client_ref": "a'--"}}, 422, "client_ref"),
    ("client_ref unicode", {"json": {"code": "42", "client_ref": "ref٣"}}, 422, "client_ref"),
    ("client_ref number", {"json": {"code": "42", "client_ref": 12}}, 422, "client_ref"),
    ("client_ref bool", {"json": {"code": "42", "client_ref": True}}, 422, "client_ref"),
    (
        "scanned_at date only",
        {"json": {"code": "42", "scanned_at": "2026-12-13"}},
        422,
        "scanned_at",
    ),
    (
        "scanned_at naive",
        {"json": {"code": "42", "scanned_at": "2026-12-13T06:00:00"}},
        422,
        "scanned_at",
    ),
    ("scanned_at words", {"json": {"code": "42", "scanned_at": "yesterday"}}, 422, "scanned_at"),
    ("scanned_at empty", {"json": {"code": "42", "scanned_at": ""}}, 422, "scanned_at"),
    ("scanned_at epoch", {"json": {"code": "42", "scanned_at": 1765600000}}, 422, "scanned_at"),
    ("scanned_at list", {"json": {"code": "42", "scanned_at": ["2026"]}}, 422, "scanned_at"),
    (
        "scanned_at bad offset",
        {"json": {"code": "42", "scanned_at": "2026-12-13T06:00:00+25:00"}},
        422,
        "scanned_at",
    ),
    (
        "scanned_at before year 1 in UTC",
        {"json": {"code": "42", "scanned_at": "0001-01-01T00:00:00+01:00"}},
        422,
        "scanned_at",
    ),
    (
        "scanned_at after 9999 in UTC",
        {"json": {"code": "42", "scanned_at": "9999-12-31T23:59:59-14:00"}},
        422,
        "scanned_at",
    ),
    ("station unknown", {"json": {"code": "42", "station": "gate"}}, 422, "station"),
]


def test_bad_input_is_a_problem_and_writes_nothing(client, event, volunteer, add_runners):
    add_runners(event, 1)

    for name, request_kw, status, field in BAD_BODIES:
        response = client.post(checkins_url(event.slug), headers=volunteer.headers, **request_kw)

        assert response.status_code == status, (name, response.get_data(as_text=True))
        body = assert_problem(response, status)
        if field is not None:
            assert field in body["errors"], name
            assert all(isinstance(m, str) and m for m in body["errors"][field]), name
        assert counts() == (0, 0), name
    # The same runner scans fine afterwards: nothing was left half-written.
    answered(post_scan(client, volunteer, event.slug, code="42"), "checked_in")


def test_oversized_body_is_refused(client, event, volunteer, add_runners):
    add_runners(event, 1)
    response = client.post(
        checkins_url(event.slug),
        data=json.dumps({"code": "42", "pad": "x" * 70_000}),
        content_type="application/json",
        headers=volunteer.headers,
    )
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    assert counts() == (0, 0)


def test_unknown_event_is_a_404_problem(client, volunteer):
    for slug in ("nowhere", "x" * 200):
        assert_problem(post_scan(client, volunteer, slug, code="42"), 404)
    assert counts() == (0, 0)


def test_wrong_methods_are_405(client, event, volunteer, organiser):
    assert client.get(checkins_url(event.slug), headers=volunteer.headers).status_code == 405
    assert client.get(f"{API}/checkins/1/undo", headers=organiser.headers).status_code == 405
