"""The one-statement hot paths on PostgreSQL: they survive lost connections, and a bearer
call never reads the page session.

The rest of the suite runs every scan and registration through them when
TEST_DATABASE_URL is PostgreSQL, and through the session code on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import Executable

from funrun import fastdb
from funrun.bibs.services import payload_for
from funrun.bibs.signing import bib_signer
from funrun.checkin import desk as checkin_desk
from funrun.checkin import engine as checkin_engine
from funrun.checkin import replay as checkin_replay
from funrun.events.models import Event
from funrun.extensions import db
from tests.checkin.conftest import API, Staff, counts, login, reg
from tests.conftest import person_payload


def _kill_fast_connections(url: str) -> int:
    """Terminate every server process of the fast path's pool (as a restart would)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        mine = conn.scalar(text("SELECT pg_backend_pid()"))
        killed = conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> :mine"
                " AND state = 'idle' AND backend_type = 'client backend'"
            ),
            {"mine": mine},
        ).all()
    engine.dispose()
    return len(killed)


def test_a_scan_and_a_registration_survive_a_lost_connection(
    app: Flask,
    client: FlaskClient,
    make_event: Callable[..., Event],
    make_staff,
    add_runners,
    postgres_url: str,
) -> None:
    event = make_event(slug="jakarta", bib_prefix="JKT", quota=5)
    volunteer: Staff = make_staff("volunteer", events=("jakarta",))
    first, second = add_runners(event, 2)
    url = f"{API}/events/jakarta/checkins"
    code = payload_for(reg(first))
    assert client.post(url, json={"code": code}, headers=volunteer.headers).status_code == 201

    # The database drops every idle connection, the fast path's pooled ones included.
    assert _kill_fast_connections(postgres_url) >= 1
    answer = client.post(url, json={"code": payload_for(reg(second))}, headers=volunteer.headers)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["result"] == "checked_in"
    assert counts() == (2, 2)

    _kill_fast_connections(postgres_url)
    made = client.post(f"{API}/events/jakarta/registrations", json=person_payload(900))
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["registration"]["status"] == "confirmed"


def test_the_fast_path_is_used_on_postgresql(app: Flask, postgres_url: str) -> None:
    # Guards the rest of the suite: on PostgreSQL it must exercise the one-statement code.
    assert fastdb.available() is app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres")


def test_the_api_takes_a_page_session_only_with_its_csrf_token(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event], make_staff
) -> None:
    make_event(slug="jakarta", bib_prefix="JKT")
    organiser = make_staff("organiser", password="organiser-pass-1")
    assert login(client, organiser.email, "organiser-pass-1").status_code == 302
    assert client.get("/staff").status_code == 200  # signed in on the pages

    # The same browser, its session cookie sent, but neither token: refused, nothing done.
    answer = client.post(f"{API}/events/jakarta/checkins", json={"code": "JKT0001"})
    assert answer.status_code == 400
    assert answer.mimetype == "application/problem+json"
    assert counts() == (0, 0)
    # The rest of the API never opens the session.
    listing = client.get(f"{API}/events")
    assert listing.status_code == 200
    assert "Cookie" not in listing.headers.get("Vary", "")


@pytest.mark.parametrize("slug", ["x" * 65, "jakarta'--", "JAKARTA"])
def test_a_scan_for_an_unknown_slug_is_404(
    client: FlaskClient, make_event: Callable[..., Event], make_staff, slug: str
) -> None:
    make_event(slug="jakarta", bib_prefix="JKT")
    organiser = make_staff("organiser")
    answer = client.post(
        f"{API}/events/{slug}/checkins", json={"code": "JKT0001"}, headers=organiser.headers
    )
    assert answer.status_code == 404
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    "body, allowed_status",
    [([1, 2], 400), ({"code": ""}, 422), ({"code": "JKT0001", "scanned_at": "soon"}, 422)],
)
def test_who_is_checked_before_what_was_sent(
    client: FlaskClient, make_event: Callable[..., Event], make_staff, body, allowed_status
) -> None:
    make_event(slug="jakarta", bib_prefix="JKT")
    make_event(slug="medan", bib_prefix="MDN")
    here = make_staff("volunteer", events=("jakarta",))
    elsewhere = make_staff("volunteer", events=("medan",))
    url = f"{API}/events/jakarta/checkins"
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=elsewhere.headers).status_code == 403
    assert (
        client.post(f"{API}/events/nowhere/checkins", json=body, headers=here.headers).status_code
        == 404
    )
    assert client.post(url, json=body, headers=here.headers).status_code == allowed_status
    assert counts() == (0, 0)


