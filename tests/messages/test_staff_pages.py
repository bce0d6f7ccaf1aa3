"""Staff message pages: the delivery list, retry, the outbox reader, template previews and
broadcasts (preview, count, one send per form, progress), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from funrun.audit.models import AuditEntry
from funrun.extensions import db
from funrun.jobs.worker import Worker
from funrun.messages.models import Broadcast, Message, MessageKind, MessageStatus
from funrun.registration.models import Registration
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    add_runners,
    browser,
    login,
    make_staff,
)
from tests.conftest import csrf_from


def signed_in(app: Flask, make_staff, role: str = "organiser", events: tuple[str, ...] = ()):  # noqa: F811
    staff = make_staff(role, events=events, password=PASSWORD)
    page = browser(app)
    assert login(page, staff.email).status_code == 302
    page.staff = staff
    return page


def drain(app: Flask) -> None:
    db.session.rollback()  # an open read would keep SQLite's older snapshot
    Worker(app).run(burst=True)
    db.session.rollback()


def all_messages(**where: object) -> list[Message]:
    db.session.rollback()
    return list(db.session.scalars(select(Message).filter_by(**where).order_by(Message.id)))


def audits(action: str) -> list[AuditEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
def world(app, make_event, add_runners):  # noqa: F811
    """Two events; Solo with three confirmed runners (two with e-mail) and one waitlisted."""
    solo = make_event(city="Solo", name="Fun Run Solo", quota=3)
    medan = make_event(city="Medan", name="Fun Run Medan", quota=5)
    add_runners(solo, 2, email="runner@example.com")
    add_runners(solo, 1)
    add_runners(solo, 1, email="late@example.com")  # waitlisted: the event is full
    add_runners(medan, 1, email="medan@example.com")
    return solo, medan


def test_who_may_open_the_pages(app, make_staff, world):  # noqa: F811
    solo, _medan = world
    anonymous = browser(app)
    for url in (
        "/staff/messages",
        "/staff/messages/preview",
        f"/staff/events/{solo.slug}/broadcast",
    ):
        answer = anonymous.get(url)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    volunteer = signed_in(app, make_staff, "volunteer", events=(solo.slug,))
    message_id = all_messages()[0].id
    for url in (
        "/staff/messages",
        f"/staff/messages/{message_id}",
        "/staff/messages/preview",
        f"/staff/events/{solo.slug}/broadcast",
    ):
        assert volunteer.get(url).status_code == 403, url
    organiser = signed_in(app, make_staff)
    assert organiser.get("/staff/messages").status_code == 200
    assert "/staff/messages" in organiser.get("/staff").get_data(as_text=True)


def test_list_filters_counts_and_masks(app, make_staff, world):  # noqa: F811
    solo, medan = world
    page = signed_in(app, make_staff, "admin")
    drain(app)  # the outbox: every e-mail is held
    html = page.get("/staff/messages").get_data(as_text=True)
    assert "kept in outbox" in html.lower() or "disimpan" in html.lower()
    assert "r***@example.com" in html and "runner@example.com" not in html
    only_medan = page.get(f"/staff/messages?event={medan.id}").get_data(as_text=True)
    assert "m***@example.com" in only_medan and "r***@example.com" not in only_medan
    waitlisted = page.get(f"/staff/messages?kind=waitlisted&event={solo.id}").get_data(as_text=True)
    assert "l***@example.com" in waitlisted and "r***@example.com" not in waitlisted
    none_failed = page.get("/staff/messages?status=failed").get_data(as_text=True)
    assert "@example.com" not in none_failed
    for bad in ("event=x", "status=lost", "kind=spam", "page=0", "page=99999999999"):
        assert page.get(f"/staff/messages?{bad}").status_code == 400, bad


def test_retry_failed_messages_audited(app, make_staff, world):  # noqa: F811
    solo, _medan = world
    page = signed_in(app, make_staff)
    first, second, *_rest = all_messages(event_id=solo.id)
    db.session.execute(
        update(Message)
        .where(Message.id.in_([first.id, second.id]))
        .values(status="failed", attempts=8, error="550 mailbox unavailable")
    )
    db.session.execute(
        update(Message).where(Message.id == _rest[0].id).values(status="bounced", error="gone")
    )
    db.session.commit()
    html = page.get(f"/staff/messages?event={solo.id}").get_data(as_text=True)
    assert html.count("550 mailbox unavailable") == 2 and "gone" in html
    assert html.count(f"/staff/messages/{first.id}/retry") == 1
    assert f"/staff/messages/{_rest[0].id}/retry" not in html  # bounced: no retry
    token = csrf_from(html)
    answer = page.post(f"/staff/messages/{first.id}/retry", data={"csrf_token": token})
    assert answer.status_code == 302
    [again] = all_messages(id=first.id)
    assert (again.status, again.attempts, again.error) == ("queued", 0, None)
    assert page.post(f"/staff/messages/{first.id}/retry", data={}).status_code == 400  # CSRF
    bounced = page.post(f"/staff/messages/{_rest[0].id}/retry", data={"csrf_token": token})
    assert bounced.status_code == 302
    assert all_messages(id=_rest[0].id)[0].status == "bounced"
    answer = page.post(f"/staff/events/{solo.slug}/messages/retry", data={"csrf_token": token})
    assert answer.status_code == 302
    assert all_messages(id=second.id)[0].status == "queued"
    assert len(audits("message_retry")) == 2


def test_outbox_reader_shows_held_text_and_hides_links_otherwise(app, make_staff, world):  # noqa: F811
    solo, _medan = world
    page = signed_in(app, make_staff)
    [queued, *_] = all_messages(event_id=solo.id, kind="confirmed")
    html = page.get(f"/staff/messages/{queued.id}").get_data(as_text=True)
    assert "srcdoc=" in html and 'sandbox=""' in html
    assert "/r/…" in html and not re.search(r"/r/[A-Za-z0-9_-]{10,}", html)
    drain(app)
    assert all_messages(id=queued.id)[0].status == "held"
    html = page.get(f"/staff/messages/{queued.id}").get_data(as_text=True)
    assert re.search(r"/r/[A-Za-z0-9_-]{10,}", html)  # the outbox: the whole link
    assert "Budi Santoso" in html or "Siti Rahmawati" in html
    assert "bib-TST-" in html  # the attachment named
    app.config["ENV_NAME"] = "production"
    try:
        html = page.get(f"/staff/messages/{queued.id}").get_data(as_text=True)
    finally:
        app.config["ENV_NAME"] = "testing"
    assert not re.search(r"/r/[A-Za-z0-9_-]{10,}", html)
    assert page.get("/staff/messages/999999").status_code == 404


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_kind_previews_in_both_languages(app, make_staff, world, lang):  # noqa: F811
    solo, _medan = world
    page = signed_in(app, make_staff)
    for kind in MessageKind:
        answer = page.get(f"/staff/messages/preview?kind={kind.value}&lang={lang}")
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200, kind
        assert "Siti Rahayu" in html and f"funrun_{kind.value}" in html
        assert "unsafe" not in answer.headers["Content-Security-Policy"]
        assert "style=&#34;" not in html and "email-frame.css" in html
    with_event = page.get(f"/staff/messages/preview?kind=reminder&lang={lang}&event={solo.slug}")
    assert "Fun Run Solo" in with_event.get_data(as_text=True)
    assert page.get("/staff/messages/preview?kind=nope").status_code == 400
    assert page.get("/staff/messages/preview?event=nowhere").status_code == 404
    assert page.get("/staff/messages/preview?event=a%00b").status_code in (400, 404)


def _form(html: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf_from(html), **fields}


TEXT = {
    "subject_id": "Lokasi start pindah",
    "body_id": "Start di gerbang selatan.\n\nSampai jumpa!",
}


def test_bad_broadcasts_are_refused_and_write_nothing(app, make_staff, world):  # noqa: F811
    solo, _medan = world
    page = signed_in(app, make_staff)
    url = f"/staff/events/{solo.slug}/broadcast"
    html = page.get(url).get_data(as_text=True)
    before = len(all_messages())
    for fields in (
        {"subject_id": "   ", "body_id": "x"},
        {"subject_id": "x" * 151, "body_id": "x"},
        {"subject_id": "x", "body_id": "y" * 2001},
        {**TEXT, "subject_en": "Start moved", "body_en": " "},
    ):
        answer = page.post(url, data=_form(html, action="send", **fields))
        assert answer.status_code == 422, fields
        assert 'class="errors"' in answer.get_data(as_text=True)
    control = page.post(url, data=_form(html, action="send", subject_id="a\x07b", body_id="x"))
    assert control.status_code == 400  # control characters: refused for every form
    assert page.post(url, data={**TEXT, "action": "send"}).status_code == 400  # no CSRF
    no_token = page.post(url, data=_form(html, action="send", **TEXT))
    assert no_token.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Broadcast)) == 0
    assert len(all_messages()) == before


def test_broadcast_preview_send_once_and_progress(app, make_staff, world):  # noqa: F811
    solo, _medan = world
    page = signed_in(app, make_staff)
    url = f"/staff/events/{solo.slug}/broadcast"
    html = page.get(url).get_data(as_text=True)
    assert "2" in html  # two confirmed runners gave an e-mail
    preview = page.post(url, data=_form(html, action="preview", **TEXT))
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Lokasi start pindah" in shown and "Siti Rahayu" in shown
    assert re.search(r"(Send to|Kirim ke) 2", shown)
    token = re.search(r'name="form_token" value="([^"]+)"', shown).group(1)
    send = {**_form(shown, action="send", form_token=token), **TEXT}
    answer = page.post(url, data=send)
    assert answer.status_code == 302
    db.session.rollback()
    [broadcast] = db.session.scalars(select(Broadcast)).all()
    assert answer.headers["Location"].endswith(f"/staff/broadcasts/{broadcast.id}")
    sent = all_messages(broadcast_id=broadcast.id)
    confirmed_with_email = db.session.scalar(
        select(func.count()).where(
            Registration.event_id == solo.id,
            Registration.status == "confirmed",
            Registration.email.is_not(None),
        )
    )
    assert len(sent) == confirmed_with_email == broadcast.queued == 2
    assert {m.channel for m in sent} == {"email"}
    replay = page.post(url, data=send)
    assert replay.status_code == 302 and replay.headers["Location"] == answer.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Broadcast)) == 1
    [entry] = audits("broadcast")
    assert entry.event_id == solo.id and "Lokasi start pindah" in (entry.detail or "")
    progress = page.get(f"/staff/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in progress
    drain(app)
    assert {m.status for m in all_messages(broadcast_id=broadcast.id)} == {MessageStatus.HELD}
    done = page.get(f"/staff/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in done
    assert re.search(r"(Finished|Selesai)\S*:? 2", done)
    listed = page.get(url).get_data(as_text=True)
    assert f"/staff/broadcasts/{broadcast.id}" in listed


def test_broadcast_goes_by_whatsapp_too_when_configured(app, make_staff, world, monkeypatch):  # noqa: F811
    solo, _medan = world
    monkeypatch.setitem(app.config, "FUNRUN_WHATSAPP_URL", "http://127.0.0.1:9/v19.0/123")
    monkeypatch.setitem(app.config, "FUNRUN_WHATSAPP_TOKEN", "t")
    page = signed_in(app, make_staff)
    url = f"/staff/events/{solo.slug}/broadcast"
    preview = page.post(
        url, data=_form(page.get(url).get_data(as_text=True), action="preview", **TEXT)
    )
    shown = preview.get_data(as_text=True)
    assert "WhatsApp: 3" in shown
    token = re.search(r'name="form_token" value="([^"]+)"', shown).group(1)
    assert (
        page.post(url, data={**_form(shown, action="send", form_token=token), **TEXT}).status_code
        == 302
    )
    db.session.rollback()
    [broadcast] = db.session.scalars(select(Broadcast)).all()
    sent = all_messages(broadcast_id=broadcast.id)
    assert sorted(m.channel for m in sent) == ["email", "email", "whatsapp", "whatsapp", "whatsapp"]
