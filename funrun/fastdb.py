"""One-statement autocommit queries for the race-day hot paths on PostgreSQL.

A scan or a registration through the ORM session costs a pool pre-ping, BEGIN, several
statements and COMMIT: each a round trip, and each round trip costs the worker more CPU
than the SQL itself once the machine is busy (bench/README.md, "Where the time goes").
The hot paths instead say what they do in one SQL statement (data-modifying CTEs), run
on a connection of their own engine in autocommit mode, so one statement is one atomic
transaction and one round trip.

That engine skips the pre-ping: a connection that died while idle (a database restart, a
failover) fails the statement before anything is written, is thrown away, and the
statement is retried once on a new connection. psycopg prepares a statement on the
server after it has run a few times, so PostgreSQL plans each hot statement once per
connection (and with sequential scans priced out, that one plan uses the indexes).

SQLite has no data-modifying CTEs; callers keep their session code for it
(:func:`available` says which way to go).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import URL, Connection, Engine, Executable, Row, create_engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError

from funrun.extensions import db

#: One engine per database (an app is re-created in tests, the database is not), made in
#: the process that uses it: a forked worker makes its own.
_engines: dict[URL, Engine] = {}
_pid = os.getpid()
#: Errors after which the connection is not trusted again (its server went away, or a
#: prepared statement outlived a schema change); the statement had no effect.
_ROWS = psycopg.pq.ExecStatus.TUPLES_OK
_STALE_PLAN = psycopg.errors.FeatureNotSupported
_RETRY = (psycopg.OperationalError, _STALE_PLAN)


def available() -> bool:
    """Whether the app's database is PostgreSQL (the only one the fast path speaks)."""
    return db.engine.dialect.name == "postgresql"


def _engine() -> Engine:
    global _pid
    if os.getpid() != _pid:
        # A forked child: the parent's connections are not ours to use or to close.
        for inherited in _engines.values():
            inherited.dispose(close=False)
        _engines.clear()
        _pid = os.getpid()
    url = db.engine.url
    engine = _engines.get(url)
    if engine is None:
        engine = create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
            # Autocommit: nothing to roll back when a connection goes back to the pool.
            pool_reset_on_return=None,
            pool_size=2,
            max_overflow=8,
            # Every hot statement finds its rows by index (a token, a slug, a bib, a NIK
            # hash, a client_ref). A server-side prepared statement settles on a generic
            # plan after five runs; made while a table was empty (a fresh event, the
            # morning's first scans) that plan read the whole table, and went on doing so
            # as it grew, until an ANALYZE (measured: the check-in burst read 326 million
            # check-in rows that way). With sequential scans priced out the kept plan uses
            # the indexes whatever the tables held when it was made, and is not planned
            # again on every run (force_custom_plan did that: +1.2 ms of PostgreSQL CPU a
            # scan). A statement with no index to use still scans; none of these has one.
            # JIT off: a priced-out scan costs 1e10 to the planner, far past jit_above_cost,
            # so such a statement (a typed bib's prefix looked up in the tiny events table)
            # was compiled to machine code on every run: PostgreSQL CPU per scan rose from
            # 0.41 to 3.71 ms in bench/checkin.py. No statement here is long enough for JIT.
            connect_args={"options": "-c enable_seqscan=off -c jit=off"},
        )
        _engines[url] = engine
    return engine


def connection() -> Connection:
    """A connection of the fast path's own (its settings), for tests and diagnostics."""
    return _engine().connect()


@atexit.register
def dispose() -> None:
    """Close the fast path's connections (tests, and the end of the process)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def after_write() -> None:
    """End the request's session transaction, if any, after a fast-path write.

    The session code this replaces committed, which also expired what the session had
    loaded; without that, an event read before the write would show its old counters.
    """
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()


def fetch(sql: str, params: Mapping[str, Any] | Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement as its own transaction: ``%(name)s`` parameters from a mapping,
    or ``$1, $2...`` from a sequence (psycopg's RawCursor: the text goes as it is, with
    no parsing on the client).

    A constraint violation is raised as SQLAlchemy's :class:`IntegrityError` (its
    ``orig`` the psycopg error), as the session would; the statement then changed
    nothing. The parameters are left out of the error: they may hold personal data.
    """
    numbered = not isinstance(params, Mapping)
    for attempt in (1, 2):
        raw = _engine().raw_connection()
        try:
            cursor = psycopg.RawCursor(raw.driver_connection) if numbered else raw.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.pgresult.status == _ROWS else []
            finally:
                cursor.close()
        except psycopg.IntegrityError as error:
            raise IntegrityError(sql, None, error) from error
        except _RETRY as error:
            broken = raw.driver_connection.broken  # type: ignore[union-attr]
            raw.invalidate()
            if attempt == 2 or not (broken or isinstance(error, _STALE_PLAN)):
                raise
        finally:
            raw.close()
    raise AssertionError("unreachable")  # pragma: no cover


