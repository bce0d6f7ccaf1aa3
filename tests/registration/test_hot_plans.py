"""Registration's hot statements keep index plans made on empty tables (PostgreSQL).

A registration opening starts cold: the first registrations run on empty, freshly
analysed tables, and after five runs each fast-path connection keeps a generic plan for
the statement. On the fast path's connections (``enable_seqscan=off``) those plans use
the indexes; on an ordinary connection the same plans read tables whole, which shows the
check can fail. bench/registration.py measures the same opening (``--cold-rush``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Integer, bindparam, create_engine, select
from sqlalchemy.dialects import postgresql

from funrun import fastdb
from funrun.registration import places
from funrun.registration.models import RegistrationStatus
from funrun.registration.register import one_statement
from funrun.registration.services import cancel, current_privacy_notice, register
from funrun.registration.terms import TERMS_STATEMENT
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload

_NAMED = re.compile(r"%\((\w+)\)s")
HOT = {
    "terms": TERMS_STATEMENT,
    "take a place": one_statement(RegistrationStatus.CONFIRMED),
    "join the waitlist": one_statement(RegistrationStatus.WAITLISTED),
}


def _generic_seq_scans(conn: Connection, statement: Any) -> set[str]:
    """The tables the generic plan of ``statement`` reads whole (the plan a prepared
    statement keeps after five runs; its parameters unknown, here all NULL)."""
    sql = str(statement.compile(dialect=postgresql.psycopg.dialect()))
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


def test_cold_plans_of_registration_use_the_indexes(app: Flask, postgres_url: str) -> None:
    """Generic plans made on empty tables: no whole-table read on the fast connections."""
    ordinary = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with ordinary.connect() as conn:
            conn.exec_driver_sql("ANALYZE registrations, people, events, privacy_notices")
            whole = {name: _generic_seq_scans(conn, statement) for name, statement in HOT.items()}
    finally:
        ordinary.dispose()
    assert "people" in whole["take a place"]  # the check can fail

    with fastdb.connection() as conn:
        fast = {name: _generic_seq_scans(conn, statement) for name, statement in HOT.items()}
    assert fast == {name: set() for name in HOT}


def _index_reads(plan: dict[str, Any]) -> dict[str, int]:
    """Each index the plan read registrations through, and the rows it gave."""
    reads: dict[str, int] = {}
    nodes = [plan["Plan"]]
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", []))
        if "Index Name" in node:
            reads[node["Index Name"]] = reads.get(node["Index Name"], 0) + node["Actual Rows"]
    return reads


def test_a_waitlist_position_reads_only_the_numbers_that_left(
    app: Flask, postgres_url: str, make_event: Any
) -> None:
    """The position of the last of a waitlist of 300, two of whom left: the count reads
    the two through the partial index, not the 300 ahead (the generic plan a fast-path
    connection keeps)."""
    event = make_event(quota=1)
    notice = current_privacy_notice("id")
    made = [
        register(event, clean_registration(person_payload(i), event), notice=notice)
        for i in range(301)
    ]
    for gone in (made[10], made[200]):
        cancel(gone.registration)
    last = made[-1].snapshot
    assert (last.waitlist_seq, last.waitlist_position) == (300, 300)
    position = select(places.waitlist_position(bindparam("number", type_=Integer)))
    hot = fastdb.HotPlan.compile(position, fastdb.hot_dialect(postgresql.psycopg.dialect()))
    values = ", ".join(map(str, hot.values({"event_id": event.id, "number": 300})))
    with fastdb.connection() as conn:
        conn.exec_driver_sql("ANALYZE registrations")
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE position AS {hot.text}")
        try:
            [plan] = conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE position({values})"
            ).scalar()
            [(answer,)] = conn.exec_driver_sql(f"EXECUTE position({values})").all()
        finally:
            conn.exec_driver_sql("DEALLOCATE position")
            conn.exec_driver_sql("RESET plan_cache_mode")
    assert answer == 298
    assert _index_reads(plan) == {"ix_registrations_left_waitlist": 2}
