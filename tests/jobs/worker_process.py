"""A worker process of its own for the tests: ``python -m tests.jobs.worker_process``.

``URL record OUT``: runs queued ``test.record`` jobs (burst), appending ``n pid`` per run to
OUT. ``URL block OUT``: claims one ``test.record`` job with a 2 s lease, touches OUT and
blocks (until killed), its heartbeat keeping the lease.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from typing import Any

from config import TestingConfig
from funrun import create_app
from funrun.jobs import queue
from funrun.jobs.worker import Worker

LEASE = timedelta(seconds=2)


def main(url: str, mode: str, out: str) -> None:
    """Run the worker as the arguments say."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(payload: dict[str, Any]) -> None:
        os.write(fd, f"{payload['n']} {os.getpid()}\n".encode())
        time.sleep(0.005)

    def block(payload: dict[str, Any]) -> None:
        os.write(fd, f"{payload['n']} {os.getpid()}\n".encode())
        time.sleep(600)

    queue.handler("test.record")(record if mode == "record" else block)
    Worker(app, lease=LEASE, poll_seconds=0.05).run(burst=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
