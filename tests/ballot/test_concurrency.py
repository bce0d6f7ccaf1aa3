"""Two draws at once on PostgreSQL, in real threads with their own connections: one draws,
the other finds the ballot drawn (it waits for the event's row lock, then reads it drawn)."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from sqlalchemy import func, select

from funrun.ballot.draw import AlreadyDrawn, draw
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import Message, MessageKind
from funrun.registration.models import Registration
from tests.ballot.conftest import close_entries, enter_many


def _race(app: Any, targets: list[Any]) -> list[Any]:
    """Run each target in its own thread and app context, released together."""
    start = threading.Barrier(len(targets))
    outcomes: list[Any] = [None] * len(targets)

    def run(index: int) -> None:
        with app.app_context():
            start.wait()
            try:
                outcomes[index] = targets[index]()
            except Exception as exc:  # the outcome is what the test checks
                outcomes[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_two_draws_at_once_draw_once(postgres_url, app, client, make_ballot):
    for _round in range(3):  # three ballots, each drawn by two threads at once
        event = make_ballot(quota=20)
        event_id = event.id
        enter_many(client, event, 60)
        close_entries(event)
        db.session.remove()

        outcomes = _race(app, [partial(draw, event_id), partial(draw, event_id)])

        drawn = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, AlreadyDrawn)]
        assert len(drawn) == 1 and len(refused) == 1, outcomes
        event = db.session.get(Event, event_id)
        assert (event.confirmed_count, event.waitlist_seq, event.bib_next) == (20, 40, 21)
        ranks = db.session.scalars(
            select(Registration.ballot_rank).where(Registration.event_id == event_id)
        ).all()
        assert sorted(ranks) == list(range(1, 61))
        won = db.session.scalar(
            select(func.count()).where(
                Message.kind == MessageKind.BALLOT_WON, Message.event_id == event_id
            )
        )
        assert won == 20  # told once
        db.session.remove()
