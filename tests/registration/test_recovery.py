"""A lost manage link found again (/r/recover, POST /api/v1/registrations/recover): the
service, the page and the API, the limits per NIK and per client, on the suite's database
(SQLite, or PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import select

from funrun.api.openapi import openapi_document
from funrun.audit.models import AuditEntry
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import Message, MessageKind
from funrun.people.crypto import data_cipher
from funrun.registration import recovery
from funrun.registration.models import Registration
from funrun.registration.recovery import recover_link
from funrun.registration.tokens import TOKEN_CONTEXT, hash_token
from tests.conftest import build_app, csrf_from, need, person_payload

API = "/api/v1"
RECOVER = f"{API}/registrations/recover"
PAGE = "/r/recover"
PROBLEM = "application/problem+json"
ACCEPTED = (
    "If this NIK and this phone number or email belong to a registration, a new private "
    "link is on its way there, and the old link no longer works."
)
REDIS_URL = os.environ.get("TEST_REDIS_URL")


def t(app: Flask, message: str, locale: str = "id", **variables: Any) -> str:
    with app.test_request_context("/"), force_locale(locale):
        return str(escape(gettext(message, **variables)))


class OwnContextClient(FlaskClient):
    """Each request in its own app context, as in production: Flask-Babel caches the
    locale on ``g``, which the ``app`` fixture's open context would share between them."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return OwnContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture(autouse=True)
def _no_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The constant floor of every answer is tested once; elsewhere it only slows tests."""
    monkeypatch.setattr(recovery, "FLOOR_SECONDS", 0)


@pytest.fixture
def whatsapp(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A WhatsApp provider configured: messages go to every runner's phone too."""
    monkeypatch.setitem(app.config, "FUNRUN_WHATSAPP_URL", "http://127.0.0.1:9/whatsapp")


def register(client: FlaskClient, event: Event, index: int, **overrides: Any) -> str:
    response = client.post(
        f"{API}/events/{event.slug}/registrations", json=person_payload(index, **overrides)
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["registration"]["manage_token"])


def row(token_or_id: str | int) -> Registration:
    db.session.rollback()  # a fresh read: the requests wrote through their own sessions
    if isinstance(token_or_id, int):
        return db.session.get_one(Registration, token_or_id)
    found = db.session.scalar(
        select(Registration).where(Registration.manage_token_hash == hash_token(token_or_id))
    )
    assert found is not None
    return found


def current_token(registration_id: int) -> str:
    """The token the runner's message carries (what the renderer decrypts)."""
    stored = row(registration_id).manage_token_encrypted
    assert stored
    return data_cipher().decrypt(stored, context=TOKEN_CONTEXT)  # type: ignore[arg-type]


def recovered(registration_id: int) -> list[Message]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Message).where(
                Message.registration_id == registration_id,
                Message.kind == MessageKind.LINK_RECOVERED,
            )
        )
    )


def audits() -> list[AuditEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "link_recovered")))


def post(client: FlaskClient, nik: str, contact: Any, **kw: Any) -> Any:
    return client.post(RECOVER, json={"nik": nik, "contact": contact}, **kw)


def assert_accepted(app: Flask, response: Any, locale: str = "id") -> dict[str, Any]:
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"accepted": True, "message": t(app, ACCEPTED, locale)}
    return body  # type: ignore[no-any-return]


# --- the service and the API ----------------------------------------------------------


def test_phone_match_rotates_the_link_and_queues_its_message(app, client, make_event, whatsapp):
    event = make_event()
    old = register(client, event, 1, email="budi@example.org")
    registration_id = row(old).id
    nik = person_payload(1)["nik"]
    answer = assert_accepted(app, post(client, nik, "0812-3000-001"))  # as typed, formatted
    # The old link stops working, on the pages and in the API.
    assert client.get(f"/r/{old}").status_code == 404
    assert client.get(f"{API}/registrations/{old}").status_code == 404
    # The new one (what the message carries) opens the registration.
    new = current_token(registration_id)
    assert new != old
    assert row(registration_id).manage_token_hash == hash_token(new)
    assert client.get(f"/r/{new}").status_code == 200
    assert client.get(f"{API}/registrations/{new}").get_json()["registration"]["id"] == (
        registration_id
    )
    # One LINK_RECOVERED message per channel, each with its own key; to the phone only.
    messages = recovered(registration_id)
    assert {m.channel for m in messages} == {"email", "whatsapp"}
    for message in messages:
        assert re.fullmatch(
            rf"link_recovered:{registration_id}:{message.channel}:[0-9a-f]{{12}}", message.key
        )
        assert message.context == {"contact": "phone", "via": "phone"}
        assert message.status == "queued"
    # Audited without the NIK; the answer names nothing either.
    [entry] = audits()
    assert (entry.target, entry.event_id, entry.user_id) == (
        f"registration #{registration_id}",
        event.id,
        None,
    )
    assert nik not in f"{entry.target} {entry.detail}"
    assert nik not in str(answer) and new not in str(answer)


