"""Shared pieces for the check-in tests: runners, staff with tokens, browsers, log readers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from funrun.accounts import services as accounts_services
from funrun.accounts.services import create_api_token, create_user
from funrun.checkin.entry import looks_signed
from funrun.checkin.models import CheckIn, ScanLog
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.registration.services import cancel, current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import csrf_from, person_payload

API = "/api/v1"
PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery"


class OwnContextClient(FlaskClient):
    """A browser whose every request runs in its own app context, as on a real server.

    The ``app`` fixture keeps one app context for the whole test; without this,
    Flask-Login's user (cached on ``g``) would leak from one client into another.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def browser(app: Flask) -> OwnContextClient:
    return OwnContextClient(app, app.response_class, use_cookies=True)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    """Sign in through the real form (CSRF token read from the page); the response."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture(autouse=True)
def _fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap hashes for test accounts (scrypt takes ~0.3 s each on a busy machine).

    Checking still goes through Werkzeug's real ``check_password_hash``.
    """
    monkeypatch.setattr(
        accounts_services,
        "generate_password_hash",
        partial(generate_password_hash, method="pbkdf2:sha256:1000"),
    )


@dataclass(frozen=True)
class Staff:
    """An account made for a test: its id, email and an API token."""

    id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_staff(app: Flask) -> Callable[..., Staff]:
    """An account of ``role`` (volunteers assigned to ``events``) with an API token."""

    def _make(role: str, *, events: tuple[str, ...] = (), password: str | None = None) -> Staff:
        email = f"{role}-{secrets.token_hex(4)}@example.org"
        user = create_user(email, role, password=password, event_slugs=events)
        return Staff(user.id, email, create_api_token(user))

    return _make


_counter = {"person": 0}


@pytest.fixture
def add_runners(app: Flask) -> Callable[..., list[int]]:
    """Register ``n`` distinct people for an event through the service; their ids."""

    def _add(event: Event, n: int, **overrides: Any) -> list[int]:
        notice = current_privacy_notice("id")
        ids = []
        for _ in range(n):
            _counter["person"] += 1
            data = clean_registration(person_payload(_counter["person"], **overrides), event)
            ids.append(register(event, data, notice=notice).registration.id)
        return ids

    return _add


def desk_fields(code: object) -> dict[str, Any]:
    """How the desk sends ``code`` once it is through the rule of entry.py: a signed
    payload as scanned; anything else as a typed bib whose runner showed their ID card.

    The tests written before methods existed use bare numbers for brevity; they send them
    this way. test_scan_method.py tests the rule itself (scanned plain text, typed bibs
    before and after the ID card).
    """
    if isinstance(code, str) and not looks_signed(code.strip()):
        return {"method": "typed", "id_checked": True}
    return {}


def cancel_registration(registration_id: int) -> None:
    cancel(db.session.get(Registration, registration_id))


def reg(registration_id: int) -> Registration:
    """The stored registration, read fresh."""
    db.session.rollback()
    return db.session.get(Registration, registration_id)


def counts() -> tuple[int, int]:
    """(check-in rows, scan_log rows), read fresh."""
    db.session.rollback()
    return (
        db.session.scalar(select(func.count()).select_from(CheckIn)) or 0,
        db.session.scalar(select(func.count()).select_from(ScanLog)) or 0,
    )


def scan_logs() -> list[ScanLog]:
    db.session.rollback()
    return list(db.session.scalars(select(ScanLog).order_by(ScanLog.id)))


def active_checkins(registration_id: int, station: str = "pickup") -> list[CheckIn]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(CheckIn).where(
                CheckIn.registration_id == registration_id,
                CheckIn.station == station,
                CheckIn.undone_at.is_(None),
            )
        )
    )


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """RFC 9457 problem details with ``status``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    return body


def assert_no_payload_in_log(*payloads: str) -> None:
    """No scan_log row holds a scanned payload (or any long piece of it) anywhere."""
    for log in scan_logs():
        for column in ScanLog.__table__.columns:
            value = getattr(log, column.key)
            if isinstance(value, str):
                for payload in payloads:
                    assert payload not in value
                    # The signature is the identifying part: not even a chunk of it.
                    assert payload.rsplit(":", 1)[-1][:20] not in value
