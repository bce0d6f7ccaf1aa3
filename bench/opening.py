"""Benchmark: a first-come opening through the orderly queue (issue 21, part 4).

Starts everything itself and stops by itself::

    .venv/bin/python bench/opening.py                         # 50,000 people in 60 s
    .venv/bin/python bench/opening.py --people 5000 --seconds 10   # a smaller rehearsal

1. resets the PostgreSQL database ``funrun_queue_bench`` (schema dropped and recreated),
   runs the migrations and makes one event with a big quota and ``admit_rate`` (300 a
   second by default); deletes the queue's keys in Redis (db 14 by default);
2. serves funrun twice (two gunicorn instances, sync workers, loopback), both on that
   database and that Redis, as two instances behind a load balancer would be;
3. simulates the opening with asyncio (raw HTTP/1.1, a new connection a request, as
   gunicorn's sync workers close each one; at most ``--connections`` in flight): each
   person arrives at a random moment within ``--seconds``, GETs the register page, follows
   the waiting page's refresh (the seconds its ``<meta http-equiv="refresh">`` says), and
   once the form is there POSTs it with its CSRF token. Each request goes to the other
   instance than the one before (round robin);
4. reports: 5xx answers (must be 0), registrations stored against forms sent (each exactly
   once, no person twice), the waiting page's latency (p50/p99 of every waiting page,
   which the check is on, and apart of refreshes and of arrivals, which take a slot in
   Redis), the form's hit rate per second against the admit rate, and arrival order
   against admission order (whole seconds after each slot's); writes the figures to
   ``bench/results/opening-<timestamp>.json`` and exits 1 if a check fails.

A person's arrival is when their first request leaves the generator (after any wait for
one of its connections, which is the generator's, not the server's); their admission is
when the form reaches them. Order is checked twice: against the slots the queue gave
(the queue's own order, as Redis saw the arrivals) and against arrival order (which
also counts any time a request spent in a busy instance's accept queue before the
queue saw it). ``--drain`` ends the run that long after the last arrival: those still in
line then are counted as waiting, and anyone already holding the form still sends it.
Those let in two or more whole seconds after their slot's are listed with every request
they made (``late_examples``); ``BENCH_PEOPLE=1`` also writes each queued runner's slot,
admission and requests to ``<results>.people.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from tests.conftest import person_payload  # noqa: E402
from tests.servers import HOST, free_port, gunicorn, server_env  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/funrun_queue_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SLUG = "opening"
#: Another queued event, which the servers serve before the opening (``warm_up``).
WARM_UP_SLUG = "earlier"
REFRESH = re.compile(rb'<meta http-equiv="refresh" content="(\d+)">')
HIDDEN = re.compile(rb'<input[^>]*name="(csrf_token|submission)"[^>]*value="([^"]*)"')
HIDDEN_REVERSED = re.compile(rb'<input[^>]*value="([^"]*)"[^>]*name="(csrf_token|submission)"')


@dataclass
class Person:
    """One simulated runner and what happened to them (times: seconds from the start)."""

    index: int
    arrive_at: float
    cookies: dict[str, str] = field(default_factory=dict)
    arrived: float | None = None
    admitted: float | None = None
    waited_pages: int = 0
    #: The slot the queue gave (from the signed ticket; None: admitted on arrival).
    slot: float | None = None
    #: The same as epoch seconds (the clock the queue counts whole seconds on).
    slot_epoch: float | None = None
    registered: bool = False
    #: When the server opened the form for them (epoch seconds, server's clock).
    opened: float | None = None
    #: When the request the form opened for left the generator (seconds from the start).
    asked: float | None = None
    #: When this person's latest request left the generator (seconds from the start).
    sent: float | None = None
    outcome: str = "pending"
    #: Waiting for the page's refresh (no request in flight): safe to stop at the end.
    sleeping: bool = False
    #: Each request: when it left the generator (epoch, the generator's clock), its status,
    #: the refresh its page asked for (None: the form) and how long it took (ms).
    trail: list[tuple[float, int, int | None, float]] = field(default_factory=list)


@dataclass
class Tally:
    """Every answer of the run."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    arrival_ms: list[float] = field(default_factory=list)
    refresh_ms: list[float] = field(default_factory=list)
    #: Every waiting page's (arrival or refresh) answer: (when it came, seconds from the
    #: start; its latency in ms), for the p99 of each 10 s of the run.
    waiting_timeline: list[tuple[float, float]] = field(default_factory=list)
    form_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    waiting_bytes: int = 0
    form_hits: list[float] = field(default_factory=list)
    #: When the server opened the form (from the admission it signed; epoch seconds on
    #: the server's clock, so whole seconds are the server's).
    form_opened: list[float] = field(default_factory=list)
    requests: int = 0
    loop_lag_ms: list[float] = field(default_factory=list)
    #: Time a request waited for one of the generator's connections (its own queue).
    pool_wait_ms: list[float] = field(default_factory=list)