def test_email_match_ignores_case_and_covers_every_active_event(app, client, make_event):
    first, second, third = make_event(), make_event(), make_event()
    tokens = [register(client, e, 1, email="Budi.Santoso@Example.org") for e in (first, second)]
    cancelled = register(client, third, 1, email="budi.santoso@example.org")
    assert client.post(f"{API}/registrations/{cancelled}/cancel").status_code == 200
    other = register(client, first, 2, email="budi.santoso@example.org")  # another NIK
    ids = [row(token).id for token in tokens]
    nik = person_payload(1)["nik"]
    assert_accepted(app, post(client, nik, "  BUDI.SANTOSO@example.ORG "))
    for registration_id, old in zip(ids, tokens, strict=True):
        assert client.get(f"/r/{old}").status_code == 404
        assert client.get(f"/r/{current_token(registration_id)}").status_code == 200
        [message] = recovered(registration_id)
        assert message.channel == "email"
        assert message.context == {"contact": "email", "via": "email"}
    # Neither the cancelled registration nor another person's changes.
    assert client.get(f"/r/{cancelled}").status_code == 200
    assert client.get(f"/r/{other}").status_code == 200
    assert recovered(row(cancelled).id) == [] and recovered(row(other).id) == []
    assert len(audits()) == 2


@pytest.mark.parametrize(
    "case", ["wrong phone", "wrong email", "unknown nik", "email not given", "cancelled"]
)
def test_no_match_answers_the_same_and_changes_nothing(app, client, make_event, case):
    event = make_event()
    email = None if case == "email not given" else "budi@example.org"
    token = register(client, event, 1, email=email)
    nik = person_payload(5 if case == "unknown nik" else 1)["nik"]
    contact = {
        "wrong phone": "08123000099",
        "wrong email": "siti@example.org",
        "unknown nik": "08123000001",
        "email not given": "budi@example.org",
        "cancelled": "08123000001",
    }[case]
    if case == "cancelled":
        assert client.post(f"{API}/registrations/{token}/cancel").status_code == 200
    registration = row(token)
    before = (registration.manage_token_hash, registration.manage_token_encrypted)
    assert_accepted(app, post(client, nik, contact))
    after = row(registration.id)
    assert (after.manage_token_hash, after.manage_token_encrypted) == before
    assert recovered(registration.id) == [] and audits() == []
    assert client.get(f"/r/{token}").status_code == 200


def test_nothing_matched_leaves_no_trace(app, client, make_event):
    event = make_event()
    token = register(client, event, 1, email="budi@example.org")
    registration = row(token)
    before = (registration.manage_token_hash, registration.manage_token_encrypted)
    nik = person_payload(1)["nik"]
    answers = {
        post(client, nik, "08123000099").get_data(),
        post(client, nik, "siti@example.org").get_data(),
        post(client, person_payload(5)["nik"], "08123000001").get_data(),
    }
    matched = post(client, nik, "08123000001")
    assert answers == {matched.get_data()}  # byte for byte the same answer
    after = row(registration.id)
    assert (after.manage_token_hash, after.manage_token_encrypted) != before
    assert len(recovered(registration.id)) == 1 and len(audits()) == 1


