"""Organisers create and edit events: quota and bib rules under the lock, open and close."""

from __future__ import annotations

import pytest

from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.conftest import csrf_from
from tests.reports.conftest import browser, cancel_registration, login

FORM = {
    "slug": "medan-2026",
    "city": "Medan",
    "name": "Fun Run 5K Medan",
    "date": "2026-11-21",
    "start_time": "06:00",
    "timezone": "Asia/Jakarta",
    "venue": "Lapangan Merdeka",
    "quota": "1000",
    "registration_open": "y",
    "registration_opens_at": "2026-10-01T08:00",
    "registration_closes_at": "2026-11-20T20:00",
    "bib_prefix": "mdn",
    "bib_first": "1",
    "bib_last": "2000",
    "bib_colour": "#0a7a3d",
    "shirt_sizes": "s, M, l, xl, M",
    "min_age": "17",
    "max_age": "",
    "reminder_days_before": "3",
    "pickup_hours": "Sabtu 20 Nov, 10.00-18.00, Lapangan Merdeka",
}


@pytest.fixture
def organiser(app, make_staff):
    staff = make_staff("organiser", password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    return client


def _post(client, url, **changes):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**FORM, **changes, "csrf_token": token})


def _event(slug: str) -> Event:
    db.session.rollback()
    return db.session.scalars(db.select(Event).where(Event.slug == slug)).one()


def test_an_organiser_creates_an_event(organiser):
    response = _post(organiser, "/staff/events/new")
    assert response.status_code == 302, response.get_data(as_text=True)
    event = _event("medan-2026")
    assert event.city == "Medan" and event.quota == 1000 and event.bib_prefix == "MDN"
    assert event.shirt_sizes == ["S", "M", "L", "XL"]
    assert event.bib_colour == "#0A7A3D" and event.bib_next == 1
    assert event.reminder_days_before == 3 and event.pickup_hours.endswith("Lapangan Merdeka")
    # The window is given in venue time (WIB) and stored in UTC.
    assert event.registration_opens_at.isoformat() == "2026-10-01T01:00:00+00:00"
    assert event.registration_closes_at.hour == 13
    assert "Medan" in organiser.get("/staff/events").get_data(as_text=True)
    assert "Medan" in organiser.get("/").get_data(as_text=True)  # the public page lists it


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "Medan 2026"}, "slug"),
        ({"quota": "0"}, "quota"),
        ({"quota": "abc"}, "quota"),
        ({"bib_first": "50", "bib_last": "10"}, "bib_last"),
        ({"bib_last": "100000"}, "bib_last"),
        ({"bib_prefix": "J-K"}, "bib_prefix"),
        ({"bib_colour": "green"}, "bib_colour"),
        ({"shirt_sizes": "S, M, <b>"}, "shirt_sizes"),
        ({"timezone": "Europe/Paris"}, "timezone"),
        ({"registration_closes_at": "2026-09-01T08:00"}, "registration_closes_at"),
        ({"max_age": "10"}, "max_age"),
        ({"date": "2026-13-40"}, "date"),
        ({"city": "x" * 81}, "city"),
        ({"reminder_days_before": "0"}, "reminder_days_before"),
        ({"pickup_hours": "x" * 301}, "pickup_hours"),
    ],
)
def test_bad_event_input_is_refused_with_a_message(organiser, changes, field):
    response = _post(organiser, "/staff/events/new", **changes)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html, field
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 0


def test_the_address_of_an_event_is_unique(organiser, make_event):
    make_event(slug="medan-2026")
    response = _post(organiser, "/staff/events/new")
    assert response.status_code == 422 and 'id="slug-error"' in response.get_data(as_text=True)


def test_raising_the_quota_promotes_the_waitlist(organiser, make_event, add_runners):
    event = make_event(quota=2)
    ids = add_runners(event, 4)
    url = f"/staff/events/{event.slug}/edit"
    response = _post(organiser, url, quota="3", bib_first="1", bib_last="9999")
    assert response.status_code == 302
    stored = _event(event.slug)
    assert stored.quota == 3 and stored.confirmed_count == 3
    statuses = [db.session.get_one(Registration, rid).status for rid in ids]
    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    follow = organiser.get("/staff/events").get_data(as_text=True)
    assert "1 pelari" in follow or "1 runners" in follow
    assert stored.slug == event.slug  # the address never changes


def test_the_quota_never_goes_below_the_confirmed_runners(organiser, make_event, add_runners):
    event = make_event(quota=5)
    add_runners(event, 3)
    url = f"/staff/events/{event.slug}/edit"
    response = _post(organiser, url, quota="2", bib_first="1", bib_last="9999")
    assert response.status_code == 422
    assert 'id="quota-error"' in response.get_data(as_text=True)
    assert _event(event.slug).quota == 5
    assert _post(organiser, url, quota="3", bib_first="1", bib_last="9999").status_code == 302
    assert _event(event.slug).quota == 3


def test_bibs_handed_out_stay_in_the_range(organiser, make_event, add_runners):
    event = make_event(quota=5)
    ids = add_runners(event, 3)
    cancel_registration(ids[2])  # a cancelled runner's bib is retired, still handed out
    url = f"/staff/events/{event.slug}/edit"
    moved = _post(organiser, url, bib_first="10", bib_last="9999")
    assert moved.status_code == 422 and 'id="bib_first-error"' in moved.get_data(as_text=True)
    cut = _post(organiser, url, bib_first="1", bib_last="2")
    assert cut.status_code == 422 and 'id="bib_last-error"' in cut.get_data(as_text=True)
    assert _post(organiser, url, bib_first="1", bib_last="3").status_code == 302
    stored = _event(event.slug)
    assert stored.bib_last == 3 and stored.remaining == 0


def test_the_first_bib_moves_while_none_is_handed_out(organiser, make_event):
    event = make_event(quota=5)
    url = f"/staff/events/{event.slug}/edit"
    assert _post(organiser, url, bib_first="100", bib_last="500").status_code == 302
    stored = _event(event.slug)
    assert (stored.bib_first, stored.bib_next, stored.bib_last) == (100, 100, 500)


def test_open_and_close_registration(organiser, make_event):
    event = make_event()
    page = organiser.get("/staff/events").get_data(as_text=True)
    token = csrf_from(page)
    closed = organiser.post(
        f"/staff/events/{event.slug}/registration/close", data={"csrf_token": token}
    )
    assert closed.status_code == 302
    assert _event(event.slug).registration_open is False
    public = organiser.get(f"/events/{event.slug}").get_data(as_text=True)
    assert "ditutup" in public.lower() or "closed" in public.lower()
    organiser.post(f"/staff/events/{event.slug}/registration/open", data={"csrf_token": token})
    assert _event(event.slug).registration_open is True
    # Without the CSRF token nothing changes; an unknown action is a 404.
    assert organiser.post(f"/staff/events/{event.slug}/registration/close").status_code == 400
    assert _event(event.slug).registration_open is True
    assert (
        organiser.post(
            f"/staff/events/{event.slug}/registration/maybe", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_volunteers_cannot_manage_events(app, make_event, make_staff):
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,), password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    for url in ("/staff/events", "/staff/events/new", f"/staff/events/{event.slug}/edit"):
        assert client.get(url).status_code == 403, url
    token = csrf_from(client.get("/staff").get_data(as_text=True))
    response = client.post(
        f"/staff/events/{event.slug}/registration/close", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert _event(event.slug).registration_open is True
    assert client.get("/staff/events/nowhere/edit").status_code == 403
