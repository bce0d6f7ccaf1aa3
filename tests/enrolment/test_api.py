"""POST /api/v1/events/{slug}/enrolments: the contract, bad input, duplicates, scope."""

from __future__ import annotations

import pytest
from jsonschema.exceptions import ValidationError as JsonSchemaError
from sqlalchemy import func, select

from funrun.bibs.services import payload_for
from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import Registration
from tests.api.test_openapi import Checker, _validator, document  # noqa: F401
from tests.enrolment.conftest import (
    assert_problem,
    desk_browser,
    enrol_body,
    next_index,
    walkup_body,
)

API = "/api/v1"


def enrolments() -> list[Enrolment]:
    db.session.rollback()
    return list(db.session.scalars(select(Enrolment).order_by(Enrolment.id)))


def post(client, slug, body, staff):
    return client.post(f"{API}/events/{slug}/enrolments", json=body, headers=staff.headers)


def test_a_scanned_runner_is_enrolled_with_the_contract_answer(
    client, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event(timezone="Asia/Jakarta")
    runner = add_runner(event)
    volunteer = make_staff("volunteer", events=(event.slug,))
    response = post(client, event.slug, enrol_body(code=payload_for(runner)), volunteer)
    assert response.status_code == 201, response.get_data(as_text=True)
    enrolment = response.get_json()["enrolment"]
    assert enrolment["contribution"] == {
        "jkk": 10_000,
        "jkm": 6_800,
        "jht": 0,
        "monthly_total": 16_800,
        "months": 1,
        "amount_due": 16_800,
        "basis": 1_000_000,
        "per_month": [{"month": "2015-12", "jkk": 10_000, "jkm": 6_800, "jht": 0, "total": 16_800}],
    }
    number = enrolment["participant_number"]
    assert len(number) == 11 and number.isdigit()
    assert enrolment["registration_id"] == runner.id
    assert enrolment["valid_from"] == "2015-12-13"
    assert enrolment["paid_until"] == "2015-12-31"  # the month of enrolment, whole
    assert enrolment["schedule"] == "bpu-2015"
    assert response.headers["Location"].endswith(f"/enrolments/{number}/card.pdf")
    [stored] = enrolments()
    assert stored.registration_id == runner.id  # the registration is marked enrolled
    assert stored.person_id == runner.person_id
    assert stored.enrolled_by_id == volunteer.id
    assert (stored.amount_due, stored.payment_channel, stored.source) == (16_800, "cash", "api")
    # The card comes from the API too.
    card = client.get(f"{API}/enrolments/{number}/card.pdf", headers=volunteer.headers)
    assert card.status_code == 200 and card.data.startswith(b"%PDF-")


def test_typed_bib_jht_twelve_months_and_partner_bank(
    client, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    runner = add_runner(event)
    staff = make_staff("organiser")
    body = enrol_body(
        code=f"tst-{runner.bib_number:04d}",
        programs=["JKK", "JKM", "JHT"],
        months=12,
        payment_channel="bank",
        declared_income=1_234_550,
    )
    response = post(client, event.slug, body, staff)
    assert response.status_code == 201, response.get_data(as_text=True)
    contribution = response.get_json()["enrolment"]["contribution"]
    # 1.234.550 is in the 1.100.000-1.299.999 bracket: JKK and JHT on its basis 1.200.000.
    assert contribution["basis"] == 1_200_000
    assert [row["month"] for row in contribution["per_month"]] == [
        "2015-12",
        *(f"2016-{m:02d}" for m in range(1, 12)),
    ]
    assert {row["total"] for row in contribution["per_month"]} == {42_800}
    del contribution["per_month"], contribution["basis"]
    assert contribution == {
        "jkk": 12_000,
        "jkm": 6_800,
        "jht": 24_000,
        "monthly_total": 42_800,
        "months": 12,
        "amount_due": 42_800 * 12,
    }


def test_a_sponsor_takes_the_payment_off_the_runner(
    client, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    runner = add_runner(event)
    staff = make_staff("organiser")
    body = enrol_body(
        code=payload_for(runner),
        payment_channel=None,
        sponsor="apbd-dki",
        months=6,
        occupation="street_sweeper",
    )
    response = post(client, event.slug, body, staff)
    assert response.status_code == 201, response.get_data(as_text=True)
    enrolment = response.get_json()["enrolment"]
    assert enrolment["contribution"]["amount_due"] == 0
    assert enrolment["sponsor_amount"] == 16_800 * 6
    [stored] = enrolments()
    assert stored.sponsor.code == "apbd-dki" and stored.payment_channel is None


def test_a_walk_up_is_registered_and_enrolled_in_one_call(
    client, make_event, make_staff, on_finale_day
):
    event = make_event(quota=1)
    staff = make_staff("volunteer", events=(event.slug,))
    first = post(client, event.slug, walkup_body(), staff)
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()["enrolment"]
    assert body["registration_status"] == "confirmed" and body["bib"] == "TST 0001"
    assert body["manage_token"]
    # The quota is now full: the next walk-up joins the waitlist, and is still enrolled.
    second = post(client, event.slug, walkup_body(), staff)
    assert second.status_code == 201, second.get_data(as_text=True)
    body = second.get_json()["enrolment"]
    assert body["registration_status"] == "waitlisted" and body["bib"] is None
    db.session.rollback()
    sources = db.session.scalars(select(Registration.source)).all()
    assert sources == ["walkup", "walkup"]
    assert db.session.scalar(select(Registration.occupation).limit(1)) == "Pengemudi ojek"
    assert len(enrolments()) == 2
    assert len({e.participant_number for e in enrolments()}) == 2


def test_the_same_nik_is_never_enrolled_twice_in_any_city(
    client, make_event, make_staff, add_runner, on_finale_day
):
    jakarta, bandung = make_event(), make_event()
    index = next_index()
    in_jakarta = add_runner(jakarta, index)
    in_bandung = add_runner(bandung, index)  # the same person (NIK) in another city
    staff = make_staff("organiser")
    assert (
        post(client, jakarta.slug, enrol_body(code=payload_for(in_jakarta)), staff).status_code
        == 201
    )
    again = post(client, jakarta.slug, enrol_body(code=payload_for(in_jakarta)), staff)
    assert_problem(again, 409)
    elsewhere = post(client, bandung.slug, enrol_body(code=payload_for(in_bandung)), staff)
    body = assert_problem(elsewhere, 409)
    assert enrolments()[0].participant_number in body["title"]
    # A walk-up with that NIK is refused before anything is registered.
    registrations = db.session.scalar(select(func.count(Registration.id)))
    third = make_event()
    from tests.conftest import person_payload

    person = person_payload(index)
    walkup = walkup_body(**{k: person[k] for k in ("full_name", "nik", "birth_date", "gender")})
    assert_problem(post(client, third.slug, walkup, staff), 409)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Registration.id))) == registrations
    assert len(enrolments()) == 1