def test_a_failure_rolls_back_the_new_link_and_its_message(app, client, make_event, monkeypatch):
    event = make_event()
    token = register(client, event, 1, email="budi@example.org")
    registration = row(token)
    before = (registration.manage_token_hash, registration.manage_token_encrypted)

    def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("the audit log is gone")

    monkeypatch.setattr(recovery, "record", broken)
    with pytest.raises(RuntimeError):
        recover_link(person_payload(1)["nik"], "budi@example.org", "email")
    after = row(registration.id)
    assert (after.manage_token_hash, after.manage_token_encrypted) == before
    assert recovered(registration.id) == []
    assert client.get(f"/r/{token}").status_code == 200


def test_every_answer_takes_at_least_the_floor(app, client, make_event, monkeypatch):
    monkeypatch.setattr(recovery, "FLOOR_SECONDS", 0.2)
    event = make_event()
    register(client, event, 1)
    nik = person_payload(1)["nik"]
    for contact in ("08123000001", "08123000099"):
        started = time.monotonic()
        assert post(client, nik, contact).status_code == 202
        assert time.monotonic() - started >= 0.2


NIK = "3174010101800001"
FULLWIDTH_NIK = "".join(chr(0xFF10 + int(digit)) for digit in NIK)
FORM = "application/x-www-form-urlencoded"
BAD_BODIES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("empty object", {"json": {}}, {"nik", "contact"}),
    ("empty strings", {"json": {"nik": "", "contact": ""}}, {"nik", "contact"}),
    ("nulls", {"json": {"nik": None, "contact": None}}, {"nik", "contact"}),
    ("numbers", {"json": {"nik": int(NIK), "contact": 81230000001}}, {"nik", "contact"}),
    ("lists", {"json": {"nik": ["1"], "contact": {"a": 1}}}, {"nik", "contact"}),
    (
        "too long",
        {"json": {"nik": "3" * 5000, "contact": "a" * 300 + "@x.org"}},
        {"nik", "contact"},
    ),
    ("short nik", {"json": {"nik": "317401", "contact": "08123000001"}}, {"nik"}),
    ("fullwidth digits", {"json": {"nik": FULLWIDTH_NIK, "contact": "08123000001"}}, {"nik"}),
    ("not a phone", {"json": {"nik": NIK, "contact": "12345"}}, {"contact"}),
    ("bad email", {"json": {"nik": NIK, "contact": "budi@"}}, {"contact"}),
    ("control characters", {"json": {"nik": NIK, "contact": "0812\x00300"}}, {"contact"}),
    ("array body", {"json": [1, 2]}, {"body"}),
    ("string body", {"json": "nik"}, {"body"}),
    ("not JSON", {"data": "nik=1&contact=2", "content_type": FORM}, {"body"}),
    ("broken JSON", {"data": '{"nik": ', "content_type": "application/json"}, {"body"}),
    (
        "wrong encoding",
        {"data": b'{"nik": "\xff\xfe"}', "content_type": "application/json"},
        {"body"},
    ),
    ("no body", {}, {"body"}),
]


