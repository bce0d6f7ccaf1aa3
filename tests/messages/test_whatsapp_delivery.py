"""WhatsApp end to end: with the Cloud API configured, a registration queues a WhatsApp
message beside the e-mail, and the worker sends it to a local server answering as Meta
documents: success, 429 with Retry-After (waits at least that long, then the same key
goes again), a rejected template (failed, not retried), a timeout (tried again later)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import Message, MessageStatus
from tests.conftest import person_payload
from tests.messages.provider_server import ProviderServer, Reply, meta_error, meta_ok
from tests.messages.test_email_delivery import drain, messages

PHONE_ID = "/v21.0/106540352242922"


@pytest.fixture
def meta(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ProviderServer]]:
    """Point the app's WhatsApp at a local provider giving ``replies``."""
    servers: list[ProviderServer] = []

    def start(*replies: Reply) -> ProviderServer:
        server = ProviderServer(*replies).__enter__()
        servers.append(server)
        monkeypatch.setitem(app.config, "FUNRUN_WHATSAPP_URL", server.url + PHONE_ID)
        monkeypatch.setitem(app.config, "FUNRUN_WHATSAPP_TOKEN", "EAAG-test-token")
        monkeypatch.setitem(app.config, "FUNRUN_MESSAGE_TIMEOUT", 0.5)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def register(client: FlaskClient, event: Event, index: int) -> dict:
    answer = client.post(f"/api/v1/events/{event.slug}/registrations", json=person_payload(index))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["registration"]


def again_now() -> None:
    db.session.execute(update(Message).values(next_attempt_at=utcnow()))
    db.session.commit()


def test_a_confirmation_goes_as_the_approved_template_with_bib_and_link(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], meta
):
    server = meta(meta_ok("wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA"))
    event = make_event(name="Fun Run Solo")
    made = register(client, event, 1)  # no e-mail given: WhatsApp only
    [queued] = messages()
    assert (queued.channel, queued.key) == ("whatsapp", f"confirmed:{made['id']}:whatsapp")
    drain(app)
    [request] = server.received
    assert request.path == f"{PHONE_ID}/messages"
    assert request.headers["authorization"] == "Bearer EAAG-test-token"
    body = request.body
    assert body["to"] == person_payload(1)["phone"].replace("0", "62", 1)
    assert body["template"]["name"] == "funrun_confirmed"
    assert body["template"]["language"] == {"code": "id"}
    values = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    assert values[0] == "Siti Rahmawati" and made["bib"] in values[2]
    assert values[3].endswith(f"/r/{made['manage_token']}")
    assert body["biz_opaque_callback_data"] == queued.key
    [sent] = messages()
    assert sent.status == MessageStatus.SENT
    assert sent.provider_ref == "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA"
    phone = body["to"]
    assert sent.sent_to == f"+{phone[:5]}****{phone[-4:]}"


def test_429_waits_at_least_retry_after_then_the_same_key_goes_again(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], meta
):
    server = meta(meta_error(130429, "Rate limit hit", 429, Retry_After="120"), meta_ok("wamid.2"))
    event = make_event()
    register(client, event, 2)
    before = utcnow()
    drain(app)
    [waiting] = messages()
    assert waiting.status == MessageStatus.QUEUED and "130429" in waiting.error
    assert waiting.next_attempt_at >= before + timedelta(seconds=120)
    assert drain(app) == 0
    again_now()
    drain(app)
    [sent] = messages()
    assert (sent.status, sent.attempts, sent.provider_ref) == ("sent", 2, "wamid.2")
    keys = [r.body["biz_opaque_callback_data"] for r in server.received]
    assert keys == [sent.key, sent.key]


def test_a_rejected_template_fails_for_good(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], meta
):
    server = meta(meta_error(132001, "Template name does not exist in the translation"))
    event = make_event()
    register(client, event, 3)
    drain(app)
    [failed] = messages()
    assert failed.status == MessageStatus.FAILED and "132001" in failed.error
    again_now()
    assert drain(app) == 0 and len(server.received) == 1


def test_a_provider_that_does_not_answer_in_time_is_tried_later(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], meta
):
    meta(Reply(200, {"messages": [{"id": "late"}]}, delay=3.0))
    event = make_event()
    register(client, event, 4)
    drain(app)
    [waiting] = messages()
    assert waiting.status == MessageStatus.QUEUED and waiting.attempts == 1
    assert waiting.next_attempt_at > utcnow() + timedelta(seconds=20)


def test_with_email_too_both_channels_carry_the_message(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], meta
):
    meta(meta_ok("wamid.3"))
    event = make_event()
    answer = client.post(
        f"/api/v1/events/{event.slug}/registrations",
        json=person_payload(5, email="both@example.com"),
    )
    assert answer.status_code == 201
    drain(app)
    assert sorted((m.channel, m.status) for m in messages()) == [
        ("email", "held"),
        ("whatsapp", "sent"),
    ]
