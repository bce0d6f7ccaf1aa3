"""The public registration limit per client, on the in-memory and the Redis store.

Each test builds its own app with FUNRUN_RATE_LIMITS="3/minute" on the session database;
the shared ``app`` fixture provides the data (and empties the tables afterwards).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from funrun.accounts.models import Role
from funrun.accounts.services import create_api_token, create_user
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.conftest import build_app, csrf_from, need, person_payload

REDIS_URL = os.environ.get("TEST_REDIS_URL")
PROBLEM = "application/problem+json"


def _flush_redis(url: str) -> None:

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture(params=["memory", "redis"])
def limited(request: pytest.FixtureRequest, app: Flask, database_url: str) -> Iterator[Flask]:
    """An app limiting public registrations to 3 a minute per client."""
    if request.param == "redis":
        need(bool(REDIS_URL), "TEST_REDIS_URL (Redis) not set")
        assert REDIS_URL
        _flush_redis(REDIS_URL)
        storage = REDIS_URL
    else:
        storage = "memory://"
    limited_app = build_app(
        database_url,
        FUNRUN_RATE_LIMITS="3/minute",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=storage,
    )
    yield limited_app
    with limited_app.app_context():
        db.engine.dispose()
    if request.param == "redis" and REDIS_URL:
        _flush_redis(REDIS_URL)


def registrations() -> int:
    db.session.rollback()  # a fresh read: the limited app wrote through its own connections
    return db.session.scalar(select(func.count(Registration.id))) or 0


def text(app: Flask, message: str) -> str:
    with app.test_request_context("/"), force_locale("id"):
        return str(escape(gettext(message)))


TOO_MANY = "Too many requests. Please wait a minute and try again."


def test_fourth_api_post_is_429_problem(limited, make_event):
    event = make_event()
    url = f"/api/v1/events/{event.slug}/registrations"
    client = limited.test_client()
    statuses = [client.post(url, json=person_payload(i)).status_code for i in range(1, 4)]
    assert statuses == [201, 201, 201]
    response = client.post(url, json=person_payload(4))
    assert response.status_code == 429
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == 429
    assert body["title"] == text(limited, TOO_MANY)
    assert int(response.headers["Retry-After"]) > 0
    assert registrations() == 3
    # Bad requests count too: the limit is on attempts, not on successes.
    assert client.post(url, json={}).status_code == 429
    storage = limited.config["RATELIMIT_STORAGE_URI"]
    if storage.startswith("redis"):
        store = redis.Redis.from_url(storage)
        try:
            assert any(b"create_registration" in key for key in store.keys("*"))
        finally:
            store.close()


def test_rejected_posts_count_against_the_limit(limited, make_event):
    event = make_event()
    url = f"/api/v1/events/{event.slug}/registrations"
    client = limited.test_client()
    assert [client.post(url, json={"nik": "1"}).status_code for _ in range(3)] == [422] * 3
    assert client.post(url, json=person_payload(1)).status_code == 429
    assert registrations() == 0


def test_gets_are_not_limited(limited, make_event):
    event = make_event()
    client = limited.test_client()
    url = f"/api/v1/events/{event.slug}/registrations"
    for index in range(1, 5):
        client.post(url, json=person_payload(index))
    assert client.post(url, json=person_payload(9)).status_code == 429
    for _ in range(10):
        assert client.get("/api/v1/events").status_code == 200
        assert client.get(f"/api/v1/events/{event.slug}").status_code == 200
        assert client.get(f"/events/{event.slug}/register").status_code == 200
        assert client.get(f"/events/{event.slug}").status_code == 200


def test_fourth_form_post_is_a_translated_429_page(limited, make_event):
    event = make_event()
    client = limited.test_client()
    url = f"/events/{event.slug}/register"
    page = client.get(url)
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    statuses = []
    for index in range(1, 4):
        data = {
            **{k: str(v) for k, v in person_payload(index).items()},
            "member": "n",
            "consent": "y",
            "csrf_token": token,
        }
        statuses.append(client.post(url, data=data).status_code)
    assert statuses == [302, 302, 302]
    response = client.post(url, data={"csrf_token": token, "full_name": "Budi Santoso"})
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert text(limited, TOO_MANY) in html
    assert '<html lang="id">' in html
    assert registrations() == 3
    # The form page itself is still there.
    assert client.get(url).status_code == 200


def test_limits_are_per_client(limited, make_event):
    event = make_event()
    url = f"/api/v1/events/{event.slug}/registrations"
    first = limited.test_client()
    for index in range(1, 4):
        assert first.post(url, json=person_payload(index)).status_code == 201
    assert first.post(url, json=person_payload(4)).status_code == 429
    other = limited.test_client()
    response = other.post(url, json=person_payload(5), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 201


def test_partner_token_is_not_held_to_the_public_limit(limited, make_event):
    event = make_event(quota=50)
    partner = create_user("bulk@aggregator.test", Role.PARTNER)
    token = create_api_token(partner)
    url = f"/api/v1/events/{event.slug}/registrations"
    client = limited.test_client()
    # The public limit is used up from this address...
    for index in range(1, 4):
        assert client.post(url, json=person_payload(index)).status_code == 201
    assert client.post(url, json=person_payload(4)).status_code == 429
    # ...and the partner, at the same address, registers many more.
    auth = {"Authorization": f"Bearer {token}"}
    statuses = [
        client.post(url, json=person_payload(index), headers=auth).status_code
        for index in range(10, 22)
    ]
    assert statuses == [201] * 12
    assert registrations() == 15
    # An invalid token is not a way round the public limit either.
    bad = client.post(url, json=person_payload(30), headers={"Authorization": "Bearer frn_bad"})
    assert bad.status_code == 429
    assert registrations() == 15


def test_partner_limit_applies_to_partners(app, make_event, database_url):
    event = make_event(quota=50)
    partner = create_user("small@aggregator.test", Role.PARTNER)
    token = create_api_token(partner)
    limited_app = build_app(
        database_url,
        FUNRUN_RATE_LIMITS="3/minute",
        FUNRUN_PARTNER_RATE_LIMITS="5/minute",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
    )
    try:
        client = limited_app.test_client()
        url = f"/api/v1/events/{event.slug}/registrations"
        auth = {"Authorization": f"Bearer {token}"}
        statuses = [
            client.post(url, json=person_payload(index), headers=auth).status_code
            for index in range(1, 8)
        ]
        assert statuses == [201] * 5 + [429] * 2
        # Counted per account, not per address.
        elsewhere = limited_app.test_client()
        response = elsewhere.post(
            url, json=person_payload(9), headers=auth, environ_base={"REMOTE_ADDR": "10.9.9.9"}
        )
        assert response.status_code == 429
        assert response.mimetype == PROBLEM
        # The public limit of that address is untouched by the partner's calls.
        assert client.post(url, json=person_payload(10)).status_code == 201
        assert registrations() == 6
    finally:
        with limited_app.app_context():
            db.engine.dispose()


def test_an_app_with_limits_off_stays_unlimited(limited, app, make_event):
    """The limiter is shared by every app in the process: building a limited app must not
    switch limits on for an app configured without them (FUNRUN_RATE_LIMITS=off)."""
    assert limited.config["RATELIMIT_ENABLED"] is True
    assert app.config["FUNRUN_RATE_LIMITS"] == "off"
    event = make_event(quota=50)
    client: FlaskClient = app.test_client()
    url = f"/api/v1/events/{event.slug}/registrations"
    statuses = [client.post(url, json=person_payload(i)).status_code for i in range(1, 8)]
    assert statuses == [201] * 7
    # The sign-in form has its own limit (10/minute) only where limits are on. (A
    # different email each time: each email has its own lock after five failures.)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    logins = [
        client.post(
            "/login",
            data={"email": f"x{n}@y.test", "password": "wrong-password", "csrf_token": token},
        ).status_code
        for n in range(12)
    ]
    assert logins == [401] * 12


# --- production: counters shared by every worker, or per process only when told so -----


def _start_production(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import wsgi as a gunicorn worker would, with production's environment."""
    from config import TestingConfig

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FUNRUN_", "REDIS"))}
    env.update(
        FUNRUN_ENV="production",
        DATABASE_URL="sqlite://",
        FUNRUN_MESSAGES="off",
        SECRET_KEY="production-secret-key-" + "x" * 30,
        FUNRUN_DATA_KEY=str(TestingConfig.FUNRUN_DATA_KEY),
        FUNRUN_SIGNING_KEY=str(TestingConfig.FUNRUN_SIGNING_KEY),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-c", "import wsgi; print(wsgi.app.config['RATELIMIT_STORAGE_URI'])"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_production_process_without_redis_refuses_to_start():
    """Without REDIS_URL each of 5 workers counted for itself: 45 guesses instead of 10."""
    refused = _start_production({})
    assert refused.returncode != 0
    assert "per-process rate limits" in refused.stderr
    assert "REDIS_URL" in refused.stderr and "FUNRUN_RATE_LIMIT_STORAGE=memory" in refused.stderr
    told = _start_production({"FUNRUN_RATE_LIMIT_STORAGE": "memory"})
    assert told.returncode == 0, told.stderr
    assert told.stdout.strip() == "memory://"
    shared = _start_production({"REDIS_URL": "redis://127.0.0.1:6379/4"})
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.strip() == "redis://127.0.0.1:6379/4"
