"""Entering a ballot (form and API), the entrant's page, the public event page and the
results file, the events API, the organiser's draw button with the worker, the command,
and bad input on the new routes."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select, update

from funrun.ballot.order import draw_order
from funrun.events.models import Event
from funrun.extensions import db
from funrun.jobs.models import Job
from funrun.jobs.worker import Worker
from funrun.registration.models import Registration
from tests.ballot.conftest import API, close_entries, enter, enter_many
from tests.checkin.conftest import PASSWORD, browser, login
from tests.conftest import csrf_from
from tests.registration.test_pages import submit


def registration(registration_id: int) -> Registration:
    db.session.rollback()
    return db.session.get(Registration, registration_id)


def test_an_entry_through_the_form_is_numbered_and_shown_as_pending(client, make_ballot):
    event = make_ballot()
    form = client.get(f"/events/{event.slug}/register").get_data(as_text=True)
    assert 'id="ballot-note"' in form and "Ikut undian</button>" in form
    response = submit(client, event, 1)
    assert response.status_code == 302, response.get_data(as_text=True)
    token = re.fullmatch(r"/r/([A-Za-z0-9_\-]+)\?new=1", response.headers["Location"]).group(1)
    page = client.get(f"/r/{token}?new=1").get_data(as_text=True)
    assert "Pendaftaran undian Anda sudah masuk" in page
    assert '<p class="bib" id="entry-number">1</p>' in page
    assert "Tarik pendaftaran saya" in page
    assert "Nomor%20undian%3A%201" in page  # the note the entrant keeps says their number
    assert "Download bib" not in page and "qr.svg" not in page
    [entry] = db.session.scalars(select(Registration)).all()
    assert (entry.status, entry.entry_number, entry.bib_number) == ("entered", 1, None)
    # The same NIK again: refused, nothing added.
    again = submit(client, event, 1, phone="081299990001")
    assert again.status_code == 409
    assert "NIK ini sudah terdaftar untuk acara ini" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 1


def test_an_entry_through_the_api_and_one_entry_per_nik(client, make_ballot):
    event = make_ballot()
    first = enter(client, event, 7)
    assert first.status_code == 201
    assert first.get_json()["registration"]["status"] == "entered"
    assert first.get_json()["registration"]["bib"] is None
    # The entrant's number (what the published results list), not a waitlist place.
    assert first.get_json()["registration"]["entry_number"] == 1
    assert first.get_json()["registration"]["waitlist_position"] is None
    second = enter(client, event, 7, phone="081299990002")
    assert second.status_code == 409
    assert second.mimetype == "application/problem+json"
    third = enter(client, event, 8)
    assert third.status_code == 201 and third.get_json()["registration"]["entry_number"] == 2
    db.session.expire_all()
    assert db.session.get(Event, event.id).ballot_entries == 2


def test_withdrawing_an_entry_frees_no_place_and_keeps_its_number(client, make_ballot):
    event = make_ballot(quota=1)
    [body] = enter_many(client, event, 1)
    token = body["registration"]["manage_token"]
    page = client.get(f"/r/{token}/cancel").get_data(as_text=True)
    assert "dikeluarkan dari undian" in page
    response = client.post(f"/r/{token}/cancel", data={"csrf_token": csrf_from(page)})
    assert response.status_code in (200, 302, 303)
    entry = registration(body["registration"]["id"])
    assert (entry.status, entry.entry_number) == ("cancelled", 1)
    event = db.session.get(Event, event.id)
    assert (event.confirmed_count, event.bib_next, event.waitlist_seq) == (0, 1, 0)
    # A new entry gets the next number: numbers are never reused.
    assert enter(client, event, 2).status_code == 201
    assert db.session.scalar(select(func.max(Registration.entry_number))) == 2


def test_an_entry_cannot_be_checked_in(client, make_ballot, make_staff):
    event = make_ballot()
    [body] = enter_many(client, event, 1)
    volunteer = make_staff("volunteer", events=(event.slug,))
    scan = {"code": "1", "method": "typed", "id_checked": True}
    url = f"{API}/events/{event.slug}/checkins"
    # No bib: its entry number names nobody at the desk.
    answer = client.post(url, json=scan, headers=volunteer.headers)
    assert answer.get_json()["result"] == "unknown"
    # Even given a number, an entry is not confirmed: the desk refuses it.
    db.session.execute(
        update(Registration)
        .where(Registration.id == body["registration"]["id"])
        .values(bib_number=1)
    )
    db.session.commit()
    answer = client.post(url, json=scan, headers=volunteer.headers)
    assert answer.status_code == 409 and answer.get_json()["result"] == "not_confirmed"


def test_event_page_and_api_before_and_after_the_draw(client, make_ballot, make_event):
    event = make_ballot(quota=2)
    slug, sha = event.slug, event.ballot_seed_sha256
    enter_many(client, event, 4)
    page = client.get(f"/events/{slug}").get_data(as_text=True).replace("<wbr>", "")
    assert "Ikut undian" in page and sha in page
    assert 'id="ballot-seed"' not in page and "ballot.csv" not in page
    assert client.get(f"/events/{slug}/ballot.csv").status_code == 404
    api = client.get(f"{API}/events/{slug}").get_json()
    assert api["opening"] == "ballot"
    assert api["ballot"]["seed_sha256"] == sha and api["ballot"]["seed"] is None
    assert api["ballot"]["drawn_at"] is None and api["ballot"]["closes_at"]
    first_come = make_event()
    plain = client.get(f"{API}/events/{first_come.slug}").get_json()
    assert plain["opening"] == "first_come" and "ballot" not in plain

    close_entries(event)
    assert runner_draw(client.application, slug).exit_code == 0

    seed = db.session.get(Event, event.id).ballot_seed
    page = client.get(f"/events/{slug}").get_data(as_text=True).replace("<wbr>", "")
    assert f'id="ballot-seed">{seed}<' in page and sha in page
    assert f"/events/{slug}/ballot.csv" in page
    api = client.get(f"{API}/events/{slug}").get_json()
    assert api["ballot"]["seed"] == seed and api["ballot"]["drawn_at"]
    response = client.get(f"/events/{slug}/ballot.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["rank", "entry_number", "outcome"]
    assert [int(r[1]) for r in rows[1:]] == draw_order(seed, range(1, 5))
    assert [r[2] for r in rows[1:]] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    text = response.get_data(as_text=True)
    assert "Santoso" not in text and "Rahmawati" not in text and "3174" not in text


def runner_draw(app, slug: str):
    return app.test_cli_runner().invoke(args=["ballot", "draw", slug])


def test_the_command_draws_once_and_only_after_entries_close(client, make_ballot):
    event = make_ballot(quota=1)
    enter_many(client, event, 3)
    early = runner_draw(client.application, event.slug)
    assert early.exit_code != 0 and "masih dibuka" in early.output
    close_entries(event)
    done = runner_draw(client.application, event.slug)
    assert done.exit_code == 0, done.output
    assert "3 entries drawn" in done.output and "1 confirmed" in done.output
    again = runner_draw(client.application, event.slug)
    assert again.exit_code != 0 and "sudah dilakukan" in again.output
    assert runner_draw(client.application, "no-such-city").exit_code != 0


def test_the_organisers_button_queues_the_draw_and_the_worker_draws(
    app, client, make_ballot, make_staff
):
    event = make_ballot(quota=2)
    slug = event.slug
    enter_many(client, event, 5)
    organiser = make_staff("organiser", password=PASSWORD)
    staff = browser(app)
    login(staff, organiser.email)
    url = f"/staff/events/{slug}/ballot"

    listed = staff.get("/staff/events").get_data(as_text=True)
    assert f'href="{url}" class="ballot-link"' in listed  # the events page links it
    page = staff.get(url).get_data(as_text=True)
    assert 'id="draw-ballot"' not in page and "setelah pendaftaran undian ditutup" in page
    # Sent before entries close (a stale page, a made-up form): refused, said, no job.
    token = csrf_from(staff.get("/staff/events").get_data(as_text=True))
    response = staff.post(url, data={"csrf_token": token})
    assert response.status_code == 303
    assert "masih dibuka" in staff.get(url).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0

    close_entries(event)
    page = staff.get(url).get_data(as_text=True)
    assert 'id="draw-ballot"' in page
    response = staff.post(url, data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    waiting = staff.get(url).get_data(as_text=True)
    assert 'id="ballot-progress"' in waiting and 'http-equiv="refresh"' in waiting
    # A second press while it waits queues nothing more.
    staff.post(url, data={"csrf_token": csrf_from(page)})
    assert db.session.scalar(select(func.count()).select_from(Job)) == 1

    assert Worker(app).run(burst=True) == 1

    done = staff.get(url).get_data(as_text=True)
    assert 'id="ballot-outcome"' in done and "2 dapat tempat" in done
    assert 'http-equiv="refresh"' not in done and 'id="draw-ballot"' not in done
    db.session.rollback()  # a new read: the worker drew in its own session
    drawn = db.session.get(Event, event.id)
    assert drawn.ballot_drawn_at is not None and drawn.confirmed_count == 2
    # After the draw the button is gone; a forged press changes nothing.
    staff.post(url, data={"csrf_token": csrf_from(page)})
    assert "sudah dilakukan" in staff.get(url).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Job)) == 1


def test_bad_input_on_the_new_routes_is_a_4xx(app, client, make_ballot, make_staff):
    event = make_ballot()
    organiser = make_staff("organiser", password=PASSWORD)
    staff = browser(app)
    login(staff, organiser.email)
    close_entries(event)
    url = f"/staff/events/{event.slug}/ballot"
    assert staff.post(url, data={}).status_code == 400  # no CSRF token
    assert staff.post(url, data={"csrf_token": "forged"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0
    assert staff.get("/staff/events/no-such-city/ballot").status_code == 404
    assert staff.get(f"/staff/events/{'x' * 300}/ballot").status_code == 404
    assert client.get("/events/no-such-city/ballot.csv").status_code == 404
    assert client.get(f"/events/{'x' * 300}/ballot.csv").status_code == 404
    assert client.get(f"/events/{event.slug}/ballot.csv?rank=1'--").status_code == 404
    assert client.post(f"/events/{event.slug}/ballot.csv").status_code == 405
    volunteer = make_staff("volunteer", password=PASSWORD, events=(event.slug,))
    desk = browser(app)
    login(desk, volunteer.email)
    assert desk.get(url).status_code == 403


def test_an_entry_after_the_window_is_refused(client, make_ballot):
    event = make_ballot()
    close_entries(event)
    assert 'name="nik"' not in client.get(f"/events/{event.slug}/register").get_data(as_text=True)
    response = enter(client, event, 3)
    assert 400 <= response.status_code < 500
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 0
