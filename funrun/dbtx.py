"""Write transactions that take their locks up front, on SQLite as on PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from funrun.extensions import db

#: Execution option read by the SQLite "begin" hook in funrun.create_app.
BEGIN_OPTION = "funrun_sqlite_begin"


def begin_write() -> None:
    """Start the write transaction of a service that changes shared counters.

    On SQLite a read transaction cannot safely be upgraded to a write under
    contention (WAL answers SQLITE_BUSY at once instead of waiting), so any read
    transaction in progress is ended and a new one begins with BEGIN IMMEDIATE, which
    waits (busy_timeout) for the single writer's lock. PostgreSQL needs nothing here:
    the conditional UPDATE in the service takes the row lock. Read ids off ORM objects
    before calling this: committing expires them.
    """
    session = db.session()
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={BEGIN_OPTION: "IMMEDIATE"})


def insert_ignore(table: Any, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING (any unique index) for the session's database."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).values(**values).on_conflict_do_nothing()
