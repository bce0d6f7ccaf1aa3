"""The temporary table a payment file is loaded into before it is matched, set-based.

Rows that pass the checks of :mod:`funrun.payments.rows` are loaded in chunks: COPY on
PostgreSQL (the one PostgreSQL-only step, :func:`_copy_rows`: 200,000 rows in chunks of
20,000 took 0.38-0.42 s against 5.3 s with SQLAlchemy's executemany, about 2 s against
26 s for a 1,000,000-row file), executemany on SQLite. Everything after
(matching on ``enrolments.participant_number``, the refusals, the payments) is the same
SQLAlchemy statements on both databases (:mod:`funrun.payments.importing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Date, Index, Integer, MetaData, String, Table, text

from funrun.extensions import db

#: Its own metadata: never part of the schema (migrations, ``flask db check``).
_METADATA = MetaData()

STAGING = Table(
    "payment_staging",
    _METADATA,
    Column("row", Integer, nullable=False),
    Column("participant_number", String(11), nullable=False),
    Column("month", Date, nullable=False),
    #: The first day of the month after ``month``: "before the first covered month" is
    #: ``enrolments.valid_from >= next_month``, with no date arithmetic in SQL.
    Column("next_month", Date, nullable=False),
    Column("amount", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_INDEX = Index("ix_payment_staging_match", STAGING.c.participant_number, STAGING.c.month)
STAGING.indexes.discard(_INDEX)  # made by ready(), once the rows are in (faster)
_COLUMNS = [c.name for c in STAGING.columns]


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def create() -> None:
    """The empty table, in the session's transaction (dropped at commit on PostgreSQL)."""
    connection = db.session.connection()
    STAGING.drop(connection, checkfirst=True)
    STAGING.create(connection)


def load(rows: Sequence[tuple[Any, ...]]) -> None:
    """Add a chunk of rows (row, participant_number, month, next_month, amount)."""
    if not rows:
        return
    if _postgresql():
        _copy_rows(rows)
        return
    db.session.execute(STAGING.insert(), [dict(zip(_COLUMNS, row, strict=True)) for row in rows])


def _copy_rows(rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL only: COPY the chunk through the session's own connection."""
    raw = db.session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(
            "COPY payment_staging (row, participant_number, month, next_month, amount) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def ready() -> None:
    """Index the loaded rows for matching (and, on PostgreSQL, give the planner their
    statistics: autovacuum never analyses a temporary table)."""
    connection = db.session.connection()
    _INDEX.create(connection)
    if _postgresql():
        connection.execute(text("ANALYZE payment_staging"))


def analyse_payments() -> None:
    """PostgreSQL: fresh statistics for ``payments`` once a file is in (a million rows
    before autovacuum's next look would send the figures' joins to sequential scans:
    the funnel took 0.86 s instead of 0.17 s on the bench's 990,000 payments)."""
    if _postgresql():
        db.session.execute(text("ANALYZE payments"))


def drop() -> None:
    """Drop the table (SQLite keeps temporary tables until the connection closes)."""
    if not _postgresql():
        STAGING.drop(db.session.connection(), checkfirst=True)
