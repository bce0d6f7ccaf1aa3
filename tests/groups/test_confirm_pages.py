"""A group member's held place on their private link (issue 20): who registered them,
the event, the deadline, the privacy notice in force and the consent box; "Confirm my
place" (only with the box ticked) and "I don't want this place" (the normal cancel: the
waitlist's head is promoted and told). No bib and no check-in while held. Without
JavaScript, CSRF-protected, Bahasa Indonesia first (texts read from the catalogue).

Runs on the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from funrun.accounts.services import create_api_token, create_user
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import Message, MessageKind
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.services import current_privacy_notice
from tests.checkin.conftest import browser
from tests.conftest import csrf_from, person_payload
from tests.groups.held_rows import Held, make_held, make_import, make_partner


def t(app: Flask, message: str, locale: str = "id", **variables: Any) -> str:
    """``message`` as the page shows it in ``locale``, HTML-escaped."""
    with app.test_request_context("/"), force_locale(locale):
        return str(escape(gettext(message, **variables)))


@pytest.fixture
def group(app: Flask, make_event: Callable[..., Event]) -> dict[str, Any]:
    """An event of 2 places, a partner, its import and one member's held place."""
    event = make_event(quota=2, name="Fun Run Solo", city="Solo")
    partner = make_partner()
    batch = make_import(event, partner)
    held = make_held(event.id, batch.id, partner.id, 1)
    return {"event": event, "partner": partner, "import": batch, "held": held}


def row(held: Held) -> Registration:
    db.session.rollback()
    return db.session.get_one(Registration, held.id)


def kinds(registration_id: int) -> list[str]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Message.kind)
            .where(Message.registration_id == registration_id)
            .order_by(Message.id)
        )
    )


def confirmed_count(event_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(Event.confirmed_count).where(Event.id == event_id))


def post_hold(client: FlaskClient, held: Held, **data: str) -> Any:
    page = client.get("/login").get_data(as_text=True)  # the session's token, any form
    data.setdefault("csrf_token", csrf_from(page))
    return client.post(f"/r/{held.token}/confirm", data=data)


def notice_field(client: FlaskClient, held: Held) -> str:
    import re

    page = client.get(f"/r/{held.token}").get_data(as_text=True)
    match = re.search(r'name="notice" type="hidden" value="(\d+)"', page) or re.search(
        r'id="notice" name="notice" type="hidden" value="(\d+)"', page
    )
    assert match, "no notice field"
    return match.group(1)


