"""A worker killed mid-batch loses nothing (issue 18, point 8): real ``flask worker``
processes sending to a real SMTP server on loopback (aiosmtpd), the first SIGKILLed after
the server took some of its batch but not all.

Another worker then sends everything: the killed batch's rows come back once their lease
runs out (moved forward here instead of waiting ``sending.LEASE``). Every message ends
``sent``; the server received each at least once and at most twice, a repeat carries the
same Message-ID (the idempotency key), and at most the messages the killed worker's
sending threads had in hand (handed to the server, not yet recorded) are repeated: one a
thread (``FUNRUN_MESSAGE_SENDERS``). PostgreSQL only: the claim
is ``SELECT ... FOR UPDATE SKIP LOCKED`` and the workers are processes of their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update

from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages import sending
from funrun.messages.models import Message, MessageKind, MessageStatus
from tests.conftest import person_payload
from tests.messages.smtp_server import SmtpServer, smtp_server  # noqa: F401
from tests.servers import ROOT, server_env

pytestmark = pytest.mark.postgres

MESSAGES = 300
#: Received by the server when the first worker is killed: past its first batch of
#: ``sending.BATCH``, with claimed messages still unsent (the test checks that it was).
KILL_AFTER = sending.BATCH + sending.BATCH // 2


def start_worker(database_url: str, smtp_url: str) -> subprocess.Popen[bytes]:
    """``flask --app wsgi worker --burst`` on the test database, sending to ``smtp_url``."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=ROOT,
        env=server_env(database_url, FUNRUN_MESSAGES="on", FUNRUN_SMTP_URL=smtp_url),
        stdout=subprocess.DEVNULL,
    )


def statuses() -> dict[str, int]:
    db.session.rollback()
    rows = db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
    return {status: count for status, count in rows}


def wait_until_no_statement_runs(seconds: float = 30) -> None:
    """A killed client's last statement still runs to its end in PostgreSQL."""
    deadline = time.monotonic() + seconds
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state <> 'idle'"
    )
    while db.session.scalar(query):
        assert time.monotonic() < deadline, "a statement still runs"
        db.session.rollback()
        time.sleep(0.05)
    db.session.rollback()


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_what_it_held(
    app: Flask,
    client: FlaskClient,
    make_event: Callable[..., Event],
    postgres_url: str,
    database_url: str,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    event = make_event(quota=MESSAGES + 10)
    for index in range(MESSAGES):
        body = person_payload(index, email=f"runner{index}@example.com")
        answer = client.post(f"/api/v1/events/{event.slug}/registrations", json=body)
        assert answer.status_code == 201, answer.get_json()
    assert statuses() == {MessageStatus.QUEUED: MESSAGES}
    inbox = smtp_server.inbox

    first = start_worker(database_url, smtp_server.url)
    try:
        deadline = time.monotonic() + 120
        while len(inbox.messages) < KILL_AFTER:
            assert first.poll() is None, "the first worker finished before it was killed"
            assert time.monotonic() < deadline, f"{len(inbox.messages)} received in 120 s"
            time.sleep(0.005)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    received_before = len(inbox.messages)
    wait_until_no_statement_runs()
    killed = statuses()
    # Killed mid-batch: some of it received, the rest still claimed under its lease.
    assert KILL_AFTER <= received_before < MESSAGES
    assert killed.get(MessageStatus.SENDING, 0) > 0, killed
    claimed_by_the_killed = set(
        db.session.scalars(select(Message.id).where(Message.status == MessageStatus.SENDING))
    )
    # Received but not recorded yet: at most the one each sending thread had in hand.
    senders = app.config["FUNRUN_MESSAGE_SENDERS"]
    assert killed.get(MessageStatus.SENT, 0) >= received_before - senders, (
        killed,
        received_before,
    )

    # The lease runs out (sending.LEASE, shortened here) and another worker takes over.
    db.session.execute(
        update(Message)
        .where(Message.status == MessageStatus.SENDING)
        .values(lease_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    second = start_worker(database_url, smtp_server.url)
    assert second.wait(timeout=180) == 0

    assert statuses() == {MessageStatus.SENT: MESSAGES}
    rows = list(db.session.scalars(select(Message)))
    assert {row.kind for row in rows} == {MessageKind.CONFIRMED}
    with inbox.lock:
        received = list(inbox.messages)
    by_address: dict[str, list[str]] = defaultdict(list)
    for mail in received:
        by_address[str(mail["To"])].append(str(mail["Message-ID"]))
    assert sorted(by_address) == sorted(f"runner{i}@example.com" for i in range(MESSAGES))
    repeated = {to: ids for to, ids in by_address.items() if len(ids) > 1}
    assert all(len(ids) == 2 and ids[0] == ids[1] for ids in repeated.values()), repeated
    assert len(repeated) <= senders, repeated  # at most one in hand a sending thread
    assert len(received) == MESSAGES + len(repeated)
    # Message-IDs are the idempotency keys: one per message, never shared.
    assert len({ids[0] for ids in by_address.values()}) == MESSAGES
    # The killed batch's rows were claimed twice, every other row once.
    assert {row.id for row in rows if row.attempts == 2} == claimed_by_the_killed
    assert {row.attempts for row in rows} <= {1, 2}
