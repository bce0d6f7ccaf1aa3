"""Enqueue, claim and finish jobs: each a single conditional statement on the job row."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.jobs.models import Job, JobStatus

#: Modules whose handlers the worker loads (each registers with :func:`handler`).
HANDLER_MODULES = (
    "funrun.bibs.printing",
    "funrun.groups.importing",
    "funrun.payments.uploads",
    "funrun.ballot.jobs",
)


@dataclass(frozen=True)
class Handler:
    """What a kind of job runs, and what it records when the job gives up for good."""

    run: Callable[[dict[str, Any]], None]
    gave_up: Callable[[dict[str, Any], str], None] | None = None


HANDLERS: dict[str, Handler] = {}


def handler(
    kind: str, *, gave_up: Callable[[dict[str, Any], str], None] | None = None
) -> Callable[[Callable[[dict[str, Any]], None]], Callable[[dict[str, Any]], None]]:
    """Register ``run(payload)`` for jobs of ``kind``.

    ``run`` may be called again for a job it already ran (a worker can die after the work
    but before the commit), so it must be idempotent. Its last writes go in the session
    without committing: the worker commits them with the job's done mark, or rolls them
    back if the claim was lost meanwhile.
    """

    def register(run: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        HANDLERS[kind] = Handler(run, gave_up)
        return run

    return register


def load_handlers() -> None:
    """Import every module that registers handlers."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def enqueue(kind: str, payload: dict[str, Any], *, max_attempts: int = 3) -> Job:
    """Add a job to the caller's transaction: it is queued when, and only if, that commits."""
    job = Job(kind=kind, payload=payload, max_attempts=max_attempts, status=JobStatus.QUEUED)
    db.session.add(job)
    return job


@dataclass(frozen=True)
class Claim:
    """A job this worker holds: ``(id, worker, attempt)`` is the claim's token."""

    id: int
    kind: str
    payload: dict[str, Any]
    worker: str
    attempt: int
    max_attempts: int

    def mine(self) -> Any:
        """The condition that the job row is still held by this claim."""
        return and_(
            Job.id == self.id,
            Job.status == JobStatus.RUNNING,
            Job.worker == self.worker,
            Job.attempts == self.attempt,
        )


def claim(worker: str, lease: timedelta) -> Claim | None:
    """Take the oldest claimable job (queued and due, or running with its lease run out).

    One UPDATE whose target comes from ``SELECT ... FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so concurrent workers take different rows without waiting; on SQLite the
    same statement runs inside BEGIN IMMEDIATE (one writer at a time). Committed at once.
    """
    begin_write()
    now = utcnow()
    claimable = or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
        and_(Job.status == JobStatus.RUNNING, Job.lease_until < now),
    )
    target = (
        select(Job.id)
        .where(claimable)
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = db.session.execute(
        update(Job)
        .where(Job.id == target, claimable)
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            worker=worker,
            lease_until=now + lease,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    if row is None:
        return None
    return Claim(row.id, row.kind, row.payload, worker, row.attempts, row.max_attempts)


def extend_lease(engine: Engine, held: Claim, lease: timedelta) -> bool:
    """Move the lease on (own connection); False when the claim was lost."""
    with engine.begin() as connection:
        result = connection.execute(
            update(Job).where(held.mine()).values(lease_until=utcnow() + lease)
        )
    return result.rowcount == 1


def begin_final_writes() -> None:
    """Start the transaction of a handler's last writes (call it before them): the
    worker's done mark joins it, so both commit together or not at all."""
    begin_write()
    db.session.info[_FINAL_WRITES] = True


def finish(held: Claim) -> bool:
    """Mark the job done in the session's transaction (with the handler's last writes)
    and commit; if the claim was lost meanwhile, roll everything back and say so."""
    if not db.session.info.pop(_FINAL_WRITES, False):
        begin_write()  # the handler wrote nothing: a write transaction of our own
    result = db.session.execute(
        update(Job)
        .where(held.mine())
        .values(status=JobStatus.DONE, finished_at=utcnow(), lease_until=None, error=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return False
    db.session.commit()
    return True


_FINAL_WRITES = "funrun_job_final_writes"


def failed(held: Claim, error: str, retry_after: timedelta) -> bool:
    """Record a failed attempt: queued again after ``retry_after``, or failed for good.

    True when the job gave up for good (its handler's ``gave_up`` is then due)."""
    db.session.rollback()
    db.session.info.pop(_FINAL_WRITES, None)
    begin_write()
    final = held.attempt >= held.max_attempts
    values: dict[str, Any] = {"error": error[:500], "lease_until": None}
    if final:
        values.update(status=JobStatus.FAILED, finished_at=utcnow())
    else:
        values.update(status=JobStatus.QUEUED, run_after=utcnow() + retry_after, worker=None)
    db.session.execute(
        update(Job).where(held.mine()).values(**values).execution_options(synchronize_session=False)
    )
    db.session.commit()
    return final


def release(held: Claim) -> None:
    """Give a job back at once (the worker was asked to stop): queued, attempt not counted."""
    db.session.rollback()
    begin_write()
    db.session.execute(
        update(Job)
        .where(held.mine())
        .values(status=JobStatus.QUEUED, worker=None, lease_until=None, attempts=Job.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
