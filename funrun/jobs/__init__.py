"""Background work: an outbox table in the app's own database and the worker that runs it.

``enqueue(kind, payload)`` adds a row to the caller's open transaction, so a job exists
exactly when the change that causes it commits; ``flask worker`` claims rows one at a
time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE inside
``BEGIN IMMEDIATE`` on SQLite) under a lease that a heartbeat extends, and marks a job done
in the same transaction as its handler's last writes.
"""

from funrun.jobs.queue import enqueue, handler

__all__ = ["enqueue", "handler"]
