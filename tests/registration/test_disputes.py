"""A NIK squatted by someone else (issue 15, point 2): the 409 says nothing about the
registration holding it, and the desk, having seen the real person's KTP, voids that
registration (place back, waitlist moves, audited) and registers the real person."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from funrun.audit.models import AuditEntry
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus
from tests.checkin.conftest import PASSWORD, browser, login
from tests.conftest import csrf_from, person_payload
from tests.registration.test_pages import form_data

API = "/api/v1"
#: The real person (index 7) and what the squatter typed with the same NIK.
REAL = 7
SQUATTER = {"full_name": "Joko Pencuri", "phone": "081299998888", "email": "joko@example.org"}


def squat(client: FlaskClient, event: Event) -> dict[str, Any]:
    """Someone registers the real person's NIK (under another name and phone)."""
    response = client.post(
        f"{API}/events/{event.slug}/registrations", json=person_payload(REAL, **SQUATTER)
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["registration"]


def page_url(event: Event) -> str:
    return f"/staff/events/{event.slug}/disputes"


def desk(app, make_staff, event: Event, role: str = "volunteer"):
    """A signed-in browser of a volunteer assigned to ``event`` (or another role)."""
    staff = make_staff(role, events=(event.slug,) if role == "volunteer" else (), password=PASSWORD)
    client = browser(app)
    assert login(client, staff.email).status_code == 302
    return client, staff


def send(client: FlaskClient, event: Event, **overrides: str) -> Any:
    """The dispute form as a browser sends it, the CSRF token read from the page."""
    token = csrf_from(client.get(page_url(event)).get_data(as_text=True))
    body = {
        **form_data(REAL),
        "reason": "KTP shows this NIK belongs to Siti; the registration says Joko.",
        "id_seen": "y",
        "csrf_token": token,
        **overrides,
    }
    return client.post(page_url(event), data=body)


def fresh(registration_id: int) -> Registration:
    db.session.rollback()
    return db.session.get_one(Registration, registration_id)


def test_the_409_reveals_nothing_about_the_registration_holding_the_nik(client, make_event):
    event = make_event()
    held = squat(client, event)
    for response in (
        client.post(f"{API}/events/{event.slug}/registrations", json=person_payload(REAL)),
        client.post(
            f"/events/{event.slug}/register",
            data={
                **form_data(REAL),
                "csrf_token": csrf_from(
                    client.get(f"/events/{event.slug}/register").get_data(as_text=True)
                ),
            },
        ),
    ):
        assert response.status_code == 409
        body = response.get_data(as_text=True)
        for secret in (
            SQUATTER["full_name"],
            SQUATTER["email"],
            "1299998888",
            held["bib"],
            held["manage_token"],
            "confirmed",
        ):
            assert secret not in body, secret
        assert "KTP" in body  # where to go instead


def test_the_desk_reviews_then_voids_and_registers_the_real_person(
    app,
    client,
    make_event,
    make_staff,
):
    event = make_event(quota=10)
    held = squat(client, event)
    web, volunteer = desk(app, make_staff, event)

    review = send(web, event)
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert SQUATTER["full_name"] in html and held["bib"] in html
    assert fresh(held["id"]).status == RegistrationStatus.CONFIRMED  # nothing changed yet
    reviewed = html.split('name="holder"')[1].split('value="')[1].split('"')[0]
    assert reviewed == str(held["id"])

    done = send(web, event, holder=reviewed, action="void")
    assert done.status_code == 201, done.get_data(as_text=True)
    voided = fresh(held["id"])
    assert voided.status == RegistrationStatus.CANCELLED
    assert voided.disputed_at is not None and voided.disputed_by_id == volunteer.id
    assert voided.dispute_reason.startswith("KTP shows this NIK")
    new = db.session.scalars(
        select(Registration).where(
            Registration.event_id == event.id,
            Registration.status != RegistrationStatus.CANCELLED,
        )
    ).one()
    assert new.full_name == person_payload(REAL)["full_name"]
    assert new.person_id == voided.person_id  # the same NIK, the same person
    assert new.status == RegistrationStatus.CONFIRMED and new.created_by_id == volunteer.id
    page = done.get_data(as_text=True)
    assert new.bib in page and "/r/" in page
    # The squatter's link still opens, and shows the place cancelled.
    mine = client.get(f"{API}/registrations/{held['manage_token']}").get_json()
    assert mine["registration"]["status"] == "cancelled"
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "registration_disputed")
    ).all()
    assert entry.user_id == volunteer.id and entry.event_id == event.id
    assert entry.target == f"registration #{held['id']}"
    assert person_payload(REAL)["nik"] not in f"{entry.target} {entry.detail}"
    # Now the real person's own NIK is theirs: registering again is the ordinary 409.
    again = client.post(f"{API}/events/{event.slug}/registrations", json=person_payload(REAL))
    assert again.status_code == 409


