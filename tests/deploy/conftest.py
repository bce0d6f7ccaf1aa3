"""Fixtures for the production stack: gunicorn behind nginx on loopback (see stack.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from funrun.events.models import Event
from tests.conftest import need
from tests.deploy.stack import NGINX, Gunicorn, Nginx


@dataclass
class Stack:
    """An open event served by gunicorn, with nginx in front of it."""

    event: Event
    gunicorn: Gunicorn
    nginx: Nginx

    def log_files(self) -> list[Path]:
        """Every log either server wrote."""
        return [self.gunicorn.log_path, *sorted(self.nginx.log_dir.iterdir())]

    def stop(self) -> None:
        """nginx first (it flushes its logs), then gunicorn."""
        self.nginx.stop()
        self.gunicorn.stop()


@pytest.fixture
def stack(
    app: Flask, make_event: Callable[..., Event], database_url: str, tmp_path: Path
) -> Iterator[Stack]:
    """gunicorn (3 sync workers) and nginx on the session's test database."""
    need(NGINX.exists(), f"{NGINX} (Debian's nginx) is not installed")
    event = make_event(slug="proxied", quota=100)
    gunicorn = Gunicorn(database_url, tmp_path / "gunicorn.log")
    nginx = Nginx(tmp_path / "nginx", upstream_port=gunicorn.port)
    running = Stack(event, gunicorn, nginx)
    try:
        gunicorn.start()
        nginx.start()
        yield running
    finally:
        running.stop()
