"""A walk-up leaves with a bib (issue 19, point 7): registered on a walk-up's place (in
the quota, else one of the event's walk-up places, never the waitlist), checked in
through the one rule and, for a non-member, enrolled; the dashboard counts them in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from funrun.checkin.models import CheckIn, ScanLog
from funrun.enrolment import services as enrolment_services
from funrun.enrolment.models import Enrolment
from funrun.enrolment.schedule import load_file
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import PrivacyNotice, Registration
from funrun.registration.register import NoWalkupPlace
from funrun.registration.services import current_privacy_notice, register
from funrun.reports.figures import tour_figures
from tests.checkin.conftest import PASSWORD, active_checkins, browser, login
from tests.conftest import csrf_from, person_payload
from tests.registration.test_concurrency import (  # noqa: F401  (fixtures reused here)
    _apps,
    conc_app,
    payloads,
    registrations,
    run_together,
    setup,
    stored_event,
)
from tests.registration.test_concurrency import make_event as conc_event

_index = {"n": 5000}


def person(**overrides):
    _index["n"] += 1
    body = person_payload(_index["n"])
    form = {k: body[k] for k in ("full_name", "nik", "birth_date", "gender", "phone")}
    form.update(shirt_size="L", email="", consent="y", id_checked="y", member="")
    form.update(overrides)
    return form


@pytest.fixture
def desk(app: Flask, make_event, make_staff):
    def _desk(**event_fields):
        event = make_event(slug="kupang", city="Kupang", bib_prefix="KPG", **event_fields)
        volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
        client = browser(app)
        assert login(client, volunteer.email).status_code == 302
        return client, event, volunteer

    return _desk


URL = "/staff/events/kupang/walkup"


def walk_up(client, **overrides):
    token = csrf_from(client.get(URL).get_data(as_text=True))
    return client.post(URL + "?lang=en", data={**person(**overrides), "csrf_token": token})


def fresh_event(event_id: int) -> Event:
    db.session.rollback()
    return db.session.get_one(Event, event_id)


def walkups(event_id: int) -> list[Registration]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Registration).where(
                Registration.event_id == event_id, Registration.source == "walkup"
            )
        )
    )


def test_a_member_walk_up_registers_is_checked_in_and_gets_a_bib(desk):
    client, event, volunteer = desk(quota=5)
    done = walk_up(client, member="y", kpj_number="12345678901")
    assert done.status_code == 302, done.get_data(as_text=True)
    [runner] = walkups(event.id)
    assert (runner.status, runner.bib, runner.is_member) == ("confirmed", "KPG 0001", True)
    [checkin] = active_checkins(runner.id)
    assert checkin.scanned_by_id == volunteer.id
    log = db.session.scalars(select(ScanLog).where(ScanLog.checkin_id == checkin.id)).one()
    assert (log.method, log.id_checked, log.result) == ("typed", True, "checked_in")
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 0  # no enrolment

    page = client.get(done.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "Write this bib number on a blank bib" in page
    assert 'id="walkup-bib-number">KPG 0001<' in page and "Checked in at" in page
    pdf = client.get(f"/staff/events/kupang/registrations/{runner.id}/bib.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_the_ktp_must_be_ticked_and_fields_checked(desk):
    client, event, _volunteer = desk(quota=5)
    refused = walk_up(client, id_checked="")
    assert refused.status_code == 422
    assert "Check the KTP first" in refused.get_data(as_text=True)
    bad = walk_up(client, phone="12")
    assert bad.status_code == 422
    assert walkups(event.id) == []


def test_on_a_full_event_a_walk_up_takes_a_walk_up_place_then_is_refused(desk, add_runners):
    client, event, _volunteer = desk(quota=2, walkup_allowance=1)
    add_runners(event, 2)
    assert fresh_event(event.id).remaining == 0
    page = client.get(URL + "?lang=en").get_data(as_text=True)
    assert "Places left for walk-ups: 1." in page

    taken = walk_up(client)
    assert taken.status_code == 302
    [runner] = walkups(event.id)
    assert (runner.status, runner.bib_number) == ("confirmed", 3)
    stored = fresh_event(event.id)
    # The walk-up place moved into the quota: the event stays consistent and full.
    assert (stored.quota, stored.confirmed_count, stored.walkup_allowance) == (3, 3, 0)
    assert stored.remaining == 0

    refused = walk_up(client)
    assert refused.status_code == 409
    assert "no walk-up places left" in refused.get_data(as_text=True)
    assert len(walkups(event.id)) == 1  # not waitlisted: nothing written
    assert fresh_event(event.id).waitlist_seq == 0


def test_on_a_full_event_without_allowance_the_walk_up_is_refused(desk, add_runners):
    client, event, _volunteer = desk(quota=1)
    add_runners(event, 1)
    refused = walk_up(client)
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "This event is full and has no walk-up places left: no bib can be given." in html
    assert walkups(event.id) == []


def test_a_registered_nik_is_sent_to_the_search(desk, add_runners):
    client, _event, _volunteer = desk(quota=5)
    form = person()
    token = csrf_from(client.get(URL).get_data(as_text=True))
    assert client.post(URL, data={**form, "csrf_token": token}).status_code == 302
    again = client.post(URL + "?lang=en", data={**form, "csrf_token": token})
    assert again.status_code == 409
    assert "find the runner by NIK instead" in again.get_data(as_text=True)


def test_the_web_rule_still_waitlists_when_full(app, make_event, add_runners):
    event = make_event(quota=1, walkup_allowance=2)
    add_runners(event, 1)
    data = person_payload(7777)
    from funrun.registration.validation import clean_registration

    new = register(event, clean_registration(data, event), notice=current_privacy_notice("id"))
    assert new.snapshot.status == "waitlisted"  # the allowance is the desk's only
    assert fresh_event(event.id).walkup_allowance == 2


def test_a_non_member_walk_up_is_enrolled_checked_in_and_shown_the_bib(
    app, desk, add_runners, monkeypatch
):
    load_file()
    monkeypatch.setattr(
        enrolment_services, "utcnow", lambda: datetime(2015, 12, 13, 1, 0, tzinfo=UTC)
    )
    client, event, _volunteer = desk(quota=1, walkup_allowance=1)
    add_runners(event, 1)
    url = "/staff/events/kupang/enrol"
    page = client.get(url).get_data(as_text=True)
    body = person()
    form = {
        **{k: body[k] for k in ("full_name", "nik", "birth_date", "gender", "phone")},
        "shirt_size": "L",
        "birth_place": "Kupang",
        "mother_maiden_name": "Maria Bria",
        "address": "Jl. El Tari 1, Kupang",
        "occupation": "ojek_driver",
        "declared_income": "1.000.000",
        "months": "1",
        "payment_channel": "cash",
        "consent": "y",
        "csrf_token": csrf_from(page),
    }
    review = client.post(url, data=form)
    html = review.get_data(as_text=True)
    assert review.status_code == 200, html
    import re

    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields["csrf_token"] = csrf_from(html)
    done = client.post(url, data={**fields, "action": "confirm"})
    assert done.status_code == 302, done.get_data(as_text=True)
    [runner] = walkups(event.id)
    assert (runner.status, runner.bib) == ("confirmed", "KPG 0002")
    assert len(active_checkins(runner.id)) == 1
    page = client.get(done.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert 'id="walkup-bib-number">KPG 0002<' in page


def test_the_dashboard_counts_a_walk_up_as_checked_in_not_a_no_show(desk, add_runners):
    client, event, _volunteer = desk(quota=3, date=date(2026, 12, 1))
    add_runners(event, 2)  # registered on the web, never came
    assert walk_up(client).status_code == 302
    db.session.rollback()  # a fresh snapshot
    figures = tour_figures(now=datetime(2026, 12, 2, tzinfo=UTC))
    [row] = [r for r in figures.events if r.slug == "kupang"]
    assert (row.confirmed, row.checked_in, row.no_shows) == (3, 1, 2)


# --- the walk-up place under concurrency, on both databases --------------------------------


@pytest.mark.usefixtures("setup")
def test_walk_up_places_are_never_oversold(conc_app):  # noqa: F811
    event_id = conc_event(quota=2, walkup_allowance=3)
    people = payloads(event_id, range(9000, 9010))
    notice_id = current_privacy_notice("id").id
    db.session.commit()
    for data in people[:2]:
        event = db.session.get(Event, event_id)
        register(event, data, notice=db.session.get(PrivacyNotice, notice_id))

    def job(data):
        def run():
            event = db.session.get(Event, event_id)
            notice = db.session.get(PrivacyNotice, notice_id)
            reg = register(event, data, notice=notice, source="walkup", walkup_place=True)
            return reg.snapshot.bib_number

        return run

    results = run_together(conc_app, [job(d) for d in people[2:]], threads=8)
    taken = [value for kind, value in results if kind == "ok"]
    refused = [value for kind, value in results if kind == "error"]
    assert sorted(taken) == [3, 4, 5]
    assert len(refused) == 5 and all(isinstance(e, NoWalkupPlace) for e in refused)
    stored = stored_event(event_id)
    assert (stored.quota, stored.confirmed_count, stored.walkup_allowance) == (5, 5, 0)
    assert stored.waitlist_seq == 0
    confirmed = [r for r in registrations(event_id) if r.status == "confirmed"]
    assert len(confirmed) == 5 and len({r.bib_number for r in confirmed}) == 5
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 0
