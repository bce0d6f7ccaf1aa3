"""The worker loop: claim a job, keep its lease alive while it runs, finish or retry it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from datetime import timedelta
from types import FrameType

from flask import Flask
from sqlalchemy.engine import Engine

from funrun.extensions import db
from funrun.groups import expiry
from funrun.jobs import queue
from funrun.messages import reminders, sending
from funrun.payments import due
from funrun.registration import pools

log = logging.getLogger(__name__)

#: A claimed job is someone else's to take this long after its worker's last heartbeat.
LEASE = timedelta(seconds=60)
#: Seconds between a sleeping worker's looks at the queue.
POLL_SECONDS = 1.0


def worker_name() -> str:
    """This worker's name in the job rows: host, process id and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Stop(Exception):
    """SIGTERM arrived: give the current job back and leave."""


class Worker:
    """Runs jobs one at a time in this process, each in the app's context."""

    def __init__(
        self,
        app: Flask,
        *,
        lease: timedelta = LEASE,
        poll_seconds: float = POLL_SECONDS,
        retry_after: timedelta = timedelta(seconds=10),
    ) -> None:
        self.app = app
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.retry_after = retry_after
        self.name = worker_name()
        self.completed = 0
        #: Messages claimed (sent, or given back to wait) by this worker.
        self.messages = 0
        self._reminders_at = 0.0

    def run(self, *, burst: bool = False) -> int:
        """Run jobs and send messages until stopped (or, with ``burst``, until nothing is
        due); the count of jobs run."""
        queue.load_handlers()
        while True:
            with self.app.app_context():
                try:
                    ran = self.run_one() or self.send_messages()
                except (Stop, KeyboardInterrupt):
                    raise
                except Exception:  # the database went away: a long-running worker waits
                    if burst:
                        raise
                    log.exception("worker %s: claiming or recording a job failed", self.name)
                    ran = False
                finally:
                    db.session.remove()
            if not ran:
                if burst:
                    return self.completed
                time.sleep(self.poll_seconds)

    def send_messages(self) -> bool:
        """Queue the reminders that came due and release held places past their deadline
        (every few minutes), then send one batch of messages; False when none was due."""
        if time.monotonic() >= self._reminders_at:
            reminders.queue_due()
            expiry.release_due()  # held group places past their deadline go back
            pools.flow_due()  # pools' unfilled places flowed: the waitlist promoted into them
            due.queue_due()  # members' next month due (funrun/payments/due.py)
            self._reminders_at = time.monotonic() + reminders.EVERY.total_seconds()
        claimed = sending.send_due(self.name)
        self.messages += claimed
        return claimed > 0

    def run_one(self) -> bool:
        """Claim and run one job; False when none was due."""
        held = queue.claim(self.name, self.lease)
        if held is None:
            return False
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat, args=(db.engine, held, beating), daemon=True
        )
        heart.start()
        try:
            self._run(held)
        except (Stop, KeyboardInterrupt):
            queue.release(held)
            raise
        finally:
            beating.set()
            heart.join()
        return True

    def _run(self, held: queue.Claim) -> None:
        found = queue.HANDLERS.get(held.kind)
        try:
            if found is None:
                raise LookupError(f"no handler for job kind {held.kind!r}")
            if held.attempt > held.max_attempts:  # its workers died every time (say, OOM)
                raise RuntimeError(f"its worker died in each of {held.max_attempts} attempts")
            found.run(held.payload)
        except (Stop, KeyboardInterrupt):
            raise
        except Exception as exc:  # recorded on the job; retried until its attempts run out
            log.exception("job %s (%s) attempt %s failed", held.id, held.kind, held.attempt)
            final = queue.failed(held, f"{type(exc).__name__}: {exc}", self.retry_after)
            if final and found is not None and found.gave_up is not None:
                found.gave_up(held.payload, str(exc))
            return
        if queue.finish(held):
            self.completed += 1
        else:
            log.warning("job %s: claim lost before it finished; its result rolled back", held.id)

    def _heartbeat(self, engine: Engine, held: queue.Claim, stop: threading.Event) -> None:
        while not stop.wait(self.lease.total_seconds() / 3):
            try:
                if not queue.extend_lease(engine, held, self.lease):
                    log.warning("job %s: lease lost", held.id)
                    return
            except Exception:  # a missed beat is retried; the lease has slack for two
                log.exception("job %s: heartbeat failed", held.id)


def stop_on_sigterm() -> None:
    """Turn SIGTERM (``make run`` stopping, a deploy) into :class:`Stop` in the main thread."""

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Stop()

    signal.signal(signal.SIGTERM, _raise)
