"""Messages as data held about a runner, and the event's reminder settings.

The event form edits the reminder day and the race-pack pickup hours (checked, translated,
saved and audited like the other fields); my-data (page and API) and the desk's export
carry the registration's messages; the purge and a person's erasure keep the message rows
(for counts) but not where they went."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from funrun.audit.models import AuditEntry
from funrun.events.models import Event
from funrun.extensions import db
from funrun.jobs.worker import Worker
from funrun.messages.models import Message
from funrun.privacy.requests import delete_person, export_person
from funrun.privacy.services import purge_event
from funrun.registration.models import Registration
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    _fast_password_hashes,
    browser,
    login,
    make_staff,
)
from tests.conftest import csrf_from
from tests.registration.test_pages import registered, row, t

EVENT_FORM = {
    "city": "Solo",
    "name": "Fun Run Solo",
    "date": "2026-12-13",
    "start_time": "06:00",
    "timezone": "Asia/Jakarta",
    "venue": "Stadion Manahan",
    "quota": "10",
    "registration_open": "y",
    "registration_opens_at": "",
    "registration_closes_at": "",
    "bib_prefix": "SLO",
    "bib_first": "1",
    "bib_last": "9999",
    "bib_colour": "#0A7A3D",
    "shirt_sizes": "S, M, L",
    "min_age": "17",
    "max_age": "",
    "reminder_days_before": "5",
    "pickup_hours": "Sabtu 12 Des, 10.00-18.00, Lobby Mall X",
}


DAYS = "Enter a number of days from 1 to 30."
NOT_ALLOWED = "Contains characters that are not allowed."


def drain(app) -> None:
    db.session.rollback()
    Worker(app).run(burst=True)
    db.session.rollback()


def stored(slug: str) -> Event:
    db.session.rollback()
    return db.session.scalars(select(Event).where(Event.slug == slug)).one()


@pytest.fixture
def organiser(app, make_staff):  # noqa: F811
    staff = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    assert login(page, staff.email).status_code == 302
    return page


def edit(page, slug: str, **changes: str) -> Any:
    url = f"/staff/events/{slug}/edit"
    token = csrf_from(page.get(url).get_data(as_text=True))
    return page.post(url, data={**EVENT_FORM, **changes, "csrf_token": token})


# --- the event's reminder settings ----------------------------------------------------------


def test_the_organiser_sets_the_reminder_day_and_pickup_hours(app, organiser, make_event):
    event = make_event(city="Solo")
    form = organiser.get(f"/staff/events/{event.slug}/edit").get_data(as_text=True)
    assert 'name="reminder_days_before"' in form and 'name="pickup_hours"' in form
    assert t(app, "Reminder: days before race day") in form
    assert t(app, "Race-pack pickup hours and place") in form
    response = edit(organiser, event.slug)
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = stored(event.slug)
    assert saved.reminder_days_before == 5
    assert saved.pickup_hours == "Sabtu 12 Des, 10.00-18.00, Lobby Mall X"
    shown = organiser.get(f"/staff/events/{event.slug}/edit").get_data(as_text=True)
    assert "Lobby Mall X" in shown and 'value="5"' in shown
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "event_edit").order_by(AuditEntry.id)
    ).all()
    assert audit and "reminder 5" in audit[-1].detail
    # Empty: no reminder, no pickup text.
    assert edit(organiser, event.slug, reminder_days_before="", pickup_hours=" ").status_code == 302
    saved = stored(event.slug)
    assert (saved.reminder_days_before, saved.pickup_hours) == (None, None)


def test_a_new_event_gets_a_reminder_three_days_before_by_default(app, organiser):
    form = organiser.get("/staff/events/new").get_data(as_text=True)
    assert 'name="reminder_days_before"' in form and 'value="3"' in form


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reminder_days_before": "0"}, "reminder_days_before", DAYS),
        ({"reminder_days_before": "31"}, "reminder_days_before", DAYS),
        ({"reminder_days_before": "tiga"}, "reminder_days_before", "Enter a whole number."),
        ({"pickup_hours": "x" * 301}, "pickup_hours", "At most %(max)d characters."),
        ({"pickup_hours": "Lobby\u202eX"}, "pickup_hours", NOT_ALLOWED),
    ],
)  # fmt: skip
def test_bad_reminder_settings_are_refused_translated_and_nothing_saved(
    app, organiser, make_event, changes, field, message
):
    event = make_event(city="Solo", reminder_days_before=2, pickup_hours="Kantor Walikota")
    response = edit(organiser, event.slug, **changes)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    expected = t(app, message, max=300) if "%(max)d" in message else t(app, message)
    assert expected in html and expected != message  # shown in Indonesian
    saved = stored(event.slug)
    assert (saved.reminder_days_before, saved.pickup_hours, saved.venue) == (
        2,
        "Kantor Walikota",
        "Alun-alun",
    )


# --- my-data and the desk's export ----------------------------------------------------------


def test_my_data_lists_the_registrations_messages_on_the_page_and_the_api(app, client, make_event):
    event = make_event()
    token = registered(client, event, 1, email="siti@example.com")
    registered(client, event, 2, email="budi@example.com")  # someone else's messages
    drain(app)
    page = client.get(f"/r/{token}/my-data.json").get_json()
    api = client.get(f"/api/v1/registrations/{token}/my-data.json").get_json()
    assert set(page) == {"generated_at", "person", "registration"}
    [sent] = page["registration"]["messages"]
    assert sent["kind"] == "confirmed" and sent["channel"] == "email"
    assert sent["status"] == "held" and sent["sent_to"] == "s***@example.com"
    assert sent["created_at"] and sent["sent_at"]
    assert set(sent) == {"kind", "channel", "status", "sent_to", "created_at", "sent_at"}
    assert api["registration"]["messages"] == page["registration"]["messages"]
    assert "budi" not in json.dumps(page)


def test_the_my_data_schema_declares_the_messages(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    messages = schemas["MyDataRegistration"]["properties"]["messages"]
    assert messages["items"] == {"$ref": "#/components/schemas/MyDataMessage"}
    fields = set(schemas["MyDataMessage"]["properties"])
    assert fields == {"kind", "channel", "status", "sent_to", "created_at", "sent_at"}


def test_the_desks_export_carries_each_registrations_messages(app, client, make_event):
    token = registered(client, make_event(), 1, email="siti@example.com")
    drain(app)
    person = row(token).person
    document = json.loads(export_person(person, user_id=None))
    [entry] = document["registrations"]
    assert [m["sent_to"] for m in entry["messages"]] == ["s***@example.com"]


# --- the purge and a person's erasure -------------------------------------------------------


def _messages(registration_id: int) -> list[Message]:
    db.session.rollback()
    return list(
        db.session.scalars(select(Message).where(Message.registration_id == registration_id))
    )


def test_the_purge_keeps_the_message_rows_but_not_where_they_went(app, client, make_event):
    event, other = make_event(), make_event()
    token = registered(client, event, 1, email="siti@example.com")
    kept = registered(client, other, 2, email="budi@example.com")
    drain(app)
    purged_id, kept_id = row(token).id, row(kept).id
    db.session.execute(
        Message.__table__.update()
        .where(Message.registration_id == purged_id)
        .values(error="550 5.1.1 <siti@example.com>: Recipient address rejected")
    )
    db.session.commit()
    purge_event(event.id)
    [message] = _messages(purged_id)
    assert (message.sent_to, message.error) == (None, None)
    assert (message.kind, message.status) == ("confirmed", "held")  # counts stay
    assert [m.sent_to for m in _messages(kept_id)] == ["b***@example.com"]
    assert db.session.get_one(Registration, purged_id).purged_at is not None
    assert db.session.scalar(select(func.count()).select_from(Message)) == 2


def test_deleting_a_person_clears_their_messages_addresses(app, client, make_event):
    token = registered(client, make_event(), 1, email="siti@example.com")
    drain(app)
    registration = row(token)
    registration_id = registration.id
    delete_person(registration.person, user_id=None)
    rows = _messages(registration_id)
    assert {m.kind for m in rows} == {"confirmed", "cancelled"}
    assert all(m.sent_to is None for m in rows)
    document = json.loads(export_person(row(registration_id).person, user_id=None))
    assert all(m["sent_to"] is None for m in document["registrations"][0]["messages"])
