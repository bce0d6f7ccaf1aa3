"""The SMS gateway transport against a local server answering as the contract says.

No database: a real HTTP server on loopback, the transport, and both sides checked.
"""

from __future__ import annotations

import time

import pytest

from funrun.messages import sms
from funrun.messages.sms import GSM_LIMIT, UCS2_LIMIT, SmsTransport, fit, sms_length
from funrun.messages.transport import PermanentFailure, Rendered, TransientFailure
from tests.messages.provider_server import ProviderServer, Reply

TOKEN = "sms-test-token"
PATH = "/api/v1/sms"
KEY = "waitlisted:reg-7:1"
TEXT = "Funrun: kamu di daftar tunggu Jakarta 10K, urutan 3. Link: https://funrun.id/r/abc"


def rendered(**overrides: object) -> Rendered:
    fields: dict[str, object] = {
        "key": KEY,
        "to": "+6281234567890",
        "subject": "Daftar tunggu",
        "text": TEXT,
    }
    fields.update(overrides)
    return Rendered(**fields)  # type: ignore[arg-type]


def transport(server: ProviderServer, timeout: float = 2.0) -> SmsTransport:
    return SmsTransport(server.url + PATH, TOKEN, timeout=timeout)


def send_one(reply: Reply, message: Rendered | None = None) -> tuple[ProviderServer, object]:
    with ProviderServer(reply) as server, transport(server) as gateway:
        try:
            outcome: object = gateway.send(message or rendered())
        except (TransientFailure, PermanentFailure) as exc:
            outcome = exc
    return server, outcome


def test_an_sms_is_posted_with_the_key_twice_and_its_id_returned() -> None:
    server, outcome = send_one(Reply(201, {"id": "msg-8812", "status": "queued"}))

    assert outcome == "msg-8812"
    [request] = server.received
    assert request.method == "POST"
    assert request.path == PATH
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["idempotency-key"] == KEY
    assert request.body == {"to": "+6281234567890", "text": TEXT, "reference": KEY}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (422, {"error": {"code": "invalid_number", "message": "Nomor tidak valid"}}),
        (400, {"error": "invalid_number"}),
        (400, {"code": "OPTED_OUT", "message": "recipient opted out"}),
    ],
)
def test_an_invalid_number_bounces(status: int, body: dict[str, object]) -> None:
    _, outcome = send_one(Reply(status, body))

    assert isinstance(outcome, PermanentFailure)
    assert outcome.bounced
    assert str(status) in outcome.reason


def test_a_reason_never_keeps_the_whole_number() -> None:
    body = {"error": {"code": "invalid_number", "message": "+6281234567890 is not valid"}}
    _, outcome = send_one(Reply(422, body))

    assert isinstance(outcome, PermanentFailure)
    assert "4567890" not in outcome.reason and "***890 is not valid" in outcome.reason


def test_another_refusal_fails_for_good_without_bouncing() -> None:
    _, outcome = send_one(Reply(400, {"error": {"code": "sender_not_registered"}}))

    assert isinstance(outcome, PermanentFailure)
    assert not outcome.bounced
    assert "sender_not_registered" in outcome.reason


def test_429_with_retry_after_is_transient_with_those_seconds() -> None:
    _, outcome = send_one(Reply(429, {"error": "rate_limited"}, {"Retry-After": "7"}))

    assert isinstance(outcome, TransientFailure)
    assert outcome.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 503, 408, 401, 403])
def test_server_trouble_and_a_wrong_token_are_transient(status: int) -> None:
    _, outcome = send_one(Reply(status, None))

    assert isinstance(outcome, TransientFailure)
    assert outcome.retry_after is None


def test_a_gateway_slower_than_the_timeout_is_transient() -> None:
    with ProviderServer(Reply(delay=3.0, body={"id": "late"})) as server:
        started = time.monotonic()
        with transport(server, timeout=0.3) as gateway, pytest.raises(TransientFailure) as caught:
            gateway.send(rendered())
        elapsed = time.monotonic() - started

    assert "timed out" in caught.value.reason
    assert elapsed < 1.5


def test_a_repeat_the_gateway_recognises_returns_the_first_id() -> None:
    """A crash after the gateway sent it, then the same key again: not a second SMS."""
    _, outcome = send_one(Reply(409, {"id": "msg-1", "error": "duplicate_reference"}))

    assert outcome == "msg-1"