def prepare(database_url: str, redis_url: str, rate: int, quota: int) -> None:
    """A fresh schema, the migrations, one queued event; no queue keys left in Redis."""
    url = make_url(database_url)
    name = url.database or ""
    if not name.startswith("funrun_queue_bench"):
        sys.exit(f"refusing to wipe {name!r}: this bench's database is funrun_queue_bench")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    from funrun.events.models import Event, Tour
    from funrun.extensions import db
    from tests.conftest import build_app

    app = build_app(database_url)  # this database, whatever the environment says
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        tour = Tour(slug="bench", name="Fun Run 5K", organiser="Bench")
        db.session.add(tour)
        db.session.flush()
        next_year = datetime.now(UTC).date()
        next_year = next_year.replace(year=next_year.year + 1)
        # (slug, city, venue, bib prefix, admit rate): the opening's event, and another
        # whose queue lets one runner a second through, so a warm-up wave gets both its
        # form and its waiting pages.
        for slug, city, venue, prefix, admit_rate in (
            (SLUG, "Jakarta", "Monas", "JKT", rate),
            (WARM_UP_SLUG, "Bandung", "Gasibu", "BDG", 1),
        ):
            db.session.add(
                Event(
                    tour_id=tour.id,
                    slug=slug,
                    city=city,
                    name=f"Fun Run {city}",
                    date=next_year,
                    start_time=datetime(2000, 1, 1, 6).time(),
                    venue=venue,
                    quota=quota,
                    bib_prefix=prefix,
                    bib_first=1,
                    bib_last=99_999,
                    bib_next=1,
                    admit_rate=admit_rate,
                )
            )
        db.session.commit()
        assert db.engine.url.database == name, db.engine.url
        db.engine.dispose()
    import redis

    store = redis.Redis.from_url(redis_url)
    keys = list(store.scan_iter("funrun:queue:*"))
    if keys:
        store.delete(*keys)
    store.close()


def warm_up(ports: list[int], waves: int = 3, at_once: int = 8) -> None:
    """Each instance's workers serve what they would have served before an opening: the
    home page, and arrivals at another queued event (its form and its waiting page), a
    few at once so that every worker gets some. Servers are not started at the minute
    registration opens; measured from their first request, the opening's first 10 s had
    a waiting-page p99 of 121-208 ms (templates compiled, connections opened, the
    page's words translated, Redis's scripts loaded, all on the first requests)."""

    def get(url: str) -> None:
        with urllib.request.urlopen(url, timeout=30) as answer:
            answer.read()

    urls = [
        f"http://{HOST}:{port}{path}"
        for port in ports
        for path in ("/", f"/events/{WARM_UP_SLUG}/register")
        for _ in range(at_once)
    ]
    with ThreadPoolExecutor(max_workers=at_once * len(ports)) as pool:
        for _ in range(waves):
            list(pool.map(get, urls))


def form_fields(index: int) -> dict[str, str]:
    """A valid form for person ``index`` (distinct NIK and phone)."""
    person = person_payload(index)
    return {
        "full_name": person["full_name"],
        "nik": person["nik"],
        "birth_date": person["birth_date"],
        "gender": person["gender"],
        "phone": person["phone"],
        "email": "",
        "emergency_contact": "",
        "emergency_phone": "",
        "shirt_size": "M",
        "member": "n",
        "kpj_number": "",
        "occupation": "",
        "consent": "y",
    }


class Stopped(Exception):
    """The run ended before this person's next request left."""


