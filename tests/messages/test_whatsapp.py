"""The WhatsApp Cloud API transport against a local server answering as Meta documents.

No database: each test starts a real HTTP server on loopback, sends through the transport
and checks both sides, what the server received and how the answer was classified.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from funrun.messages import whatsapp
from funrun.messages.transport import PermanentFailure, Rendered, TransientFailure
from funrun.messages.whatsapp import WhatsAppTransport, classify
from tests.messages.provider_server import ProviderServer, Reply, meta_error, meta_ok

TOKEN = "EAAG-test-token"
PHONE_ID = "/v21.0/109876543210"
KEY = "confirmed:reg-42:1"


def rendered(**overrides: object) -> Rendered:
    fields: dict[str, object] = {
        "key": KEY,
        "to": "+6281234567890",
        "subject": "Pendaftaran dikonfirmasi",
        "text": "Halo Budi, bib kamu A0042.",
        "template": "funrun_confirmed",
        "language": "id",
        "parameters": ("Budi", "Jakarta 10K", "Minggu, 6 Desember 2026", "A0042"),
    }
    fields.update(overrides)
    return Rendered(**fields)  # type: ignore[arg-type]


def transport(server: ProviderServer, timeout: float = 2.0) -> WhatsAppTransport:
    return WhatsAppTransport(server.url + PHONE_ID, TOKEN, timeout=timeout)


def send_one(reply: Reply, message: Rendered | None = None) -> tuple[ProviderServer, object]:
    """Send one message to a server giving ``reply``; the server and what send gave or
    raised."""
    with ProviderServer(reply) as server, transport(server) as wa:
        try:
            outcome: object = wa.send(message or rendered())
        except (TransientFailure, PermanentFailure) as exc:
            outcome = exc
    return server, outcome


def test_a_template_message_is_posted_as_meta_documents_and_its_wamid_returned() -> None:
    server, outcome = send_one(meta_ok("wamid.HBgMNjI4MTIzNDU2Nzg5MBUCABEYEjQ0"))

    assert outcome == "wamid.HBgMNjI4MTIzNDU2Nzg5MBUCABEYEjQ0"
    [request] = server.received
    assert request.method == "POST"
    assert request.path == PHONE_ID + "/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "template",
        "template": {
            "name": "funrun_confirmed",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Budi"},
                        {"type": "text", "text": "Jakarta 10K"},
                        {"type": "text", "text": "Minggu, 6 Desember 2026"},
                        {"type": "text", "text": "A0042"},
                    ],
                }
            ],
        },
        # No idempotency header in the Cloud API: the key comes back in status webhooks.
        "biz_opaque_callback_data": KEY,
    }


@pytest.mark.parametrize(
    ("code", "status", "title"),
    [
        (132001, 404, "Template name does not exist in the translation"),
        (132000, 400, "Number of parameters does not match the expected number of params"),
        (132012, 400, "Parameter format does not match format in the created template"),
    ],
)
def test_a_rejected_template_fails_for_good_without_bouncing_the_number(
    code: int, status: int, title: str
) -> None:
    server, outcome = send_one(meta_error(code, title, status))

    assert isinstance(outcome, PermanentFailure)
    assert not outcome.bounced
    assert str(code) in outcome.reason and title in outcome.reason
    assert len(server.received) == 1


def test_a_number_not_on_whatsapp_bounces() -> None:
    _, outcome = send_one(meta_error(131026, "Message Undeliverable"))

    assert isinstance(outcome, PermanentFailure)
    assert outcome.bounced
    assert "131026" in outcome.reason


def test_429_with_retry_after_is_transient_with_the_seconds_meta_asked_for() -> None:
    _, outcome = send_one(meta_error(130429, "Rate limit hit", 429, Retry_After="7"))

    assert isinstance(outcome, TransientFailure)
    assert outcome.retry_after == 7.0
    assert "130429" in outcome.reason


def test_a_pair_rate_limit_at_http_400_is_still_transient() -> None:
    """Meta answers 131056 with a 400 and no Retry-After: the code decides."""
    _, outcome = send_one(meta_error(131056, "(Business Account, Consumer Account) pair rate"))

    assert isinstance(outcome, TransientFailure)
    assert outcome.retry_after is None


def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    _, outcome = send_one(meta_error(80007, "Rate limit issues", 429, Retry_After=when))

    assert isinstance(outcome, TransientFailure)
    assert outcome.retry_after is not None and 100 < outcome.retry_after <= 120


def test_a_server_error_without_json_is_transient() -> None:
    _, outcome = send_one(Reply(500, None))

    assert isinstance(outcome, TransientFailure)
    assert "500" in outcome.reason


def test_an_expired_token_is_transient_until_someone_fixes_it() -> None:
    _, outcome = send_one(meta_error(190, "Access token has expired", 401))

    assert isinstance(outcome, TransientFailure)
    assert TOKEN not in outcome.reason


def test_a_provider_slower_than_the_timeout_is_transient_and_the_sender_is_not_held() -> None:
    with ProviderServer(Reply(delay=3.0, body={"messages": [{"id": "late"}]})) as server:
        started = time.monotonic()
        with transport(server, timeout=0.3) as wa, pytest.raises(TransientFailure) as caught:
            wa.send(rendered())
        elapsed = time.monotonic() - started

    assert "timed out" in caught.value.reason
    assert elapsed < 1.5
    assert len(server.received) == 1


def test_nobody_listening_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wa = WhatsAppTransport(f"http://127.0.0.1:{port}{PHONE_ID}", TOKEN, timeout=1.0)

    with wa, pytest.raises(TransientFailure) as caught:
        wa.send(rendered())

    assert "connect" in caught.value.reason


def test_one_with_block_reuses_one_connection() -> None:
    replies = [meta_ok(f"wamid.{n}") for n in range(3)]
    with ProviderServer(*replies) as server:
        with transport(server) as wa:
            ids = [wa.send(rendered(key=f"k{n}")) for n in range(3)]
        with transport(server) as wa:
            wa.send(rendered(key="k3"))

    assert ids == ["wamid.0", "wamid.1", "wamid.2"]
    assert [r.connection for r in server.received] == [1, 1, 1, 2]
    assert server.connections == 2


def test_a_retry_after_a_rate_limit_sends_the_same_key_and_succeeds() -> None:
    """What the sender does with a TransientFailure: the same message, later."""
    with ProviderServer(
        meta_error(130429, "Rate limit hit", 429, Retry_After="7"), meta_ok("wamid.2")
    ) as server:
        with transport(server) as wa, pytest.raises(TransientFailure):
            wa.send(rendered())
        with transport(server) as wa:
            assert wa.send(rendered()) == "wamid.2"

    assert [r.body["biz_opaque_callback_data"] for r in server.received] == [KEY, KEY]


def test_an_accepted_answer_without_an_id_is_still_sent() -> None:
    _, outcome = send_one(Reply(200, {"messaging_product": "whatsapp"}))

    assert outcome is None


def test_parameters_lose_new_lines_and_long_runs_of_spaces() -> None:
    """Meta refuses the whole message for a new line, a tab or five spaces in a row."""
    message = rendered(parameters=("Jl. Sudirman\nNo. 1", "a\tb", "x      y", ""))
    server, _ = send_one(meta_ok("wamid.1"), message)

    sent = server.received[0].body["template"]["components"][0]["parameters"]
    assert [p["text"] for p in sent] == ["Jl. Sudirman No. 1", "a b", "x    y", "-"]


def test_a_template_without_parameters_has_no_components() -> None:
    server, _ = send_one(meta_ok("wamid.1"), rendered(parameters=(), language="en"))

    template = server.received[0].body["template"]
    assert template == {"name": "funrun_confirmed", "language": {"code": "en"}}


@pytest.mark.parametrize("to", ["081234567890", "+62", "not a number", ""])
def test_a_number_that_cannot_be_e164_bounces_without_asking_meta(to: str) -> None:
    server, outcome = send_one(meta_ok("wamid.1"), rendered(to=to))

    assert isinstance(outcome, PermanentFailure) and outcome.bounced
    assert server.received == []


def test_a_message_without_a_template_is_refused_without_asking_meta() -> None:
    server, outcome = send_one(meta_ok("wamid.1"), rendered(template=None))

    assert isinstance(outcome, PermanentFailure) and not outcome.bounced
    assert server.received == []


def test_send_outside_a_with_block_opens_a_client_for_the_one_message() -> None:
    with ProviderServer(meta_ok("wamid.1")) as server:
        assert transport(server).send(rendered()) == "wamid.1"


@pytest.mark.parametrize(
    ("status", "code", "kind", "bounced"),
    [
        (400, 131021, PermanentFailure, True),  # the runner gave our own number
        (400, 100, PermanentFailure, False),
        (400, 132015, TransientFailure, None),  # paused for 3 or 6 hours
        (400, 132016, PermanentFailure, False),  # disabled for good
        (403, 10, TransientFailure, None),
        (403, 200, TransientFailure, None),
        (400, 131031, TransientFailure, None),  # account locked: ours to fix
        (503, 2, TransientFailure, None),
        (400, 999999, PermanentFailure, False),  # unknown code: the HTTP status decides
        (502, 999999, TransientFailure, None),
        (429, None, TransientFailure, None),
    ],
)
def test_classification_follows_the_code_then_the_status(
    status: int, code: int | None, kind: type, bounced: bool | None
) -> None:
    body = {} if code is None else {"error": {"code": code, "message": "m"}}
    failure = classify(status, body)

    assert isinstance(failure, kind)
    if bounced is not None:
        assert failure.bounced is bounced


def test_from_config() -> None:
    assert whatsapp.from_config({}) is None
    assert whatsapp.from_config({"FUNRUN_WHATSAPP_URL": "", "FUNRUN_WHATSAPP_TOKEN": ""}) is None

    wa = whatsapp.from_config(
        {
            "FUNRUN_WHATSAPP_URL": "https://graph.facebook.com/v21.0/109876543210/",
            "FUNRUN_WHATSAPP_TOKEN": TOKEN,
        }
    )
    assert wa is not None
    assert wa.messages_url == "https://graph.facebook.com/v21.0/109876543210/messages"
    assert wa.timeout.read == 10.0 and wa.timeout.connect == 10.0
    assert TOKEN not in repr(wa)

    wa = whatsapp.from_config(
        {
            "FUNRUN_WHATSAPP_URL": "https://graph.facebook.com/v21.0/1/messages",
            "FUNRUN_WHATSAPP_TOKEN": TOKEN,
            "FUNRUN_MESSAGE_TIMEOUT": "2.5",
        }
    )
    assert wa is not None
    assert wa.messages_url == "https://graph.facebook.com/v21.0/1/messages"
    assert wa.timeout.read == 2.5


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"FUNRUN_WHATSAPP_URL": "https://graph.facebook.com/v21.0/1"}, "FUNRUN_WHATSAPP_TOKEN"),
        ({"FUNRUN_WHATSAPP_TOKEN": TOKEN}, "FUNRUN_WHATSAPP_URL"),
        (
            {
                "FUNRUN_WHATSAPP_URL": "http://graph.facebook.com/v21.0/1",
                "FUNRUN_WHATSAPP_TOKEN": "t",
            },
            "https",
        ),
        (
            {
                "FUNRUN_WHATSAPP_URL": "https://graph.facebook.com/v21.0/1",
                "FUNRUN_WHATSAPP_TOKEN": "t",
                "FUNRUN_MESSAGE_TIMEOUT": "soon",
            },
            "FUNRUN_MESSAGE_TIMEOUT",
        ),
    ],
)
def test_a_half_or_unsafe_configuration_is_an_error(config: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        whatsapp.from_config(config)