@pytest.mark.parametrize(
    "kwargs,fields", [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_bad_input_is_a_translated_422(app, client, make_event, kwargs, fields):
    event = make_event()
    token = register(client, event, 1)
    for locale in ("id", "en"):
        response = client.post(RECOVER, headers={"Accept-Language": locale}, **kwargs)
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.mimetype == PROBLEM
        body = response.get_json(force=True)
        assert body["title"] == t(app, "Some fields need correcting.", locale)
        assert set(body["errors"]) == fields
        assert all(body["errors"][name] for name in fields)
    assert client.get(f"/r/{token}").status_code == 200
    assert audits() == []


def test_errors_speak_the_callers_language(app, client):
    body = {"nik": "", "contact": "12345"}
    ours = client.post(RECOVER, json=body).get_json()["errors"]
    theirs = client.post(RECOVER, json=body, headers={"Accept-Language": "en"}).get_json()
    assert ours["nik"] == [t(app, "This field is required.")]
    assert theirs["errors"]["nik"] == ["This field is required."]
    assert ours["contact"] == [t(app, "Enter an Indonesian mobile number, e.g. 0812 3456 7890.")]
    assert ours["contact"] != theirs["errors"]["contact"]


def test_the_operation_is_in_the_openapi_document(app, client):
    document = client.get(f"{API}/openapi.json").get_json()
    operation = document["paths"]["/registrations/recover"]["post"]
    assert operation["operationId"] == "recoverRegistration"
    assert {"202", "422", "429"} <= set(operation["responses"])
    assert "security" not in operation  # public
    schema = document["components"]["schemas"]["RecoveryRequest"]
    assert set(schema["properties"]) == {"nik", "contact"}
    assert set(schema["required"]) == {"nik", "contact"}
    with app.test_request_context("/"):
        assert openapi_document("/api/v1")["paths"]["/registrations/recover"]


def test_the_already_registered_answers_point_to_recovery(app, client, make_event):
    event = make_event()
    register(client, event, 1, email="budi@example.org")
    response = client.post(
        f"{API}/events/{event.slug}/registrations", json=person_payload(1, email="x@y.org")
    )
    assert response.status_code == 409
    body = response.get_json(force=True)
    assert body["recover_url"] == RECOVER
    text = response.get_data(as_text=True)
    for secret in ("Budi", "budi@example.org", "8123000001", "TST", "confirmed", "manage"):
        assert secret not in text
    # The form's 409 links to the page.
    form = client.get(f"/events/{event.slug}/register").get_data(as_text=True)
    data = {
        **{k: str(v) for k, v in person_payload(1).items()},
        "member": "n",
        "consent": "y",
        "csrf_token": csrf_from(form),
    }
    page = client.post(f"/events/{event.slug}/register", data=data)
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert f'href="{PAGE}"' in html
    assert t(app, "Lost your link? Get a new one sent to you") in html


# --- the page -------------------------------------------------------------------------


def open_page(client: FlaskClient, query: str = "") -> tuple[str, str]:
    page = client.get(PAGE + query)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html, csrf_from(html)


def test_page_is_indonesian_first_and_light(app, client):
    html, _token = open_page(client)
    assert '<html lang="id">' in html
    assert t(app, "Lost your link?") in html
    assert 'name="nik"' in html and 'name="contact"' in html
    assert "<script" not in html
    english, _ = open_page(client, "?lang=en")
    assert '<html lang="en">' in english and "Lost your link?" in english
    response = client.get(PAGE)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_page_sends_a_new_link_and_answers_the_same_either_way(app, client, make_event):
    event = make_event()
    old = register(client, event, 1, email="budi@example.org")
    registration_id = row(old).id
    _html, csrf = open_page(client)
    nik = person_payload(1)["nik"]
    missed = client.post(PAGE, data={"nik": nik, "contact": "siti@example.org", "csrf_token": csrf})
    hit = client.post(PAGE, data={"nik": nik, "contact": "budi@example.org", "csrf_token": csrf})
    assert missed.status_code == hit.status_code == 302
    assert missed.headers["Location"] == hit.headers["Location"] == f"{PAGE}?sent=1"
    assert client.get(f"/r/{old}").status_code == 404
    assert client.get(f"/r/{current_token(registration_id)}").status_code == 200
    assert len(recovered(registration_id)) == 1
    done = client.get(hit.headers["Location"]).get_data(as_text=True)
    assert t(app, ACCEPTED) in done


def test_page_needs_its_csrf_token(app, client, make_event):
    event = make_event()
    token = register(client, event, 1)
    response = client.post(PAGE, data={"nik": person_payload(1)["nik"], "contact": "08123000001"})
    assert response.status_code == 400
    assert client.get(f"/r/{token}").status_code == 200


def test_page_shows_translated_messages_by_the_fields(app, client):
    _html, csrf = open_page(client)
    response = client.post(PAGE, data={"nik": "12", "contact": "budi@", "csrf_token": csrf})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert t(app, "NIK must be exactly 16 digits.") in html
    assert t(app, "Enter a valid email address.") in html
    assert 'value="12"' in html  # kept for correcting
    empty = client.post(PAGE, data={"nik": "", "contact": "", "csrf_token": csrf})
    assert empty.status_code == 422
    assert empty.get_data(as_text=True).count(t(app, "This field is required.")) == 2
    garbled = client.post(
        PAGE,
        data={"nik": "\ufffd" * 3, "contact": "x" * 5000, "csrf_token": csrf},
    )
    assert garbled.status_code == 422


# --- limits ---------------------------------------------------------------------------


def _flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture(params=["memory", "redis"])
def limited(request: pytest.FixtureRequest, app: Flask, database_url: str) -> Iterator[Flask]:
    """An app with limits on: 3 an hour per NIK and 10 an hour per client (the defaults)."""
    if request.param == "redis":
        need(bool(REDIS_URL), "TEST_REDIS_URL (Redis) not set")
        assert REDIS_URL
        _flush(REDIS_URL)
        storage = REDIS_URL
    else:
        storage = "memory://"
    limited_app = build_app(
        database_url,
        FUNRUN_RATE_LIMITS="100/minute",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=storage,
    )
    yield limited_app
    with limited_app.app_context():
        db.engine.dispose()
    if request.param == "redis" and REDIS_URL:
        _flush(REDIS_URL)


def test_a_nik_is_limited_whoever_asks(limited, make_event):
    event = make_event()
    client = limited.test_client()
    token = register(client, event, 1)
    nik = person_payload(1)["nik"]
    addresses = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    statuses = [
        post(client, nik, "08123000099", environ_base={"REMOTE_ADDR": a}).status_code
        for a in addresses
    ]
    assert statuses == [202, 202, 202, 429]
    # Over the limit, even the right contact changes nothing.
    refused = post(client, nik, "08123000001", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert refused.status_code == 429
    assert refused.mimetype == PROBLEM
    body = refused.get_json(force=True)
    assert body["status"] == 429
    minutes = int(body["title"].split()[-2])
    assert 1 <= minutes <= 60
    assert body["title"] == t(
        limited,
        "Too many attempts to find a link. Please try again in %(num)d minute.",
        num=minutes,
    )
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get(f"/r/{token}").status_code == 200
    # Another NIK from the same addresses is still answered.
    other = post(client, person_payload(2)["nik"], "08123000002")
    assert other.status_code == 202
    # The page shares the NIK's count, and says so in the runner's language.
    html = client.get(PAGE).get_data(as_text=True)
    page = client.post(
        PAGE, data={"nik": nik, "contact": "08123000001", "csrf_token": csrf_from(html)}
    )
    assert page.status_code == 429
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert '<html lang="id">' in text and 'name="nik"' in text
    assert (
        t(
            limited,
            "Too many attempts to find a link. Please try again in %(num)d minute.",
            num=minutes,
        )
        in text
    )
    storage = limited.config["RATELIMIT_STORAGE_URI"]
    if storage.startswith("redis"):
        store = redis.Redis.from_url(storage)
        try:
            keys = b" ".join(store.keys("*")).decode()
        finally:
            store.close()
        with limited.app_context():
            assert data_cipher().lookup_hash(nik) in keys  # counted under the keyed hash
        assert nik not in keys  # never under the NIK itself


def test_a_client_is_limited_across_niks(limited, make_event):
    client = limited.test_client()
    statuses = [
        post(client, person_payload(index)["nik"], "08123000099").status_code
        for index in range(1, 12)
    ]
    assert statuses == [202] * 10 + [429]
    # Bad requests count too: the limit is on attempts, not on matches.
    assert client.post(RECOVER, json={}).status_code == 429
    elsewhere = post(
        client, person_payload(20)["nik"], "08123000099", environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert elsewhere.status_code == 202
    # The page is the same client's.
    html = client.get(PAGE).get_data(as_text=True)
    assert client.get(PAGE).status_code == 200  # showing the form is never limited
    page = client.post(PAGE, data={"nik": "1", "contact": "2", "csrf_token": csrf_from(html)})
    assert page.status_code == 429


@pytest.mark.parametrize("limited", ["redis"], indirect=True)
def test_the_limit_holds_across_processes(limited, make_event):
    """Another worker process, on the same Redis, refuses the NIK this one used up."""
    client = limited.test_client()
    nik = person_payload(1)["nik"]
    assert [post(client, nik, "08123000099").status_code for _ in range(3)] == [202] * 3
    script = f"""
from tests.conftest import build_app
app = build_app("sqlite://", RATELIMIT_ENABLED=True, FUNRUN_RATE_LIMITS="100/minute",
                RATELIMIT_STORAGE_URI={limited.config["RATELIMIT_STORAGE_URI"]!r})
client = app.test_client()
response = client.post("{RECOVER}", json={{"nik": "{nik}", "contact": "08123000099"}},
                       environ_base={{"REMOTE_ADDR": "10.7.7.7"}})
print(response.status_code)
"""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "429"
