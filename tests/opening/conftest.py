"""A queued app: the session's database with REDIS_URL set (TEST_REDIS_URL), and helpers.

Tests that need Redis skip without TEST_REDIS_URL (fail under FUNRUN_REQUIRE_ALL=1). Only
the queue's own keys are removed before and after each test.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.serving import make_server

from funrun.extensions import db
from funrun.opening import rates, slots
from tests.browser.conftest import _whole_bodies
from tests.conftest import build_app, need, person_payload

REDIS_URL = os.environ.get("TEST_REDIS_URL")


def forget_queues(url: str) -> None:
    """Delete every queue key (funrun:queue:*) in the Redis at ``url``."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter("funrun:queue:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _forget_queued_events() -> Iterator[None]:
    """Each test's city-1 is another event: no process memory of the last one's rate."""
    rates.forget()
    yield
    rates.forget()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """TEST_REDIS_URL, with no queue keys before or after the test."""
    need(bool(REDIS_URL), "TEST_REDIS_URL (Redis) not set")
    assert REDIS_URL
    forget_queues(REDIS_URL)
    slots._down_until = 0.0
    yield REDIS_URL
    forget_queues(REDIS_URL)
    slots._down_until = 0.0


@pytest.fixture
def queued_app(app: Flask, database_url: str, redis_url: str) -> Iterator[Flask]:
    """An app with a queue (REDIS_URL) on the session database; ``app`` holds the data."""
    queued = build_app(database_url, REDIS_URL=redis_url)
    yield queued
    with queued.app_context():
        db.engine.dispose()


@pytest.fixture
def queued_server(queued_app: Flask) -> Iterator[str]:
    """The queued app served on a free loopback port (Werkzeug, threaded)."""
    server = make_server("127.0.0.1", 0, _whole_bodies(queued_app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def form_data(index: int = 1) -> dict[str, Any]:
    """What a browser sends for a valid registration of person_payload(index)."""
    person = person_payload(index)
    return {
        "full_name": person["full_name"],
        "nik": person["nik"],
        "birth_date": person["birth_date"],
        "gender": person["gender"],
        "phone": person["phone"],
        "email": "",
        "emergency_contact": "",
        "emergency_phone": "",
        "shirt_size": "M",
        "member": "n",
        "kpj_number": "",
        "occupation": "",
        "consent": "y",
    }