class Exchange(asyncio.Protocol):
    """One request on a new connection; the answer is everything until the server closes
    it (gunicorn's sync workers close every connection). Lighter than asyncio's streams:
    the generator's own CPU is part of what the two cores share."""

    def __init__(self, raw: bytes, answer: asyncio.Future[bytes]) -> None:
        self.raw = raw
        self.answer = answer
        self.chunks: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.raw)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            if exc is not None:
                self.answer.set_exception(exc)
            else:
                self.answer.set_result(b"".join(self.chunks))


class Load:
    """The load generator: people, two instances, a bound on connections in flight."""

    def __init__(self, ports: list[int], connections: int, tally: Tally) -> None:
        self.ports = ports
        self.limit = asyncio.Semaphore(connections)
        self.tally = tally
        self.turn = 0
        self.start = time.perf_counter()
        #: Set when the run ends: nobody asks again; those with the form still send it.
        self.stopping = False

    def now(self) -> float:
        return time.perf_counter() - self.start

    def slot_of(self, person: Person) -> tuple[float, float]:
        """The slot in the person's ticket: on this run's clock (seconds from the start),
        and as epoch seconds."""
        from itsdangerous import URLSafeSerializer

        from config import TestingConfig

        signer = URLSafeSerializer(str(TestingConfig.SECRET_KEY), salt="funrun.queue")
        epoch = float(signer.loads(person.cookies["funrun_queue"])[3])
        return epoch - (time.time() - time.perf_counter()) - self.start, epoch

    def opened_at(self, person: Person) -> float | None:
        """When the server opened the form for the person (their admission's issue time,
        signed in it: epoch seconds on the server's clock, which whole seconds are
        counted on); None if they hold none (no queue)."""
        from itsdangerous import BadSignature, URLSafeSerializer

        from config import TestingConfig

        signer = URLSafeSerializer(str(TestingConfig.SECRET_KEY), salt="funrun.queue")
        try:
            data = signer.loads(person.cookies.get("funrun_queue", ""))
        except BadSignature:
            return None
        return float(data[3]) - 20 * 60

    async def watch_lag(self) -> None:
        """How late this process's event loop wakes (the load generator's own delay)."""
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(0.1)
            self.tally.loop_lag_ms.append((time.perf_counter() - asked - 0.1) * 1000)

    async def request(
        self, person: Person, method: str, body: bytes = b""
    ) -> tuple[int, bytes, float]:
        """One request to the next instance; cookies kept; (status, body, seconds)."""
        self.turn += 1
        port = self.ports[self.turn % len(self.ports)]
        path = f"/events/{SLUG}/register"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
        if person.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in person.cookies.items()))
        if body:
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        wanted = time.perf_counter()
        async with self.limit:
            if self.stopping and method == "GET":
                raise Stopped
            started = time.perf_counter()
            self.tally.pool_wait_ms.append((started - wanted) * 1000)
            person.sent = started - self.start
            if person.arrived is None:  # sent now (a generator's wait is not the server's)
                person.arrived = started - self.start
            answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            await asyncio.get_running_loop().create_connection(
                lambda: Exchange(raw, answer), HOST, port
            )
            data = await answer
            seconds = time.perf_counter() - started
        self.tally.requests += 1
        head, _, content = data.partition(b"\r\n\r\n")
        header_lines = head.split(b"\r\n")
        status = int(header_lines[0].split()[1])
        for line in header_lines[1:]:
            if line[:11].lower() == b"set-cookie:":
                cookie = line[11:].decode().strip()
                pair = cookie.split(";", 1)[0]
                name, _, value = pair.partition("=")
                if "Max-Age=0" in cookie or "01 Jan 1970" in cookie:
                    person.cookies.pop(name, None)
                else:
                    person.cookies[name] = value
        self.tally.statuses[status] += 1
        return status, content, seconds

    async def person(self, person: Person) -> None:
        """Arrive, wait as the page says, fill in the form once admitted."""
        await asyncio.sleep(max(0.0, person.arrive_at - self.now()))
        tally = self.tally
        try:
            status, content, seconds = await self.request(person, "GET")
            first = True
            while True:
                if status >= 500 or status != 200:
                    person.outcome = f"GET {status}"
                    return
                refresh = REFRESH.search(content)
                person.trail.append((round(time.time() - seconds, 3), status,
                                     int(refresh.group(1)) if refresh else None,
                                     round(seconds * 1000, 1)))  # fmt: skip
                if refresh is None:
                    break  # the form
                (tally.arrival_ms if first else tally.refresh_ms).append(seconds * 1000)
                tally.waiting_timeline.append((self.now(), seconds * 1000))
                if first:
                    person.slot, person.slot_epoch = self.slot_of(person)
                tally.waiting_bytes = len(content)
                person.waited_pages += 1
                first = False
                if self.stopping:  # the run has ended: in line still
                    person.outcome = "waiting"
                    return
                person.sleeping = True
                await asyncio.sleep(int(refresh.group(1)))
                person.sleeping = False
                if self.stopping:
                    person.outcome = "waiting"
                    return
                status, content, seconds = await self.request(person, "GET")
            if first:
                tally.arrival_ms.append(seconds * 1000)  # admitted on arrival
            else:
                tally.form_ms.append(seconds * 1000)
            person.admitted = self.now()
            person.asked = person.sent
            tally.form_hits.append(person.admitted)
            opened = self.opened_at(person)
            if opened is not None:
                tally.form_opened.append(opened)
                person.opened = opened
            hidden = {m[0].decode(): m[1].decode() for m in HIDDEN.findall(content)}
            hidden.update({m[1].decode(): m[0].decode() for m in HIDDEN_REVERSED.findall(content)})
            body = urlencode({**form_fields(person.index), **hidden}).encode()
            status, content, seconds = await self.request(person, "POST", body)
            tally.post_ms.append(seconds * 1000)
            person.registered = status == 302
            person.outcome = "registered" if person.registered else f"POST {status}"
        except Stopped:
            person.outcome = "waiting" if person.arrived is not None else "not_arrived"
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as failed:
            tally.errors[type(failed).__name__] += 1
            person.outcome = f"error {type(failed).__name__}"


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def order_figures(people: list[Person], granularity: float) -> dict[str, Any]:
    """How far admission order strays from arrival order.

    Walking people in arrival order, ``overtaken`` is how much earlier a person was let in
    than someone who arrived before them (the latest admission so far); within the
    admission granularity (the page asks again at whole seconds, a slot counts as due a
    quarter of a second early) it is not out of order.
    """
    admitted = sorted((p for p in people if p.admitted is not None), key=lambda p: p.arrived)
    latest = float("-inf")
    latest_person: Person | None = None
    worst = 0.0
    beyond = 0
    example: dict[str, Any] = {}
    for person in admitted:
        assert person.admitted is not None
        if latest - person.admitted > granularity:
            beyond += 1
        if latest - person.admitted > worst:
            worst = latest - person.admitted
            example = {"earlier": vars(latest_person).copy(), "later": vars(person).copy()}
            for side in example.values():
                side.pop("cookies", None)
        if person.admitted > latest:
            latest, latest_person = person.admitted, person
    return {
        "worst_overtaken_s": round(worst, 3),
        "beyond_granularity": beyond,
        "worst_example": example,
    }


