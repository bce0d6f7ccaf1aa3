"""Workers as processes of their own: concurrent workers never run one job twice, and a
killed worker's job is run again once its lease runs out (never lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from flask import Flask

from funrun.extensions import db
from funrun.jobs import enqueue
from funrun.jobs.models import JobStatus
from funrun.jobs.worker import Worker
from tests.jobs.conftest import Recorder, jobs
from tests.servers import ROOT, server_env

JOBS = 300


def start_worker(database_url: str, mode: str, out: Path) -> subprocess.Popen[bytes]:
    """``python -m tests.jobs.worker_process`` on the test database."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.worker_process", database_url, mode, str(out)],
        cwd=ROOT,
        env=server_env(database_url),
    )


def test_concurrent_worker_processes_run_every_job_exactly_once(
    app: Flask, database_url: str, tmp_path: Path
):
    for n in range(JOBS):
        enqueue("test.record", {"n": n})
    db.session.commit()
    out = tmp_path / "runs.txt"
    workers = [start_worker(database_url, "record", out) for _ in range(3)]
    for process in workers:
        assert process.wait(timeout=120) == 0
    runs = [line.split() for line in out.read_text().splitlines()]
    counted = Counter(int(n) for n, _ in runs)
    assert sorted(counted) == list(range(JOBS))
    assert [n for n, times in counted.items() if times > 1] == []  # none ran twice
    assert len({pid for _, pid in runs}) > 1  # they did run side by side
    assert {job.status for job in jobs()} == {JobStatus.DONE}
    assert {job.attempts for job in jobs()} == {1}


def test_a_killed_workers_job_is_run_again_after_its_lease(
    app: Flask, database_url: str, tmp_path: Path, recorder: Recorder
):
    enqueue("test.record", {"n": 1})
    db.session.commit()
    out = tmp_path / "claimed.txt"
    blocked = start_worker(database_url, "block", out)
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_text()):
            assert blocked.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        # Past its 2 s lease the heartbeat keeps the job: nobody else may take it.
        time.sleep(3)
        assert Worker(app).run(burst=True) == 0 and recorder.runs == []
        (job,) = jobs()
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        assert job.worker is not None and f":{blocked.pid}:" in job.worker
    finally:
        os.kill(blocked.pid, signal.SIGKILL)
        blocked.wait()
    time.sleep(2.5)  # the lease runs out with nobody beating
    assert Worker(app).run(burst=True) == 1
    assert recorder.runs == [{"n": 1}]
    (job,) = jobs()
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert f":{os.getpid()}:" in (job.worker or "")
