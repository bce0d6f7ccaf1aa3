"""Runners' e-mail, end to end: a registration (or a cancel, a promotion, an enrolment)
queues its message in the same transaction; the worker sends it to a real SMTP server on
loopback (aiosmtpd), where it is read back: headers, text, HTML, the bib PDF (read with
pdftotext). Faults: the server down, a refused address, a worker that dies mid-send."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.jobs.worker import Worker
from funrun.messages import sending
from funrun.messages.models import Message, MessageKind, MessageStatus
from funrun.registration.models import Registration
from tests.conftest import person_payload
from tests.messages.smtp_server import SmtpServer, smtp_server  # noqa: F401


@pytest.fixture
def mail_to(
    app: Flask,
    smtp_server: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SmtpServer]:
    """The app sends e-mail to the loopback server for the length of a test."""
    monkeypatch.setitem(app.config, "FUNRUN_SMTP_URL", smtp_server.url)
    yield smtp_server


def register(client: FlaskClient, event: Event, index: int, **overrides: object) -> dict:
    body = person_payload(index, email=f"runner{index}@example.com", **overrides)
    answer = client.post(f"/api/v1/events/{event.slug}/registrations", json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["registration"]


def messages(**where: object) -> list[Message]:
    query = select(Message).filter_by(**where).order_by(Message.id)
    return list(db.session.scalars(query))


def drain(app: Flask) -> int:
    """Send everything due, as ``flask worker --burst`` does."""
    db.session.rollback()  # a test's open read would keep SQLite's older snapshot
    worker = Worker(app)
    worker.run(burst=True)
    db.session.rollback()
    return worker.messages


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "bib.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True)
    return done.stdout.decode()


def test_a_confirmation_reaches_the_runner_with_bib_link_and_pdf(
    app: Flask,
    client: FlaskClient,
    make_event: Callable[..., Event],
    mail_to: SmtpServer,
    tmp_path: Path,
):
    event = make_event(name="Fun Run Solo", city="Solo", venue="Stadion Manahan")
    made = register(client, event, 1)
    [queued] = messages(registration_id=made["id"])
    assert (queued.kind, queued.channel, queued.status) == ("confirmed", "email", "queued")
    assert queued.key == f"confirmed:{made['id']}:email"

    assert drain(app) == 1
    [mail] = mail_to.inbox.to("runner1@example.com")
    assert mail["Subject"] == f"Tempat Anda di Fun Run Solo: nomor BIB {made['bib']}"
    assert mail["Content-Language"] == "id"
    assert mail["Message-ID"].startswith(f"<confirmed.{made['id']}.email@")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = f"/r/{made['manage_token']}"
    assert link in text and link in html
    assert "Stadion Manahan" in text and made["bib"] in html
    nik = person_payload(1)["nik"]
    assert nik not in text and nik not in html and nik not in mail.as_string()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"bib-{made['bib'].replace(' ', '-')}.pdf"
    printed = pdf_text(attachment.get_content(), tmp_path)
    assert made["bib"].split()[-1] in printed and "Siti Rahmawati" in printed
    # The link in the mail opens the runner's page.
    assert client.get(link).status_code == 200

    [sent] = messages(registration_id=made["id"])
    assert sent.status == MessageStatus.SENT and sent.attempts == 1
    assert sent.sent_to == "r***@example.com" and sent.provider_ref == mail["Message-ID"]
    assert drain(app) == 0  # nothing sent twice


def test_english_runners_read_english(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], mail_to: SmtpServer
):
    event = make_event(name="Fun Run Solo")
    made = client.post(
        f"/api/v1/events/{event.slug}/registrations",
        json=person_payload(2, email="runner2@example.com"),
        headers={"Accept-Language": "en"},
    ).get_json()["registration"]
    drain(app)
    [mail] = mail_to.inbox.to("runner2@example.com")
    assert mail["Subject"] == f"Your place at Fun Run Solo: bib {made['bib']}"
    assert "Your private link" in mail.get_body(("plain",)).get_content()


def test_a_refused_registration_queues_nothing(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event]
):
    event = make_event()
    register(client, event, 3)
    again = client.post(
        f"/api/v1/events/{event.slug}/registrations",
        json=person_payload(3, email="runner3@example.com"),
    )
    assert again.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_no_email_no_email_message_and_messages_off_queue_nothing(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event]
):
    event = make_event()
    made = client.post(f"/api/v1/events/{event.slug}/registrations", json=person_payload(4))
    assert made.status_code == 201
    assert messages() == []
    app.config["FUNRUN_MESSAGES"] = "off"
    try:
        register(client, event, 5)
    finally:
        app.config["FUNRUN_MESSAGES"] = "on"
    assert messages() == []
    # The terms cache of the statement (channels are part of its key) follows the switch.
    register(client, event, 6)
    assert len(messages()) == 1


def test_waitlist_cancel_and_promotion_each_tell_the_runner(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], mail_to: SmtpServer
):
    event = make_event(quota=1)
    first = register(client, event, 6)
    second = register(client, event, 7)
    assert second["status"] == "waitlisted"
    drain(app)
    [waiting] = mail_to.inbox.to("runner7@example.com")
    assert "daftar tunggu" in waiting["Subject"]
    assert "Urutan di daftar tunggu: 1" in waiting.get_body(("plain",)).get_content()

    cancelled = client.post(f"/api/v1/registrations/{first['manage_token']}/cancel")
    assert cancelled.status_code == 200
    drain(app)
    [_, cancel_mail] = mail_to.inbox.to("runner6@example.com")
    assert "dibatalkan" in cancel_mail["Subject"]
    [_, promoted] = mail_to.inbox.to("runner7@example.com")
    promoted_reg = db.session.get(Registration, second["id"])
    assert promoted_reg.bib in promoted.get_body(("plain",)).get_content()
    assert [a.get_content_type() for a in promoted.iter_attachments()] == ["application/pdf"]
    assert {m.kind for m in messages(status="sent")} == {
        "confirmed",
        "waitlisted",
        "cancelled",
        "promoted",
    }


def test_smtp_down_keeps_messages_waiting_then_sends_them(
    app: Flask,
    client: FlaskClient,
    make_event: Callable[..., Event],
    smtp_server: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
):
    event = make_event()
    # Nothing listens on the discard port.
    monkeypatch.setitem(app.config, "FUNRUN_SMTP_URL", "smtp://127.0.0.1:9?tls=none")
    made = [register(client, event, 10 + i) for i in range(3)]
    assert drain(app) == 3
    waiting = messages()
    assert {m.status for m in waiting} == {"queued"}
    assert all("unreachable" in (m.error or "") for m in waiting)
    assert all(m.next_attempt_at > utcnow() + timedelta(seconds=20) for m in waiting)
    assert drain(app) == 0  # not before its time
    monkeypatch.setitem(app.config, "FUNRUN_SMTP_URL", smtp_server.url)
    db.session.execute(update(Message).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert drain(app) == 3
    assert {m.status for m in messages()} == {"sent"}
    assert {m.attempts for m in messages()} == {2}
    assert len(smtp_server.inbox.messages) == len(made)


def test_a_refused_address_bounces_and_is_not_retried(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], mail_to: SmtpServer
):
    mail_to.inbox.refuse["runner20@example.com"] = "550 5.1.1 No such user"
    event = make_event()
    register(client, event, 20)
    register(client, event, 21)
    drain(app)
    bounced, sent = messages()
    assert bounced.status == MessageStatus.BOUNCED and "550" in bounced.error
    assert sent.status == MessageStatus.SENT
    db.session.execute(update(Message).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert drain(app) == 0


def test_a_worker_that_dies_mid_send_repeats_at_most_that_message(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], mail_to: SmtpServer
):
    """The first worker claims three and dies after the server took the first one (before
    recording it): when the lease runs out, another worker sends the three; the first is
    received twice with one Message-ID, the others once."""
    event = make_event()
    made = [register(client, event, 30 + i) for i in range(3)]
    claims = sending.claim("dying-worker")
    transport = sending.mail.from_config(app.config)
    with transport:
        message = db.session.get(Message, claims[0].id)
        from funrun.messages.facts import facts_for
        from funrun.messages.rendering import render

        rendered = render(message.key, facts_for(message), sending.Channel.EMAIL)
        transport.send(rendered)  # ... and the worker is killed here
    db.session.rollback()
    assert drain(app) == 0  # leases still held
    db.session.execute(update(Message).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert drain(app) == 3
    first = mail_to.inbox.to(f"runner{30}@example.com")
    assert len(first) == 2 and first[0]["Message-ID"] == first[1]["Message-ID"]
    assert [len(mail_to.inbox.to(f"runner{30 + i}@example.com")) for i in (1, 2)] == [1, 1]
    assert {(m.status, m.attempts) for m in messages()} == {("sent", 2)}
    assert len(made) == 3


def test_a_message_whose_workers_keep_dying_fails_for_good(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event]
):
    event = make_event()
    register(client, event, 40)
    db.session.execute(update(Message).values(attempts=8, max_attempts=8))
    db.session.commit()
    [claim] = sending.claim("w")
    assert claim.attempts == 9
    db.session.execute(update(Message).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    sending.send_due("w2", found=lambda config: {})
    [message] = messages()
    assert message.status == MessageStatus.FAILED
    assert "not configured" in message.error


def test_without_smtp_messages_stay_in_the_outbox(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event]
):
    event = make_event()
    register(client, event, 50)
    assert app.config.get("FUNRUN_SMTP_URL") is None
    drain(app)
    [held] = messages()
    assert held.status == MessageStatus.HELD and held.sent_to == "r***@example.com"


def test_enrolment_welcome_says_number_payment_months_and_due_date(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], mail_to: SmtpServer
):
    from funrun.accounts.services import create_api_token, create_user
    from funrun.bibs.services import payload_for
    from funrun.enrolment.schedule import load_file
    from tests.enrolment.conftest import enrol_body

    load_file()
    event = make_event()
    made = register(client, event, 60)
    drain(app)
    user = create_user("desk@example.org", "volunteer", event_slugs=(event.slug,))
    token = create_api_token(user)
    code = payload_for(db.session.get(Registration, made["id"]))
    answer = client.post(
        f"/api/v1/events/{event.slug}/enrolments",
        json=enrol_body(code=code),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.get_json()
    number = answer.get_json()["enrolment"]["participant_number"]
    drain(app)
    [_, welcome] = mail_to.inbox.to("runner60@example.com")
    text = welcome.get_body(("plain",)).get_content()
    assert number in text and "Rp" in text and "Iuran berikutnya jatuh tempo" in text
    assert messages(kind=MessageKind.ENROLMENT_WELCOME.value)[0].status == "sent"


def test_a_change_of_details_tells_the_runner_at_the_new_address(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], mail_to: SmtpServer
):
    from tests.conftest import csrf_from

    event = make_event()
    made = register(client, event, 70)
    drain(app)  # the confirmation went to the first address
    page = client.get(f"/r/{made['manage_token']}")
    form = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "phone": "081234567070",
        "email": "new-address@example.com",
        "shirt_size": "L",
        "occupation": "",
        "emergency_contact": "",
        "emergency_phone": "",
    }
    saved = client.post(f"/r/{made['manage_token']}", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    changed = messages(kind=MessageKind.DETAILS_CHANGED.value)
    assert len(changed) == 1 and changed[0].key.startswith(f"details_changed:{made['id']}:email:")
    drain(app)
    [mail] = mail_to.inbox.to("new-address@example.com")
    assert "telah diubah" in mail["Subject"]
    assert f"/r/{made['manage_token']}" in mail.get_body(("plain",)).get_content()


def test_a_recovered_link_arrives_only_where_it_was_asked_for(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], mail_to: SmtpServer
):
    event = make_event(name="Fun Run Solo")
    made = register(client, event, 80)
    drain(app)
    body = person_payload(80)
    asked = client.post(
        "/api/v1/registrations/recover", json={"nik": body["nik"], "contact": body["phone"]}
    )
    assert asked.status_code == 202
    drain(app)
    # Asked by phone: nothing by e-mail (no WhatsApp here), the old link is dead anyway.
    assert len(mail_to.inbox.to("runner80@example.com")) == 1
    assert client.get(f"/r/{made['manage_token']}").status_code == 404
    [skipped] = messages(kind=MessageKind.LINK_RECOVERED.value)
    assert skipped.status == MessageStatus.SKIPPED

    asked = client.post(
        "/api/v1/registrations/recover",
        json={"nik": body["nik"], "contact": "RUNNER80@example.com"},
    )
    assert asked.status_code == 202
    drain(app)
    [_, recovered] = mail_to.inbox.to("runner80@example.com")
    assert recovered["Subject"] == "Tautan pribadi baru Anda untuk Fun Run Solo"
    text = recovered.get_body(("plain",)).get_content()
    link = next(line for line in text.splitlines() if "/r/" in line).strip()
    assert client.get(link[link.index("/r/") :]).status_code == 200
