"""Shared pieces for the enrolment tests: the shipped schedule, a fixed enrolment day,
runners to enrol, desk staff, and enrolment bodies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from funrun.enrolment import services as enrolment_services
from funrun.enrolment.schedule import load_file
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    _fast_password_hashes,
    assert_problem,
    login,
    make_staff,
)
from tests.checkin.conftest import browser as desk_browser  # noqa: F401
from tests.conftest import person_payload

#: The Jakarta finale, 08.00 WIB: the 2015 schedule is in force, no relief applies.
FINALE = datetime(2015, 12, 13, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def schedules(app: Flask) -> None:
    """The shipped schedules and sponsors, as seed-demo loads them."""
    load_file()


@pytest.fixture
def on_finale_day(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Enrolments are made on 13 Dec 2015 (the enrolment date picks the schedule)."""
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: FINALE)
    return FINALE


_counter = {"n": 1000}


def next_index() -> int:
    """A person_payload index no other test of the session used."""
    _counter["n"] += 1
    return _counter["n"]


@pytest.fixture
def add_runner(app: Flask) -> Callable[..., Registration]:
    """Register one person for an event through the service (not a member by default)."""

    def _add(event: Event, index: int | None = None, **overrides: Any) -> Registration:
        data = clean_registration(person_payload(index or next_index(), **overrides), event)
        new = register(event, data, notice=current_privacy_notice("id"))
        return db.session.get_one(Registration, new.snapshot.id)

    return _add


def enrol_body(**overrides: Any) -> dict[str, Any]:
    """A valid enrolment body (without who: add ``code`` or the walk-up fields)."""
    body: dict[str, Any] = {
        "birth_place": "Jakarta",
        "mother_maiden_name": "Sri Wahyuni",
        "address": "Jl. Kebon Sirih No. 10, Jakarta Pusat",
        "occupation": "ojek_driver",
        "declared_income": 1000000,
        "programs": ["JKK", "JKM"],
        "months": 1,
        "payment_channel": "cash",
        "consent": True,
    }
    body.update(overrides)
    return body


def walkup_body(index: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A walk-up's person fields plus a valid enrolment."""
    person = person_payload(index or next_index())
    for key in ("member", "consent"):
        person.pop(key)
    return {**person, **enrol_body(), **overrides}