def run(statement: Executable, params: Mapping[str, Any] | None = None) -> list[Row[Any]]:
    """Run one SQLAlchemy Core statement as its own transaction, on the fast path's
    connections (autocommit, its planner settings), and return its rows.

    The Core counterpart of :func:`fetch`, with the same promises: a connection found
    dead, or a prepared plan outlived by a schema change, is thrown away and the
    statement (which had no effect) is run once more on a new one; a constraint
    violation is raised as :class:`IntegrityError` without the parameters (they may hold
    personal data).
    """
    for attempt in (1, 2):
        with _engine().connect() as conn:
            try:
                result = conn.execute(statement, dict(params or {}))
                return list(result.all()) if result.returns_rows else []
            except IntegrityError as error:
                raise IntegrityError(None, None, error.orig) from error.orig  # type: ignore[arg-type]
            except DBAPIError as error:
                stale = isinstance(error.orig, _STALE_PLAN)
                if not conn.invalidated:
                    conn.invalidate()
                if attempt == 2 or not (error.connection_invalidated or stale):
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


#: A parameter the caller gives on each run (in a :class:`HotPlan`).
_GIVEN = object()


@dataclass(frozen=True)
class HotPlan:
    """A hot Core statement compiled once: its numbered text, and for each ``$n`` where
    its value comes from (the caller's parameter ``key``, through the type's bind
    ``processor``; or a literal of the statement, ``fixed``, processed already)."""

    statement: Executable
    text: str
    positions: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]

    @classmethod
    def compile(cls, statement: Executable, dialect: Dialect) -> HotPlan:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        unescape = {v: k for k, v in compiled.escaped_bind_names.items()}
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        processors = compiled._bind_processors
        positions = []
        for position in compiled.positiontup or ():
            name = unescape.get(position, position)
            bind, process = binds[name], processors.get(name)
            if bind.required:
                positions.append((bind.key, process, _GIVEN))
            else:
                value = bind.effective_value
                fixed = process(value) if process is not None and value is not None else value
                positions.append((bind.key, None, fixed))
        return cls(statement, compiled.string, tuple(positions))

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        """The ``$1, $2...`` values for ``params`` (what ``construct_params`` and the bind
        processors give, without building the dictionary of every parameter each run)."""
        values = []
        for key, process, fixed in self.positions:
            if fixed is not _GIVEN:
                values.append(fixed)
                continue
            try:
                value = params[key]
            except KeyError:
                raise InvalidRequestError(f"A value is required for parameter {key!r}") from None
            values.append(process(value) if process is not None and value is not None else value)
        return values


#: Each hot Core statement's plan, made once per process (keyed by identity; the statement
#: is kept in it, so its id cannot be reused by another object).
_plans: dict[int, HotPlan] = {}
#: The numbered-parameter dialect, per dialect class.
_numbered: dict[type[Dialect], Dialect] = {}


#: The statement's own constants written into its text: ints, strings and flags.
_INLINE = (int, str, bool)


def hot_dialect(base: Dialect) -> Dialect:
    """A dialect like ``base`` for hot statements: parameters written ``$1, $2...`` (one
    number a name), and the statement's own constants (the answers and statuses its CASEs
    compare and give, a ``1``) written into the text as SQL literals, not sent as
    parameters.

    The scan's statement has 36 parameters of which 19 are such constants: each sent one
    was dumped by psycopg and bound by PostgreSQL on every run. The caller's parameters
    (required binds) stay parameters, so the text never holds a value from a request.
    """
    compiler = base.statement_compiler

    class HotCompiler(compiler):  # type: ignore[misc, valid-type]
        def visit_bindparam(self, bindparam: Any, **kw: Any) -> str:
            if (
                not bindparam.required
                and not bindparam.expanding
                and bindparam.callable is None
                and type(bindparam.value) in _INLINE
            ):
                kw["literal_binds"] = True
            return super().visit_bindparam(bindparam, **kw)  # type: ignore[no-any-return]

    dialect = type(base)(paramstyle="numeric_dollar")
    dialect.statement_compiler = HotCompiler
    dialect.server_version_info = base.server_version_info
    return dialect


def _numbered_dialect() -> Dialect:
    """The fast path's :func:`hot_dialect`, one per dialect class."""
    base = _engine().dialect
    dialect = _numbered.get(type(base))
    if dialect is None:
        dialect = _numbered[type(base)] = hot_dialect(base)
    dialect.server_version_info = base.server_version_info
    return dialect


def run_hot(statement: Executable, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run a hot Core statement (built once, e.g. at import or behind ``functools.cache``)
    with :func:`fetch`'s connection, retry and error handling.

    SQLAlchemy compiles it once per process, with numbered parameters; each call then
    only processes the parameters by their types and sends the compiled text as it is
    (psycopg's RawCursor). Half the worker CPU of :func:`run` (measured 133 against 261
    microseconds a call for the registration statement), which matters on the path every
    registration takes. With named parameters psycopg parsed the text on every call once
    it grew past 4,096 characters (its cache's limit; the registration statement reached
    4,097 with ``partner_id``): 0.35 ms of worker CPU a registration, found by
    bench/registration.py. Rows come as the driver gives them (no result types applied):
    for answers that are ids, numbers and flags.
    """
    plan = hot_plan(statement)
    return fetch(plan.text, plan.values(params))


def hot_plan(statement: Executable) -> HotPlan:
    """The statement's :class:`HotPlan`, compiled on its first run in this process."""
    plan = _plans.get(id(statement))
    if plan is None or plan.statement is not statement:
        plan = _plans[id(statement)] = HotPlan.compile(statement, _numbered_dialect())
    return plan
