"""The JSON API under /api/v1: events with live counts, registering, managing, bad input.

Every rejected request must leave the database exactly as it was (no half-written
record), answer RFC 9457 problem details and never a 500.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from funrun.accounts.models import ApiToken, Role
from funrun.accounts.services import create_api_token, create_user
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import Registration
from tests.conftest import person_payload

API = "/api/v1"
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://funrun.example/problems/"

EVENT_FIELDS = {"slug", "city", "date", "venue", "quota", "confirmed", "waitlisted"}
EVENT_FIELDS |= {"remaining", "status"}


def reg_url(event: Event | str) -> str:
    slug = event if isinstance(event, str) else event.slug
    return f"{API}/events/{slug}/registrations"


def snapshot() -> tuple[Any, ...]:
    """Row counts and every event's counters, read fresh from the database."""
    db.session.rollback()
    return (
        db.session.scalar(select(func.count(Registration.id))),
        db.session.scalar(select(func.count(Person.id))),
        tuple(
            db.session.execute(
                select(
                    Event.id, Event.confirmed_count, Event.waitlist_seq, Event.bib_next
                ).order_by(Event.id)
            ).all()
        ),
    )


def assert_problem(response: Any, status: int, kind: str | None = None) -> dict[str, Any]:
    """The response is problem details with ``status`` (and type ``kind``)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    if kind is not None:
        assert body["type"] == PROBLEM_BASE + kind
    assert "Set-Cookie" not in response.headers
    return body


def register(client: FlaskClient, event: Event | str, index: int, **kw: Any) -> Any:
    return client.post(reg_url(event), json=person_payload(index, **kw))


def created(client: FlaskClient, event: Event | str, index: int, **kw: Any) -> dict[str, Any]:
    response = register(client, event, index, **kw)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["registration"]


def db_registration(registration_id: int) -> Registration:
    db.session.rollback()
    row = db.session.get(Registration, registration_id)
    assert row is not None
    return row


# --- events ----------------------------------------------------------------------------


def test_events_list_has_the_contract_fields(client, make_event):
    make_event(slug="batam", city="Batam", quota=3, venue="Dataran Engku Putri")
    make_event(slug="medan", city="Medan", quota=5)
    response = client.get(f"{API}/events")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    events = response.get_json()["events"]
    assert [e["slug"] for e in events] == ["batam", "medan"]
    for event in events:
        assert set(event) >= EVENT_FIELDS
    batam = events[0]
    assert batam["city"] == "Batam"
    assert batam["venue"] == "Dataran Engku Putri"
    assert batam["date"] == "2026-12-13"
    assert (batam["quota"], batam["confirmed"], batam["waitlisted"], batam["remaining"]) == (
        3,
        0,
        0,
        3,
    )
    assert batam["status"] == "open"


def test_event_detail_counts_are_live(client, make_event):
    event = make_event(quota=2)
    url = f"{API}/events/{event.slug}"

    def detail() -> dict[str, Any]:
        response = client.get(url)
        assert response.status_code == 200
        return response.get_json()

    assert (detail()["remaining"], detail()["status"]) == (2, "open")
    created(client, event, 1)
    now = detail()
    assert (now["confirmed"], now["waitlisted"], now["remaining"], now["status"]) == (
        1,
        0,
        1,
        "open",
    )
    created(client, event, 2)
    created(client, event, 3)
    waiting = created(client, event, 4)
    now = detail()
    assert (now["confirmed"], now["waitlisted"], now["remaining"], now["status"]) == (
        2,
        2,
        0,
        "full",
    )
    # The list agrees with the detail.
    listed = client.get(f"{API}/events").get_json()["events"][0]
    assert {k: listed[k] for k in EVENT_FIELDS} == {k: now[k] for k in EVENT_FIELDS}
    # A waitlisted runner cancelling changes only the waitlist.
    assert client.post(f"{API}/registrations/{waiting['manage_token']}/cancel").status_code == 200
    now = detail()
    assert (now["confirmed"], now["waitlisted"], now["status"]) == (2, 1, "full")


@pytest.mark.parametrize(
    "closing",
    [
        {"registration_open": False},
        {"registration_closes_at": utcnow() - timedelta(minutes=1)},
        {"registration_opens_at": utcnow() + timedelta(days=1)},
    ],
    ids=["switched-off", "window-over", "not-yet-open"],
)
def test_closed_event_status(client, make_event, closing):
    event = make_event(**closing)
    body = client.get(f"{API}/events/{event.slug}").get_json()
    assert body["status"] == "closed"
    assert body["remaining"] == event.quota


def test_unknown_event_is_a_problem(client):
    for url in (f"{API}/events/nowhere", f"{API}/events/{'x' * 300}"):
        body = assert_problem(client.get(url), 404, "not-found")
        assert "errors" not in body


# --- registering -----------------------------------------------------------------------


def test_register_confirmed_with_bib_token_and_location(client, make_event):
    event = make_event(quota=5)
    response = register(client, event, 1)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    registration = response.get_json()["registration"]
    assert registration["status"] == "confirmed"
    assert registration["bib"] == "TST 0001"
    assert registration["bib_number"] == 1
    assert registration["waitlist_position"] is None
    assert registration["event"] == event.slug
    qr = registration["qr"]
    assert isinstance(qr, str) and qr.isascii() and 0 < len(qr) <= 120
    token = registration["manage_token"]
    assert isinstance(token, str) and len(token) >= 20
    assert response.headers["Location"].endswith(f"{API}/registrations/{token}")
    # The NIK comes back masked, never in full.
    nik = person_payload(1)["nik"]
    assert nik not in response.get_data(as_text=True)
    assert registration["nik_masked"].startswith(nik[:4])
    assert registration["nik_masked"].endswith(nik[-2:])
    # The Location opens the registration.
    again = client.get(response.headers["Location"])
    assert again.status_code == 200
    assert again.get_json()["registration"]["bib"] == "TST 0001"
    assert "manage_token" not in again.get_json()["registration"]
    # The next runner gets the next bib.
    assert created(client, event, 2)["bib"] == "TST 0002"
    row = db_registration(registration["id"])
    assert row.source == "api"
    assert row.created_by_id is None
    assert row.manage_token_hash != token


def test_bib_uses_the_event_range_and_prefix(client, make_event):
    event = make_event(bib_prefix="JKT", bib_first=42, bib_next=42)
    assert created(client, event, 1)["bib"] == "JKT 0042"


def test_full_event_waitlists_in_order(client, make_event):
    event = make_event(quota=1)
    assert created(client, event, 1)["status"] == "confirmed"
    second = created(client, event, 2)
    third = created(client, event, 3)
    assert (second["status"], second["waitlist_position"], second["bib"]) == ("waitlisted", 1, None)
    assert second["qr"] is None
    assert (third["status"], third["waitlist_position"]) == ("waitlisted", 2)
    assert second["manage_token"] != third["manage_token"]
    assert snapshot()[0] == 3


def test_invalid_fields_are_422_with_errors_per_field(client, make_event):
    event = make_event()
    before = snapshot()
    body = assert_problem(
        register(
            client,
            event,
            1,
            full_name="",
            nik="123",
            phone="12345",
            shirt_size="XXXXL",
            email="not-an-email",
            consent=False,
        ),
        422,
        "validation",
    )
    errors = body["errors"]
    assert set(errors) == {"full_name", "nik", "phone", "shirt_size", "email", "consent"}
    for messages in errors.values():
        assert messages and all(isinstance(m, str) and m for m in messages)
    assert snapshot() == before


def test_nik_must_agree_with_birth_date_and_gender(client, make_event):
    event = make_event()
    before = snapshot()
    woman = person_payload(1)  # index 1 is a woman: day + 40 in the NIK
    assert woman["gender"] == "F"
    body = assert_problem(register(client, event, 1, gender="M"), 422, "validation")
    assert list(body["errors"]) == ["nik"]
    body = assert_problem(register(client, event, 1, birth_date="1980-03-02"), 422, "validation")
    assert list(body["errors"]) == ["nik"]
    assert snapshot() == before


def test_member_needs_a_kpj_number(client, make_event):
    event = make_event()
    body = assert_problem(register(client, event, 1, member=True), 422, "validation")
    assert list(body["errors"]) == ["kpj_number"]
    ok = created(client, event, 1, member=True, kpj_number="12345678901")
    assert ok["member"] is True


def test_missing_fields_are_each_reported(client, make_event):
    event = make_event()
    before = snapshot()
    body = assert_problem(client.post(reg_url(event), json={}), 422, "validation")
    required = {"full_name", "nik", "birth_date", "gender", "phone", "shirt_size"}
    assert required | {"member", "consent"} <= set(body["errors"])
    assert snapshot() == before


def test_same_nik_twice_is_a_409_duplicate(client, make_event):
    event = make_event(quota=1)
    other = make_event()
    first = created(client, event, 1)
    before = snapshot()
    assert_problem(register(client, event, 1), 409, "duplicate-registration")
    # Also while waitlisted, and whatever else differs (phone, name spelling).
    created(client, event, 2)
    assert_problem(register(client, event, 2, phone="081299999999"), 409, "duplicate-registration")
    # The same person may run in another city.
    assert created(client, other, 1)["status"] == "confirmed"
    # After cancelling, the person may register again.
    after_dupes = snapshot()
    assert after_dupes[0] == before[0] + 2
    assert client.post(f"{API}/registrations/{first['manage_token']}/cancel").status_code == 200
    again = created(client, event, 1)
    assert again["id"] != first["id"]


def test_closed_event_is_a_409(client, make_event):
    event = make_event(registration_open=False)
    late = make_event(registration_closes_at=utcnow() - timedelta(seconds=1))
    before = snapshot()
    assert_problem(register(client, event, 1), 409, "registration-closed")
    assert_problem(register(client, late, 1), 409, "registration-closed")
    assert snapshot() == before


def test_unknown_event_registration_is_a_404_problem(client, make_event):
    make_event()
    before = snapshot()
    assert_problem(register(client, "no-such-city", 1), 404, "not-found")
    assert_problem(register(client, "x" * 100, 1), 404, "not-found")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"full_name": "Budi"}', "text/plain"),
        ("full_name=Budi", "application/x-www-form-urlencoded"),
        ("", None),
    ],
    ids=["text", "form", "none"],
)
def test_non_json_content_type_is_415(client, make_event, data, content_type):
    event = make_event()
    before = snapshot()
    kwargs = {"content_type": content_type} if content_type else {}
    assert_problem(client.post(reg_url(event), data=data, **kwargs), 415)
    assert snapshot() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        json.dumps([person_payload(1)]).encode(),
        b'"a string"',
        b"42",
        b"null",
        b"true",
        b'{"full_name": ',
        b"",
        b"{'single': 'quotes'}",
        b'{"full_name": "Budi \xff\xfe"}',
        b"\xff\xfe\x00{",
        b"[" * 30000 + b"]" * 30000,
        b'{"full_name": ' + b"[" * 30000 + b"]" * 30000 + b"}",
    ],
    ids=[
        "empty-list",
        "list",
        "string",
        "number",
        "null",
        "bool",
        "truncated",
        "empty",
        "not-json",
        "bad-utf8",
        "bad-utf8-start",
        "deeply-nested",
        "deeply-nested-field",
    ],
)
def test_json_that_is_not_an_object_is_400(client, make_event, raw):
    event = make_event()
    before = snapshot()
    response = client.post(reg_url(event), data=raw, content_type="application/json")
    assert_problem(response, 400, "bad-request")
    assert snapshot() == before


def test_huge_body_is_413_problem(client, make_event, app: Flask):
    event = make_event()
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    before = snapshot()
    body = person_payload(1, occupation="x" * (65 * 1024))
    assert_problem(client.post(reg_url(event), json=body), 413)
    padding = b" " * (64 * 1024)
    raw = json.dumps(person_payload(2)).encode() + padding
    assert_problem(client.post(reg_url(event), data=raw, content_type="application/json"), 413)
    assert snapshot() == before
    # Just under the limit is read (and here rejected only for the long field).
    body = person_payload(1, occupation="x" * (60 * 1024))
    errors = assert_problem(client.post(reg_url(event), json=body), 422, "validation")["errors"]
    assert list(errors) == ["occupation"]


FIELDS = [
    "full_name",
    "nik",
    "birth_date",
    "gender",
    "phone",
    "email",
    "shirt_size",
    "member",
    "kpj_number",
    "occupation",
    "emergency_contact",
    "emergency_phone",
    "consent",
]
WRONG_TYPES: list[Any] = [
    0,
    12345678901,
    1,
    -1.5,
    float("inf"),
    [],
    ["M"],
    {},
    {"value": "M"},
    [[["deep"]]],
]


@pytest.mark.parametrize("field", FIELDS)
def test_wrong_types_are_422_never_500(client, make_event, field):
    event = make_event()
    before = snapshot()
    values = [*WRONG_TYPES]
    if field not in ("member", "consent"):
        values += [True, False]
    for value in values:
        overrides: dict[str, Any] = {field: value}
        if field == "kpj_number":
            overrides["member"] = True  # only read from members
        body = person_payload(1, **overrides)
        response = client.post(
            reg_url(event), data=json.dumps(body), content_type="application/json"
        )
        problem = assert_problem(response, 422, "validation")
        assert field in problem["errors"], (field, value, problem)
    assert snapshot() == before


@pytest.mark.parametrize("field", ["full_name", "nik", "birth_date", "gender", "phone"])
def test_null_required_field_is_422(client, make_event, field):
    event = make_event()
    before = snapshot()
    problem = assert_problem(register(client, event, 1, **{field: None}), 422, "validation")
    assert field in problem["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("value", [None, False, "", "no", 0, 1, 1.0, "TRUE ", [True], {"yes": 1}])
def test_consent_must_be_explicit(client, make_event, value):
    event = make_event()
    before = snapshot()
    problem = assert_problem(register(client, event, 1, consent=value), 422, "validation")
    assert list(problem["errors"]) == ["consent"]
    assert snapshot() == before


def test_optional_fields_may_be_null(client, make_event):
    event = make_event()
    registration = created(
        client,
        event,
        1,
        email=None,
        occupation=None,
        emergency_contact=None,
        emergency_phone=None,
        kpj_number=None,
    )
    assert registration["status"] == "confirmed"


def test_control_characters_and_overlong_text_are_422(client, make_event):
    event = make_event()
    before = snapshot()
    for overrides in (
        {"full_name": "Budi\x00Santoso"},
        {"full_name": "Budi\u202eSantoso"},
        {"full_name": "B" * 101},
        {"occupation": "o" * 81},
        {"emergency_contact": "Ibu\x07"},
        {"nik": "3" * 5000},
    ):
        field = next(iter(overrides))
        problem = assert_problem(register(client, event, 1, **overrides), 422, "validation")
        assert field in problem["errors"], overrides
    assert snapshot() == before


# --- manage token ----------------------------------------------------------------------


def test_registration_by_token(client, make_event):
    event = make_event()
    registration = created(client, event, 1, email="budi@example.com")
    response = client.get(f"{API}/registrations/{registration['manage_token']}")
    assert response.status_code == 200
    shown = response.get_json()["registration"]
    assert shown["id"] == registration["id"]
    assert shown["status"] == "confirmed"
    assert shown["bib"] == registration["bib"]
    assert shown["full_name"] == "Siti Rahmawati"


@pytest.mark.parametrize(
    "token",
    [
        "A" * 32,  # well formed, never issued
        "forged_token-forged_token-forged",
        "!!!",
        "..%2F..%2Fetc%2Fpasswd",
        "x" * 5000,
        "%00" * 30,
        "a b c d e f g h i j k l m n o p",
    ],
)
def test_unknown_or_garbage_token_is_404(client, make_event, token):
    event = make_event()
    real = created(client, event, 1)["manage_token"]
    assert token != real
    before = snapshot()
    assert_problem(client.get(f"{API}/registrations/{token}"), 404)
    assert_problem(client.post(f"{API}/registrations/{token}/cancel"), 404)
    assert snapshot() == before


def test_a_token_one_character_off_is_404(client, make_event):
    event = make_event()
    token = created(client, event, 1)["manage_token"]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_problem(client.get(f"{API}/registrations/{forged}"), 404, "not-found")
    assert_problem(client.get(f"{API}/registrations/{token}extra"), 404, "not-found")


def test_cancel_promotes_the_waitlist_head(client, make_event):
    event = make_event(quota=1)
    first = created(client, event, 1)
    head = created(client, event, 2)
    second = created(client, event, 3)
    response = client.post(f"{API}/registrations/{first['manage_token']}/cancel")
    assert response.status_code == 200
    cancelled = response.get_json()["registration"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"]
    assert cancelled["bib"] == "TST 0001"  # retired with its runner, never reused
    promoted = client.get(f"{API}/registrations/{head['manage_token']}").get_json()["registration"]
    assert promoted["status"] == "confirmed"
    assert promoted["bib"] == "TST 0002"
    assert promoted["waitlist_position"] is None
    still = client.get(f"{API}/registrations/{second['manage_token']}").get_json()["registration"]
    assert (still["status"], still["waitlist_position"]) == ("waitlisted", 1)
    event_now = client.get(f"{API}/events/{event.slug}").get_json()
    assert (event_now["confirmed"], event_now["waitlisted"]) == (1, 1)
    # Replaying the cancel changes nothing.
    before = snapshot()
    assert_problem(
        client.post(f"{API}/registrations/{first['manage_token']}/cancel"), 409, "already-cancelled"
    )
    assert snapshot() == before
    after = client.get(f"{API}/registrations/{second['manage_token']}").get_json()["registration"]
    assert after["status"] == "waitlisted"


def test_cancel_is_post_only(client, make_event):
    event = make_event()
    token = created(client, event, 1)["manage_token"]
    response = client.get(f"{API}/registrations/{token}/cancel")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]
    assert client.get(f"{API}/registrations/{token}").get_json()["registration"]["status"] == (
        "confirmed"
    )


# --- tokens, cookies, CSRF -------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-token",
        "Bearer frn_" + "A" * 43,
        "bearer frn_forged",
        "Bearer " + "frn_" + "x" * 200,
    ],
)
def test_invalid_bearer_token_is_401(client, make_event, header):
    event = make_event()
    before = snapshot()
    response = client.post(
        reg_url(event), json=person_payload(1), headers={"Authorization": header}
    )
    assert_problem(response, 401, "unauthorized")
    assert snapshot() == before


def test_revoked_token_is_401(client, make_event):
    event = make_event()
    partner = create_user("revoked@partner.test", Role.PARTNER)
    token = create_api_token(partner)
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == partner.id))
    row.revoked_at = utcnow()
    db.session.commit()
    response = client.post(
        reg_url(event), json=person_payload(1), headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(response, 401, "unauthorized")
    assert snapshot()[0] == 0


def test_partner_token_registers_as_partner(client, make_event):
    event = make_event()
    partner = create_user("ops@aggregator.test", Role.PARTNER)
    token = create_api_token(partner)
    auth = {"Authorization": f"Bearer {token}"}
    ids = []
    for index in range(1, 4):
        response = client.post(reg_url(event), json=person_payload(index), headers=auth)
        assert response.status_code == 201, response.get_data(as_text=True)
        assert "Set-Cookie" not in response.headers
        ids.append(response.get_json()["registration"]["id"])
    for registration_id in ids:
        row = db_registration(registration_id)
        assert row.source == "partner"
        assert row.created_by_id == partner.id
    # A partner gets the same answers to bad input.
    bad = client.post(reg_url(event), json=person_payload(9, nik="1"), headers=auth)
    assert_problem(bad, 422, "validation")
    dupe = client.post(reg_url(event), json=person_payload(1), headers=auth)
    assert_problem(dupe, 409, "duplicate-registration")


def test_each_request_is_judged_by_its_own_token(client, make_event):
    """A token seen on one request never carries over to the next one."""
    event = make_event()
    partner = create_user("next@aggregator.test", Role.PARTNER)
    token = create_api_token(partner)
    bad = client.post(
        reg_url(event), json=person_payload(1), headers={"Authorization": "Bearer frn_wrong"}
    )
    assert_problem(bad, 401, "unauthorized")
    as_partner = client.post(
        reg_url(event), json=person_payload(2), headers={"Authorization": f"Bearer {token}"}
    )
    assert as_partner.status_code == 201, as_partner.get_data(as_text=True)
    public = client.post(reg_url(event), json=person_payload(3))
    assert public.status_code == 201, public.get_data(as_text=True)
    partner_row = db_registration(as_partner.get_json()["registration"]["id"])
    public_row = db_registration(public.get_json()["registration"]["id"])
    assert (partner_row.source, partner_row.created_by_id) == ("partner", partner.id)
    assert (public_row.source, public_row.created_by_id) == ("api", None)


def test_api_sets_no_cookies_and_needs_no_csrf(client, make_event):
    event = make_event(quota=1)
    # A browser session with a CSRF token in it changes nothing for the API.
    page = client.get(f"/events/{event.slug}/register")
    assert page.status_code == 200
    responses = [
        client.get(f"{API}/events"),
        client.get(f"{API}/events/{event.slug}"),
        client.get(f"{API}/openapi.json"),
        register(client, event, 1),
        register(client, event, 2),
        register(client, event, 1),
        register(client, event, 3, nik="x"),
        client.get(f"{API}/events/none"),
        client.post(reg_url(event), data="x", content_type="text/plain"),
    ]
    token = responses[3].get_json()["registration"]["manage_token"]
    responses += [
        client.get(f"{API}/registrations/{token}"),
        client.post(f"{API}/registrations/{token}/cancel"),
        client.post(f"{API}/registrations/{token}/cancel"),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, 201, 201, 409, 422, 404, 415, 200, 200, 409]
    for response in responses:
        assert "Set-Cookie" not in response.headers
    fresh = snapshot()
    assert fresh[0] == 2


def test_no_request_leaves_a_500(client, make_event):
    """A sweep of odd requests: each is a 4xx problem, and nothing is written."""
    event = make_event()
    before = snapshot()
    odd = [
        client.post(reg_url(event), json=person_payload(1, birth_date="2099-01-01")),
        client.post(reg_url(event), json=person_payload(1, birth_date="1980-02-30")),
        client.post(reg_url(event), json=person_payload(1, birth_date="0000-00-00")),
        client.post(reg_url(event), json=person_payload(1, birth_date="2015-01-01")),
        client.post(reg_url(event), json=person_payload(1, birth_date="1800-01-01")),
        client.post(reg_url(event), json=person_payload(1, phone="+1 202 555 0100")),
        client.post(reg_url(event), json=person_payload(1, phone="021 555 0100")),
        client.post(reg_url(event), json=person_payload(1, email="a@" + "b" * 300 + ".id")),
        client.post(reg_url(event), json=person_payload(1, full_name="R2D2")),
        client.post(reg_url(event), json=person_payload(1, gender="X")),
        client.post(reg_url(event), json=person_payload(1, nik="9" * 16)),
        client.post(reg_url(event), json=person_payload(1, nik="3174010101800000")),
        client.put(reg_url(event), json=person_payload(1)),
        client.delete(f"{API}/events/{event.slug}"),
    ]
    for response in odd:
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)
        assert response.mimetype == PROBLEM
    assert snapshot() == before
