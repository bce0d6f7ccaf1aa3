"""The draw as a job: the organiser's button queues it, the worker draws."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from funrun.ballot.draw import AlreadyDrawn, check_drawable, run_draw
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.jobs.models import Job, JobStatus
from funrun.jobs.queue import begin_final_writes, enqueue, handler

KIND = "ballot.draw"
#: Draw jobs of one event looked at for its page (the newest first).
RECENT = 20


def start_draw(event: Event) -> Job:
    """Queue the event's draw (refused at once, :class:`~funrun.ballot.draw.DrawRefused`,
    when it could not be drawn now); a draw already queued or running is answered as is."""
    event_id = event.id
    check_drawable(event, utcnow())
    pending = latest_job(event_id)
    if pending is not None and pending.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        return pending
    begin_write()
    job = enqueue(KIND, {"event": event_id})
    db.session.commit()
    return job


def latest_job(event_id: int) -> Job | None:
    """The event's newest draw job, if any (payloads are JSON: matched in Python)."""
    jobs = db.session.scalars(
        select(Job).where(Job.kind == KIND).order_by(Job.id.desc()).limit(RECENT)
    )
    return next((job for job in jobs if job.payload.get("event") == event_id), None)


@handler(KIND)
def run_draw_job(payload: dict[str, Any]) -> None:
    """Draw the event's ballot; a ballot already drawn (by the command, or an earlier
    claim of this job) is left as it is."""
    begin_final_writes()
    try:
        run_draw(int(payload["event"]))
    except AlreadyDrawn:
        return
