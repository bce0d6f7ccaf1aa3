"""Slow clients against the production stack (issue 15, point 9).

Twenty connections trickling their headers or bodies one byte a second used to hold every
gunicorn sync worker, and every other request waited for them. Behind nginx
(deploy/nginx/), which reads whole requests before passing them on, a normal registration
is still answered at once; straight at gunicorn, with the same twenty open, it is not.
"""

from __future__ import annotations

import http.client
import json
import time

from tests.conftest import person_payload
from tests.deploy.conftest import Stack
from tests.deploy.slow import SlowClients
from tests.deploy.stack import HOST

#: The issue's bound for a registration with twenty slow clients open.
ANSWERED_WITHIN = 1.0
#: How long the registration straight at gunicorn is given (it would wait much longer).
STARVED_AFTER = 3.0
#: Time for every slow client to connect and start trickling before the registration.
SETTLE = 2.0


def register(connection: http.client.HTTPConnection, slug: str, index: int) -> tuple[int, float]:
    """POST a valid registration; its status and seconds from connecting to the answer."""
    body = json.dumps(person_payload(index))
    started = time.perf_counter()
    try:
        connection.request(
            "POST",
            f"/api/v1/events/{slug}/registrations",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def test_a_registration_is_answered_at_once_with_twenty_slow_clients_open(
    stack: Stack,
) -> None:
    slug = stack.event.slug
    path = f"/api/v1/events/{slug}/registrations"
    status, _ = register(stack.nginx.connection(timeout=10), slug, 0)
    assert status == 201  # warm: the app answers through nginx

    # Behind nginx: the twenty hold nginx connections, never a worker.
    slow = SlowClients(HOST, stack.nginx.https_port, path, context=stack.nginx.tls_context())
    try:
        slow.open()
        time.sleep(SETTLE)
        timings = []
        for index in (1, 2, 3):
            status, seconds = register(stack.nginx.connection(timeout=10), slug, index)
            assert status == 201
            timings.append(seconds)
        open_meanwhile = slow.still_open()
    finally:
        slow.close()
    assert open_meanwhile == 20  # all still trickling (nginx's 10 s timeouts not yet up)
    assert max(timings) < ANSWERED_WITHIN, timings

    # The same twenty straight at gunicorn (3 sync workers): the registration waits.
    slow = SlowClients(HOST, stack.gunicorn.port, path)
    starved = False
    try:
        slow.open()
        time.sleep(SETTLE)
        direct_started = time.perf_counter()
        try:
            register(http.client.HTTPConnection(HOST, stack.gunicorn.port, STARVED_AFTER), slug, 4)
        except TimeoutError:
            starved = True
        direct_seconds = time.perf_counter() - direct_started
    finally:
        slow.close()
    print(
        f"\nwith 20 slow clients open: through nginx {', '.join(f'{t:.3f}' for t in timings)} s;"
        f" straight at gunicorn {'no answer after' if starved else 'answered in'}"
        f" {direct_seconds:.1f} s"
    )
    assert starved, f"gunicorn answered in {direct_seconds:.2f} s with 20 slow clients open"

    # Once the slow clients are gone, gunicorn serves again: the contrast was theirs.
    status, _ = register(http.client.HTTPConnection(HOST, stack.gunicorn.port, 20), slug, 5)
    assert status == 201
