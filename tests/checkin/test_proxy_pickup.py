"""Pickup by a representative (issue 19, point 5): through the one check-in rule.

A representative's name and the NIK on the KTP the volunteer saw go with the check-in
(``proxy``); only the NIK's keyed hash is stored, and each representative collects for at
most ``events.proxy_limit`` runners of an event (0: none), also with two desks at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from funrun.accounts.models import User
from funrun.checkin.models import CheckIn, ScanLog
from funrun.checkin.services import scan, undo_checkin
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from tests.checkin.conftest import API, Staff, active_checkins, assert_problem, counts, reg
from tests.checkin.test_checkin_concurrency import (  # noqa: F401 (fixtures)
    THREADS,
    _apps,
    add_confirmed,
    any_db,
    make_volunteers,
    run_together,
)
from tests.checkin.test_checkin_concurrency import make_event as make_bulk_event
from tests.conftest import make_nik

REP_NIK = make_nik(date(1985, 5, 5), "M", serial=77)
OTHER_NIK = make_nik(date(1986, 6, 6), "F", serial=78)


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    return make_event(slug="bandung", city="Bandung", bib_prefix="BDG", quota=10)


@pytest.fixture
def volunteer(make_staff, event: Event) -> Staff:
    return make_staff("volunteer", events=(event.slug,))


def pickup(
    client: FlaskClient,
    staff: Staff,
    slug: str,
    bib: int,
    *,
    name: str = "Agus Wijaya",
    nik: str = REP_NIK,
    **extra: Any,
) -> Any:
    body = {
        "code": str(bib),
        "method": "typed",
        "id_checked": True,
        "proxy": {"name": name, "nik": nik},
        **extra,
    }
    return client.post(f"{API}/events/{slug}/checkins", json=body, headers=staff.headers)


def test_representative_collects_and_only_the_hash_is_stored(
    client, event, volunteer, add_runners, caplog
):
    caplog.set_level(logging.DEBUG)
    [runner] = add_runners(event, 1)

    response = pickup(client, volunteer, event.slug, 1, name="  Agus   Wijaya ")

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"] == "checked_in"
    assert body["proxy"] == {"name": "Agus Wijaya", "named": None, "is_named": False}
    [checkin] = active_checkins(runner)
    assert checkin.proxy_name == "Agus Wijaya"
    assert checkin.proxy_nik_hash == data_cipher().lookup_hash(REP_NIK)
    assert REP_NIK not in response.get_data(as_text=True)
    assert REP_NIK not in caplog.text
    # Nowhere in the check-ins or the scan log.
    for table in ("checkins", "scan_log"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            assert REP_NIK not in " ".join(str(v) for v in row)


def test_named_representative_is_recognised(client, event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    registration = reg(runner)
    registration.proxy_name = "Agus Wijaya"
    db.session.commit()

    named = pickup(client, volunteer, event.slug, 1, name="agus wijaya").get_json()
    assert named["proxy"] == {"name": "agus wijaya", "named": "Agus Wijaya", "is_named": True}


def test_someone_else_than_named_is_allowed_and_flagged(client, event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    registration = reg(runner)
    registration.proxy_name = "Agus Wijaya"
    db.session.commit()

    response = pickup(client, volunteer, event.slug, 1, name="Dewi Lestari", nik=OTHER_NIK)

    assert response.status_code == 201
    assert response.get_json()["proxy"]["is_named"] is False


def test_limit_per_representative_per_event(client, make_event, make_staff, add_runners):
    first = make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10, proxy_limit=2)
    second = make_event(slug="malang", city="Malang", bib_prefix="MLG", quota=10, proxy_limit=2)
    desk = make_staff("organiser")
    add_runners(first, 4)
    add_runners(second, 1)

    assert pickup(client, desk, "solo", 1).status_code == 201
    assert pickup(client, desk, "solo", 2).status_code == 201
    refused = pickup(client, desk, "solo", 3)
    # Another representative may still collect; the same one may at another event.
    assert pickup(client, desk, "solo", 4, nik=OTHER_NIK).status_code == 201
    assert pickup(client, desk, "malang", 1).status_code == 201

    assert refused.status_code == 409
    body = refused.get_json()
    assert body["result"] == "proxy_limit"
    assert body["proxy_limit"] == 2
    assert "2" in body["message"]
    assert body["registration"]["bib_number"] == 3
    assert active_checkins(body["registration"]["id"]) == []
    logged = db.session.scalars(select(ScanLog).order_by(ScanLog.id.desc())).first()
    assert logged is not None  # the last scan was Malang's; Solo's refusal is logged too
    assert (
        db.session.scalar(
            select(ScanLog.result).where(ScanLog.registration_id == body["registration"]["id"])
        )
        == "proxy_limit"
    )


def test_refusal_in_indonesian(client, make_event, make_staff, add_runners):
    event = make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10, proxy_limit=1)
    desk = make_staff("organiser")
    add_runners(event, 2)
    pickup(client, desk, "solo", 1)

    body = client.post(
        f"{API}/events/solo/checkins",
        json={"code": "2", "method": "typed", "id_checked": True,
              "proxy": {"name": "Agus Wijaya", "nik": REP_NIK}},
        headers={**desk.headers, "Accept-Language": "id"},
    ).get_json()  # fmt: skip

    assert body["result"] == "proxy_limit"
    assert "perwakilan" in body["message"].lower()


def test_undone_pickup_frees_a_place(client, make_event, make_staff, add_runners):
    event = make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10, proxy_limit=1)
    desk = make_staff("organiser")
    [first, _second] = add_runners(event, 2)
    checkin_id = pickup(client, desk, "solo", 1).get_json()["checkin_id"]
    assert pickup(client, desk, "solo", 2).status_code == 409

    undo_checkin(checkin_id, user=db.session.get(User, desk.id))

    assert pickup(client, desk, "solo", 2).status_code == 201
    assert active_checkins(first) == []


def test_limit_zero_means_no_proxy_pickup(client, make_event, make_staff, add_runners):
    event = make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10, proxy_limit=0)
    desk = make_staff("organiser")
    [runner] = add_runners(event, 1)

    response = pickup(client, desk, "solo", 1)

    assert response.status_code == 409
    body = response.get_json()
    assert (body["result"], body["proxy_limit"]) == ("proxy_limit", 0)
    assert "tidak ada yang boleh" in body["message"]  # the default language
    assert active_checkins(runner) == []
    # The runner themselves still collects.
    plain = client.post(
        f"{API}/events/solo/checkins",
        json={"code": "1", "method": "typed", "id_checked": True},
        headers=desk.headers,
    )
    assert plain.status_code == 201


def test_already_checked_in_stays_already(client, event, volunteer, add_runners):
    add_runners(event, 1)
    assert pickup(client, volunteer, event.slug, 1).status_code == 201
    again = pickup(client, volunteer, event.slug, 1)
    assert again.status_code == 200
    assert again.get_json()["result"] == "already_checked_in"


@pytest.mark.parametrize(
    ("proxy", "extra", "field"),
    [
        ({"name": "Agus Wijaya", "nik": "123"}, {}, "proxy.nik"),
        ({"name": "Agus Wijaya", "nik": "3174010000000000"}, {}, "proxy.nik"),
        ({"name": "", "nik": REP_NIK}, {}, "proxy.name"),
        ({"name": "R2D2", "nik": REP_NIK}, {}, "proxy.name"),
        ({"nik": REP_NIK}, {}, "proxy.name"),
        ({"name": "Agus Wijaya"}, {}, "proxy.nik"),
        ("Agus", {}, "proxy"),
        ({"name": "Agus Wijaya", "nik": REP_NIK}, {"id_checked": False}, "id_checked"),
        ({"name": "Agus Wijaya", "nik": REP_NIK}, {"station": "start"}, "station"),
        ({"name": ["x"], "nik": 3174010101010001}, {}, "proxy.name"),
    ],
)
def test_bad_proxy_is_422_with_field_errors(
    client, event, volunteer, add_runners, proxy, extra, field
):
    add_runners(event, 1)
    body = {"code": "1", "method": "typed", "id_checked": True, "proxy": proxy, **extra}

    response = client.post(
        f"{API}/events/{event.slug}/checkins", json=body, headers=volunteer.headers
    )

    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    assert counts() == (0, 0)
    assert REP_NIK not in response.get_data(as_text=True)


def test_bad_proxy_in_indonesian(client, event, volunteer, add_runners):
    add_runners(event, 1)
    response = client.post(
        f"{API}/events/{event.slug}/checkins",
        json={"code": "1", "method": "typed", "id_checked": True,
              "proxy": {"name": "", "nik": "12"}},
        headers={**volunteer.headers, "Accept-Language": "id"},
    )  # fmt: skip
    problem = assert_problem(response, 422)
    assert problem["errors"]["proxy.name"] == ["Kolom ini wajib diisi."]
    assert "16" in " ".join(problem["errors"]["proxy.nik"])


def test_refusals_of_the_caller_come_first(client, event, make_staff, add_runners):
    add_runners(event, 1)
    stranger = make_staff("volunteer")  # assigned to no event
    response = pickup(client, stranger, event.slug, 1, shirt_given="XXXL")
    assert_problem(response, 403)
    assert counts() == (0, 0)


def test_scan_service_records_proxy(app, event, add_runners, make_staff):
    add_runners(event, 1)
    desk = make_staff("organiser")
    outcome = scan(
        event,
        "1",
        user=db.session.get(User, desk.id),
        method="typed",
        id_checked=True,
        proxy={"name": "Agus Wijaya", "nik": REP_NIK},
    )
    assert outcome.result == "checked_in"
    checkin = db.session.get(CheckIn, outcome.checkin.id)
    assert checkin.proxy_name == "Agus Wijaya"


# --- two desks at once for the same representative -----------------------------------------


def test_two_desks_at_once_respect_the_limit(any_db):  # noqa: F811 (the fixture)
    event_id = make_bulk_event(quota=THREADS)
    db.session.get(Event, event_id).proxy_limit = 3
    db.session.commit()
    add_confirmed(event_id, THREADS)
    users = make_volunteers(THREADS)

    def job(bib: int, user_id: int) -> Callable[[], str]:
        def run() -> str:
            outcome = scan(
                db.session.get(Event, event_id),
                str(bib),
                user=db.session.get(User, user_id),
                method="typed",
                id_checked=True,
                proxy={"name": "Agus Wijaya", "nik": REP_NIK},
            )
            return str(outcome.result)

        return run

    answers = run_together(any_db, [job(n + 1, user) for n, user in enumerate(users)])

    assert Counter(answers) == {"checked_in": 3, "proxy_limit": THREADS - 3}
    db.session.rollback()
    stored = db.session.scalars(select(CheckIn).where(CheckIn.proxy_nik_hash.is_not(None)))
    assert len(list(stored)) == 3


# --- the desk's pages ---------------------------------------------------------------------


@pytest.fixture
def desk_page(app, make_event, make_staff, add_runners):
    """A signed-in volunteer at Bandung's pickup; two runners, the first naming Agus."""
    from tests.checkin.conftest import PASSWORD, browser, login
    from tests.conftest import csrf_from

    event = make_event(slug="bandung", city="Bandung", bib_prefix="BDG", quota=10)
    runners = add_runners(event, 2, full_name="Dewi Lestari")
    first = reg(runners[0])
    first.proxy_name, first.proxy_phone = "Agus Wijaya", "+6281211112222"
    db.session.commit()
    volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    client = browser(app)
    assert login(client, volunteer.email).status_code == 302
    token = csrf_from(client.get("/staff/events/bandung/scan").get_data(as_text=True))
    return client, runners, token


