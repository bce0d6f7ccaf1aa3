"""Through a real gunicorn (3 workers, production settings) on loopback, with a real HTTP
client keeping the cookie by hand: signing out, an admin and the end of the working day
end a session for every copy of its cookie; rate limits hold at the configured figure
across workers (Redis); failures from many client addresses lock one account.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from flask import Flask
from sqlalchemy import update

from funrun.accounts.models import SignInFailure, StaffSession
from funrun.accounts.signin import email_key
from funrun.dbtypes import utcnow
from funrun.extensions import db
from tests.accounts.conftest import PASSWORD, PEOPLE
from tests.accounts.live import Browser, LiveServer
from tests.conftest import need

REDIS_URL = os.environ.get("TEST_REDIS_URL")
WRONG = "not the password at all"


def _flush() -> None:
    if REDIS_URL:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.flushdb()
        finally:
            client.close()


@pytest.fixture(scope="module")
def server(
    _session_app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """gunicorn on the session database; rate limits in Redis when the suite has one."""
    _flush()
    storage = {"REDIS_URL": REDIS_URL} if REDIS_URL else {"FUNRUN_RATE_LIMIT_STORAGE": "memory"}
    live = LiveServer(
        database_url,
        tmp_path_factory.mktemp("live") / "gunicorn.log",
        workers=3,
        env={**storage, "FUNRUN_RATE_LIMITS": "20/minute"},
    ).start()
    yield live
    live.stop()
    _flush()


def to_sign_in(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def signed_in(server: LiveServer, email: str, address: str) -> Browser:
    browser = Browser(server, address)
    response = browser.sign_in(email, PASSWORD)
    assert response.status_code == 302, response.text[:500]
    assert browser.request("GET", "/staff").status_code == 200
    return browser


def test_a_cookie_saved_before_logout_is_refused_afterwards(app, server, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    browser = signed_in(server, staff.email, "192.0.2.10")
    saved = browser.cookie
    assert saved
    token = browser.csrf("/staff")
    logout = browser.request("POST", "/logout", data={"csrf_token": token})
    assert logout.status_code == 302
    assert to_sign_in(browser.request("GET", "/staff"))
    # Someone who copied the cookie before the logout, from another machine.
    thief = Browser(server, "198.51.100.20")
    thief.cookie = saved
    for path in ("/staff", "/staff/scan"):
        assert to_sign_in(thief.request("GET", path)), path


def test_an_admin_ends_every_session_of_an_account(app, server, make_staff):
    admin = make_staff("admin", password=PASSWORD)
    staff = make_staff("volunteer", password=PASSWORD)
    desk = signed_in(server, admin.email, "192.0.2.30")
    phone = signed_in(server, staff.email, "192.0.2.31")
    laptop = signed_in(server, staff.email, "192.0.2.32")
    token = desk.csrf(f"{PEOPLE}/{staff.id}")
    ended = desk.request("POST", f"{PEOPLE}/{staff.id}/sessions/end", data={"csrf_token": token})
    assert ended.status_code == 302
    assert to_sign_in(phone.request("GET", "/staff"))
    assert to_sign_in(laptop.request("GET", "/staff"))
    assert desk.request("GET", "/staff").status_code == 200


def test_a_session_ends_after_a_working_day(app, server, make_staff):
    staff = make_staff("organiser", password=PASSWORD)
    browser = signed_in(server, staff.email, "192.0.2.40")
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == staff.id)
        .values(created_at=utcnow() - timedelta(hours=10, minutes=1))
    )
    db.session.commit()
    assert to_sign_in(browser.request("GET", "/staff"))


def test_sign_in_limit_is_the_configured_one_across_workers(app, server):
    """10 a minute per client, counted in Redis: the 11th is refused, whichever worker."""
    need(bool(REDIS_URL), "TEST_REDIS_URL (Redis) not set")
    _flush()
    client = Browser(server, "203.0.113.50")
    token = client.csrf()
    statuses = [
        client.request(
            "POST",
            "/login",
            # Another email each time, so no account lock gets in the way.
            data={"email": f"guess-{n}@example.org", "password": WRONG, "csrf_token": token},
        ).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429], statuses
    # Registrations: 20 a minute per client (refused bodies count), then 429.
    api = Browser(server, "203.0.113.51")
    answers = [
        api.request("POST", "/api/v1/events/nowhere/registrations", json={}).status_code
        for _ in range(21)
    ]
    assert answers[-1] == 429 and 429 not in answers[:20], answers


def test_failures_from_many_addresses_lock_the_account(app, server, make_staff):
    _flush()
    staff = make_staff("admin", password=PASSWORD)
    statuses = []
    for n in range(5):
        guesser = Browser(server, f"198.51.100.{n + 1}")
        statuses.append(guesser.sign_in(staff.email, WRONG).status_code)
    assert statuses == [401, 401, 401, 401, 429]
    owner = Browser(server, "192.0.2.99")
    refused = owner.sign_in(staff.email, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    db.session.rollback()
    row = db.session.get(SignInFailure, email_key(staff.email))
    assert row is not None and row.lockouts == 1
    # The lock over, the owner signs in.
    row.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert owner.sign_in(staff.email, PASSWORD).status_code == 302
