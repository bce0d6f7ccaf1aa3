"""A runner enrolled at the desk is no longer offered enrolment when scanned, in any city,
on a first scan, a repeat or a replay."""

from __future__ import annotations

from funrun.bibs.services import payload_for
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload
from tests.enrolment.conftest import enrol_body, next_index

API = "/api/v1"


def scan(client, slug, code, staff, **body):
    return client.post(
        f"{API}/events/{slug}/checkins", json={"code": code, **body}, headers=staff.headers
    )


def test_enrolled_runners_are_not_offered_enrolment_again(
    client, make_event, make_staff, add_runner, on_finale_day
):
    jakarta = make_event(slug="jakarta", bib_prefix="JKT", timezone="Asia/Jakarta")
    medan = make_event(slug="medan", bib_prefix="MDN", city="Medan")
    index = next_index()
    runner = add_runner(jakarta, index)
    # The same person (same NIK) also ran in Medan.
    in_medan = register(
        medan,
        clean_registration(person_payload(index), medan),
        notice=current_privacy_notice("id"),
    ).registration
    organiser = make_staff("organiser")

    before = scan(client, "jakarta", payload_for(runner), organiser, client_ref="a-1")
    assert before.status_code == 201
    registration = before.get_json()["registration"]
    assert (registration["enrolled"], registration["offer_enrolment"]) == (False, True)

    enrolled = client.post(
        f"{API}/events/jakarta/enrolments",
        json=enrol_body(code=payload_for(runner)),
        headers=organiser.headers,
    )
    assert enrolled.status_code == 201, enrolled.get_data(as_text=True)

    repeat = scan(client, "jakarta", payload_for(runner), organiser, client_ref="a-2")
    assert repeat.get_json()["result"] == "already_checked_in"
    assert repeat.get_json()["registration"]["enrolled"] is True
    assert repeat.get_json()["registration"]["offer_enrolment"] is False

    elsewhere = scan(client, "medan", payload_for(in_medan), organiser, station="start")
    assert elsewhere.status_code == 201
    assert elsewhere.get_json()["registration"]["offer_enrolment"] is False

    # A replay answers as first given (before the enrolment), except for what is true now
    # of the runner: the enrolment happened, so it is not offered again.
    replay = scan(client, "jakarta", payload_for(runner), organiser, client_ref="a-1")
    assert replay.get_json()["replayed"] is True
    assert replay.get_json()["registration"]["offer_enrolment"] is False


def test_the_offline_roster_knows_who_is_enrolled(
    client, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event(slug="jakarta", bib_prefix="JKT", timezone="Asia/Jakarta")
    runner = add_runner(event)
    organiser = make_staff("organiser")
    roster = client.get(f"{API}/events/jakarta/roster", headers=organiser.headers)
    assert [r["enrolled"] for r in roster.get_json()["runners"]] == [False]
    etag = roster.headers["ETag"]
    enrolled = client.post(
        f"{API}/events/jakarta/enrolments",
        json=enrol_body(code=payload_for(runner)),
        headers=organiser.headers,
    )
    assert enrolled.status_code == 201
    # The enrolment changes the roster's version, so devices fetch it again.
    again = client.get(
        f"{API}/events/jakarta/roster", headers={**organiser.headers, "If-None-Match": etag}
    )
    assert again.status_code == 200
    assert [r["enrolled"] for r in again.get_json()["runners"]] == [True]
