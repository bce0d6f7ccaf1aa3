"""A real server for tests: gunicorn (or ``flask run``) on loopback, around a ``with`` block.

The test client runs a view and its response inside the test's own app context, so it
hides whatever only happens on a real server: the request's app context (and its
database session) torn down before a streamed body is sent, a client that goes away
half-way, a worker that is a process of its own. Tests of those use :func:`gunicorn`::

    with gunicorn(server_env(database_url), port=8701) as base_url:
        urllib.request.urlopen(base_url + "/login")

The server reads the test database with the test keys (:func:`server_env`), so what a
test writes through its ``app`` fixture (committed) the server sees, and the other way
round.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from config import TestingConfig

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
#: Seconds gunicorn gets to answer its first request, and to stop gracefully.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server on ``database_url`` with the test suite's keys.

    ``development`` settings (no secure-only cookies over plain HTTP) with the testing
    keys, so NIKs and bibs written by the test read back in the server; rate limits off.
    ``extra`` is added last (e.g. ``FUNRUN_RETENTION_DAYS="30"``).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TEST_DATABASE_URL")}
    env.update(
        FUNRUN_ENV="development",
        DATABASE_URL=database_url,
        SECRET_KEY=str(TestingConfig.SECRET_KEY),
        FUNRUN_DATA_KEY=str(TestingConfig.FUNRUN_DATA_KEY),
        FUNRUN_SIGNING_KEY=str(TestingConfig.FUNRUN_SIGNING_KEY),
        FUNRUN_RATE_LIMITS="off",
        # The test process's file store: what its worker writes, the server serves.
        FUNRUN_FILES_DIR=str(TestingConfig.FUNRUN_FILES_DIR),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port nobody listens on now (for tests that have no range of their own)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(
    env: Mapping[str, str],
    *,
    port: int | None = None,
    workers: int = 2,
    ready_path: str = "/login",
    extra_args: Sequence[str] = (),
) -> Iterator[str]:
    """Run ``gunicorn wsgi:app`` (sync workers) on loopback; yield its base URL.

    Waits until ``ready_path`` answers 200, and stops the server (gracefully, then by
    SIGKILL) when the block ends, however it ends. gunicorn's output goes to a temporary
    log, shown in the error when the server does not start.
    """
    port = port or free_port()
    base_url = f"http://{HOST}:{port}"
    command = [
        sys.executable, "-m", "gunicorn",
        "--worker-class", "sync",
        "--workers", str(workers),
        "--bind", f"{HOST}:{port}",
        "--chdir", str(ROOT),
        "--graceful-timeout", "5",
        "--timeout", "60",
        "--log-level", "warning",
        *extra_args,
        "wsgi:app",
    ]  # fmt: skip
    with _running(command, env, base_url + ready_path):
        yield base_url


@contextmanager
def flask_run(
    env: Mapping[str, str], *, port: int | None = None, ready_path: str = "/login"
) -> Iterator[str]:
    """Run ``flask --app wsgi run`` (Werkzeug's development server, threaded) on loopback;
    yield its base URL. Started and stopped as :func:`gunicorn` is."""
    port = port or free_port()
    base_url = f"http://{HOST}:{port}"
    command = [
        sys.executable, "-m", "flask", "--app", "wsgi", "run",
        "--host", HOST, "--port", str(port), "--no-reload", "--no-debugger",
    ]  # fmt: skip
    with _running(command, env, base_url + ready_path):
        yield base_url


@contextmanager
def _running(command: list[str], env: Mapping[str, str], ready_url: str) -> Iterator[None]:
    with tempfile.TemporaryFile() as log:
        # A session of its own: stopping signals the server and its workers, by group id.
        process = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=log, stderr=log, start_new_session=True
        )
        try:
            _wait_ready(process, ready_url, log)
            yield
        finally:
            _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[2]} exited ({process.returncode}):\n{_read(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not answering {url} after {START_TIMEOUT:.0f} s:\n{_read(log)}")


def _read(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