def test_an_existing_member_is_refused(client, make_event, make_staff, add_runner, on_finale_day):
    event = make_event()
    member = add_runner(event, member=True, kpj_number="12345678901")
    staff = make_staff("organiser")
    body = assert_problem(
        post(client, event.slug, enrol_body(code=payload_for(member)), staff), 409
    )
    assert body["type"].endswith("already-enrolled")
    assert enrolments() == []


def test_scope_volunteers_enrol_only_at_their_events(
    client, make_event, make_staff, add_runner, on_finale_day
):
    mine, theirs = make_event(), make_event()
    runner = add_runner(theirs)
    volunteer = make_staff("volunteer", events=(mine.slug,))
    assert_problem(post(client, theirs.slug, enrol_body(code=payload_for(runner)), volunteer), 403)
    partner = make_staff("partner")
    assert_problem(post(client, theirs.slug, enrol_body(code=payload_for(runner)), partner), 403)
    response = client.post(f"{API}/events/{theirs.slug}/enrolments", json=enrol_body())
    assert_problem(response, 401)
    # A bib of another event is not this event's runner.
    assert_problem(post(client, mine.slug, enrol_body(code=payload_for(runner)), volunteer), 422)
    assert_problem(post(client, "nowhere", enrol_body(code="1"), volunteer), 404)
    assert_problem(post(client, mine.slug, enrol_body(code="0042"), volunteer), 404)
    assert enrolments() == []


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"occupation": "astronaut"}, {"occupation"}),
        ({"occupation": 3}, {"occupation"}),
        ({"occupation": "other"}, {"occupation_other"}),
        ({"declared_income": 999_999}, {"declared_income"}),
        ({"declared_income": 1_500_000.5}, {"declared_income"}),
        ({"declared_income": "lots"}, {"declared_income"}),
        ({"declared_income": True}, {"declared_income"}),
        ({"declared_income": -1}, {"declared_income"}),
        ({"declared_income": 10**15}, {"declared_income"}),
        ({"months": 2}, {"months"}),
        ({"months": "12x"}, {"months"}),
        ({"months": "12"}, {"months"}),
        ({"declared_income": "1000000"}, {"declared_income"}),
        ({"months": True}, {"months"}),
        ({"programs": ["JKK"]}, {"programs"}),
        ({"programs": ["JKK", "JKM", "JP"]}, {"programs"}),
        ({"programs": ["JKK", "JKM", "JKM"]}, {"programs"}),
        ({"programs": "JKK,JKM"}, {"programs"}),
        ({"programs": [1, 2]}, {"programs"}),
        ({"payment_channel": "bitcoin"}, {"payment_channel"}),
        ({"payment_channel": None}, {"payment_channel"}),
        ({"sponsor": "apbd-dki"}, {"sponsor"}),
        ({"payment_channel": None, "sponsor": "nobody"}, {"sponsor"}),
        ({"consent": False}, {"consent"}),
        ({"consent": 1}, {"consent"}),
        ({"consent": None}, {"consent"}),
        ({"birth_place": ""}, {"birth_place"}),
        ({"birth_place": "x" * 61}, {"birth_place"}),
        ({"birth_place": ["Jakarta"]}, {"birth_place"}),
        ({"mother_maiden_name": "S1ti"}, {"mother_maiden_name"}),
        ({"mother_maiden_name": "   "}, {"mother_maiden_name"}),
        ({"address": "a" * 201}, {"address"}),
        ({"address": "Jl. \x00 Mawar"}, {"address"}),
        ({"code": 42}, {"code"}),
        ({"code": "x" * 201}, {"code"}),
        ({"code": ""}, {"code"}),
    ],
)
def test_every_bad_input_is_a_422_with_field_errors(
    client, make_event, make_staff, add_runner, on_finale_day, overrides, fields
):
    event = make_event()
    runner = add_runner(event)
    staff = make_staff("organiser")
    body = enrol_body(code=payload_for(runner))
    body.update(overrides)
    problem = assert_problem(post(client, event.slug, body, staff), 422)
    assert set(problem["errors"]) == fields, problem["errors"]
    assert all(problem["errors"][f] for f in fields)
    assert enrolments() == []


