"""A partner's group import through the API and the worker (issue 20), on SQLite and
PostgreSQL: JSON and CSV bodies, per-row refusals, the import key, held places with
bibs in the quota, the waitlist past it, progress, the report, access, bad bodies."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, make_url, select, text

from funrun.accounts.models import Role
from funrun.accounts.services import create_api_token, create_user
from funrun.dbtypes import utcnow
from funrun.events.models import Event, Tour
from funrun.extensions import db
from funrun.groups import bodies, importing
from funrun.groups.models import GroupImport
from funrun.jobs import queue
from funrun.jobs.models import Job
from funrun.jobs.worker import Worker
from funrun.messages.models import Message, MessageKind
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.tokens import find_by_token
from tests.conftest import (
    POSTGRES_URL,
    build_app,
    need,
    person_payload,
    reset_database,
    truncate_all,
)

URL = "/api/v1/events/{slug}/group-registrations"


def group_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of these tests' own: SQLite, or ``<TEST_POSTGRES_URL>_gimport``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('gimport') / 'gimport.sqlite3'}"
    need(bool(POSTGRES_URL), "TEST_POSTGRES_URL or TEST_DATABASE_URL is not set")
    url = make_url(str(POSTGRES_URL))
    name = f"{url.database}_gimport"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def group_app_module(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    url = group_database(request, tmp_path_factory)
    reset_database(url)
    files = tmp_path_factory.mktemp("gimport-files")
    app = build_app(url, FUNRUN_FILES_DIR=str(files), FUNRUN_PARTNER_RATE_LIMITS="10000/minute")
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def gapp(group_app_module: Flask) -> Iterator[Flask]:
    """The app on this test's database, emptied after the test."""
    with group_app_module.app_context():
        yield group_app_module
        db.session.remove()
    truncate_all(group_app_module)
    shutil.rmtree(Path(group_app_module.config["FUNRUN_FILES_DIR"]) / "group-imports", True)


class World:
    """An open event, two partners, a volunteer and an organiser with their tokens."""

    def __init__(self, app: Flask, quota: int = 50) -> None:
        tour = Tour(slug="test-tour", name="Test Tour", organiser="Test")
        db.session.add(tour)
        db.session.flush()
        self.event = Event(
            tour_id=tour.id,
            slug="city-1",
            city="City 1",
            name="Fun Run City 1",
            date=date(2026, 12, 13),
            start_time=__import__("datetime").time(6, 0),
            venue="Alun-alun",
            quota=quota,
            bib_prefix="TST",
            bib_first=1,
            bib_last=9999,
            bib_next=1,
            group_hold_days=5,
        )
        db.session.add(self.event)
        db.session.commit()
        self.slug = self.event.slug
        self.event_id = self.event.id
        self.partner = create_user("hr@ojek.example", Role.PARTNER)
        self.partner_id = self.partner.id
        self.tokens = {"partner": create_api_token(self.partner)}
        other = create_user("hr@kurir.example", Role.PARTNER)
        self.tokens["other"] = create_api_token(other)
        volunteer = create_user("vol@funrun.test", Role.VOLUNTEER, event_slugs=[self.slug])
        self.tokens["volunteer"] = create_api_token(volunteer)
        organiser = create_user("org@funrun.test", Role.ORGANISER)
        self.tokens["organiser"] = create_api_token(organiser)
        db.session.commit()
        self.client: FlaskClient = app.test_client()
        self.app = app

    def headers(self, who: str = "partner", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}

    def post_json(self, body: Any, who: str = "partner", lang: str = "id") -> Any:
        return self.client.post(
            URL.format(slug=self.slug),
            data=json.dumps(body),
            content_type="application/json",
            headers=self.headers(who, **{"Accept-Language": lang}),
        )

    def post_csv(self, body: str | bytes, key: str | None = "csv-1", lang: str = "id") -> Any:
        headers = self.headers(**{"Accept-Language": lang})
        if key is not None:
            headers["Import-Key"] = key
        return self.client.post(
            URL.format(slug=self.slug), data=body, content_type="text/csv", headers=headers
        )

    def run_worker(self) -> int:
        """Run the queued jobs in this process (no message sending)."""
        queue.load_handlers()
        db.session.rollback()
        ran = 0
        worker = Worker(self.app)
        while worker.run_one():
            ran += 1
        db.session.rollback()
        return ran

    def get(self, path: str, who: str | None = "partner") -> Any:
        headers = self.headers(who) if who else {}
        return self.client.get(path, headers=headers)


