"""Shared pieces for the payment tests: enrolled members with known months."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from funrun.enrolment.models import Enrolment
from funrun.enrolment.services import enrol_registered, prepare
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.enrolment.conftest import add_runner, enrol_body, schedules  # noqa: F401

#: An enrolment day inside the shipped 2015 schedule: the first covered month is 2015-12.
ENROLLED_AT = datetime(2015, 12, 13, 1, 0, tzinfo=UTC)


@pytest.fixture
def enrol(app) -> Callable[..., Enrolment]:
    """Enrol a registered runner at ``now`` (the first covered month is its month)."""

    def _enrol(event: Event, registration: Registration, **overrides: Any) -> Enrolment:
        now = overrides.pop("now", ENROLLED_AT)
        prepared = prepare(event, enrol_body(**overrides), walkup=False, now=now)
        done = enrol_registered(event, registration, prepared, user=None, locale="id", now=now)
        return db.session.get_one(Enrolment, done.id)

    return _enrol


@pytest.fixture
def members(make_event, add_runner, enrol) -> Callable[[int], list[Enrolment]]:  # noqa: F811
    """``n`` enrolled members of one event (2015-12 their first covered month)."""

    def _make(n: int, **overrides: Any) -> list[Enrolment]:
        event = make_event(date=ENROLLED_AT.date(), quota=max(n, 10))
        return [enrol(event, add_runner(event), **overrides) for _ in range(n)]

    return _make


def write_csv(
    path: Path,
    lines: list[str],
    *,
    header: str = "participant_number,month,amount",
    encoding: str = "utf-8",
) -> Path:
    """A payment file of ``lines`` under ``header`` (CRLF line ends, as spreadsheets write)."""
    path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode(encoding))
    return path