def test_a_walk_up_with_bad_person_fields_registers_nothing(
    client, make_event, make_staff, on_finale_day
):
    event = make_event()
    staff = make_staff("organiser")
    body = walkup_body(nik="123", phone="12", months=5)
    problem = assert_problem(post(client, event.slug, body, staff), 422)
    assert {"nik", "phone", "months"} <= set(problem["errors"])
    empty = assert_problem(post(client, event.slug, {}, staff), 422)
    assert {"full_name", "nik", "birth_place", "occupation", "consent"} <= set(empty["errors"])
    db.session.rollback()
    assert db.session.scalar(select(func.count(Registration.id))) == 0
    assert db.session.scalar(select(func.count(Person.id))) == 0


def test_bodies_that_are_not_objects(client, make_event, make_staff):
    event = make_event()
    staff = make_staff("organiser")
    url = f"{API}/events/{event.slug}/enrolments"
    assert_problem(
        client.post(url, data="[1]", content_type="application/json", headers=staff.headers), 400
    )
    assert_problem(
        client.post(url, data="{", content_type="application/json", headers=staff.headers), 400
    )
    assert_problem(
        client.post(url, data="x", content_type="text/plain", headers=staff.headers), 415
    )


def test_messages_follow_accept_language(app, make_event, make_staff, add_runner, on_finale_day):
    client = desk_browser(app)  # each request in its own context: its own locale
    event = make_event()
    runner = add_runner(event)
    staff = make_staff("organiser")
    body = enrol_body(code=payload_for(runner), months=2)
    url = f"{API}/events/{event.slug}/enrolments"
    english = client.post(url, json=body, headers={**staff.headers, "Accept-Language": "en"})
    indonesian = client.post(url, json=body, headers=staff.headers)
    assert english.get_json()["errors"]["months"] == ["Pay for 1, 3, 6 or 12 months."]
    assert indonesian.get_json()["errors"]["months"] != english.get_json()["errors"]["months"]