def test_a_voided_place_goes_back_and_the_waitlist_moves(
    app,
    client,
    make_event,
    make_staff,
):
    event = make_event(quota=2)
    held = squat(client, event)
    for index in (20, 21):  # one more confirmed, then the head of the waitlist
        response = client.post(
            f"{API}/events/{event.slug}/registrations", json=person_payload(index)
        )
        assert response.status_code == 201
    head = response.get_json()["registration"]
    assert head["status"] == "waitlisted"
    web, _ = desk(app, make_staff, event, role="organiser")
    reviewed = str(held["id"])
    assert send(web, event).status_code == 200
    done = send(web, event, holder=reviewed, action="void")
    assert done.status_code == 201
    assert fresh(head["id"]).status == RegistrationStatus.CONFIRMED  # moved up
    db.session.rollback()
    counts = db.session.get_one(Event, event.id)
    assert counts.confirmed_count == 2  # never more than the quota
    real = db.session.scalars(
        select(Registration).where(
            Registration.event_id == event.id, Registration.created_by_id.is_not(None)
        )
    ).one()
    assert real.status == RegistrationStatus.WAITLISTED


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"id_seen": ""}, 422),
        ({"reason": ""}, 422),
        ({"reason": "x" * 501}, 422),
        ({"birth_date": "1999-01-01"}, 422),  # the NIK says otherwise
        ({"nik": "12"}, 422),
        ({"consent": ""}, 422),
        ({"csrf_token": "forged"}, 400),
    ],
)
def test_bad_input_changes_nothing(
    app,
    client,
    make_event,
    make_staff,
    overrides,
    status,
):
    event = make_event()
    held = squat(client, event)
    web, _ = desk(app, make_staff, event)
    response = send(web, event, holder=str(held["id"]), action="void", **overrides)
    assert response.status_code == status
    assert fresh(held["id"]).status == RegistrationStatus.CONFIRMED
    assert fresh(held["id"]).disputed_at is None


def test_nothing_to_dispute_and_a_changed_holder_are_refused(
    app,
    client,
    make_event,
    make_staff,
):
    event = make_event()
    web, _ = desk(app, make_staff, event)
    response = send(web, event)
    assert response.status_code == 409
    assert "register the person as usual" in response.get_data(as_text=True) or (
        "daftarkan orang ini seperti biasa" in response.get_data(as_text=True)
    )
    held = squat(client, event)
    assert send(web, event).status_code == 200
    # The squatter cancels and registers again between the review and the void.
    client.post(f"{API}/registrations/{held['manage_token']}/cancel")
    again = squat(client, event)
    response = send(web, event, holder=str(held["id"]), action="void")
    assert response.status_code == 200  # reviewed afresh: the new holder is shown
    assert fresh(again["id"]).status == RegistrationStatus.CONFIRMED
    response = send(web, event, holder=str(again["id"]), action="void")
    assert response.status_code == 201
    assert fresh(again["id"]).disputed_at is not None


def test_only_the_events_desk_may_void(
    app,
    client,
    make_event,
    make_staff,
):
    event = make_event()
    other = make_event()
    held = squat(client, event)
    web, _ = desk(app, make_staff, other)  # a volunteer of another event
    assert web.get(page_url(event)).status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(page_url(event)).status_code == 302
    partner = make_staff("partner", password=PASSWORD)
    partner_web = browser(app)
    login(partner_web, partner.email)
    assert partner_web.get(page_url(event)).status_code in (302, 403)
    assert fresh(held["id"]).status == RegistrationStatus.CONFIRMED


def test_the_scan_page_leads_to_the_dispute_desk(app, client, make_event, make_staff):
    event = make_event()
    web, _ = desk(app, make_staff, event)
    page = web.get(f"/staff/events/{event.slug}/scan").get_data(as_text=True)
    assert f'href="{page_url(event)}"' in page
