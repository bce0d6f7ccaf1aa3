"""A real HTTP server on loopback that answers as a message provider would.

Each test hands it the answers to give, in order (the last one repeats), and reads back
what it received: path, headers, JSON body, and which connection each request came on::

    with ProviderServer(meta_ok("wamid.1")) as server:
        with WhatsAppTransport(server.url + "/v21.0/123", "token") as wa:
            wa.send(message)
        assert server.received[0].body["to"] == "6281234567890"

The handler speaks HTTP/1.1 with keep-alive, so a client that reuses its connection
shows as one connection. A slow answer waits on an event the server sets when it stops,
so a test that times out never leaves a thread sleeping behind it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One answer: status, JSON body, headers, and seconds to wait before it."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the server saw it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    connection: int


def meta_ok(wamid: str, to: str = "6281234567890") -> Reply:
    """A Cloud API success, as Meta documents it."""
    return Reply(
        200,
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        },
    )


def meta_error(code: int, message: str, status: int = 400, **headers: str) -> Reply:
    """A Cloud API error, as Meta documents it (``Retry_After`` -> ``Retry-After``)."""
    return Reply(
        status,
        {
            "error": {
                "message": f"(#{code}) {message}",
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": message},
                "fbtrace_id": "AbCdEfGhIjK",
            }
        },
        {k.replace("_", "-"): v for k, v in headers.items()},
    )


class _Server(ThreadingHTTPServer):
    # Join the handler threads on close: nothing outlives the test.
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout test) is expected: no traceback."""


class ProviderServer:
    """The server, around a ``with`` block; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply()]
        self.received: list[Received] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections = count(1)
        self.connections = 0
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _next(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _new_connection(self) -> int:
        with self._lock:
            self.connections = next(self._connections)
            return self.connections

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body written apart: no 40 ms stall
            timeout = 5  # an idle keep-alive connection is dropped after this

            def setup(self) -> None:
                super().setup()
                self.connection_number = server._new_connection()

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                reply = server._next(
                    Received(
                        "POST",
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        self.connection_number,
                    )
                )
                if reply.delay and server.stopping.wait(reply.delay):
                    self.close_connection = True
                    return
                data = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
