"""The outbox queue: a job exists only if its transaction commits, runs once, is retried.

Real databases (SQLite, or PostgreSQL with TEST_DATABASE_URL), the real worker loop."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import update

from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.jobs import enqueue, queue
from funrun.jobs.models import Job, JobStatus
from funrun.jobs.worker import Worker
from tests.jobs.conftest import Recorder, jobs

NO_WAIT = timedelta(0)


def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(app: Flask, recorder: Recorder):
    enqueue("test.record", {"n": 1})
    db.session.rollback()
    assert Worker(app).run(burst=True) == 0
    assert recorder.runs == [] and jobs() == []


def test_a_committed_job_runs_once(app: Flask, recorder: Recorder):
    enqueue("test.record", {"n": 2})
    db.session.commit()
    assert Worker(app).run(burst=True) == 1
    assert Worker(app).run(burst=True) == 0  # done jobs are never claimed again
    assert recorder.runs == [{"n": 2}]
    (job,) = jobs()
    assert (job.status, job.attempts, job.lease_until) == (JobStatus.DONE, 1, None)
    assert job.finished_at is not None


def test_a_failing_job_is_retried_then_gives_up(app: Flask, recorder: Recorder):
    recorder.fail_with = RuntimeError("printer on fire")
    enqueue("test.record", {"n": 3}, max_attempts=3)
    db.session.commit()
    Worker(app, retry_after=NO_WAIT).run(burst=True)
    assert recorder.runs == [{"n": 3}] * 3
    assert recorder.gave_up == [({"n": 3}, "printer on fire")]
    (job,) = jobs()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
    assert job.error == "RuntimeError: printer on fire"


def test_a_retry_waits_its_turn(app: Flask, recorder: Recorder):
    recorder.fail_with = RuntimeError("later")
    enqueue("test.record", {"n": 4})
    db.session.commit()
    Worker(app, retry_after=timedelta(hours=1)).run(burst=True)
    (job,) = jobs()
    assert (job.status, job.attempts, len(recorder.runs)) == (JobStatus.QUEUED, 1, 1)
    assert job.worker is None and job.error == "RuntimeError: later"


def test_an_unknown_kind_fails_without_stopping_the_worker(app: Flask, recorder: Recorder):
    enqueue("test.nobody-handles-this", {}, max_attempts=1)
    enqueue("test.record", {"n": 5})
    db.session.commit()
    Worker(app).run(burst=True)
    unknown, known = jobs()
    assert unknown.status == JobStatus.FAILED and "no handler" in (unknown.error or "")
    assert known.status == JobStatus.DONE and recorder.runs == [{"n": 5}]


def test_the_handlers_last_writes_commit_with_the_done_mark_or_not_at_all(
    app: Flask, recorder: Recorder
):
    """A claim lost while the handler ran (another worker took the job after the lease)
    rolls the handler's writes back: the job completes once, by the current claim."""

    def follow_up_after_losing_the_claim(payload: dict[str, object]) -> None:
        with db.engine.begin() as other:  # another worker re-claims the job meanwhile
            other.execute(update(Job).where(Job.id == 1).values(worker="someone-else"))
        queue.begin_final_writes()
        enqueue("test.follow-up", {"after": payload["n"]})

    recorder.then = follow_up_after_losing_the_claim
    enqueue("test.record", {"n": 6})
    db.session.commit()
    assert Worker(app).run(burst=True) == 0
    (job,) = jobs()  # no follow-up job: it was rolled back with the lost claim
    assert (job.status, job.worker) == (JobStatus.RUNNING, "someone-else")

    db.session.execute(update(Job).values(status=JobStatus.QUEUED, worker=None))
    db.session.commit()
    recorder.then = lambda payload: (
        queue.begin_final_writes(),
        enqueue("test.follow-up", {"after": payload["n"]}),
    )
    assert Worker(app).run(burst=True) == 1  # the follow-up fails: nobody handles it
    first, follow_up = jobs()
    assert first.status == JobStatus.DONE
    assert follow_up.payload == {"after": 6} and follow_up.kind == "test.follow-up"


def test_a_running_job_is_not_claimed_while_its_lease_holds(app: Flask, recorder: Recorder):
    enqueue("test.record", {"n": 7})
    db.session.commit()
    held = queue.claim("elsewhere", timedelta(minutes=5))
    assert held is not None and held.attempt == 1
    assert Worker(app).run(burst=True) == 0 and recorder.runs == []
    # Its worker stopped beating: the lease ran out.
    db.session.execute(update(Job).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert Worker(app).run(burst=True) == 1 and recorder.runs == [{"n": 7}]
    (job,) = jobs()
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert not queue.finish(held)  # the first claim can no longer finish it


def test_a_job_whose_workers_keep_dying_gives_up(app: Flask, recorder: Recorder):
    """A job that kills its worker every time (say, out of memory) is not run for ever."""
    enqueue("test.record", {"n": 8}, max_attempts=2)
    db.session.commit()
    for attempt in (1, 2):  # each claim's worker dies: its lease runs out
        held = queue.claim(f"doomed-{attempt}", timedelta(minutes=5))
        assert held is not None and held.attempt == attempt
        db.session.execute(update(Job).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert Worker(app).run(burst=True) == 0
    assert recorder.runs == []  # not a third time
    (job,) = jobs()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
    assert recorder.gave_up == [({"n": 8}, "its worker died in each of 2 attempts")]


def test_flask_worker_burst_through_the_cli(app: Flask, runner, recorder: Recorder):
    for n in range(3):
        enqueue("test.record", {"n": n})
    db.session.commit()
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert "3 jobs done" in result.output
    assert sorted(r["n"] for r in recorder.runs) == [0, 1, 2]
    assert {job.status for job in jobs()} == {JobStatus.DONE}