def lateness_figures(people: list[Person]) -> dict[str, Any]:
    """How long after their slot queued people reached the form, and whether admissions
    followed slot order (the queue's own order, as Redis gave it)."""
    queued = [p for p in people if p.slot is not None and p.admitted is not None]
    if not queued:
        return {}
    late = [p.admitted - p.slot for p in queued]  # type: ignore[operator]
    by_slot = sorted(queued, key=lambda p: p.slot)  # type: ignore[arg-type, return-value]
    latest = float("-inf")
    worst = 0.0
    for person in by_slot:
        assert person.admitted is not None
        worst = max(worst, latest - person.admitted)
        latest = max(latest, person.admitted)
    # The same on the server's clock (when it opened the form): the queue's own order,
    # without the network's jitter in when the answer reached the person.
    worst_server = 0.0
    latest = float("-inf")
    latest_person: Person | None = None
    example: dict[str, Any] = {}
    beyond = 0
    beyond_by_10_s: Counter[str] = Counter()
    for person in by_slot:
        if person.opened is not None:
            if latest - person.opened > 1.0:
                beyond += 1
                window = int(person.slot // 10 * 10)  # type: ignore[operator]
                beyond_by_10_s[f"{window}-{window + 10} s"] += 1
            if latest - person.opened > worst_server:
                worst_server = latest - person.opened
                example = {
                    "earlier_slot": vars(latest_person).copy(),
                    "later_slot": vars(person).copy(),
                }
                for side in example.values():
                    side.pop("cookies", None)
            if person.opened > latest:
                latest, latest_person = person.opened, person
    # The same on when the request the form opened for left the generator: within the
    # whole second of its slot, a runner asks at the fraction of a second their page was
    # drawn at; this leaves out how long the servers took to answer (the p99 above).
    worst_asked = 0.0
    beyond_asked = 0
    latest = float("-inf")
    for person in by_slot:
        if person.asked is not None:
            if latest - person.asked > 1.0:
                beyond_asked += 1
            worst_asked = max(worst_asked, latest - person.asked)
            latest = max(latest, person.asked)
    # Whole seconds from a runner's slot's second to the second the form opened for them
    # (both on the server's clock): 0 in their own second, 1 when they asked at its end
    # and were answered in the next, more when the queue booked them into a later one.
    seconds_after: Counter[int] = Counter(
        math.floor(p.opened) - math.floor(p.slot_epoch)
        for p in queued
        if p.opened is not None and p.slot_epoch is not None
    )
    # Those let in two or more whole seconds after their slot's: each request they made.
    late_examples = [
        {"slot_epoch": p.slot_epoch, "opened": p.opened, "trail": p.trail}
        for p in queued
        if p.opened is not None
        and p.slot_epoch is not None
        and math.floor(p.opened) - math.floor(p.slot_epoch) >= 2
    ][:8]
    return {
        "queued": len(queued),
        "late_examples": late_examples,
        "admitted_whole_seconds_after_slot": dict(sorted(seconds_after.items())),
        "after_slot_p50_s": round(percentile(late, 0.5), 3),
        "after_slot_p99_s": round(percentile(late, 0.99), 3),
        "after_slot_max_s": round(max(late), 3),
        "before_slot_min_s": round(min(late), 3),
        "worst_overtaken_in_slot_order_s": round(worst, 3),
        "worst_overtaken_in_slot_order_server_s": round(worst_server, 3),
        # Let in over a second after someone whose slot came later (server's clock).
        "overtaken_beyond_1_s_in_slot_order": beyond,
        # When the slots of those overtaken were (seconds from the start of the run).
        "overtaken_beyond_1_s_by_10_s_of_slot": dict(
            sorted(beyond_by_10_s.items(), key=lambda kv: int(kv[0].split("-")[0]))
        ),
        "worst_in_slot_order_example": example,
        "worst_overtaken_in_slot_order_asked_s": round(worst_asked, 3),
        "overtaken_beyond_1_s_in_slot_order_asked": beyond_asked,
    }


def p99_by_window(timeline: list[tuple[float, float]], width: float) -> dict[str, float]:
    """The p99 latency of each ``width`` seconds of the run (where slow answers cluster)."""
    windows: dict[int, list[float]] = {}
    for at, ms in timeline:
        windows.setdefault(int(at // width), []).append(ms)
    return {
        f"{int(k * width)}-{int((k + 1) * width)} s": round(percentile(v, 0.99), 1)
        for k, v in sorted(windows.items())
    }


def rate_figures(hits: list[float], rate: int) -> dict[str, Any]:
    """Form hits per whole second and in the busiest sliding second (0.1 s steps)."""
    if not hits:
        return {}
    ordered = sorted(hits)
    per_second = Counter(int(t) for t in ordered)
    busiest = 0
    left = 0
    for right, t in enumerate(ordered):
        while ordered[left] <= t - 1.0:
            left += 1
        busiest = max(busiest, right - left + 1)
    busy = [n for n in per_second.values() if n >= rate * 0.5]
    return {
        "max_per_whole_second": max(per_second.values()),
        "busiest_sliding_second": busiest,
        "mean_per_busy_second": round(statistics.fmean(busy), 1) if busy else 0,
    }


def check_database(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT r.person_id), "
                "(SELECT confirmed_count FROM events WHERE slug = :slug) "
                "FROM registrations r JOIN events e ON e.id = r.event_id WHERE e.slug = :slug"
            ),
            {"slug": SLUG},
        ).one()
    engine.dispose()
    return {"stored": row[0], "distinct_people": row[1], "confirmed_count": row[2]}


async def simulate(args: argparse.Namespace, ports: list[int]) -> tuple[list[Person], Tally]:
    chance = random.Random(21)
    times = sorted(chance.uniform(0, args.seconds) for _ in range(args.people))
    people = [Person(index=i + 1, arrive_at=t) for i, t in enumerate(times)]
    tally = Tally()
    load = Load(ports, args.connections, tally)
    # The generator's own garbage collector paused its loop up to 0.56-0.74 s (its
    # 50,000 people, their tasks and answers): time that is neither the servers' nor the
    # network's, and that made people late. Off for the run (loop lag max 157-184 ms).
    gc.disable()
    drain = args.drain if args.drain > 0 else args.people / args.rate + 120
    progress = asyncio.create_task(report_progress(load, people))
    lag = asyncio.create_task(load.watch_lag())
    # Each person's task is made at their arrival. Made all at once, the 50,000 tasks'
    # first steps held the loop at the start: the first second's arrivals left 1.2-1.5 s
    # late, in one burst with the next second's (an opening the generator made, not the
    # arrivals drawn above).
    tasks: list[asyncio.Task[None]] = []
    for person in people:
        delay = person.arrive_at - load.now()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(load.person(person)))
    _done, pending = await asyncio.wait(tasks, timeout=max(0.0, args.seconds + drain - load.now()))
    # The end: those waiting for a refresh stop there (still in line); requests in
    # flight, and the forms of those already admitted, finish.
    load.stopping = True
    for task, person in zip(tasks, people, strict=True):
        if person.sleeping and not task.done():
            task.cancel()
            person.outcome = "waiting"
    _done, pending = await asyncio.wait(tasks, timeout=60)
    gc.enable()
    progress.cancel()
    lag.cancel()
    for task in pending:
        task.cancel()
    return people, tally


