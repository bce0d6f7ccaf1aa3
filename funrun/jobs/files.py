"""The file store: work products of jobs on disk, under ``FUNRUN_FILES_DIR``.

Files are named by the id of the row they belong to (never by anything a user typed),
written under a temporary name and renamed into place, so a reader sees a whole file or
none. With several app instances the directory must be shared storage (NFS, a mounted
volume): the worker writes a file that any instance may be asked to serve.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from flask import current_app


def files_dir() -> Path:
    """The configured directory (created on first use)."""
    root = Path(current_app.config["FUNRUN_FILES_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    return root


def path_for(folder: str, row_id: int, suffix: str) -> Path:
    """Where the file of row ``row_id`` lives, e.g. ``print-jobs/17.pdf``."""
    if not folder.replace("-", "").isalnum() or not suffix.startswith("."):
        raise ValueError("file store names come from code, not input")
    return files_dir() / folder / f"{int(row_id)}{suffix}"


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary file renamed into place when the block ends well."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with open(temporary, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def delete(path: Path) -> bool:
    """Remove a file if it is there; whether it was."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
