"""The desk's search (issue 19, point 4): a runner with only their KTP is found by name,
phone, bib or NIK, seen on a card (NIK masked) and checked in through the one rule."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask

from funrun.checkin.models import ScanLog
from funrun.checkin.search import LIMIT, SearchRefused, read_query
from funrun.extensions import db
from funrun.people.crypto import mask_nik
from funrun.registration.models import Registration
from tests.checkin.conftest import (
    PASSWORD,
    active_checkins,
    browser,
    login,
    scan_logs,
)
from tests.conftest import csrf_from, person_payload

URL = "/staff/events/semarang/scan"
SEARCH = URL + "/search"


@pytest.fixture
def desk(app: Flask, make_event, make_staff, add_runners):
    """A signed-in volunteer at Semarang; three runners there, one at Solo."""
    event = make_event(slug="semarang", city="Semarang", bib_prefix="SMG", quota=5)
    other = make_event(slug="solo", city="Solo", bib_prefix="SLO", quota=5)
    runners = add_runners(event, 3, full_name="Dewi Lestari")
    add_runners(other, 1, full_name="Dewi Solo")
    volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    client = browser(app)
    assert login(client, volunteer.email).status_code == 302
    token = csrf_from(client.get(URL).get_data(as_text=True))
    return client, runners, token


def registration(registration_id: int) -> Registration:
    db.session.rollback()
    return db.session.get_one(Registration, registration_id)


def nik_of(registration_id: int) -> str:
    from funrun.people.crypto import data_cipher

    return data_cipher().decrypt(registration(registration_id).person.nik_encrypted)


def find(client, token, q, **headers):
    headers = {"X-CSRFToken": token, "Accept": "application/json", **headers}
    return client.post(SEARCH + "?lang=en", json={"q": q}, headers=headers)


def test_found_by_name_phone_bib_and_nik_never_another_events(desk):
    client, runners, token = desk
    first = registration(runners[0])
    by_name = find(client, token, "dewi").get_json()
    assert by_name["kind"] == "name"
    assert {r["id"] for r in by_name["results"]} == set(runners)  # not Solo's Dewi
    assert all(r["full_name"] == "Dewi Lestari" for r in by_name["results"])

    phone = first.phone.replace("+62", "0")
    by_phone = find(client, token, phone[:4] + " " + phone[4:]).get_json()
    assert by_phone["kind"] == "phone" and [r["id"] for r in by_phone["results"]] == [first.id]

    for typed in ("1", "smg 0001", "SMG0001"):
        by_bib = find(client, token, typed).get_json()
        assert by_bib["kind"] == "bib" and [r["bib"] for r in by_bib["results"]] == ["SMG 0001"]

    nik = nik_of(first.id)
    by_nik = find(client, token, nik).get_json()
    assert by_nik["kind"] == "nik" and [r["id"] for r in by_nik["results"]] == [first.id]
    card = by_nik["results"][0]
    assert card["nik_masked"] == mask_nik(nik) and card["checked_in"] is False
    assert card["shirt_size"] == "M" and card["status"] == "confirmed"
    assert nik not in str(by_nik)  # neither in the cards nor in their HTML

    # Solo's runner is not found at Semarang by any of their details.
    assert find(client, token, "Solo").get_json()["results"] == []


def test_a_nik_of_another_event_finds_nobody(desk, make_event, add_runners):
    client, _runners, token = desk
    solo_runner = db.session.scalar(
        db.select(Registration).where(Registration.full_name == "Dewi Solo")
    )
    answer = find(client, token, nik_of(solo_runner.id)).get_json()
    assert answer["kind"] == "nik" and answer["results"] == []
    assert "No runner of this event found by NIK." in answer["message"]


@pytest.mark.parametrize(
    ("q", "words"),
    [
        ("", "Type a name, a mobile number, a bib or a NIK."),
        ("   ", "Type a name, a mobile number, a bib or a NIK."),
        ("de", "Type at least 3 letters of the name."),
        ("x" * 65, "Type at most 64 characters."),
        (None, "Type a name, a mobile number, a bib or a NIK."),
        (["dewi"], "Type a name, a mobile number, a bib or a NIK."),
        ("de\x00wi", "Type a name, a mobile number, a bib or a NIK."),
        ("dewi\ud800", "Type a name, a mobile number, a bib or a NIK."),
    ],
)
def test_short_empty_and_long_queries_are_400_with_a_message(desk, q, words):
    client, _runners, token = desk
    answer = find(client, token, q)
    assert answer.status_code == 400
    assert answer.get_json() == {"error": words}
    # The same without JavaScript: the scan page again, with the message. (A form body
    # with control characters is refused before any view: funrun/formdata.py.)
    if isinstance(q, str) and q.isprintable():
        page = client.post(SEARCH + "?lang=en", data={"q": q, "csrf_token": token})
        assert page.status_code == 400 and words in page.get_data(as_text=True)


def test_queries_are_read_as_what_they_look_like():
    assert read_query("3174011234560001").kind == "nik"
    assert read_query("3174 0112 3456 0001").kind == "nik"
    assert read_query("+62 812-3456-7890").kind == "phone"
    assert read_query("0042").kind == "bib" and read_query("0042").value == 42
    assert read_query("Budi").kind == "name"
    with pytest.raises(SearchRefused):
        read_query("ab")


def test_many_matches_are_limited(app, desk, add_runners):
    client, _runners, token = desk
    event = registration(_runners[0]).event
    add_runners(event, LIMIT, full_name="Dewi Kartika")
    answer = find(client, token, "dewi").get_json()
    assert len(answer["results"]) == LIMIT and answer["more"] is True
    assert "Only the first 10 are shown" in answer["message"]


def test_without_javascript_search_then_check_in_with_the_ktp_tick(desk):
    client, runners, token = desk
    nik = nik_of(runners[1])
    page = client.post(SEARCH + "?lang=en", data={"q": nik, "csrf_token": token})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Runners found by NIK: 1." in html
    assert "SMG 0002" in html and mask_nik(nik) in html
    assert nik not in html  # not echoed back into the search box either
    assert "I have seen the KTP" in html
    form = re.search(r'<form method="post" class="desk-card-form" action="([^"]+)"', html)
    assert form is not None
    action = form.group(1).replace("&amp;", "&")

    # Without the tick the rule asks for the ID card first (confirm_identity).
    asked = client.post(action, data={"code": "SMG 0002", "csrf_token": token})
    assert "result-confirm_identity" in asked.get_data(as_text=True)
    assert active_checkins(runners[1]) == []
    done = client.post(action, data={"code": "SMG 0002", "id_checked": "1", "csrf_token": token})
    assert done.status_code == 201
    [checkin] = active_checkins(runners[1])
    log = scan_logs()[-1]
    assert (log.result, log.method, log.id_checked) == ("checked_in", "typed", True)
    assert log.checkin_id == checkin.id

    again = client.post(SEARCH + "?lang=en", data={"q": "SMG 0002", "csrf_token": token})
    assert "Checked in at" in again.get_data(as_text=True)
    assert 'class="desk-card-form"' not in again.get_data(as_text=True)


def test_search_then_check_in_through_the_api_records_typed_and_id_checked(desk):
    client, runners, token = desk
    card = find(client, token, "SMG 0003").get_json()["results"][0]
    answer = client.post(
        "/api/v1/events/semarang/checkins",
        json={"code": card["bib"], "method": "typed", "id_checked": True},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    log = db.session.scalars(db.select(ScanLog).order_by(ScanLog.id.desc())).first()
    assert (log.method, log.id_checked, log.registration_id) == ("typed", True, runners[2])
    assert find(client, token, "SMG 0003").get_json()["results"][0]["checked_in"] is True


def test_the_nik_is_never_logged(desk, caplog):
    client, runners, token = desk
    nik = nik_of(runners[0])
    caplog.set_level(logging.DEBUG)
    find(client, token, nik)
    client.post(SEARCH, data={"q": nik, "csrf_token": token})
    assert nik not in caplog.text
    for log in scan_logs():
        for column in ScanLog.__table__.columns:
            assert nik not in str(getattr(log, column.key))


def test_unknown_and_invalid_answers_show_what_was_typed(desk):
    client, _runners, token = desk
    unknown = client.post(URL + "?lang=en", data={"code": "SMG 0999", "csrf_token": token})
    html = unknown.get_data(as_text=True)
    assert unknown.status_code == 404
    assert "Typed or scanned: SMG 0999" in html
    assert 'id="answer-items"' in html and "Unknown bib" in html
    invalid = client.post(URL + "?lang=en", data={"code": "hello?", "csrf_token": token})
    assert "Typed or scanned: hello?" in invalid.get_data(as_text=True)
    forged = "FR1:" + "A" * 60
    shown = client.post(URL + "?lang=en", data={"code": forged, "csrf_token": token})
    html = shown.get_data(as_text=True)
    assert "Typed or scanned: FR1:AAAAAAAA…" in html and forged not in html


def test_search_without_csrf_is_refused(desk):
    client, _runners, _token = desk
    answer = client.post(SEARCH, json={"q": "dewi"}, headers={"Accept": "application/json"})
    assert answer.status_code == 400


def test_volunteers_of_another_event_and_signed_out_are_refused(app, desk, make_staff, make_event):
    _client, _runners, _token = desk
    stranger = make_staff("volunteer", events=("solo",), password=PASSWORD)
    client = browser(app)
    login(client, stranger.email)
    token = csrf_from(client.get("/staff/events/solo/scan").get_data(as_text=True))
    assert find(client, token, "dewi").status_code == 403
    anonymous = browser(app)
    assert anonymous.post(SEARCH, data={"q": "dewi"}).status_code in (302, 400)


def test_the_search_page_in_indonesian(desk):
    client, _runners, token = desk
    page = client.post(SEARCH + "?lang=id", data={"q": "de", "csrf_token": token})
    html = page.get_data(as_text=True)
    assert "Ketik" in html  # the refusal in Indonesian
    assert person_payload(0)["nik"] not in html