def test_the_held_page_says_who_what_until_when_and_asks_consent(app, group):
    client = browser(app)
    held: Held = group["held"]
    response = client.get(f"/r/{held.token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    notice = current_privacy_notice("id")
    assert "Koperasi Ojek Sejahtera" in html and "Fun Run Solo" in html and "Solo" in html
    assert t(app, "Confirm my place") in html and t(app, "I don't want this place") in html
    assert str(escape(notice.consent_label)) in html
    assert str(escape(notice.body.split("\n\n")[0])) in html
    assert f'value="{notice.id}"' in html  # the notice shown is the notice consented to
    assert 'name="consent"' in html and 'name="csrf_token"' in html
    assert "<script" not in html  # works without JavaScript
    bib = row(held).bib
    assert bib and bib in html
    deadline = row(held).hold_expires_at
    assert str(deadline.astimezone().year) in html
    # Held: no bib download, no QR, no contact form, no NIK in full.
    assert "bib.pdf" not in html and "qr.svg" not in html and 'name="phone"' not in html
    assert held.nik not in html and held.nik[:4] in html


def test_confirming_without_the_box_changes_nothing(app, group):
    client = browser(app)
    held: Held = group["held"]
    response = post_hold(client, held, action="confirm", notice=notice_field(client, held))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="consent-error"' in html
    assert (
        t(
            app,
            "Tick the box to say you have read the privacy notice and agree: without your consent "
            "your place cannot be confirmed.",
        )
        in html
    )
    current = row(held)
    assert current.status == RegistrationStatus.HELD
    assert current.consent_at is None and current.privacy_notice_id is None
    assert kinds(held.id) == []


def test_confirming_with_consent_confirms_once_and_a_replay_changes_nothing(app, group):
    client = browser(app)
    held: Held = group["held"]
    event: Event = group["event"]
    before = confirmed_count(event.id)
    notice = notice_field(client, held)
    assert client.get(f"/r/{held.token}/bib.pdf").status_code == 409
    form = {"action": "confirm", "notice": notice, "consent": "y"}
    page = client.get(f"/r/{held.token}").get_data(as_text=True)
    form["csrf_token"] = csrf_from(page)
    response = client.post(f"/r/{held.token}/confirm", data=form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/r/{held.token}")
    current = row(held)
    assert current.status == RegistrationStatus.CONFIRMED
    assert current.consent_at is not None and current.confirmed_at is not None
    assert current.privacy_notice_id == current_privacy_notice("id").id == int(notice)
    assert confirmed_count(event.id) == before  # a held place was already counted
    assert kinds(held.id) == [MessageKind.CONFIRMED]  # one e-mail: confirmed, with the bib
    consent_at = current.consent_at
    html = client.get(f"/r/{held.token}").get_data(as_text=True)
    assert t(app, "Your place is confirmed. Your bib is below.") in html
    assert "bib.pdf" in html and current.bib in html
    pdf = client.get(f"/r/{held.token}/bib.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"

    # The same form again (the answer was lost, a double tap): the confirmed page, no change.
    again = client.post(f"/r/{held.token}/confirm", data=form, follow_redirects=True)
    assert again.status_code == 200
    page = again.get_data(as_text=True)
    assert t(app, "Your place was already confirmed.") in page and current.bib in page
    assert row(held).consent_at == consent_at
    assert kinds(held.id) == [MessageKind.CONFIRMED]


def test_declining_gives_the_place_to_the_waitlist_head_who_is_told(app, client, group):
    event: Event = group["event"]
    partner, batch = group["partner"], group["import"]
    other = make_held(event.id, batch.id, partner.id, 2)  # the event is full now
    waiting = client.post(
        f"/api/v1/events/{event.slug}/registrations",
        json=person_payload(3, email="waiting@example.com"),
    )
    assert waiting.status_code == 201, waiting.get_json()
    assert waiting.get_json()["registration"]["status"] == "waitlisted"
    waiting_id = waiting.get_json()["registration"]["id"]
    page = browser(app)
    response = post_hold(page, other, action="decline")
    assert response.status_code == 303
    assert row(other).status == RegistrationStatus.CANCELLED
    assert row(other).cancelled_at is not None
    promoted = db.session.get_one(Registration, waiting_id)
    assert promoted.status == RegistrationStatus.CONFIRMED and promoted.bib_number is not None
    assert MessageKind.PROMOTED in kinds(waiting_id)
    assert kinds(other.id) == [MessageKind.CANCELLED]
    assert confirmed_count(event.id) == 2  # the place changed hands, quota kept
    html = page.get(f"/r/{other.token}").get_data(as_text=True)
    assert t(app, "You let the place go. It goes to the next runner on the waitlist.") in html
    # Confirming afterwards changes nothing.
    again = post_hold(page, other, action="confirm", consent="y", notice="1")
    assert again.status_code == 303 and row(other).status == RegistrationStatus.CANCELLED


def test_a_held_place_past_its_deadline_goes_back_instead_of_confirming(app, group):
    event: Event = group["event"]
    held = make_held(
        event.id,
        group["import"].id,
        group["partner"].id,
        4,
        expires_at=utcnow() - timedelta(minutes=1),
    )
    client = browser(app)
    html = client.get(f"/r/{held.token}").get_data(as_text=True)
    assert t(app, "The deadline has passed: this held place went back.") in html
    assert t(app, "Confirm my place") not in html
    notice = str(current_privacy_notice("id").id)
    response = post_hold(client, held, action="confirm", consent="y", notice=notice)
    assert response.status_code == 303
    current = row(held)
    assert current.status == RegistrationStatus.CANCELLED and current.consent_at is None
    assert kinds(held.id) == [MessageKind.HOLD_EXPIRED]
    assert confirmed_count(event.id) == 1  # the first member's place only
    page = client.get(f"/r/{held.token}").get_data(as_text=True)
    assert t(app, "Went back") in page


def test_a_forged_or_missing_csrf_token_or_notice_changes_nothing(app, group):
    client = browser(app)
    held: Held = group["held"]
    notice = notice_field(client, held)
    forged = client.post(
        f"/r/{held.token}/confirm",
        data={"action": "confirm", "consent": "y", "notice": notice, "csrf_token": "forged"},
    )
    assert forged.status_code == 400
    no_button = post_hold(client, held, consent="y", notice=notice)
    assert no_button.status_code == 400
    stale = post_hold(client, held, action="confirm", consent="y", notice="999999")
    assert stale.status_code == 409
    token = csrf_from(client.get("/login").get_data(as_text=True))
    edit = client.post(f"/r/{held.token}", data={"phone": "081299998888", "csrf_token": token})
    assert edit.status_code == 409
    current = row(held)
    assert current.status == RegistrationStatus.HELD and current.phone != "+6281299998888"
    assert kinds(held.id) == []


def test_a_held_place_has_no_bib_download_no_qr_and_no_check_in(app, group):
    held: Held = group["held"]
    event: Event = group["event"]
    client = browser(app)
    pdf = client.get(f"/r/{held.token}/bib.pdf")
    assert pdf.status_code == 409 and pdf.mimetype == "text/html"
    assert t(app, "Your place is not confirmed yet") in pdf.get_data(as_text=True)
    assert client.get(f"/r/{held.token}/qr.svg").status_code == 404
    api_pdf = client.get(f"/api/v1/registrations/{held.token}/bib.pdf")
    assert api_pdf.status_code == 409
    organiser = create_user("org@example.org", "organiser", password="organiser-pass-1")
    token = create_api_token(organiser)
    bib = row(held).bib
    for body in (
        {"code": bib, "method": "typed"},
        {"code": bib, "method": "typed", "id_checked": True},
    ):
        answer = client.post(
            f"/api/v1/events/{event.slug}/checkins",
            json={**body, "station": "pickup"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 409, answer.get_json()
        assert answer.get_json()["result"] == "not_confirmed"
    db.session.rollback()
    from funrun.checkin.models import CheckIn

    assert db.session.scalar(select(func.count(CheckIn.id))) == 0


def test_the_held_page_in_english(app, group):
    client = browser(app)
    held: Held = group["held"]
    client.get("/lang/en?next=/")
    html = client.get(f"/r/{held.token}").get_data(as_text=True)
    notice = current_privacy_notice("en")
    assert "Confirm my place" in html and "registered you for Fun Run Solo" in html
    assert str(escape(notice.consent_label)) in html and f'value="{notice.id}"' in html
