"""A counting SMTP sink on loopback, in a process of its own (run by bench/messages.py).

``python bench/smtp_sink.py PORT OUT``: aiosmtpd on 127.0.0.1:PORT accepts every message,
keeps only its Message-ID, size and arrival time, and discards the rest. On SIGTERM it
stops and writes ``{"messages", "distinct_ids", "repeated_ids", "bytes", "connections",
"first", "last"}`` (times from ``time.time()``) to OUT as JSON.

A process of its own, so the worker being measured does not share its interpreter's
lock with the server it sends to.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class Counting:
    """aiosmtpd handler: counts, remembers Message-IDs, discards the content."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[str] = Counter()
        self.messages = 0
        self.bytes = 0
        #: Client (address, port) pairs seen: one per connection.
        self.peers: Counter[str] = Counter()
        self.first: float | None = None
        self.last: float | None = None

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        now = time.time()
        with self.lock:
            self.messages += 1
            self.bytes += len(content)
            self.peers[f"{session.peer[0]}:{session.peer[1]}"] += 1
            self.ids[found.group(1).decode() if found else "(none)"] += 1
            self.first = self.first or now
            self.last = now
        return "250 OK"

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {
                "messages": self.messages,
                "distinct_ids": len(self.ids),
                "repeated_ids": {k: v for k, v in self.ids.items() if v > 1},
                "bytes": self.bytes,
                "connections": len(self.peers),
                "messages_per_connection": sorted(self.peers.values()),
                "first": self.first,
                "last": self.last,
            }


def main(port: int, out: Path) -> None:
    handler = Counting()
    # data_size_limit: a bib PDF is tens of kB; the default (32 MiB) is plenty.
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.start()
    print(f"smtp sink on 127.0.0.1:{port}", flush=True)
    while not stop.wait(0.2):
        pass
    controller.stop()
    out.write_text(json.dumps(handler.report()) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