def test_a_typed_bib_of_another_event_names_its_city_and_is_logged(
    client: FlaskClient,
    make_event: Callable[..., Event],
    make_staff,
    add_runners,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API's one statement compares a typed prefix with the event's and names another
    event's city (issue 15: another event's prefix names its city; one no event has is
    invalid), in the scan's one round trip: a QR of another event likewise."""
    jakarta = make_event(slug="jakarta", bib_prefix="JKT", bib_first=1)
    medan = make_event(slug="medan", city="Medan", bib_prefix="MDN", bib_first=1)
    add_runners(jakarta, 1)
    organiser = make_staff("organiser")
    url = f"{API}/events/jakarta/checkins"
    typed = {"method": "typed", "id_checked": True}
    client.post(url, json={"code": "1", "method": "typed"}, headers=organiser.headers)
    statements: list[str] = []  # what reaches PostgreSQL, by the fast path's two doors
    for name in ("fetch", "run"):
        real = getattr(fastdb, name)
        monkeypatch.setattr(
            fastdb, name, lambda *a, real=real, name=name: statements.append(name) or real(*a)
        )

    def scan(code: str, **extra: Any) -> tuple[int, dict[str, Any]]:
        statements.clear()
        answer = client.post(url, json={"code": code, **extra}, headers=organiser.headers)
        # On SQLite the scan runs in the session (engine._in_steps), not on the fast path.
        assert statements == (["fetch"] if fastdb.available() else []), code
        return answer.status_code, answer.get_json()

    for code, extra in (("MDN0001", typed), (bib_signer().sign(medan.id, 1), {})):
        status, wrong = scan(code, **extra)
        assert (status, wrong["result"]) == (409, "wrong_event"), code
        assert wrong["other_event"] == {"city": "Medan"}, code
    status, nowhere = scan("QQQ0001", **typed)
    assert (status, nowhere["result"]) == (422, "invalid")
    assert "other_event" not in nowhere
    status, right = scan("jkt-0001", **typed)
    assert (status, right["result"]) == (201, "checked_in")
    assert right["registration"]["bib"] == "JKT 0001"
    assert counts() == (1, 5)
    logged = db.session.execute(text("SELECT result, bib_number FROM scan_log ORDER BY id"))
    assert [tuple(row) for row in logged] == [
        ("confirm_identity", 1),
        ("wrong_event", None),
        ("wrong_event", None),
        ("invalid", None),
        ("checked_in", 1),
    ]


def _sql(statement: Executable) -> str:
    """A Core statement as PostgreSQL receives it (psycopg ``%(name)s`` parameters)."""
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[attr-defined]


#: Every check-in statement run often enough to be prepared on the server (registration's
#: statements belong to its own tests).
HOT_STATEMENTS = {
    "scan (API)": _sql(checkin_engine.SCAN_BY_TOKEN),
    "scan (page)": _sql(checkin_engine.SCAN_AT_DESK),
    "replay": _sql(checkin_replay.REPLAY_PG),
    "desk": _sql(checkin_desk._DESK),
}
_NAMED = re.compile(r"%\((\w+)\)s")


def _generic_seq_scans(conn: Connection, sql: str) -> set[str]:
    """The tables the generic plan of ``sql`` reads whole (the plan a prepared statement
    keeps after five runs; its parameters are then unknown, here all NULL)."""
    names = list(dict.fromkeys(_NAMED.findall(sql)))
    body = _NAMED.sub(lambda found: f"${names.index(found.group(1)) + 1}", sql)
    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    conn.exec_driver_sql(f"PREPARE hot AS {body}")
    try:
        nulls = ", ".join(["NULL"] * len(names))
        [plan] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) EXECUTE hot({nulls})").scalar()
    finally:
        conn.exec_driver_sql("DEALLOCATE hot")
        conn.exec_driver_sql("RESET plan_cache_mode")

    def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("Plans", []):
            yield from walk(child)

    return {n["Relation Name"] for n in walk(plan["Plan"]) if n["Node Type"] == "Seq Scan"}


def test_kept_plans_use_the_indexes_even_when_made_on_empty_tables(
    app: Flask, postgres_url: str
) -> None:
    """A plan kept from the morning's first scans must not read the tables whole all day.

    The tables are empty and analysed as such, as at a fresh event. On the fast path's
    connections the generic plan of every hot statement uses the indexes; on an ordinary
    connection the same plans read tables whole (bench/README.md: the scan burst read 326
    million check-in rows that way), which shows the check can fail.
    """
    tables = ("registrations", "people", "checkins", "scan_log", "events", "enrolments")
    ordinary = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with ordinary.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
            whole = {name: _generic_seq_scans(conn, sql) for name, sql in HOT_STATEMENTS.items()}
    finally:
        ordinary.dispose()
    assert "checkins" in whole["scan (API)"] and "registrations" in whole["scan (API)"]

    with fastdb.connection() as conn:
        fast = {name: _generic_seq_scans(conn, sql) for name, sql in HOT_STATEMENTS.items()}
    assert fast == {name: set() for name in HOT_STATEMENTS}


def test_hot_statements_are_prepared_and_kept(
    app: Flask, postgres_url: str, make_event: Callable[..., Event]
) -> None:
    """Prepared on the server and planned once per connection, not on every run."""
    event = make_event(quota=50)
    client = app.test_client()
    for index in range(12):
        made = client.post(f"/api/v1/events/{event.slug}/registrations", json=person_payload(index))
        assert made.status_code == 201
    [(generic, custom)] = fastdb.fetch(
        "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
        " FROM pg_prepared_statements WHERE statement LIKE '%%INSERT INTO registrations%%'",
        {},
    )
    assert generic >= 1
    assert custom <= 5


def test_no_statement_on_the_fast_path_is_compiled_by_jit(
    app: Flask, postgres_url: str, make_event: Callable[..., Event]
) -> None:
    """A statement with no index to use is priced past jit_above_cost by enable_seqscan=off,
    and was compiled to machine code on every run (a typed bib's prefix looked up before
    it had an index: the PostgreSQL CPU of a scan went from 0.41 to 3.71 ms). The fast
    path turns JIT off; an ordinary connection (JIT on, the server's default here) shows
    the check can fail."""
    make_event()
    lookup = "SELECT city FROM events WHERE upper(venue) = 'TST' ORDER BY date DESC LIMIT 1"

    def jit_in_plan(conn: Connection) -> bool:
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT TEXT) " + lookup).scalars().all()
        return any(line.lstrip().startswith("JIT:") for line in plan)

    ordinary = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with ordinary.connect() as conn:
            if conn.exec_driver_sql("SHOW jit").scalar() == "on":
                conn.exec_driver_sql("SET enable_seqscan = off")
                assert jit_in_plan(conn)
    finally:
        ordinary.dispose()
    with fastdb.connection() as conn:
        assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
        assert not jit_in_plan(conn)