@pytest.fixture
def world(gapp: Flask) -> World:
    return World(gapp)


def member(index: int, **overrides: Any) -> dict[str, Any]:
    """A group member's body: a registration's without consent."""
    body = person_payload(index, email=f"runner{index}@example.com", **overrides)
    del body["consent"]
    return body


def as_csv(members: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or list(members[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in members:
        writer.writerow(
            [
                "true" if row.get(c) is True else "false" if row.get(c) is False else row.get(c, "")
                for c in columns
            ]
        )
    return out.getvalue()


def _cell(value: Any) -> Any:
    return {True: "true", False: "false"}.get(value, value) if isinstance(value, bool) else value


def registrations(world: World) -> list[Registration]:
    return list(
        db.session.scalars(
            select(Registration)
            .where(Registration.event_id == world.event_id)
            .order_by(Registration.id)
        )
    )


def event_counts(world: World) -> tuple[int, int, int]:
    row = db.session.execute(
        select(Event.confirmed_count, Event.bib_next, Event.waitlist_seq).where(
            Event.id == world.event_id
        )
    ).one()
    return tuple(row)  # type: ignore[return-value]


# --- a JSON import, row by row ---------------------------------------------------------


def test_a_json_import_holds_places_and_refuses_rows_with_their_reasons(world: World):
    already = person_payload(50)
    registered = world.client.post(
        f"/api/v1/events/{world.slug}/registrations", json=already, headers=world.headers()
    )
    assert registered.status_code == 201
    members = [
        member(1),
        member(2, nik="1234"),  # bad NIK
        member(3, phone="12345"),  # bad phone
        {k: v for k, v in member(4).items() if k != "full_name"},  # missing field
        member(5),
        member(1, full_name="Budi Lagi"),  # the NIK of row 1 again
        {
            **member(6),
            "nik": already["nik"],
            "birth_date": already["birth_date"],
            "gender": already["gender"],
        },  # already registered (by the partner, one by one)
        member(7, consent=False),  # consent is not the partner's to give: ignored
    ]
    answer = world.post_json({"import_key": "batch-2026-12", "members": members})
    assert answer.status_code == 202, answer.get_json()
    made = answer.get_json()["import"]
    assert answer.headers["Location"] == f"/api/v1/imports/{made['id']}"
    assert (made["status"], made["total_rows"], made["processed_rows"]) == ("queued", 8, 0)
    group = db.session.get(GroupImport, made["id"])
    assert group is not None and group.body_path is not None
    stored = bodies.stored_path(group.body_path)
    assert stored.exists() and b"Budi" not in stored.read_bytes()  # encrypted at rest
    assert db.session.scalar(select(func.count()).select_from(Job)) == 1

    assert world.run_worker() == 1
    done = world.get(f"/api/v1/imports/{made['id']}").get_json()["import"]
    assert (done["status"], done["processed_rows"], done["accepted"]) == ("done", 8, 3)
    assert done["refused_count"] == 5 and done["waitlisted"] == 0
    refused = {r["row"]: r["errors"] for r in done["refused"]}
    assert set(refused) == {2, 3, 4, 6, 7}
    assert "nik" in refused[2] and "phone" in refused[3] and "full_name" in refused[4]
    assert refused[6] == {"nik": ["NIK ini juga ada di baris 1 impor ini."]}
    assert refused[7] == {"nik": ["NIK ini sudah terdaftar untuk acara ini."]}
    assert not stored.exists()  # the body is deleted once done
    db.session.expire_all()
    assert db.session.get(GroupImport, made["id"]).body_path is None  # type: ignore[union-attr]

    held = [r for r in registrations(world) if r.group_import_id == made["id"]]
    assert len(held) == 3
    now = utcnow()
    for reg in held:
        assert reg.status == RegistrationStatus.HELD
        assert reg.bib_number is not None and reg.waitlist_seq is None
        assert reg.partner_id == world.partner_id and reg.created_by_id == world.partner_id
        assert reg.consent_at is None and reg.privacy_notice_id is None
        assert reg.source == "group" and reg.locale == "id"
        assert (
            timedelta(days=5) - timedelta(minutes=5)
            < reg.hold_expires_at - now
            <= timedelta(days=5)
        )
        assert reg.manage_token_encrypted is not None
    # the bibs follow the single registration's, as places taken one by one would
    assert sorted(r.bib_number for r in held) == [2, 3, 4]  # type: ignore[misc]
    assert event_counts(world)[:2] == (4, 5)
    # the partner's one-by-one registration names the partner too
    single = [r for r in registrations(world) if r.group_import_id is None]
    assert [r.partner_id for r in single] == [world.partner_id]
    # one invitation per held member (e-mail: each gave an address), in the same commits
    invites = db.session.scalars(
        select(Message.registration_id).where(Message.kind == MessageKind.GROUP_INVITE)
    ).all()
    assert sorted(invites) == sorted(r.id for r in held)


def test_a_held_members_manage_token_opens_their_own_place(world: World):
    answer = world.post_json({"import_key": "k", "members": [member(1)]})
    assert answer.status_code == 202
    world.run_worker()
    (reg,) = registrations(world)
    from funrun.people.crypto import data_cipher
    from funrun.registration.tokens import TOKEN_CONTEXT

    token = data_cipher().decrypt(reg.manage_token_encrypted, context=TOKEN_CONTEXT)  # type: ignore[arg-type]
    found = find_by_token(token)
    assert found is not None and found.id == reg.id


def test_messages_follow_the_upload_language(world: World):
    answer = world.post_json(
        {"import_key": "en", "members": [member(1, phone="12"), member(2)]}, lang="en"
    )
    world.run_worker()
    done = world.get(answer.headers["Location"]).get_json()["import"]
    assert done["refused"][0]["row"] == 1
    assert "phone" in done["refused"][0]["errors"]
    message = done["refused"][0]["errors"]["phone"][0]
    assert message.isascii() and "nomor" not in message.lower()
    report = world.get(f"{answer.headers['Location']}/report.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert message in report.get_data(as_text=True)


# --- CSV -------------------------------------------------------------------------------


def test_a_csv_import_with_a_byte_order_mark_and_the_key_in_the_query(world: World):
    members = [member(i) for i in range(1, 5)] + [member(9, nik="317401010180000X")]
    body = "\ufeff" + as_csv(members)
    answer = world.client.post(
        URL.format(slug=world.slug) + "?import_key=from-query",
        data=body.encode(),
        content_type="text/csv; charset=utf-8",
        headers=world.headers(),
    )
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["import"]["import_key"] == "from-query"
    assert answer.get_json()["import"]["total_rows"] == 5
    world.run_worker()
    done = world.get(answer.headers["Location"]).get_json()["import"]
    assert (done["accepted"], done["refused_count"]) == (4, 1)
    assert done["refused"][0]["row"] == 5 and "nik" in done["refused"][0]["errors"]
    report = world.get(f"{answer.headers['Location']}/report.csv").get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(report)))
    assert lines[0] == ["row", "field", "message"]
    assert [line[:2] for line in lines[1:]] == [["5", "nik"]]
    assert {r.status for r in registrations(world)} == {RegistrationStatus.HELD}


def test_csv_columns_are_the_registration_fields_and_member_reads_yes_no(world: World):
    rows = [member(1, member=True, kpj_number="12345678901"), member(2)]
    columns = [
        "full_name",
        "nik",
        "birth_date",
        "gender",
        "phone",
        "email",
        "shirt_size",
        "member",
        "kpj_number",
        "occupation",
        "emergency_contact",
    ]
    answer = world.post_csv(as_csv(rows, columns))
    assert answer.status_code == 202, answer.get_json()
    world.run_worker()
    regs = registrations(world)
    assert [(r.is_member, r.kpj_number) for r in regs] == [(True, "12345678901"), (False, None)]
    assert regs[0].phone.startswith("+62")


# --- the import key --------------------------------------------------------------------


def test_the_same_key_and_body_again_answers_the_same_import(world: World):
    body = {"import_key": "same", "members": [member(1), member(2)]}
    first = world.post_json(body)
    assert first.status_code == 202
    again = world.post_json(body)
    assert again.status_code == 200
    assert again.get_json()["import"]["id"] == first.get_json()["import"]["id"]
    assert again.headers["Location"] == first.headers["Location"]
    world.run_worker()
    after = world.post_json(body)
    assert after.status_code == 200 and after.get_json()["import"]["status"] == "done"
    assert db.session.scalar(select(func.count()).select_from(GroupImport)) == 1
    assert db.session.scalar(select(func.count()).select_from(Job)) == 1
    assert len(registrations(world)) == 2
    # nothing of the repeats is left in the file store
    assert list(Path(world.app.config["FUNRUN_FILES_DIR"]).glob("group-imports/*")) == []


def test_the_same_key_with_another_body_is_a_conflict(world: World):
    assert world.post_json({"import_key": "k1", "members": [member(1)]}).status_code == 202
    clash = world.post_json({"import_key": "k1", "members": [member(2)]})
    assert clash.status_code == 409 and clash.mimetype == "application/problem+json"
    assert clash.get_json()["type"].endswith("/import-key-reused")
    # another partner may use the same key for its own import
    other = world.post_json({"import_key": "k1", "members": [member(3)]}, who="other")
    assert other.status_code == 202
    assert db.session.scalar(select(func.count()).select_from(GroupImport)) == 2


# --- quota -----------------------------------------------------------------------------


def test_members_past_the_quota_are_waitlisted_and_the_report_says_so(gapp: Flask):
    world = World(gapp, quota=3)
    world.client.post(
        f"/api/v1/events/{world.slug}/registrations", json=person_payload(80)
    )  # one place taken by a runner
    answer = world.post_json({"import_key": "full", "members": [member(i) for i in range(1, 6)]})
    world.run_worker()
    done = world.get(answer.headers["Location"]).get_json()["import"]
    assert (done["accepted"], done["waitlisted"], done["refused_count"]) == (5, 3, 0)
    assert [r["row"] for r in done["refused"]] == [3, 4, 5]
    assert all("place" in r["errors"] for r in done["refused"])
    regs = [r for r in registrations(world) if r.group_import_id]
    assert [r.status for r in regs] == ["held", "held", "waitlisted", "waitlisted", "waitlisted"]
    assert [r.waitlist_seq for r in regs[2:]] == [1, 2, 3]
    assert event_counts(world) == (3, 4, 3)  # quota full, never over
    report = world.get(answer.headers["Location"] + "/report.csv").get_data(as_text=True)
    assert report.count("place") == 3


# --- progress --------------------------------------------------------------------------


def test_progress_moves_on_chunk_by_chunk(world: World, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(importing, "CHUNK", 2)
    seen: list[tuple[int, int, int]] = []
    real = importing.hold_chunk

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        with db.engine.connect() as conn:  # what another request sees meanwhile
            row = conn.execute(
                select(GroupImport.processed_rows, GroupImport.accepted, GroupImport.refused)
            ).one()
        seen.append(tuple(row))  # type: ignore[arg-type]
        return result

    monkeypatch.setattr(importing, "hold_chunk", spy)
    members = [member(1), member(2, nik="x"), member(3), member(4), member(5)]
    world.post_json({"import_key": "p", "members": members})
    world.run_worker()
    assert seen == [(2, 1, 1), (4, 3, 1), (5, 4, 1)]


def test_a_job_run_again_goes_on_after_the_last_chunk(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(importing, "CHUNK", 2)
    real = importing.hold_chunk
    calls = {"n": 0}

    def dies_on_the_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    monkeypatch.setattr(importing, "hold_chunk", dies_on_the_second)
    answer = world.post_json({"import_key": "r", "members": [member(i) for i in range(1, 6)]})
    world.run_worker()
    db.session.execute(text("UPDATE jobs SET run_after = created_at"))
    db.session.commit()
    world.run_worker()
    done = world.get(answer.headers["Location"]).get_json()["import"]
    assert (done["status"], done["processed_rows"], done["accepted"]) == ("done", 5, 5)
    assert sorted(r.bib_number for r in registrations(world)) == [1, 2, 3, 4, 5]  # type: ignore[type-var]


# --- access ----------------------------------------------------------------------------


def test_only_the_partner_that_made_an_import_sees_it(world: World):
    answer = world.post_json({"import_key": "a", "members": [member(1)]})
    location = answer.headers["Location"]
    for path in (location, location + "/report.csv"):
        assert world.get(path).status_code == 200
        assert world.get(path, "other").status_code == 404
        assert world.get(path, "volunteer").status_code == 403
        assert world.get(path, "organiser").status_code == 403
        assert world.get(path, None).status_code == 401
    assert world.get("/api/v1/imports/999999").status_code == 404


def test_only_partners_may_send_an_import(world: World):
    body = {"import_key": "b", "members": [member(1)]}
    assert world.post_json(body, who="volunteer").status_code == 403
    assert world.post_json(body, who="organiser").status_code == 403
    anonymous = world.client.post(URL.format(slug=world.slug), json=body)
    assert anonymous.status_code == 401
    missing = world.client.post(URL.format(slug="nowhere"), json=body, headers=world.headers())
    assert missing.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(GroupImport)) == 0


# --- bad bodies ------------------------------------------------------------------------


BAD_JSON: list[tuple[bytes, int]] = [
    (b"", 400),
    (b"{", 400),
    (b"[]", 400),
    (b'{"members": [{}]}', 422),  # no key
    (b'{"import_key": "", "members": [{}]}', 422),
    (json.dumps({"import_key": "k" * 101, "members": [{}]}).encode(), 422),
    (b'{"import_key": "k", "members": []}', 422),
    (b'{"import_key": "k"}', 422),
    (b'{"import_key": "k", "members": {"a": 1}}', 422),
    (b'{"import_key": "k", "members": [1, 2]}', 422),
    (b'{"import_key": "k", "members": [{}]} trailing', 400),
    (b'{"import_key": "k", "import_key": "k", "members": [{}]}', 400),
    (b'{"import_key": "k", "members": [{"full_name": "' + b"A" * 9000 + b'"}]}', 400),
    ('{"import_key": "k", "members": [{}]}'.encode("utf-16"), 400),
    (b'{"import_key": "k\\u0000", "members": [{}]}', 422),
    (b'{"import_key": "k", "members": [{"full_name": "\xff"}]}', 400),
]


@pytest.mark.parametrize(("body", "status"), BAD_JSON)
def test_bad_json_bodies_are_refused_with_a_problem(world: World, body: bytes, status: int):
    answer = world.client.post(
        URL.format(slug=world.slug),
        data=body,
        content_type="application/json",
        headers=world.headers(),
    )
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["title"]
    assert db.session.scalar(select(func.count()).select_from(GroupImport)) == 0
    assert list(Path(world.app.config["FUNRUN_FILES_DIR"]).glob("group-imports/*")) == []


HEADER = "full_name,nik,birth_date,gender,phone,shirt_size,member\r\n"
ROW = "Budi Santoso,3174010101800001,1980-01-01,M,081234567890,M,false\r\n"
BAD_CSV: list[tuple[bytes, str | None, int]] = [
    (b"", "k", 422),
    (HEADER.encode(), "k", 422),  # no members
    ((HEADER + ROW).encode(), None, 422),  # no key
    ((HEADER + ROW).encode(), "k" * 101, 422),
    (("full_name,nik\r\n" + ROW).encode(), "k", 422),  # columns missing
    (("nama," + HEADER + ROW).encode(), "k", 422),  # an unknown column
    (("consent," + HEADER + ROW).encode(), "k", 422),  # consent is the member's
    ((HEADER + ROW).encode("utf-16"), "k", 400),
    ((HEADER + "Budi \xff\r\n").encode("latin-1"), "k", 400),
    ((HEADER + '"Budi\r\n').encode(), "k", 400),  # a quote never closed
    ((HEADER + "x" * 9000 + "\r\n").encode(), "k", 400),
    ((HEADER + "Budi\x00,1\r\n").encode(), "k", 400),
]


@pytest.mark.parametrize(("body", "key", "status"), BAD_CSV)
def test_bad_csv_bodies_are_refused_with_a_problem(
    world: World, body: bytes, key: str | None, status: int
):
    answer = world.post_csv(body, key=key, lang="en")
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["title"].isascii()  # in English, as asked
    assert db.session.scalar(select(func.count()).select_from(GroupImport)) == 0
    assert list(Path(world.app.config["FUNRUN_FILES_DIR"]).glob("group-imports/*")) == []


def test_other_content_types_are_refused(world: World):
    answer = world.client.post(
        URL.format(slug=world.slug), data="x", content_type="text/plain", headers=world.headers()
    )
    assert answer.status_code == 415 and answer.mimetype == "application/problem+json"


def test_too_many_rows_and_too_large_bodies_are_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(bodies, "MAX_ROWS", 3)
    four = [member(i) for i in range(4)]
    assert world.post_json({"import_key": "j", "members": four}).status_code == 413
    assert world.post_csv(as_csv(four)).status_code == 413
    assert world.post_csv(as_csv(four[:3])).status_code == 202
    monkeypatch.setattr(bodies, "MAX_BODY", 2000)
    small = world.post_json({"import_key": "small", "members": four[:1]})
    assert small.status_code == 202
    big = world.post_json({"import_key": "big", "members": four[:3] * 4})  # over 2,000 bytes
    assert big.status_code == 413 and big.mimetype == "application/problem+json"
    huge = world.post_csv(as_csv(four[:3]) + "x" * 3000, key="huge")
    assert huge.status_code == 413 and huge.mimetype == "application/problem+json"
    # without a Content-Length (chunked), the stream is counted as it is read
    chunked = world.client.post(
        URL.format(slug=world.slug),
        input_stream=io.BytesIO(as_csv(four[:3]).encode() + b"x" * 3000),
        content_type="text/csv",
        headers=world.headers(**{"Import-Key": "chunked", "Transfer-Encoding": "chunked"}),
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn says of chunked
    )
    assert chunked.status_code == 413
    keys = db.session.scalars(select(GroupImport.import_key).order_by(GroupImport.id)).all()
    assert keys == ["csv-1", "small"]
    assert len(list(Path(world.app.config["FUNRUN_FILES_DIR"]).glob("group-imports/*"))) == 2


def test_a_closed_event_takes_no_import(world: World):
    db.session.execute(
        Event.__table__.update().where(Event.id == world.event_id).values(registration_open=False)
    )
    db.session.commit()
    answer = world.post_json({"import_key": "c", "members": [member(1)]})
    assert answer.status_code == 409
    assert answer.get_json()["type"].endswith("/registration-closed")


def test_an_event_closed_before_the_worker_ran_refuses_every_row(world: World):
    answer = world.post_json({"import_key": "c", "members": [member(1), member(2)]})
    db.session.execute(
        Event.__table__.update().where(Event.id == world.event_id).values(registration_open=False)
    )
    db.session.commit()
    world.run_worker()
    done = world.get(answer.headers["Location"]).get_json()["import"]
    assert (done["status"], done["accepted"], done["refused_count"]) == ("done", 0, 2)
    assert "event" in done["refused"][0]["errors"]
    assert registrations(world) == [] and event_counts(world) == (0, 1, 0)


def test_an_import_whose_job_gives_up_says_so_and_keeps_no_body(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    def fails(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(importing, "hold_chunk", fails)
    answer = world.post_json({"import_key": "g", "members": [member(1)]})
    group = db.session.get(GroupImport, answer.get_json()["import"]["id"])
    assert group is not None and group.body_path is not None
    stored = bodies.stored_path(group.body_path)
    for _attempt in range(3):
        world.run_worker()
        db.session.execute(text("UPDATE jobs SET run_after = created_at"))
        db.session.commit()
    failed = world.get(answer.headers["Location"]).get_json()["import"]
    assert (failed["status"], failed["processed_rows"], failed["accepted"]) == ("failed", 0, 0)
    assert not stored.exists() and registrations(world) == []


def test_the_held_members_invitations_are_written_by_the_worker(world: World):
    answer = world.post_json({"import_key": "inv", "members": [member(1), member(2)]})
    assert answer.status_code == 202
    db.session.rollback()
    Worker(world.app).run(burst=True)  # the import, then the messages it queued
    db.session.rollback()
    sent = db.session.execute(
        select(Message.kind, Message.status).where(Message.kind == MessageKind.GROUP_INVITE)
    ).all()
    assert len(sent) == 2
    assert {status for _kind, status in sent} <= {"sent", "held"}  # the outbox: no SMTP here


def test_a_waitlisted_group_member_promoted_is_held_not_confirmed(gapp: Flask):
    from funrun.registration.cancelling import cancel

    world = World(gapp, quota=2)
    world.post_json({"import_key": "w", "members": [member(1), member(2), member(3)]})
    world.run_worker()
    first, _second, waiting = registrations(world)
    assert waiting.status == RegistrationStatus.WAITLISTED and waiting.consent_at is None
    cancel(first)  # a place freed: the head of the waitlist takes it
    db.session.expire_all()
    promoted = db.session.get(Registration, waiting.id)
    assert promoted is not None
    assert promoted.status == RegistrationStatus.HELD  # still theirs to confirm
    assert promoted.bib_number == 3 and promoted.confirmed_at is None
    assert promoted.consent_at is None and promoted.hold_expires_at is not None
    kinds = db.session.scalars(
        select(Message.kind).where(Message.registration_id == promoted.id)
    ).all()
    assert kinds == [MessageKind.GROUP_INVITE]
    assert event_counts(world)[0] == 2
