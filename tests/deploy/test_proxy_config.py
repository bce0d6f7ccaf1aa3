"""The rest of what deploy/nginx/ promises: HTTPS for the app, static files, the renderer."""

from __future__ import annotations

import gzip
import http.client
import json
import re

import pytest

from tests.conftest import person_payload
from tests.deploy.conftest import Stack
from tests.deploy.stack import HOST, ROOT, load_render

render = load_render()


def get(stack: Stack, path: str, headers: dict[str, str] | None = None):
    """GET through nginx's HTTPS port: the response, its body read."""
    conn = stack.nginx.connection(timeout=20)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def test_the_app_sees_https_and_static_files_come_from_nginx(stack: Stack) -> None:
    # X-Forwarded-Proto/Host from nginx, trusted by the app (FUNRUN_TRUSTED_PROXIES=1):
    # the manage link it gives is an https one on the site's own name, whatever Host the
    # client sent (a link built on a client's Host could be mailed to a runner).
    conn = stack.nginx.connection(timeout=20)
    conn.request(
        "POST",
        f"/api/v1/events/{stack.event.slug}/registrations",
        body=json.dumps(person_payload(2)),
        headers={
            "Host": "evil.example",
            "X-Forwarded-Host": "evil.example",
            "Content-Type": "application/json",
            "Accept-Encoding": "gzip",
        },
    )
    response = conn.getresponse()
    registration = json.loads(response.read())["registration"]
    conn.close()
    assert response.status == 201
    assert registration["manage_url"] == f"https://{HOST}/r/{registration['manage_token']}"
    assert response.getheader("Content-Encoding") is None  # answers with tokens: never gzip

    # Bodies: over the app's 64 KiB, the app's own 413 problem; over 128k, nginx's.
    for size, content_type in ((100_000, "application/problem+json"), (200_000, "text/html")):
        conn = stack.nginx.connection(timeout=20)
        try:
            conn.request(
                "POST",
                f"/api/v1/events/{stack.event.slug}/registrations",
                body=b'{"full_name": "' + b"x" * size + b'"}',
                headers={"Content-Type": "application/json"},
            )
            too_large = conn.getresponse()
            too_large.read()
        finally:
            conn.close()
        assert too_large.status == 413
        assert too_large.getheader("Content-Type", "").startswith(content_type)

    # A partner's group import may be 48 MiB: 1 MB reaches the app (no token: its 401).
    conn = stack.nginx.connection(timeout=20)
    try:
        conn.request(
            "POST",
            f"/api/v1/events/{stack.event.slug}/group-registrations",
            body=b"full_name,nik\r\n" + b"Budi,1\r\n" * 125_000,
            headers={"Content-Type": "text/csv", "Import-Key": "k"},
        )
        group = conn.getresponse()
        group.read()
    finally:
        conn.close()
    assert group.status == 401
    assert group.getheader("Content-Type", "").startswith("application/problem+json")

    # Static files: nginx's own (cached for an hour, compressed), not a worker's.
    response, body = get(stack, "/static/css/app.css", {"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Cache-Control") == "max-age=3600"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert gzip.decompress(body) == (ROOT / "static" / "css" / "app.css").read_bytes()
    missing, _ = get(stack, "/static/no-such-file.css")
    assert missing.status == 404

    # Plain HTTP goes to HTTPS.
    conn = http.client.HTTPConnection(HOST, stack.nginx.http_port, timeout=20)
    conn.request("GET", "/events/proxied?x=1", headers={"Host": "evil.example"})
    redirect = conn.getresponse()
    conn.close()
    assert redirect.status == 301
    assert redirect.getheader("Location") == f"https://{HOST}/events/proxied?x=1"

    stack.stop()
    access = (stack.nginx.log_dir / "funrun-access.log").read_text().splitlines()
    static = [line for line in access if '"GET /static/' in line]
    assert len(static) >= 3  # the readiness check, the file and the missing one
    assert all("upstream=-/-" in line for line in static)  # no worker saw them
    app_lines = [line for line in access if "/registrations HTTP" in line]
    assert len(app_lines) == 3
    assert "upstream=201/" in app_lines[0] and "upstream=413/" in app_lines[1]
    assert "upstream=-/-" in app_lines[2]  # refused by nginx before any worker


def test_every_access_log_of_the_site_writes_the_private_format() -> None:
    """Raw addresses, queries and referrers are in no log format; both servers use it."""
    site = render.render(
        {"server_name": "run.example.org", "certificate": "/c.pem", "certificate_key": "/k.pem"}
    )
    log_format = site.split("log_format funrun_private", 1)[1].split(";", 1)[0]
    variables = set(re.findall(r"\$(\w+)", log_format))
    raw = {"request", "request_uri", "uri", "args", "query_string", "http_referer"}
    assert not variables & raw
    assert not [v for v in variables if v.startswith(("arg_", "cookie_", "http_auth"))]
    assert "$funrun_log_path$funrun_log_query" in log_format
    directives = [
        line.strip() for line in site.splitlines() if line.strip().startswith("access_log")
    ]
    assert len(directives) == 2
    assert all(d.endswith(" funrun_private;") for d in directives)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"certificate": "/c.pem", "certificate_key": "/k.pem"}, "no value for: server_name"),
        (
            {"server_name": "a", "certificate": "/c", "certificate_key": "/k", "port": "1"},
            "unknown placeholder",
        ),
        (
            {"server_name": "a; include /etc/passwd", "certificate": "/c", "certificate_key": "/k"},
            "not one plain nginx word",
        ),
        (
            {"server_name": "a", "certificate": "/c.pem}", "certificate_key": "/k"},
            "not one plain nginx word",
        ),
    ],
)
def test_the_renderer_refuses_what_would_not_be_the_file(values, message) -> None:
    with pytest.raises(ValueError, match=message):
        render.render(values)


def test_the_renderer_fills_every_placeholder_of_the_template() -> None:
    site = render.render({"server_name": "a", "certificate": "/c", "certificate_key": "/k"})
    assert not render.PLACEHOLDER.search(site)
    with pytest.raises(ValueError, match="differ"):
        render.render({"server_name": "a", "certificate": "/c", "certificate_key": "/k"}, "x")
