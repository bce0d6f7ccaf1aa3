"""Enrolments and export batches under real concurrency: threads, own connections, at once.

Runs on PostgreSQL (a database of its own, ``<test database>_enrol``) and on a SQLite
file, like tests/registration/test_concurrency.py, whose thread runner it reuses.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from funrun.enrolment import services as enrolment_services
from funrun.enrolment.export import batch_file, create_batch
from funrun.enrolment.models import Enrolment, ExportBatch
from funrun.enrolment.schedule import load_file
from funrun.enrolment.services import AlreadyEnrolled, enrol_registered, prepare
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload, truncate_all
from tests.enrolment.conftest import FINALE, enrol_body
from tests.registration.test_concurrency import _migrated_app, make_event, run_together

THREADS = 8


@pytest.fixture(scope="module")
def _apps() -> Iterator[dict[str, Flask]]:
    apps: dict[str, Flask] = {}
    yield apps
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def conc_app(request, _apps, tmp_path_factory, monkeypatch) -> Iterator[Flask]:
    """A dedicated app and database, with the shipped schedule, emptied after each test."""
    kind = request.param
    if kind not in _apps:
        if kind == "postgresql":
            url = request.getfixturevalue("separate_postgres_url")("enrol")
        else:
            path: Path = tmp_path_factory.mktemp("enrol") / "enrol.sqlite3"
            url = f"sqlite:///{path}"
        _apps[kind] = _migrated_app(url)
    app = _apps[kind]
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: FINALE)
    with app.app_context():
        load_file()
        yield app
        db.session.remove()
    truncate_all(app)


def registered(event_id: int, index: int) -> int:
    """Register person ``index`` (not a member) for an event; the registration id."""
    event = db.session.get(Event, event_id)
    data = clean_registration(person_payload(index), event)
    return register(event, data, notice=current_privacy_notice("id")).snapshot.id


def enrol_job(event_id: int, registration_id: int) -> Callable[[], Any]:
    def job() -> str:
        event = db.session.get(Event, event_id)
        registration = db.session.get(Registration, registration_id)
        prepared = prepare(event, enrol_body(), walkup=False)
        return enrol_registered(event, registration, prepared, user=None, locale="id")

    return job


def stored() -> list[Enrolment]:
    db.session.rollback()
    return list(db.session.scalars(select(Enrolment).order_by(Enrolment.id)))


@pytest.mark.parametrize("precheck", [True, False], ids=["service", "unique-index-only"])
def test_two_desks_enrolling_the_same_nik_make_exactly_one(conc_app, monkeypatch, precheck):
    """The same person registered in two cities, enrolled at both desks at once, many times.

    Without the service's own check, the unique index alone still makes exactly one.
    """
    if not precheck:
        monkeypatch.setattr(enrolment_services, "refuse_if_enrolled_or_member", lambda _id: None)
    jakarta, bandung = make_event(), make_event()
    in_jakarta, in_bandung = registered(jakarta, 7), registered(bandung, 7)
    jobs = [
        enrol_job(jakarta, in_jakarta) if i % 2 else enrol_job(bandung, in_bandung)
        for i in range(THREADS)
    ]
    results = run_together(conc_app, jobs, threads=THREADS)
    ok = [value for kind, value in results if kind == "ok"]
    errors = [value for kind, value in results if kind == "error"]
    assert len(ok) == 1, results
    assert all(isinstance(e, AlreadyEnrolled) for e in errors), errors
    [enrolment] = stored()
    assert enrolment.participant_number == ok[0].participant_number


def test_many_desks_at_once_get_distinct_gap_free_numbers(conc_app):
    event = make_event(quota=100)
    ids = [registered(event, 100 + i) for i in range(3 * THREADS)]
    results = run_together(conc_app, [enrol_job(event, i) for i in ids], threads=THREADS)
    assert all(kind == "ok" for kind, _v in results), results
    numbers = sorted(int(e.participant_number[:10]) for e in stored())
    assert numbers == list(range(1, len(ids) + 1))


def test_concurrent_batches_never_repeat_or_drop_an_enrolment(conc_app):
    """Batch makers race each other and the desks: each enrolment lands in one batch."""
    event = make_event(quota=100)
    ids = [registered(event, 200 + i) for i in range(4 * THREADS)]

    def batch_job() -> int | None:
        batch = create_batch(user_id=None)
        return batch.number if batch else None

    jobs: list[Callable[[], Any]] = []
    for i, registration_id in enumerate(ids):
        jobs.append(enrol_job(event, registration_id))
        if i % 3 == 0:
            jobs.append(batch_job)
    results = run_together(conc_app, jobs, threads=THREADS)
    assert all(kind == "ok" for kind, _v in results), results
    create_batch(user_id=None)  # whatever was left
    enrolments = stored()
    assert len(enrolments) == len(ids)
    assert all(e.export_batch_id is not None for e in enrolments)
    batches = list(db.session.scalars(select(ExportBatch).order_by(ExportBatch.number)))
    assert [b.number for b in batches] == list(range(1, len(batches) + 1))
    exported: list[str] = []
    for batch in batches:
        rows = list(
            csv.DictReader(io.StringIO(batch_file(batch.number, "csv", user_id=None).decode()))
        )
        assert len(rows) == batch.count > 0
        exported += [row["participant_number"] for row in rows]
    assert sorted(exported) == sorted(e.participant_number for e in enrolments)
    assert len(set(exported)) == len(exported)


def test_admins_saving_the_same_new_schedule_at_once_get_an_answer_not_a_500(conc_app):
    """Two admins (or a double-clicked Save) store one new schedule code at the same
    moment: one is stored; any other either updates it or is told to reload."""
    from funrun.enrolment.models import ContributionSchedule
    from funrun.enrolment.schedule import ScheduleDataError, apply_document, dump_document

    document = dump_document()
    later = document["schedules"][0]
    later.update(code="bpu-2031", name="Later schedule", effective_from="2031-01-01")
    document["sponsors"] = [{**document["sponsors"][0], "code": "new-sponsor"}]
    results = run_together(conc_app, [lambda: apply_document(document)] * THREADS)
    refused = [value for kind, value in results if kind == "error"]
    assert all(isinstance(error, ScheduleDataError) for error in refused), refused
    assert len(refused) < THREADS
    for error in refused:
        assert "Reload the page" in str(error) or "Muat ulang" in str(error)
    db.session.rollback()
    [stored] = db.session.scalars(
        select(ContributionSchedule).where(ContributionSchedule.code == "bpu-2031")
    ).all()
    assert len(stored.brackets) == 33 and len(stored.reliefs) == 2
