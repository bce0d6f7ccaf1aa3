"""Migration 0010 on a database with scans in it (SQLite and PostgreSQL): the scans logged
before methods existed get theirs from ``code_kind``, and the way back drops the columns."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

import funrun.models  # noqa: F401  (every table in the metadata)
from funrun.extensions import db
from tests.test_integrity_constraints import AT, insert


def scan_log_columns() -> set[str]:
    with db.engine.connect() as conn:
        return {column["name"] for column in inspect(conn).get_columns("scan_log")}


def test_earlier_scans_get_their_method_and_the_way_back_drops_it(fresh_app):
    upgrade(revision="0009")
    # Core inserts of the columns given: the models have columns revision 0009 has not.
    tour = insert("tours", slug="tour", name="Tour", organiser="Test", created_at=AT)
    event_id = insert(
        "events",
        tour_id=tour,
        slug="solo",
        city="Solo",
        name="Fun Run Solo",
        date=date(2026, 12, 13),
        start_time=time(6, 0),
        venue="Alun-alun",
        quota=10,
        bib_prefix="SOC",
        bib_first=1,
        bib_last=9999,
        bib_next=1,
    )
    at = datetime(2026, 12, 13, 6, 0, tzinfo=UTC)
    for kind in ("qr", "typed", "undo"):
        db.session.execute(
            text(
                "INSERT INTO scan_log (event_id, station, result, code_kind, received_at)"
                " VALUES (:event, 'pickup', 'checked_in', :kind, :at)"
            ),
            {"event": event_id, "kind": kind, "at": at},
        )
    db.session.commit()
    db.session.remove()

    upgrade(revision="0010")
    rows = db.session.execute(
        text("SELECT code_kind, method, id_checked FROM scan_log ORDER BY id")
    ).all()
    assert [tuple(row) for row in rows] == [
        ("qr", "scan", False),
        ("typed", "typed", False),
        ("undo", None, False),
    ]
    db.session.remove()

    downgrade(revision="0009")
    assert {"method", "id_checked"}.isdisjoint(scan_log_columns())
    db.session.remove()
    upgrade()
    assert {"method", "id_checked"} <= scan_log_columns()
