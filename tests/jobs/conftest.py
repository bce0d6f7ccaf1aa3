"""Test handlers registered for the length of a test, and a look at the job table."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from funrun.extensions import db
from funrun.jobs import queue
from funrun.jobs.models import Job


class Recorder:
    """A handler that records every payload it runs (from any thread) and can be told to
    fail or to write something of its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: list[dict[str, Any]] = []
        self.fail_with: Exception | None = None
        self.then: Callable[[dict[str, Any]], None] | None = None
        self.gave_up: list[tuple[dict[str, Any], str]] = []

    def __call__(self, payload: dict[str, Any]) -> None:
        with self.lock:
            self.runs.append(payload)
        if self.fail_with is not None:
            raise self.fail_with
        if self.then is not None:
            self.then(payload)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """``test.record`` jobs run this recorder."""
    found = Recorder()
    queue.handler("test.record", gave_up=lambda p, e: found.gave_up.append((p, e)))(found)
    yield found
    queue.HANDLERS.pop("test.record", None)


def jobs() -> list[Job]:
    """Every job row, oldest first, as committed."""
    db.session.rollback()
    return list(db.session.scalars(select(Job).order_by(Job.id)))
