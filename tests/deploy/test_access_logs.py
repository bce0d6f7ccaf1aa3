"""Manage tokens never reach a log in the production stack (issue 15, point 7).

A manage link (/r/<token>..., /api/v1/registrations/<token>...) opens, changes and cancels
a registration: it is a password in the address. Every way of reaching one goes through
nginx here, then both servers are stopped and each byte they logged is searched for the
token. The access log must still say what happened, with the token as "-".
"""

from __future__ import annotations

import http.client
import json
import logging
from pathlib import Path

import pytest
from flask import Flask

from funrun.extensions import db
from tests.conftest import build_app, person_payload
from tests.deploy.conftest import Stack
from tests.deploy.stack import HOST


def request(
    stack: Stack, method: str, path: str, body: bytes | None = None, *, tls: bool = True
) -> int:
    """One request through nginx (HTTPS, or its plain-HTTP port); the status."""
    conn = (
        stack.nginx.connection(timeout=20)
        if tls
        else http.client.HTTPConnection(HOST, stack.nginx.http_port, timeout=20)
    )
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_no_log_holds_a_manage_token(stack: Stack) -> None:
    conn = stack.nginx.connection(timeout=20)
    conn.request(
        "POST",
        f"/api/v1/events/{stack.event.slug}/registrations",
        body=json.dumps(person_payload(1)),
        headers={"Content-Type": "application/json"},
    )
    answer = conn.getresponse()
    assert answer.status == 201
    token = json.loads(answer.read())["registration"]["manage_token"]
    conn.close()

    seen = {
        ("GET", "/r/-"): request(stack, "GET", f"/r/{token}"),
        ("GET", "/r/-/cancel"): request(stack, "GET", f"/r/{token}/cancel"),
        ("GET", "/r/-/qr.svg"): request(stack, "GET", f"/r/{token}/qr.svg"),
        ("GET", "/r/-/my-data.json"): request(stack, "GET", f"/r/{token}/my-data.json"),
        ("GET", "/api/v1/registrations/-"): request(stack, "GET", f"/api/v1/registrations/{token}"),
        ("GET", "/api/v1/registrations/-/bib.pdf"): request(
            stack, "GET", f"/api/v1/registrations/{token}/bib.pdf"
        ),
        # The language links carry the page's address in their query string.
        ("GET", "/lang/en?-"): request(stack, "GET", f"/lang/en?next=/r/{token}"),
        # Spelled differently, the same page for the app: nginx logs its normalised $uri.
        ("GET", "/r/-?-"): request(stack, "GET", f"/%72/{token}?lang=en"),
        ("HEAD", "/r/-"): request(stack, "HEAD", f"//r/{token}"),
        # "recover" names a route, not a token: it stays readable.
        ("GET", "/api/v1/registrations/recover"): request(
            stack, "GET", "/api/v1/registrations/recover"
        ),
        # Plain HTTP is sent to HTTPS.
        ("PUT", "/r/-/cancel"): request(stack, "PUT", f"/r/{token}/cancel", tls=False),
        ("POST", "/api/v1/registrations/-/cancel"): request(
            stack, "POST", f"/api/v1/registrations/{token}/cancel", b"{}"
        ),
    }
    # Too large for nginx: it refuses before reading it and, at "error" level, would log
    # the request line (token included) in its error log.
    try:
        seen["POST", "/r/-"] = request(stack, "POST", f"/r/{token}", b"{" + b" " * 200_000 + b"}")
    except (BrokenPipeError, ConnectionResetError):
        seen["POST", "/r/-"] = 413
    assert seen["GET", "/r/-"] == 200
    assert seen["GET", "/api/v1/registrations/-"] == 200
    assert seen["GET", "/api/v1/registrations/-/bib.pdf"] == 200
    assert seen["GET", "/lang/en?-"] == 302
    assert seen["GET", "/r/-?-"] == 200
    assert seen["PUT", "/r/-/cancel"] == 301
    assert seen["POST", "/api/v1/registrations/-/cancel"] == 200
    assert seen["POST", "/r/-"] == 413
    stack.stop()  # nginx writes out its logs as it stops

    logs: dict[Path, bytes] = {path: path.read_bytes() for path in stack.log_files()}
    assert logs.get(stack.gunicorn.log_path)  # it did log
    holding = [str(path) for path, data in logs.items() if token.encode() in data]
    assert not holding, f"the manage token is in {holding}"

    access = logs[stack.nginx.log_dir / "funrun-access.log"].decode()
    for (method, logged), status in seen.items():
        line = f'"{method} {logged} HTTP/'
        assert any(line in entry and f"{status} " in entry for entry in access.splitlines()), (
            f"no {line} {status} in the access log:\n{access}"
        )
    # Every request went to the funrun site's own log: Debian's default (combined, with
    # the full address) at the http level got nothing.
    assert logs[stack.nginx.log_dir / "access.log"] == b""


def test_an_unexpected_error_on_a_manage_link_logs_its_route_not_its_token(
    _session_app: Flask, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The app's own log (gunicorn's error log in production) on a 500 under /r/<token>."""
    served = build_app(database_url, TESTING=False, PROPAGATE_EXCEPTIONS=False)

    def boom(token: str) -> str:
        raise RuntimeError("the page failed")

    served.add_url_rule("/r/<token>/boom", "boom", boom)
    token = "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f"
    with caplog.at_level(logging.DEBUG):
        answer = served.test_client().get(f"/r/{token}/boom")
    assert answer.status_code == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and any(r.exc_info and r.exc_info[0] is RuntimeError for r in errors)
    assert any("/r/<token>/boom" in r.getMessage() for r in errors)
    assert token not in caplog.text
    with served.app_context():
        db.engine.dispose()
