"""Export downloads whose body is sent after the request that asked for it has ended.

A WSGI server sends a streamed body after the view returned, and Flask tears the
request's app context down (and with it the request's database session) before that: a
body that touches the request's ORM objects then fails half-way, on every server (the
test client, which keeps the test's app context, hides it). So a body here depends only
on plain values, a finished temporary file, or a connection of its own
(:func:`funrun.reports.roster_files.roster_csv`). Used by the report downloads and the
enrolment export batches.

An export is written to the audit log only once its whole body was handed to the server
(:func:`served`), in a short transaction of its own: a client that goes away half-way
leaves no "export downloaded" entry.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

from sqlalchemy.engine import Engine
from werkzeug.wrappers import Response

from funrun.audit.services import record_apart
from funrun.extensions import db

#: Bytes sent at a time when streaming a finished file.
CHUNK = 64 * 1024

Piece = TypeVar("Piece", str, bytes)


def served(body: Iterable[Piece], on_served: Callable[[], None]) -> Iterator[Piece]:
    """Yield ``body``, then call ``on_served``: when the server asks for the piece after
    the last, i.e. once every piece was written to the client's connection.

    Closed early (the client went away, the worker is stopping) or failing, it never
    calls ``on_served``; closing it closes ``body``. Should ``on_served`` fail (the
    database gone), the server ends the response without its last chunk, so the client
    sees a failed download rather than a logged one missing from the log.
    """
    yield from body
    on_served()


def spooled(write: Callable[[IO[bytes]], Any]) -> IO[bytes]:
    """A new temporary file holding what ``write(file)`` wrote (the caller closes it)."""
    target = tempfile.TemporaryFile()  # noqa: SIM115 (outlives this call: the body reads it)
    try:
        write(target)
    except BaseException:
        target.close()
        raise
    return target


def file_chunks(target: IO[bytes]) -> Iterator[bytes]:
    """A finished file from its start, a chunk at a time; closed at the end or when the
    iteration is closed early."""
    with target:
        target.seek(0)
        while chunk := target.read(CHUNK):
            yield chunk


def export_response(
    body: Iterable[str] | Iterable[bytes],
    mimetype: str,
    filename: str,
    *,
    user_id: int,
    event_id: int | None = None,
    spool: IO[bytes] | None = None,
    log: Callable[[Engine], None] | None = None,
) -> Response:
    """A download of ``body`` as ``filename``, logged as an export once it was served.

    ``log`` writes the log instead of the audit log's "export" row alone (given the app's
    engine; it writes in a transaction of its own). ``spool`` is a temporary file the
    body reads: closed with the response even when the body is never sent (HEAD).
    """
    engine = db.engine  # the app's engine, usable once the request's context is gone

    def log_export() -> None:
        if log is not None:
            log(engine)
        else:
            record_apart(engine, "export", user_id=user_id, target=filename, event_id=event_id)

    response = Response(served(body, log_export), mimetype=mimetype)  # type: ignore[arg-type]
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    if spool is not None:
        response.call_on_close(spool.close)
    return response
