"""Two partners' imports for one event run by two workers at once while runners register
one by one, on PostgreSQL with real threads: the quota is never oversold, no bib or
waitlist number is given twice, nobody holds two places, and the counters on the event
row agree with the registrations."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from funrun.events.models import Event
from funrun.extensions import db
from funrun.groups import importing
from funrun.groups.models import GroupImport
from funrun.jobs import queue
from funrun.jobs.worker import Worker
from funrun.registration.models import Registration
from tests.conftest import person_payload
from tests.groups.test_import_api import World, gapp, group_app_module, member  # noqa: F401

QUOTA = 150


@pytest.mark.parametrize("group_app_module", ["postgresql"], indirect=True)
def test_imports_and_single_registrations_at_once_never_oversell(
    gapp: Flask,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
):
    pg_app = gapp
    monkeypatch.setattr(importing, "CHUNK", 20)
    world = World(pg_app, quota=QUOTA)
    # Partner A: members 0-119; partner B: 100-219 (20 people in both imports).
    first = world.post_json({"import_key": "a", "members": [member(i) for i in range(120)]})
    second = world.post_json(
        {"import_key": "b", "members": [member(i) for i in range(100, 220)]}, who="other"
    )
    assert (first.status_code, second.status_code) == (202, 202)
    db.session.rollback()
    queue.load_handlers()
    errors: list[BaseException] = []
    answers: list[int] = []
    start = threading.Barrier(5)

    def work() -> None:
        try:
            start.wait()
            with pg_app.app_context():
                assert Worker(pg_app).run_one()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    def register(offset: int) -> None:
        try:
            client = pg_app.test_client()
            start.wait()
            for k in range(offset, 90, 3):  # 90 runners, one in ten also in an import
                body = person_payload(300 + k if k % 10 else 2 * k)
                answer = client.post(f"/api/v1/events/{world.slug}/registrations", json=body)
                answers.append(answer.status_code)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    threads += [threading.Thread(target=register, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert set(answers) <= {201, 409} and answers.count(201) > 0

    db.session.rollback()
    imports = db.session.scalars(select(GroupImport).order_by(GroupImport.id)).all()
    assert [(g.status, g.processed_rows) for g in imports] == [("done", 120), ("done", 120)]
    event = db.session.get(Event, world.event_id)
    assert event is not None
    rows = db.session.execute(
        select(
            Registration.status,
            Registration.bib_number,
            Registration.waitlist_seq,
            Registration.person_id,
        ).where(Registration.event_id == world.event_id)
    ).all()
    placed = [r for r in rows if r.status in ("confirmed", "held")]
    waiting = [r for r in rows if r.status == "waitlisted"]
    assert len(placed) == event.confirmed_count == QUOTA  # full, never over
    bibs = [r.bib_number for r in rows if r.bib_number is not None]
    assert len(bibs) == len(set(bibs)) and sorted(bibs) == list(range(1, QUOTA + 1))
    assert event.bib_next == QUOTA + 1
    seqs = [r.waitlist_seq for r in waiting]
    assert len(seqs) == len(set(seqs)) and sorted(seqs) == list(range(1, event.waitlist_seq + 1))
    people = [r.person_id for r in rows if r.status != "cancelled"]
    assert len(people) == len(set(people))  # nobody holds two places
    # every member of the two imports was placed or refused, never lost
    accepted = sum(g.accepted for g in imports)
    refused = sum(g.refused for g in imports)
    assert accepted + refused == 240
    from_imports = db.session.scalar(
        select(func.count()).where(
            Registration.event_id == world.event_id, Registration.group_import_id.is_not(None)
        )
    )
    assert from_imports == accepted
    assert refused >= 20  # the 20 people in both imports (and any who registered alone)


@pytest.mark.parametrize("group_app_module", ["postgresql"], indirect=True)
def test_the_same_import_sent_twice_at_once_is_one_import(gapp: Flask):  # noqa: F811
    world = World(gapp)
    body = {"import_key": "twice", "members": [member(i) for i in range(50)]}
    answers: list[tuple[int, int]] = []
    start = threading.Barrier(4)

    def send() -> None:
        client = gapp.test_client()
        start.wait()
        answer = client.post(
            f"/api/v1/events/{world.slug}/group-registrations",
            json=body,
            headers=world.headers(),
        )
        answers.append((answer.status_code, answer.get_json()["import"]["id"]))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(status for status, _id in answers) == [200, 200, 200, 202]
    assert len({import_id for _status, import_id in answers}) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(GroupImport)) == 1
    stored = Path(gapp.config["FUNRUN_FILES_DIR"]).glob("group-imports/*")
    assert len(list(stored)) == 1  # the repeats' bodies were dropped
