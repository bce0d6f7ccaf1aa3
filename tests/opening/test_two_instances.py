"""Two gunicorn instances on one PostgreSQL and one Redis keep one queue.

Arrivals alternate between the instances: the slots they get follow arrival order,
1/rate apart, whichever instance gave them; an admission one instance issued is
accepted by the other, and a ticket one issued is turned into an admission by the other.
"""

from __future__ import annotations

import itertools
import time

import httpx
import pytest
from sqlalchemy import func, select

from funrun.extensions import db
from funrun.opening import passes
from funrun.opening import slots as slots_of
from funrun.opening.lane import COOKIE
from funrun.registration.models import Registration
from tests.conftest import csrf_from
from tests.opening.conftest import form_data
from tests.servers import free_port, gunicorn, server_env


def _held(runner: httpx.Client, slug: str) -> passes.Ticket | passes.Admission | None:
    return passes.read(runner.cookies.get(COOKIE), slug, time.time())


@pytest.fixture
def instances(app, postgres_url, redis_url):
    """Two instances (one worker each) on the test database, with the queue in Redis."""
    env = server_env(postgres_url, REDIS_URL=redis_url)
    with (
        gunicorn(env, port=free_port(), workers=1) as one,
        gunicorn(env, port=free_port(), workers=1) as two,
    ):
        yield one, two


def test_two_instances_keep_one_order_and_honour_each_others_passes(app, make_event, instances):
    one, two = instances
    event = make_event(admit_rate=2, quota=100)
    slug, event_id = event.slug, event.id
    path = f"/events/{slug}/register"
    runners = [httpx.Client(timeout=10) for _ in range(12)]
    # Each worker's first queued page (its words translated, its Redis client made) comes
    # before the timed second, on another event: on a slow machine it took long enough to
    # carry the third arrival into the next second, where its slot was due at once.
    warm_up = make_event(slug="warm-up", admit_rate=2, quota=100)
    for base in (one, two):
        assert httpx.get(f"{base}/events/{warm_up.slug}/register", timeout=10).status_code == 200
    time.sleep(1.02 - time.time() % 1)  # as a second begins: the arrivals share it
    try:
        for index, runner in enumerate(runners):  # arrivals alternate between instances
            base = (one, two)[index % 2]
            assert runner.get(base + path).status_code == 200
        passes_held = [_held(runner, slug) for runner in runners]
        # The queue was free: the first two slots fall in this second, due at once.
        assert all(isinstance(held, passes.Admission) for held in passes_held[:2])
        tickets = passes_held[2:]
        assert all(isinstance(t, passes.Ticket) and t.event_id == event_id for t in tickets)
        slots = [t.slot for t in tickets]  # type: ignore[union-attr]
        gaps = [b - a for a, b in itertools.pairwise(slots)]
        step = slots_of.step(2) / 1e6  # one order, 2 a second (QUEUE_SHARE of it)
        assert all(abs(gap - step) < 0.005 for gap in gaps), gaps

        # Admitted by the first instance: the second shows the form and registers.
        first = runners[0]
        page = first.get(two + path)
        assert page.status_code == 200 and 'name="nik"' in page.text
        sent = first.post(two + path, data={**form_data(1), "csrf_token": csrf_from(page.text)})
        assert sent.status_code == 302 and "/r/" in sent.headers["location"]

        # A ticket from the first instance becomes an admission at the second.
        second = runners[2]
        ticket = tickets[0]
        assert isinstance(ticket, passes.Ticket)
        time.sleep(max(0.0, ticket.slot - time.time()) + 0.05)
        page = second.get(two + path)
        assert 'name="nik"' in page.text
        assert isinstance(_held(second, slug), passes.Admission)
        sent = second.post(two + path, data={**form_data(2), "csrf_token": csrf_from(page.text)})
        assert sent.status_code == 302

        # Still waiting: the form sent anyway (a CSRF token from another page) is sent
        # back to the queue by either instance, nothing registered.
        last = runners[-1]
        token = csrf_from(last.get(one + "/login").text)
        for base in (one, two):
            refused = last.post(base + path, data={**form_data(3), "csrf_token": token})
            assert refused.status_code == 303 and refused.headers["location"].endswith("?back=1")
    finally:
        for runner in runners:
            runner.close()
    db.session.rollback()
    stored = db.session.scalar(
        select(func.count(Registration.id)).where(Registration.event_id == event_id)
    )
    assert stored == 2
