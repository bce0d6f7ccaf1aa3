"""Loading (and, in development, creating) the secrets the app needs at start-up."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    """Return the secret kept in ``path``, creating it (mode 0600) the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    # Two workers starting together must end up with one key, and neither may read a
    # half-written file: write the key in full under a private name, then link it into
    # place, which fails (FileExistsError) when another worker got there first.
    private = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}")
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(private, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        private.unlink(missing_ok=True)
    return value


def new_data_key() -> str:
    """A fresh 32-byte personal-data key, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def load_secrets(app: Flask) -> None:
    """Fill SECRET_KEY and FUNRUN_DATA_KEY, generating them into instance/ when allowed."""
    if not app.config.get("GENERATE_MISSING_KEYS"):
        return
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _read_or_create(
            instance / "secret_key", lambda: secrets.token_urlsafe(48)
        )
    if not app.config.get("FUNRUN_DATA_KEY"):
        app.config["FUNRUN_DATA_KEY"] = _read_or_create(instance / "data_key", new_data_key)
    if not app.config.get("FUNRUN_SIGNING_KEY"):
        from funrun.bibs.signing import new_private_key_text

        app.config["FUNRUN_SIGNING_KEY"] = _read_or_create(
            instance / "signing_key", new_private_key_text
        )
