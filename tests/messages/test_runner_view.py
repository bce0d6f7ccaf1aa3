"""The runner's side of messages: their manage page lists what was sent to them (both
languages, the address masked) and has the race-week reminder switch (CSRF, no
JavaScript, not for a cancelled registration); a reminder turned off is not sent."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, refresh
from sqlalchemy import select, update

from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.i18n import format_clock, format_event_date
from funrun.jobs.worker import Worker
from funrun.messages.history import PAGE_LIMIT, channel_name, for_registration, state_name
from funrun.messages.models import Message, MessageKind, MessageStatus
from funrun.messages.reminders import queue_due
from funrun.registration.models import Registration
from tests.conftest import csrf_from
from tests.registration.test_pages import registered, row, t

ALWAYS_SENT = (
    "Messages about your registration itself (your place, changes, a cancellation, "
    "organiser news) are always sent: they cannot be turned off."
)
SWITCH = re.compile(r'<form[^>]*action="/r/[^"]+/reminders"')


def drain(app: Flask) -> None:
    """Send everything due, as ``flask worker --burst`` does (the outbox: no SMTP)."""
    db.session.rollback()  # an open read would keep SQLite's older snapshot
    Worker(app).run(burst=True)
    db.session.rollback()


def messages_of(registration_id: int, kind: str | None = None) -> list[Message]:
    db.session.rollback()
    query = select(Message).where(Message.registration_id == registration_id)
    if kind:
        query = query.where(Message.kind == kind)
    return list(db.session.scalars(query.order_by(Message.id)))


def soon_event(make_event: Any, **kw: Any) -> Any:
    """An event two days away whose reminder goes three days before: due now."""
    return make_event(date=utcnow().date() + timedelta(days=2), reminder_days_before=3, **kw)


def switch(client: FlaskClient, token: str, value: str, *, csrf: bool = True) -> Any:
    data = {"reminders": value}
    if csrf:  # the session's token, from a page that always has a form
        data["csrf_token"] = csrf_from(client.get("/r/recover").get_data(as_text=True))
    return client.post(f"/r/{token}/reminders", data=data)


# --- the history query ----------------------------------------------------------------------


def _add(registration: Registration, kind: str, status: str, minutes_ago: int, **kw: Any) -> None:
    at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.add(
        Message(
            key=f"{kind}:{registration.id}:email:{minutes_ago}",
            registration_id=registration.id,
            event_id=registration.event_id,
            kind=kind,
            channel=kw.pop("channel", "email"),
            status=status,
            created_at=at,
            **kw,
        )
    )


def test_for_registration_is_this_runners_messages_newest_first(app, client, make_event):
    event = make_event()
    mine = row(registered(client, event, 1, email="siti@example.com"))
    other = row(registered(client, event, 2, email="budi@example.com"))
    db.session.execute(update(Message).values(created_at=utcnow() - timedelta(days=1)))
    _add(mine, "details_changed", "sent", 5, sent_to="s***@example.com", sent_at=utcnow())
    _add(mine, "reminder", "skipped", 1)
    _add(mine, "broadcast", "bounced", 3, channel="whatsapp", sent_to="+62812****0001")
    _add(other, "cancelled", "queued", 0)
    db.session.commit()
    found = for_registration(mine.id)
    assert [m.kind for m in found] == ["reminder", "broadcast", "details_changed", "confirmed"]
    assert found[1].sent_to == "+62812****0001" and found[1].channel == "whatsapp"
    assert found[2].at == found[2].sent_at and found[0].at == found[0].created_at
    assert found[0].as_json()["sent_at"] is None
    for n in range(PAGE_LIMIT + 5):
        _add(mine, "broadcast", "sent", 100 + n)
    db.session.commit()
    assert len(for_registration(mine.id)) == PAGE_LIMIT
    assert len(for_registration(mine.id, limit=None)) == PAGE_LIMIT + 9
    assert for_registration(999_999) == []


def test_states_and_channels_in_words_in_both_languages(app):
    with app.test_request_context("/"):
        with force_locale("en"):
            assert [state_name(s) for s in ("queued", "sending", "held", "bounced")] == [
                "on its way",
                "on its way",
                "kept in the outbox (test server)",
                "not delivered: address refused",
            ]
            assert channel_name("email") == "e-mail"
        with force_locale("id"):
            assert state_name("bounced") == "tidak terkirim: alamat ditolak"
            assert state_name("sent") == "terkirim"
            assert channel_name("whatsapp") == "WhatsApp"


# --- the manage page ------------------------------------------------------------------------


def test_the_page_lists_what_was_sent_in_both_languages_with_the_address_masked(
    app, client, make_event
):
    event = make_event(timezone="Asia/Jayapura")
    token = registered(client, event, 1, email="siti.rahayu@example.com")
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert t(app, "Messages sent to you") in html
    assert t(app, "on its way") in html  # queued: the worker has not run yet
    drain(app)
    [sent] = messages_of(row(token).id)
    assert (sent.status, sent.sent_to) == (MessageStatus.HELD, "s***@example.com")
    with app.test_request_context("/"), force_locale("id"):
        local = sent.sent_at.astimezone(ZoneInfo("Asia/Jayapura"))
        when_id = f"{format_event_date(local.date())}, {format_clock(local.time())}"
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert "siti.rahayu@example.com" not in html.split(t(app, "Messages sent to you"))[1]
    for text in ("Messages sent to you", "Place confirmed", "kept in the outbox (test server)"):
        assert t(app, text) in html, text
    assert "s***@example.com" in html and "e-mail" in html and when_id in html
    refresh()  # the test's app context keeps the first request's language otherwise
    english = client.get(f"/r/{token}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    for text in ("Messages sent to you", "Place confirmed", "kept in the outbox (test server)"):
        assert text in english, text
    assert "s***@example.com" in english
    assert t(app, "Race-week reminders: on", "en") in english


def test_a_runner_with_nothing_sent_is_told_so(app, client, make_event, monkeypatch):
    monkeypatch.setitem(app.config, "FUNRUN_MESSAGES", "off")
    token = registered(client, make_event(), 1)
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert t(app, "Nothing has been sent to you yet.") in html
    assert SWITCH.search(html)


# --- the reminder switch --------------------------------------------------------------------


def test_reminders_off_then_on_with_a_notice(app, client, make_event):
    token = registered(client, make_event(), 1)
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert SWITCH.search(html) and t(app, "Race-week reminders: on") in html
    assert t(app, ALWAYS_SENT) in html
    # What the page's own form sends: the value that flips the switch.
    assert re.search(r'<input[^>]*name="reminders"[^>]*type="hidden"[^>]*value="off"', html)
    response = switch(client, token, "off")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/r/{token}")
    assert row(token).reminders_off is True
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert t(app, "Race-week reminders are off.") in page
    assert t(app, "Race-week reminders: off") in page and t(app, "Turn reminders on") in page
    assert switch(client, token, "on").status_code == 303
    assert row(token).reminders_off is False
    assert t(app, "Race-week reminders are on.") in client.get(f"/r/{token}").get_data(as_text=True)


def test_the_switch_is_its_own_form_apart_from_the_contact_form(app, client, make_event):
    token = registered(client, make_event(), 1, email="siti@example.com")
    before = row(token)
    phone, updated = before.phone, before.updated_at
    assert switch(client, token, "off").status_code == 303
    after = row(token)
    assert after.reminders_off and after.phone == phone and after.email == "siti@example.com"
    assert after.updated_at >= updated
    assert [m.kind for m in messages_of(after.id)] == ["confirmed"]  # no "details changed"
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert html.count('id="csrf_token"') == 1  # one id per page, two forms


def test_a_reminder_turned_off_is_skipped_and_transactional_messages_still_go(
    app, client, make_event
):
    event = soon_event(make_event)
    off = registered(client, event, 1, email="siti@example.com")
    on = registered(client, event, 2, email="budi@example.com")
    db.session.rollback()
    queue_due()  # both still want reminders
    assert len(messages_of(row(off).id, MessageKind.REMINDER)) == 1
    assert len(messages_of(row(on).id, MessageKind.REMINDER)) == 1
    assert switch(client, off, "off").status_code == 303
    drain(app)
    [reminder] = messages_of(row(off).id, MessageKind.REMINDER)
    assert reminder.status == MessageStatus.SKIPPED
    [confirmed] = messages_of(row(off).id, MessageKind.CONFIRMED)
    assert confirmed.status == MessageStatus.HELD  # transactional: sent whatever the switch
    [theirs] = messages_of(row(on).id, MessageKind.REMINDER)
    assert theirs.status == MessageStatus.HELD
    html = client.get(f"/r/{off}").get_data(as_text=True)
    assert t(app, "Race-week reminder") in html and t(app, "skipped") in html


def test_a_runner_who_turned_reminders_off_first_gets_none_queued(app, client, make_event):
    event = soon_event(make_event)
    token = registered(client, event, 1, email="siti@example.com")
    assert switch(client, token, "off").status_code == 303
    db.session.rollback()
    queue_due()
    assert messages_of(row(token).id, MessageKind.REMINDER) == []
    drain(app)
    assert messages_of(row(token).id, MessageKind.REMINDER) == []


def test_the_switch_needs_the_csrf_token_and_a_known_value(app, client, make_event):
    token = registered(client, make_event(), 1)
    assert switch(client, token, "off", csrf=False).status_code == 400
    assert switch(client, token, "maybe").status_code == 400
    assert switch(client, token, "").status_code == 400
    assert row(token).reminders_off is False
    unknown = client.post("/r/" + "A" * 32 + "/reminders", data={"reminders": "off"})
    assert unknown.status_code in (400, 404)  # no token: CSRF first; never a 500


def test_a_cancelled_registration_shows_no_switch(app, client, make_event):
    token = registered(client, make_event(), 1)
    html = client.get(f"/r/{token}/cancel").get_data(as_text=True)
    client.post(f"/r/{token}/cancel", data={"csrf_token": csrf_from(html)})
    assert row(token).status == "cancelled"
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert not SWITCH.search(page) and t(app, "Race-week reminders: on") not in page
    assert t(app, "Messages sent to you") in page  # the history stays
    response = switch(client, token, "off")
    assert response.status_code == 303
    assert row(token).reminders_off is False
    refused = client.get(f"/r/{token}").get_data(as_text=True)
    assert t(app, "This registration was already cancelled.") in refused