def test_card_shows_the_named_representative_and_the_pickup_form(desk_page):
    client, _runners, token = desk_page
    page = client.post(
        "/staff/events/bandung/scan/search?station=pickup&lang=en",
        data={"q": "BDG 0001", "csrf_token": token},
    ).get_data(as_text=True)
    assert "Named representative: Agus Wijaya" in page
    assert "0812-1111-2222" in page
    assert 'class="desk-pickup-form"' in page and 'name="proxy_nik"' in page
    # At the start line there is no pickup form.
    start = client.post(
        "/staff/events/bandung/scan/search?station=start&lang=en",
        data={"q": "BDG 0001", "csrf_token": token},
    ).get_data(as_text=True)
    assert "desk-pickup-form" not in start


def test_desk_form_records_a_pickup_by_someone_else(desk_page, caplog):
    caplog.set_level(logging.DEBUG)
    client, runners, token = desk_page
    response = client.post(
        "/staff/events/bandung/scan?station=pickup&lang=en",
        data={
            "csrf_token": token,
            "code": "BDG 0001",
            "id_checked": "1",
            "proxy_name": "Dewi Sartika",
            "proxy_nik": OTHER_NIK,
            "shirt_given": "L",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 201, page
    assert "Collected by Dewi Sartika (representative)" in page
    assert "Not the representative the runner named (Agus Wijaya)" in page
    assert "Shirt size handed out: L" in page
    assert OTHER_NIK not in page and OTHER_NIK not in caplog.text
    [checkin] = active_checkins(runners[0])
    assert (checkin.proxy_name, checkin.shirt_given) == ("Dewi Sartika", "L")

    # The supervisor's list says who collected.
    from tests.checkin.conftest import PASSWORD, browser, login

    organiser = browser(client.application)
    from funrun.accounts.services import create_user

    create_user("boss@example.org", "organiser", password=PASSWORD)
    assert login(organiser, "boss@example.org").status_code == 302
    listed = organiser.get("/staff/events/bandung/checkins?lang=en").get_data(as_text=True)
    assert "Collected by Dewi Sartika (representative)" in listed
    assert OTHER_NIK not in listed


def test_desk_form_refuses_without_the_tick_or_with_a_bad_nik(desk_page):
    client, runners, token = desk_page
    for fields, words in (
        ({"proxy_nik": REP_NIK}, "Tick that you have seen the representative"),
        ({"proxy_nik": "1234", "id_checked": "1"}, "16"),
    ):
        response = client.post(
            "/staff/events/bandung/scan?station=pickup&lang=en",
            data={"csrf_token": token, "code": "BDG 0001", "proxy_name": "Agus Wijaya", **fields},
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and words in page
        assert REP_NIK not in page and "1234" not in page.split("<main", 1)[-1]
    assert active_checkins(runners[0]) == []


# --- the manage page ------------------------------------------------------------------------


def test_runner_names_and_clears_a_representative(client, event, add_runners):
    from funrun.registration.tokens import new_manage_token
    from tests.conftest import csrf_from

    [runner] = add_runners(event, 1)
    registration = reg(runner)
    tok, registration.manage_token_hash = new_manage_token()
    db.session.commit()
    page = client.get(f"/r/{tok}?lang=en").get_data(as_text=True)
    assert "Someone else collects my race pack" in page
    token = csrf_from(page)

    saved = client.post(
        f"/r/{tok}/representative",
        data={"csrf_token": token, "proxy_name": " agus  wijaya ", "proxy_phone": "0812-1111 2222"},
    )
    assert saved.status_code == 303
    assert (reg(runner).proxy_name, reg(runner).proxy_phone) == ("agus wijaya", "+6281211112222")
    assert "agus wijaya" in client.get(f"/r/{tok}").get_data(as_text=True)

    bad = client.post(
        f"/r/{tok}/representative?lang=en",
        data={"csrf_token": token, "proxy_name": "R2D2", "proxy_phone": "12345"},
    )
    text_ = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Write their full name as on their ID card, letters only." in text_
    assert "Enter an Indonesian mobile number" in text_
    assert reg(runner).proxy_name == "agus wijaya"
    no_phone = client.post(
        f"/r/{tok}/representative",
        data={"csrf_token": token, "proxy_name": "Agus", "proxy_phone": ""},
    )
    assert no_phone.status_code == 422

    cleared = client.post(f"/r/{tok}/representative", data={"csrf_token": token, "action": "clear"})
    assert cleared.status_code == 303
    assert (reg(runner).proxy_name, reg(runner).proxy_phone) == (None, None)
    assert (
        client.post(f"/r/{tok}/representative", data={"proxy_name": "Agus Wijaya"}).status_code
        == 400
    )  # no CSRF token


def test_proxy_limit_on_the_event_form(app, make_event, make_staff):
    from funrun.events.editing import EventEditError, update_event
    from funrun.events.forms import EventForm

    event = make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10)
    assert event.proxy_limit == 3
    with app.test_request_context(method="POST"):
        form = EventForm(meta={"csrf": False})
        form.fill(event)
        data = form.data_for_service(with_slug=False)
    data.proxy_limit = 0
    update_event(event, data)
    assert db.session.get(Event, event.id).proxy_limit == 0
    data.proxy_limit = 51
    with pytest.raises(EventEditError) as refused:
        update_event(event, data)
    assert "proxy_limit" in refused.value.errors


def test_roster_says_who_collected(app, client, event, volunteer, add_runners, make_staff):
    from tests.checkin.conftest import PASSWORD, browser, login

    add_runners(event, 1)
    assert pickup(client, volunteer, event.slug, 1).status_code == 201
    boss = make_staff("organiser", password=PASSWORD)
    office = browser(app)
    assert login(office, boss.email).status_code == 302
    roster = office.get(f"/staff/events/{event.slug}/roster?lang=en").get_data(as_text=True)
    assert "Collected by Agus Wijaya (representative)" in roster
    assert REP_NIK not in roster
    for fmt in ("csv", "xlsx"):
        exported = office.get(f"/staff/events/{event.slug}/roster.{fmt}")
        assert exported.status_code == 200
        assert REP_NIK.encode() not in exported.get_data()