def test_a_conflict_without_an_id_is_transient() -> None:
    _, outcome = send_one(Reply(409, {"error": "request_in_progress"}))

    assert isinstance(outcome, TransientFailure)


def test_a_success_without_an_id_is_still_sent() -> None:
    _, outcome = send_one(Reply(202, None))

    assert outcome is None


def test_one_with_block_reuses_one_connection() -> None:
    replies = [Reply(200, {"id": f"m{n}"}) for n in range(3)]
    with ProviderServer(*replies) as server, transport(server) as gateway:
        ids = [gateway.send(rendered(key=f"k{n}")) for n in range(3)]

    assert ids == ["m0", "m1", "m2"]
    assert [r.headers["idempotency-key"] for r in server.received] == ["k0", "k1", "k2"]
    assert server.connections == 1


def test_a_local_number_bounces_without_asking_the_gateway() -> None:
    server, outcome = send_one(Reply(200, {"id": "m"}), rendered(to="0812-3456-7890"))

    assert isinstance(outcome, PermanentFailure) and outcome.bounced
    assert server.received == []


def test_a_long_text_is_cut_at_a_word_to_three_parts() -> None:
    link = "https://funrun.id/r/" + "x" * 40
    text = ("Pengambilan race pack di Gelora Bung Karno, pukul 10.00-18.00. " * 8) + link
    server, _ = send_one(Reply(200, {"id": "m"}), rendered(text=text))

    sent = server.received[0].body["text"]
    assert sent.endswith("...")
    assert sms_length(sent) <= GSM_LIMIT
    assert text.startswith(sent.removesuffix("..."))
    assert text[len(sent) - 3] == " "  # cut between words
    assert link not in sent and "https" not in sent  # no half link


def test_fit_counts_the_gsm_extension_table_double_and_ucs2_by_the_part() -> None:
    assert fit("Halo Budi") == "Halo Budi"
    assert sms_length("{}€") == 6

    braces = "{ab} " * 100  # 6 septets a word
    cut = fit(braces)
    assert sms_length(cut) <= GSM_LIMIT < sms_length(cut + "{ab}")

    emoji = "Selamat 🎉 lari " * 30  # not GSM: UCS-2, 67 a part
    cut = fit(emoji)
    assert sms_length(cut) <= UCS2_LIMIT
    assert cut.endswith("...") and len(cut) < 200

    one_word = "x" * 600
    assert fit(one_word) == "x" * (GSM_LIMIT - 3) + "..."


def test_an_empty_text_is_refused_without_asking_the_gateway() -> None:
    server, outcome = send_one(Reply(200, {"id": "m"}), rendered(text="  "))

    assert isinstance(outcome, PermanentFailure) and not outcome.bounced
    assert server.received == []


def test_from_config() -> None:
    assert sms.from_config({}) is None

    gateway = sms.from_config(
        {"FUNRUN_SMS_URL": "https://sms.example.id/api/v1/sms", "FUNRUN_SMS_TOKEN": TOKEN}
    )
    assert gateway is not None
    assert gateway.url == "https://sms.example.id/api/v1/sms"
    assert gateway.timeout.connect == 10.0
    assert TOKEN not in repr(gateway)

    local = sms.from_config(
        {
            "FUNRUN_SMS_URL": "http://127.0.0.1:9000/send",
            "FUNRUN_SMS_TOKEN": TOKEN,
            "FUNRUN_MESSAGE_TIMEOUT": 3,
        }
    )
    assert local is not None and local.timeout.read == 3.0

    with pytest.raises(ValueError, match="FUNRUN_SMS_TOKEN"):
        sms.from_config({"FUNRUN_SMS_URL": "https://sms.example.id/send"})
    with pytest.raises(ValueError, match="https"):
        sms.from_config({"FUNRUN_SMS_URL": "http://sms.example.id/send", "FUNRUN_SMS_TOKEN": "t"})
    with pytest.raises(ValueError, match="FUNRUN_MESSAGE_TIMEOUT"):
        sms.from_config(
            {
                "FUNRUN_SMS_URL": "https://sms.example.id/send",
                "FUNRUN_SMS_TOKEN": "t",
                "FUNRUN_MESSAGE_TIMEOUT": "0",
            }
        )
