"""Slow clients: raw connections that trickle a request one byte a second.

Half trickle their request line and headers; the other half send whole headers of a
POST with ``Content-Length: 10000`` and trickle the body. One thread feeds them all;
it stops when told to, or by itself after ``seconds``, and every socket is closed by
:meth:`SlowClients.close`.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

BODY_LENGTH = 10_000


def _headers_then_body(host: str, path: str) -> tuple[bytes, bytes]:
    """What a body trickler sends at once, and what it then trickles."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {BODY_LENGTH}\r\n\r\n"
    ).encode()
    return head, b'{"full_name": "' + b"x" * (BODY_LENGTH - 15)


def _trickled_headers(host: str, path: str) -> bytes:
    """What a header trickler sends, from its first byte."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: slow-client\r\n"
        + "".join(f"X-Padding-{i}: {'y' * 40}\r\n" for i in range(20))
        + "\r\n"
    ).encode()


@dataclass
class SlowClients:
    """``count`` slow connections to ``host:port`` (TLS when ``context`` is given)."""

    host: str
    port: int
    path: str
    count: int = 20
    context: ssl.SSLContext | None = None
    seconds: float = 60.0
    sockets: list[socket.socket] = field(default_factory=list)
    pending: list[bytes] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    #: A TLS connection is never read and written by two threads at once.
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def open(self) -> None:
        """Connect them all (half header tricklers, half body tricklers) and start feeding."""
        for i in range(self.count):
            sock = socket.create_connection((self.host, self.port), timeout=10)
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
            if i % 2 == 0:
                first, rest = b"", _trickled_headers(self.host, self.path)
            else:
                first, rest = _headers_then_body(self.host, self.path)
            if first:
                sock.sendall(first)
            sock.setblocking(False)
            self.sockets.append(sock)
            self.pending.append(rest)
        self._thread = threading.Thread(target=self._feed, name="slow-clients", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            with self._lock:
                for i, sock in enumerate(self.sockets):
                    self._send_one_byte(i, sock)
            self._stop.wait(1.0)

    def _send_one_byte(self, i: int, sock: socket.socket) -> None:
        if not self.pending[i]:
            return
        try:
            sent = sock.send(self.pending[i][:1])
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return
        except OSError:
            self.pending[i] = b""  # the server closed it: still_open() says so
            return
        self.pending[i] = self.pending[i][sent:]

    def still_open(self) -> int:
        """How many are still connected with no answer: the server is still waiting on them."""
        waiting = 0
        with self._lock:
            for sock in self.sockets:
                try:
                    sock.recv(1)  # b"": closed by the server; bytes: answered
                except (BlockingIOError, ssl.SSLWantReadError):
                    waiting += 1  # nothing to read (a TLS session ticket is not data)
                except OSError:
                    pass  # reset by the server
        return waiting

    def close(self) -> None:
        """Stop feeding and close every connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self.sockets.clear()
        self.pending.clear()