def test_answers_and_bodies_match_the_openapi_document(
    client,
    document,  # noqa: F811  (from tests.api.test_openapi)
    make_event,
    make_staff,
    add_runner,
    on_finale_day,
):
    event = make_event(quota=1)
    member = add_runner(event, member=True, kpj_number="12345678901")
    runner = add_runner(make_event())
    staff = make_staff("organiser")
    volunteer = make_staff("volunteer", events=(event.slug,))
    check = Checker(client, document)
    path = "/events/{slug}/enrolments"
    slug = {"slug": event.slug}
    walkup = walkup_body(payment_channel=None, sponsor="apbd-dki", programs=["JKK", "JKM", "JHT"])
    enrolled = check.call("POST", path, 201, params=slug, json=walkup, headers=staff.headers)
    number = enrolled.get_json()["enrolment"]["participant_number"]
    waitlisted = walkup_body(months=12)
    check.call("POST", path, 201, params=slug, json=waitlisted, headers=staff.headers)
    check.call(
        "POST",
        path,
        409,
        params=slug,
        json=enrol_body(code=payload_for(member)),
        headers=staff.headers,
    )
    check.call(
        "POST",
        path,
        422,
        params=slug,
        json=enrol_body(code=payload_for(member), months=2),
        headers=staff.headers,
    )
    check.call("POST", path, 404, params=slug, json=enrol_body(code="0999"), headers=staff.headers)
    check.call("POST", path, 404, params={"slug": "nowhere"}, json={}, headers=staff.headers)
    check.call(
        "POST", path, 403, params={"slug": runner.event.slug}, json={}, headers=volunteer.headers
    )
    check.call("POST", path, 401, params=slug, json={})
    check.call(
        "POST",
        path,
        400,
        params=slug,
        data="[]",
        content_type="application/json",
        headers=staff.headers,
    )
    check.call(
        "POST", path, 415, params=slug, data="x", content_type="text/plain", headers=staff.headers
    )
    check.call(
        "POST", path, 413, params=slug, json=walkup_body(address="x" * 70000), headers=staff.headers
    )
    card = "/enrolments/{number}/card.pdf"
    check.call("GET", card, 200, params={"number": number}, headers=staff.headers)
    check.call("GET", card, 404, params={"number": "1" * 11}, headers=staff.headers)
    other = make_staff("volunteer", events=(runner.event.slug,))
    check.call("GET", card, 403, params={"number": number}, headers=other.headers)
    check.call("GET", card, 401, params={"number": number})
    # The request schema says what the service says.
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    validator = _validator(document, schema["schema"])
    validator.validate(enrol_body(code="JKT0001"))
    validator.validate(walkup)
    for bad in (
        enrol_body(occupation="astronaut"),
        enrol_body(months=2),
        enrol_body(programs=["JKK", "JKM", "JP"]),
        enrol_body(consent=False),
        enrol_body(declared_income="1000000"),
        enrol_body(payment_channel="bitcoin"),
    ):
        with pytest.raises(JsonSchemaError):
            validator.validate(bad)
    # Every field the API can complain about is documented.
    errors = client.post(
        f"{API}/events/{event.slug}/enrolments", json={"code": 1}, headers=staff.headers
    ).get_json()["errors"]
    errors |= client.post(
        f"{API}/events/{event.slug}/enrolments", json={}, headers=staff.headers
    ).get_json()["errors"]
    assert set(errors) <= set(document["components"]["schemas"]["EnrolmentRequest"]["properties"])


def test_a_member_in_one_city_is_refused_in_another(
    client, make_event, make_staff, add_runner, on_finale_day
):
    index = next_index()
    add_runner(make_event(), index, member=True, kpj_number="12345678901")
    elsewhere = make_event()
    not_said = add_runner(elsewhere, index)  # registered here without saying "member"
    staff = make_staff("organiser")
    body = assert_problem(
        post(client, elsewhere.slug, enrol_body(code=payload_for(not_said)), staff), 409
    )
    assert body["type"].endswith("already-enrolled")
    assert enrolments() == []


def test_a_walk_up_whose_enrolment_fails_late_is_not_left_registered(
    client, make_event, make_staff, on_finale_day, monkeypatch
):
    """Another desk enrolled the NIK in the instant between registering and enrolling."""
    from funrun.enrolment import services

    def lost_the_race(*_args, **_kwargs):
        raise services.AlreadyEnrolled("This NIK is already enrolled.")

    monkeypatch.setattr(services, "_insert_enrolment", lost_the_race)
    event = make_event(quota=3)
    staff = make_staff("organiser")
    assert_problem(post(client, event.slug, walkup_body(), staff), 409)
    db.session.rollback()
    [registration] = db.session.scalars(select(Registration)).all()
    assert registration.status == "cancelled"  # the place is given back
    assert db.session.get(type(event), event.id).confirmed_count == 0
    assert enrolments() == []