async def report_progress(load: Load, people: list[Person]) -> None:
    while True:
        await asyncio.sleep(10)
        arrived = sum(p.arrived is not None for p in people)
        admitted = sum(p.admitted is not None for p in people)
        registered = sum(p.registered for p in people)
        print(
            f"  {load.now():6.1f} s: arrived {arrived}, admitted {admitted}, "
            f"registered {registered}, requests {load.tally.requests}",
            flush=True,
        )


def loop_factory() -> Any:
    """uvloop's event loop when installed (a dev dependency): the generator's own cost per
    request is what its latencies include, and uvloop's is about half asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=300, help="the event's admit_rate")
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up: the opening is the servers' first load"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers an instance")
    parser.add_argument("--connections", type=int, default=64, help="requests in flight")
    parser.add_argument(
        "--threads", type=int, default=1, help="gunicorn threads a worker (>1: gthread)"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=0,
        help="seconds the run goes on after the last arrival (0: until everyone is through)",
    )
    parser.add_argument(
        "--nginx",
        action="store_true",
        help="people reach the two instances through nginx (round robin, buffering, as "
        "deploy/nginx/ proxies, over plain HTTP), not each instance directly",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    return parser.parse_args(argv)


NGINX = Path("/usr/sbin/nginx")


@contextmanager
def nginx_front(ports: list[int]) -> Iterator[int]:
    """nginx on loopback in front of the instances on ``ports``; yields its port.

    The load balancer of an opening: it reads each request whole, passes it to the next
    instance in turn and takes the answer whole, with the proxy settings of
    deploy/nginx/funrun.conf.template (its TLS aside: the generator speaks plain HTTP).
    Closing the connection to a sync worker the moment an answer is whole is nginx's, as
    it is in production.
    """
    if not NGINX.exists():
        sys.exit(f"--nginx needs {NGINX} (apt-get install nginx)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="funrun-opening-nginx-") as directory:
        d = Path(directory)
        temp = "".join(
            f"    {kind}_temp_path {d / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        servers = "".join(f"        server {HOST}:{p} fail_timeout=0;\n" for p in ports)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (d / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {d / 'nginx.pid'};\nerror_log {d / 'error.log'};\n"
            "events {\n    worker_connections 4096;\n}\n"
            "http {\n    access_log off;\n"
            f"{temp}"
            f"    upstream funrun_app {{\n{servers}    }}\n"
            f"    server {{\n        listen {HOST}:{port} backlog=4096;\n"
            "        location / {\n"
            "            proxy_pass http://funrun_app;\n"
            "            proxy_http_version 1.1;\n"
            '            proxy_set_header Connection "";\n'
            "            proxy_set_header Host $host;\n"
            "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "            proxy_redirect off;\n"
            "            proxy_request_buffering on;\n"
            "            proxy_buffering on;\n"
            "            proxy_buffer_size 16k;\n"
            "            proxy_buffers 32 16k;\n"
            "            proxy_busy_buffers_size 32k;\n"
            "            proxy_connect_timeout 5s;\n"
            "            proxy_read_timeout 40s;\n"
            "        }\n    }\n}\n"
        )
        process = subprocess.Popen(
            [str(NGINX), "-c", str(d / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        err = process.stderr.read().decode() if process.stderr else ""
                        sys.exit(f"nginx did not start: {err}")
                    time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"opening: {args.people} people in {args.seconds:.0f} s, admit rate {args.rate}/s")
    prepare(args.database_url, args.redis_url, args.rate, quota=max(args.people, 1000))
    env = server_env(
        args.database_url,
        REDIS_URL=args.redis_url,
        FUNRUN_MESSAGES="off",
        FUNRUN_RATE_LIMITS="off",
    )
    extra = ["--backlog", "4096"]
    if os.environ.get("BENCH_GCONF"):  # an experiment's gunicorn settings (a config file)
        extra += ["--config", os.environ["BENCH_GCONF"]]
    if args.threads > 1:  # gthread: a waiting page need not wait behind a form's render
        extra += ["--worker-class", "gthread", "--threads", str(args.threads)]
    ports = [free_port(), free_port()]
    started = datetime.now(UTC)
    with (
        gunicorn(env, port=ports[0], workers=args.workers, extra_args=extra),
        gunicorn(env, port=ports[1], workers=args.workers, extra_args=extra),
    ):
        if not args.cold:
            warm_up(ports)
        wall = time.perf_counter()
        own = resource.getrusage(resource.RUSAGE_SELF)
        with (
            nginx_front(ports) if args.nginx else nullcontext(None) as front,
            asyncio.Runner(loop_factory=loop_factory()) as runner,
        ):
            people, tally = runner.run(simulate(args, [front] if front else ports))
        wall = time.perf_counter() - wall
        own_after = resource.getrusage(resource.RUSAGE_SELF)
    # The servers have stopped (and reaped their workers): their CPU is the children's.
    servers = resource.getrusage(resource.RUSAGE_CHILDREN)
    stored = check_database(args.database_url)
    registered = sum(p.registered for p in people)
    admitted = sum(p.admitted is not None for p in people)
    five_xx = sum(n for status, n in tally.statuses.items() if status >= 500)
    outcomes = Counter(p.outcome.split(" ")[0] for p in people)
    waiting_ms = [ms for _at, ms in tally.waiting_timeline]
    figures: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "people": args.people,
        "seconds": args.seconds,
        "admit_rate": args.rate,
        "workers_per_instance": args.workers,
        "warmed_up": not args.cold,
        "threads_per_worker": args.threads,
        "connections": args.connections,
        "wall_s": round(wall, 1),
        "requests": tally.requests,
        "statuses": dict(sorted(tally.statuses.items())),
        "five_xx": five_xx,
        "client_errors": dict(tally.errors),
        "outcomes": dict(outcomes),
        "admitted": admitted,
        "registered": registered,
        "still_waiting_at_end": outcomes["waiting"],
        **stored,
        "waiting_pages_per_person": round(statistics.fmean(p.waited_pages for p in people), 2),
        "waiting_page_bytes": tally.waiting_bytes,
        # Every waiting page answered: arrivals put in line (their first, with a slot
        # taken in Redis) and refreshes.
        "waiting_page_ms": {
            "n": len(tally.waiting_timeline),
            "p50": round(percentile(waiting_ms, 0.50), 1),
            "p90": round(percentile(waiting_ms, 0.90), 1),
            "p99": round(percentile(waiting_ms, 0.99), 1),
            "max": round(max(waiting_ms, default=0), 1),
        },
        "refresh_ms": {
            "n": len(tally.refresh_ms),
            "p50": round(percentile(tally.refresh_ms, 0.50), 1),
            "p90": round(percentile(tally.refresh_ms, 0.90), 1),
            "p99": round(percentile(tally.refresh_ms, 0.99), 1),
            "max": round(max(tally.refresh_ms, default=0), 1),
        },
        "arrival_ms": {
            "n": len(tally.arrival_ms),
            "p50": round(percentile(tally.arrival_ms, 0.50), 1),
            "p90": round(percentile(tally.arrival_ms, 0.90), 1),
            "p99": round(percentile(tally.arrival_ms, 0.99), 1),
            "max": round(max(tally.arrival_ms, default=0), 1),
        },
        "waiting_page_p99_ms_by_10_s": p99_by_window(tally.waiting_timeline, 10.0),
        "form_ms": {
            "p50": round(percentile(tally.form_ms, 0.50), 1),
            "p99": round(percentile(tally.form_ms, 0.99), 1),
        },
        "post_ms": {
            "p50": round(percentile(tally.post_ms, 0.50), 1),
            "p99": round(percentile(tally.post_ms, 0.99), 1),
        },
        "form_rate": rate_figures(tally.form_opened, args.rate),
        "form_received_rate": rate_figures(tally.form_hits, args.rate),
        "order": order_figures(people, granularity=1.25),
        "slots": lateness_figures(people),
        "client_pool_wait_ms": {
            "p50": round(percentile(tally.pool_wait_ms, 0.5), 1),
            "p99": round(percentile(tally.pool_wait_ms, 0.99), 1),
        },
        "client_loop_lag_ms": {
            "p99": round(percentile(tally.loop_lag_ms, 0.99), 1),
            "max": round(max(tally.loop_lag_ms, default=0), 1),
        },
        "cpu_s": {
            "load_generator": round(
                own_after.ru_utime + own_after.ru_stime - own.ru_utime - own.ru_stime, 1
            ),
            "servers_and_setup": round(servers.ru_utime + servers.ru_stime, 1),
            "event_loop": "uvloop" if loop_factory() is not None else "asyncio",
        },
        "load_average": os.getloadavg(),
    }
    checks = {
        "no 5xx": five_xx == 0,
        "every admitted runner registered": registered == admitted > 0,
        "everyone arrived, and was admitted or is still in line": admitted + outcomes["waiting"]
        == args.people,
        "each registration stored once": stored["stored"] == registered
        and stored["distinct_people"] == registered
        and stored["confirmed_count"] == registered,
        "waiting page p99 < 100 ms (arrivals put in line and refreshes)": figures[
            "waiting_page_ms"
        ]["p99"]
        < 100,
        # The queue's granularity is the whole second (on the server's clock): a slot is
        # due once its second begins, and a runner who asks at the end of their second is
        # answered in the next. So A, who came before B, never has the form opened for
        # them in a later whole second than the one after B's: A's second <= A's slot's
        # + 1 <= B's slot's + 1 <= B's + 1. (Overtaken in slot order by over 1.0 s, on a
        # continuous clock, is reported above: two runners of one slot second, one asking
        # at its start and one at its end, answered in the next, are 1 s plus the time
        # the answer took apart; the page can only wait whole seconds.)
        "every queued runner admitted in their slot's whole second or the next": max(
            figures["slots"].get("admitted_whole_seconds_after_slot", {0: 0}), default=0
        )
        <= 1,
        "form never opened more than the rate in a whole second": figures["form_rate"].get(
            "max_per_whole_second", 0
        )
        <= args.rate,
    }
    figures["checks"] = checks
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"opening-{started.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2))
    if os.environ.get("BENCH_PEOPLE"):
        queued = [
            {"slot": p.slot_epoch, "opened": p.opened, "trail": p.trail}
            for p in people
            if p.slot_epoch is not None and p.opened is not None
        ]
        out.with_suffix(".people.json").write_text(json.dumps(queued))
    print(json.dumps(figures, indent=2))
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"figures: {out.relative_to(ROOT)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
