"""A real gunicorn on loopback (ports 8650-8699) serving the test database, for sign-in tests.

It runs as production does (``FUNRUN_ENV=production``, fixed fake keys from the testing
config, several sync workers), behind one trusted proxy so tests can speak for other
client addresses with ``X-Forwarded-For``. Cookies are kept by hand (the Set-Cookie
value saved and sent back as a Cookie header), exactly like a copy of a cookie would be.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from config import TestingConfig
from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(8650, 8700)


def free_port() -> int:
    """A port of our range nobody listens on."""
    for port in PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8650-8699")


@dataclass
class LiveServer:
    """gunicorn serving funrun; ``url`` once started."""

    database_url: str
    log_path: Path
    workers: int = 3
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FUNRUN_", "REDIS"))},
            "FUNRUN_ENV": "production",
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": str(TestingConfig.SECRET_KEY),
            "FUNRUN_DATA_KEY": str(TestingConfig.FUNRUN_DATA_KEY),
            "FUNRUN_SIGNING_KEY": str(TestingConfig.FUNRUN_SIGNING_KEY),
            "FUNRUN_TRUSTED_PROXIES": "1",
            "FUNRUN_MESSAGES": "off",
            **self.env,
        }
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()  # a master that never answered is still running: stop it too
            raise
        return self

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/login", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or workers still booting
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


def session_cookie(response: requests.Response) -> str | None:
    """The value of the ``session`` cookie a response sets, if it sets one."""
    for header in response.raw.headers.getlist("Set-Cookie"):
        match = re.match(r"session=([^;]*)", header)
        if match:
            return match.group(1)
    return None


class Browser:
    """One client: keeps its session cookie by hand, and may speak for another address."""

    def __init__(self, server: LiveServer, address: str | None = None) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.cookies.set_policy(_NoCookies())
        self.cookie: str | None = None
        self.address = address

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.cookie:
            headers["Cookie"] = f"session={self.cookie}"
        if self.address:
            headers["X-Forwarded-For"] = self.address
        response = self.http.request(
            method,
            self.server.url + path,
            headers=headers,
            allow_redirects=False,
            timeout=30,
            **kwargs,
        )
        new = session_cookie(response)
        if new is not None:
            self.cookie = new or None
        return response

    def csrf(self, path: str = "/login") -> str:
        page = self.request("GET", path)
        assert page.status_code == 200, (path, page.status_code)
        return csrf_from(page.text)

    def sign_in(self, email: str, password: str) -> requests.Response:
        token = self.csrf()
        return self.request(
            "POST", "/login", data={"email": email, "password": password, "csrf_token": token}
        )


class _NoCookies(requests.cookies.cookielib.DefaultCookiePolicy):  # type: ignore[name-defined]
    """requests keeps no cookies of its own: the Browser sends exactly what it saved."""

    def set_ok(self, cookie, request) -> bool:
        return False
