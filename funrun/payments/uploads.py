"""A payment file uploaded by an organiser, imported by the worker (the same import as
``flask payments import``), with its progress in a small JSON file beside it.

The upload is kept in the file store (``payment-uploads/<job>.csv``, shared by every
instance like the bib PDFs) so the worker can read it and the report can be made again
from it. Progress is a file, not a row: the import is one database transaction (and on
SQLite holds the one write lock), so nothing it writes is visible before it ends.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import IO, Any

from funrun.extensions import db
from funrun.jobs import files
from funrun.jobs.queue import enqueue, handler

KIND = "payments.import"
FOLDER = "payment-uploads"
#: The largest payment file the page takes (1,000,000 rows are about 25 MB).
MAX_BYTES = 64 * 1024 * 1024


def upload_path(job_id: int) -> Path:
    """Where job ``job_id``'s file is kept."""
    return files.path_for(FOLDER, job_id, ".csv")


def _progress_path(job_id: int) -> Path:
    return files.path_for(FOLDER, job_id, ".json")


def read_progress(job_id: int) -> dict[str, Any]:
    """What the worker last said of job ``job_id`` (``{}`` before it started)."""
    try:
        found = json.loads(_progress_path(job_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def write_progress(job_id: int, **values: Any) -> None:
    path = _progress_path(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps({**read_progress(job_id), **values}), encoding="utf-8")
    os.replace(temporary, path)


class TooLarge(ValueError):
    """The upload is over :data:`MAX_BYTES`."""


def start_import(stream: IO[bytes], filename: str, *, user_id: int) -> int:
    """Keep the uploaded file and queue its import (committed); the job's id."""
    path = files.path_for(FOLDER, 0, f".{uuid.uuid4().hex}.upload")
    written = lines = 0
    last = b"\n"
    with files.atomic_write(path) as out:
        for block in iter(lambda: stream.read(1 << 20), b""):
            written += len(block)
            if written > MAX_BYTES:
                raise TooLarge(filename)
            lines += block.count(b"\n")
            last = block[-1:]
            out.write(block)
    rows = max(lines - (last == b"\n"), 0)  # the lines after the header
    job = enqueue(KIND, {"filename": filename[:255], "user_id": user_id})
    db.session.flush()
    job.payload = {**job.payload, "job": job.id}
    os.replace(path, upload_path(job.id))
    write_progress(job.id, status="queued", filename=filename[:255], total=rows, rows=0)
    db.session.commit()
    return job.id


@handler(KIND, gave_up=lambda payload, error: write_progress(int(payload["job"]), status="failed"))
def run_import(payload: dict[str, Any]) -> None:
    """Import the kept file; idempotent (the same file answers its first import)."""
    from funrun.payments.importing import HeaderError, import_file

    job_id = int(payload["job"])
    write_progress(job_id, status="running", rows=0)  # then every 100,000 rows
    try:
        result = import_file(
            upload_path(job_id),
            filename=str(payload.get("filename") or "payments.csv"),
            user_id=payload.get("user_id"),
            progress=lambda rows: write_progress(job_id, rows=rows),
        )
    except HeaderError as exc:
        write_progress(job_id, status="refused", error=str(exc))
        return
    write_progress(
        job_id,
        status="done",
        rows=result.rows,
        accepted=result.accepted,
        refused=result.refused,
        repeated=result.repeated,
        file_id=result.file_id,
        reasons=dict(result.reasons),
    )
