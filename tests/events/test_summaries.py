"""An event's live figures: one event's in one statement agree with the list's."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from funrun.events.models import Event, EventStatus
from funrun.events.services import get_event, summarise, summary_of
from funrun.extensions import db
from tests.conftest import person_payload


def _register(client: FlaskClient, slug: str, index: int) -> str:
    answer = client.post(f"/api/v1/events/{slug}/registrations", json=person_payload(index))
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["registration"]["status"])


def test_one_event_s_figures_are_the_list_s_and_count_only_its_own_waitlist(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    full = make_event(quota=2)
    other = make_event(quota=1)
    statuses = [_register(client, full.slug, i) for i in range(5)]
    statuses += [_register(client, other.slug, i) for i in range(10, 12)]
    assert statuses == ["confirmed"] * 2 + ["waitlisted"] * 3 + ["confirmed", "waitlisted"]

    with app.test_request_context("/"):
        for slug, waiting in ((full.slug, 3), (other.slug, 1)):
            one = summary_of(slug)
            assert one is not None
            listed = summarise([get_event(slug)])[0]  # type: ignore[list-item]
            assert (one.event.slug, one.waitlisted, one.status) == (
                slug,
                waiting,
                EventStatus.FULL,
            )
            assert (one.waitlisted, one.status) == (listed.waitlisted, listed.status)
            db.session.expunge_all()


def test_an_open_event_with_nobody_waiting_and_slugs_that_name_none(
    app: Flask, make_event: Callable[..., Event]
) -> None:
    event = make_event(quota=5)
    with app.test_request_context("/"):
        one = summary_of(event.slug)
        assert one is not None
        assert (one.waitlisted, one.status) == (0, EventStatus.OPEN)
        assert summary_of("no-such-event") is None
        assert summary_of("x" * 65) is None
