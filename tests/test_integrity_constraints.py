"""The database itself refuses rows the code assumes never exist (issue 16, point 7), on
SQLite and PostgreSQL; and migration 0013 brings existing rows along or says why not."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from alembic import command
from flask_migrate import upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

import funrun.models  # noqa: F401  (every table in the metadata)
from funrun.extensions import db

AT = datetime(2026, 12, 13, 6, 0, tzinfo=UTC)


def table(name: str):  # type: ignore[no-untyped-def]
    return db.metadata.tables[name]


def insert(table_name: str, /, **values: Any) -> int:
    """Insert one row with Core (no service rules in the way) and give its id."""
    return db.session.execute(table(table_name).insert().values(**values)).inserted_primary_key[0]


def seed() -> dict[str, int]:
    """Two events, one person with a confirmed place in the first; committed."""
    tour = insert("tours", slug="tour", name="Tour", organiser="Test", created_at=AT)
    events = [
        insert(
            "events",
            tour_id=tour,
            slug=slug,
            city=slug.title(),
            name=f"Fun Run {slug}",
            date=date(2026, 12, 13),
            start_time=time(6, 0),
            venue="Alun-alun",
            quota=10,
            bib_prefix="TST",
            bib_next=2,
            confirmed_count=1,
        )
        for slug in ("solo", "bogor")
    ]
    person = insert(
        "people",
        nik_hash="h" * 64,
        nik_encrypted=b"x",
        birth_date=date(1990, 1, 1),
        gender="M",
    )
    notice = insert(
        "privacy_notices", version="1", locale="id", body="b", consent_label="c", sha256="s" * 64
    )
    registration = insert_registration(events[0], person, notice, status="confirmed", bib=1)
    second_person = insert(
        "people",
        nik_hash="k" * 64,
        nik_encrypted=b"x",
        birth_date=date(1991, 1, 1),
        gender="F",
    )
    db.session.commit()
    return {
        "event": events[0],
        "other_event": events[1],
        "person": person,
        "second_person": second_person,
        "notice": notice,
        "registration": registration,
    }


def insert_registration(
    event: int, person: int, notice: int, *, status: str, bib: int | None = None, **kw: Any
) -> int:
    return insert(
        "registrations",
        event_id=event,
        person_id=person,
        status=status,
        bib_number=bib,
        manage_token_hash=f"{event}-{person}-{status}-{bib}-{kw.get('waitlist_seq')}-{kw}"[:64],
        full_name="Budi",
        phone="+6281234567890",
        shirt_size="M",
        is_member=False,
        privacy_notice_id=notice,
        consent_at=AT,
        **kw,
    )


def refused(table_name: str, /, **values: Any) -> bool:
    """Whether the database refuses the row (rolled back either way)."""
    try:
        with db.session.begin_nested():
            insert(table_name, **values)
    except IntegrityError:
        return True
    finally:
        db.session.rollback()
    return False


def checkin(ids: dict[str, int], **kw: Any) -> dict[str, Any]:
    row = {"event_id": ids["event"], "registration_id": ids["registration"], "station": "pickup"}
    return row | {"checked_in_at": AT} | kw


def scan(ids: dict[str, int], **kw: Any) -> dict[str, Any]:
    row = {"event_id": ids["event"], "station": "pickup", "result": "unknown", "code_kind": "qr"}
    return row | {"method": "scan", "received_at": AT} | kw


def waitlisted(ids: dict[str, int], *, seq: int | None) -> dict[str, Any]:
    """A waitlisted registration of the seeded event for the second person."""
    return {
        "event_id": ids["event"],
        "person_id": ids["second_person"],
        "status": "waitlisted",
        "waitlist_seq": seq,
        "manage_token_hash": "w" * 64,
        "full_name": "Siti",
        "phone": "+6281234567891",
        "shirt_size": "M",
        "is_member": False,
        "privacy_notice_id": ids["notice"],
        "consent_at": AT,
    }


def test_each_constraint_refuses_a_bad_row(fresh_app):
    upgrade()
    ids = seed()
    # The good rows go in, so each refusal below is about the one thing changed.
    assert not refused("checkins", **checkin(ids))
    assert not refused("scan_log", **scan(ids))
    assert not refused("registrations", **waitlisted(ids, seq=1))

    assert refused("checkins", **checkin(ids, station="lunch"))
    assert refused("scan_log", **scan(ids, station="lunch"))
    # A check-in filed under another event than its registration's.
    assert refused("checkins", **checkin(ids, event_id=ids["other_event"]))
    # Waitlisted without a place in the waitlist.
    assert refused("registrations", **waitlisted(ids, seq=None))
    # A scan of another event's bib is logged under the scanning event: still allowed.
    assert not refused("scan_log", **scan(ids, event_id=ids["other_event"], registration_id=1))


def test_a_ballot_entry_number_is_unique_in_its_event_and_other_rows_stay_out_of_its_index(
    fresh_app,
):
    upgrade()
    ids = seed()
    entry = waitlisted(ids, seq=None) | {"status": "entered", "entry_number": 7}
    assert not refused("registrations", **entry)
    insert("registrations", **entry)
    db.session.commit()
    third = insert(
        "people", nik_hash="m" * 64, nik_encrypted=b"x", birth_date=date(1992, 1, 1), gender="M"
    )
    db.session.commit()  # each refusal below rolls the session back
    again = entry | {"person_id": third, "manage_token_hash": "e" * 64}
    assert refused("registrations", **again)  # the same number twice in one event
    assert not refused("registrations", **(again | {"entry_number": 8}))
    assert not refused("registrations", **(again | {"event_id": ids["other_event"]}))
    # Registrations that are not ballot entries (no number) are not in the index at all:
    # the rush's inserts do not write to it (migration 0020).
    with db.engine.connect() as conn:
        unique = {
            ix["name"]: ix for ix in inspect(conn).get_indexes("registrations") if ix["unique"]
        }
    where = unique["uq_registrations_event_id_entry_number"]["dialect_options"]
    assert "entry_number IS NOT NULL" in str(
        where.get("postgresql_where", where.get("sqlite_where"))
    )


def test_foreign_keys_that_queries_use_are_indexed(fresh_app):
    upgrade()
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        leading = {
            (name, ix["column_names"][0])
            for name in ("scan_log", "audit_log")
            for ix in inspector.get_indexes(name)
        }
    for wanted in (
        ("scan_log", "registration_id"),
        ("scan_log", "user_id"),
        ("audit_log", "user_id"),
        ("audit_log", "event_id"),
    ):
        assert wanted in leading


def test_existing_waitlist_rows_get_positions_in_the_order_they_came_and_scans_stay(fresh_app):
    upgrade(revision="0012")
    ids = seed()
    people = [
        insert(
            "people",
            nik_hash=str(n) * 64,
            nik_encrypted=b"x",
            birth_date=date(1990, 1, 1),
            gender="F",
        )
        for n in range(3)
    ]
    placed = insert_registration(
        ids["event"], people[0], ids["notice"], status="waitlisted", waitlist_seq=3
    )
    later = insert_registration(
        ids["event"],
        people[1],
        ids["notice"],
        status="waitlisted",
        created_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    earlier = insert_registration(
        ids["event"],
        people[2],
        ids["notice"],
        status="waitlisted",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    # Rows that point at registrations come through SQLite's table copy too.
    insert("checkins", **checkin(ids))
    insert("scan_log", **scan(ids, registration_id=ids["registration"], result="checked_in"))
    db.session.commit()
    db.session.remove()

    upgrade()
    assert db.session.scalar(text("SELECT COUNT(*) FROM checkins")) == 1
    assert db.session.scalar(text("SELECT registration_id FROM scan_log")) == ids["registration"]
    seqs = dict(db.session.execute(text("SELECT id, waitlist_seq FROM registrations")).all())
    assert (seqs[placed], seqs[earlier], seqs[later]) == (3, 4, 5)
    assert seqs[ids["registration"]] is None


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("checkin_other_event", "filed under another event"),
        ("checkin_station", "check-in(s) at a station other than pickup, start, finish"),
        ("scan_station", "scan log row(s) at a station other than"),
    ],
)
def test_rows_nobody_can_correct_stop_the_upgrade_with_their_ids(fresh_app, bad_row, message):
    upgrade(revision="0012")
    ids = seed()
    if bad_row == "checkin_other_event":
        bad = insert("checkins", **checkin(ids, event_id=ids["other_event"]))
    elif bad_row == "checkin_station":
        bad = insert("checkins", **checkin(ids, station="lunch"))
    else:
        bad = insert("scan_log", **scan(ids, station="lunch"))
    db.session.commit()
    db.session.remove()

    # Alembic's own command: Flask-Migrate's logs the message and exits with status 1.
    config = fresh_app.extensions["migrate"].migrate.get_config()
    with pytest.raises(RuntimeError, match=re.escape(message) + rf".*\(ids {bad}\)"):
        command.upgrade(config, "head")
    db.session.remove()
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0012"
    # Once the row is put right, the upgrade runs.
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM checkins"))
        conn.execute(text("DELETE FROM scan_log"))
    upgrade(revision="0013")
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0013"
