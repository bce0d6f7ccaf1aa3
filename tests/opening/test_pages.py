"""The queue on the registration page: the waiting page (no script), admissions the form
checks, and the API's 429 while the queue is busy."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from funrun.accounts.models import Role
from funrun.accounts.services import create_api_token, create_user
from funrun.extensions import db
from funrun.opening import passes, slots
from funrun.opening.lane import COOKIE
from funrun.opening.page import refresh_after
from funrun.registration.models import Registration
from tests.conftest import build_app, csrf_from, person_payload
from tests.opening.conftest import form_data

PROBLEM = "application/problem+json"


def registrations() -> int:
    db.session.rollback()  # a fresh read: the queued app wrote through its own connections
    return db.session.scalar(select(func.count(Registration.id))) or 0


def held(client: FlaskClient, slug: str) -> Any:
    """The runner's ticket or admission, as the server reads it now."""
    cookie = client.get_cookie(COOKIE, path=f"/events/{slug}/register")
    return passes.read(cookie.value if cookie else None, slug, time.time())


def form_url(slug: str) -> str:
    return f"/events/{slug}/register"


def is_form(html: str) -> bool:
    return 'name="nik"' in html and "http-equiv" not in html


@pytest.fixture
def queued(queued_app: Flask, make_event):
    """An event admitting one runner a second, and a client factory of the queued app;
    the test starts as a whole second begins (slots are due in their whole second, so a
    test's next arrival or call, a few milliseconds later, is still in the same one)."""
    event = make_event(admit_rate=1, quota=100)
    _start_of_a_second()
    return event, queued_app.test_client


def test_no_rate_or_no_redis_means_straight_to_the_form(app, client, queued_app, make_event):
    plain = make_event(quota=100)
    for _ in range(3):  # many arrivals at once, no rate: nobody waits
        assert is_form(queued_app.test_client().get(form_url(plain.slug)).get_data(as_text=True))
    db.session.rollback()  # SQLite: the queued app wrote (the notice) since this read
    rated = make_event(admit_rate=1)
    for _ in range(3):  # the session's app has no REDIS_URL: no queue at all
        page = client.get(form_url(rated.slug))
        assert page.status_code == 200 and is_form(page.get_data(as_text=True))


def test_the_first_arrival_goes_straight_in_the_next_waits(queued):
    event, new_client = queued
    first, second, third = new_client(), new_client(), new_client()
    page = first.get(form_url(event.slug))
    assert page.status_code == 200 and is_form(page.get_data(as_text=True))
    assert isinstance(held(first, event.slug), passes.Admission)
    waiting = second.get(form_url(event.slug))
    html = waiting.get_data(as_text=True)
    assert waiting.status_code == 200 and not is_form(html)
    assert waiting.headers["Cache-Control"] == "no-store"
    refresh = re.search(r'<meta http-equiv="refresh" content="(\d+)">', html)
    assert refresh and 1 <= int(refresh.group(1)) <= 1  # one second away: ask at the slot
    assert "Urutan Anda dalam antrean" in html and "Sekitar 1 detik lagi" in html
    assert re.search(r"<strong>1</strong>", html)
    assert "<script" not in html and "http://" not in html.replace(
        "http-equiv", ""
    )  # nothing from elsewhere
    ticket = held(second, event.slug)
    assert isinstance(ticket, passes.Ticket) and ticket.event_id == event.id
    third_html = third.get(form_url(event.slug) + "?lang=en").get_data(as_text=True)
    assert "Your place in line" in third_html and "<strong>2</strong>" in third_html
    assert "About 2 seconds to wait" in third_html


def test_the_waiting_page_reads_neither_redis_nor_the_database(queued, queued_app, redis_url):
    import redis

    event, new_client = queued
    new_client().get(form_url(event.slug))
    runner = new_client()
    runner.get(form_url(event.slug))
    store = redis.Redis.from_url(redis_url)
    before = store.get(slots.key(event.id))
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with queued_app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            again = runner.get(form_url(event.slug))
            assert again.status_code == 200 and "http-equiv" in again.get_data(as_text=True)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert statements == []
    assert store.get(slots.key(event.id)) == before
    store.close()


def test_when_the_slot_comes_the_refresh_opens_the_form(queued):
    event, new_client = queued
    new_client().get(form_url(event.slug))
    runner = new_client()
    runner.get(form_url(event.slug))
    ticket = held(runner, event.slug)
    time.sleep(max(0.0, ticket.slot - time.time()) + 0.05)
    page = runner.get(form_url(event.slug))
    assert page.status_code == 200 and is_form(page.get_data(as_text=True))
    cookie = runner.get_cookie(COOKIE, path=form_url(event.slug))
    admitted = passes.read(cookie.value, event.slug, ticket.slot + 1)
    assert isinstance(admitted, passes.Admission) and admitted.event_id == event.id
    html = page.get_data(as_text=True)
    response = runner.post(
        form_url(event.slug), data={**form_data(1), "csrf_token": csrf_from(html)}
    )
    assert response.status_code == 302 and "/r/" in response.headers["Location"]
    assert registrations() == 1
    assert runner.get_cookie(COOKIE, path=form_url(event.slug)) is None  # used up


@pytest.mark.parametrize("how", ["none", "forged", "other_event", "expired", "waiting"])
def test_a_form_sent_without_a_valid_admission_is_sent_back(queued, make_event, how):
    event, new_client = queued
    other = make_event(admit_rate=5)
    runner = new_client()
    html = runner.get(form_url(event.slug)).get_data(as_text=True)  # admitted: the form
    token = csrf_from(html)
    path = form_url(event.slug)
    now = time.time()
    if how == "none":
        runner.delete_cookie(COOKIE, path=path)
    elif how == "forged":
        runner.set_cookie(
            COOKIE, passes.admission(event.id, event.slug, now)[:-3] + "abc", path=path
        )
    elif how == "other_event":  # signed for another event that reused the name
        runner.set_cookie(COOKIE, passes.admission(other.id, event.slug, now), path=path)
    elif how == "expired":
        runner.set_cookie(COOKIE, passes.admission(event.id, event.slug, now - 1201), path=path)
    else:  # still waiting: a ticket whose slot has not come
        ticket = passes.Ticket(event.id, event.slug, now + 60, 1, now, event.name)
        runner.set_cookie(COOKIE, passes.ticket(ticket), path=path)
    response = runner.post(path, data={**form_data(1), "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(path + "?back=1")
    assert registrations() == 0
    back = runner.get(path + "?back=1").get_data(as_text=True)  # the queue, with the reason
    assert "Anda masuk antrean lagi" in back


def test_redis_down_mid_rush_lets_runners_through(app, database_url, make_event):
    event = make_event(admit_rate=1, quota=100)
    down = build_app(database_url, REDIS_URL="redis://127.0.0.1:1/0")
    try:
        for index in (1, 2):
            runner = down.test_client()
            page = runner.get(form_url(event.slug))
            html = page.get_data(as_text=True)
            assert page.status_code == 200 and is_form(html)
            sent = runner.post(
                form_url(event.slug), data={**form_data(index), "csrf_token": csrf_from(html)}
            )
            assert sent.status_code == 302
        assert registrations() == 2
        api = down.test_client().post(
            f"/api/v1/events/{event.slug}/registrations", json=person_payload(3)
        )
        assert api.status_code == 201
    finally:
        slots._down_until = 0.0
        with down.app_context():
            db.engine.dispose()


def test_refresh_comes_in_the_slots_second_when_near_and_halfway_5_to_60_s_when_not():
    now = 1_000_000.6
    waits = (0.3, 0.5, 1, 4.2, 5, 7, 12, 40, 100, 1000)
    # 0.3 s: the slot's second begins in 0.4 s, so the page asks again 1 s from now,
    # inside it; 1 s: the slot (1,000,001.6) is in the next second too; 4.2: its second
    # begins in 3.4 s, so 4 s from now, nearer than the halfway floor of 5.
    assert [refresh_after(now + w, now) for w in waits] == [1, 1, 1, 4, 5, 5, 6, 20, 50, 60]
    for wait in (0.5, 1, 2.9, 4.2):  # (0.3: the slot's second is now's: due, no page)
        back = now + refresh_after(now + wait, now)
        assert int(back) == int(now + wait)  # back inside the slot's second


def _submission_from(html: str) -> str:
    match = re.search(r'name="submission" type="hidden" value="([^"]+)"', html)
    assert match, "no submission id in the form"
    return match.group(1)


def test_an_admission_registers_one_runner_and_a_copy_of_it_is_sent_back(queued):
    """A copied admission cookie lets one runner through, not a crowd: the form it
    registered may come again (a lost answer, or corrected), any other is refused."""
    event, new_client = queued
    path = form_url(event.slug)
    runner = new_client()
    html = runner.get(path).get_data(as_text=True)  # admitted on arrival: the form
    copied = runner.get_cookie(COOKIE, path=path).value  # type: ignore[union-attr]
    sent = {**form_data(1), "csrf_token": csrf_from(html), "submission": _submission_from(html)}
    wrong = runner.post(path, data={**sent, "nik": "12"})  # a mistake: shown again
    assert wrong.status_code in (400, 422) and registrations() == 0
    assert runner.post(path, data=sent).status_code == 302  # corrected: the same form
    assert registrations() == 1

    # The copy, in another browser: the form shows (GET), but another runner's form
    # sent with it goes back to the queue, the copy dropped, nothing registered.
    crowd = new_client()
    crowd.set_cookie(COOKIE, copied, path=path)
    other = crowd.get(path).get_data(as_text=True)
    assert is_form(other)
    refused = crowd.post(
        path,
        data={
            **form_data(2),
            "csrf_token": csrf_from(other),
            "submission": _submission_from(other),
        },
    )
    assert refused.status_code == 303 and refused.headers["Location"].endswith("?back=1")
    assert crowd.get_cookie(COOKIE, path=path) is None
    assert "sudah dipakai untuk mendaftarkan" in crowd.get(path + "?back=1").get_data(as_text=True)
    # Without a well-formed form id, nothing can claim the used admission either.
    crowd.set_cookie(COOKIE, copied, path=path)
    bare = {**form_data(3), "csrf_token": csrf_from(other), "submission": "x"}
    assert crowd.post(path, data=bare).status_code == 303
    assert registrations() == 1

    # The first form sent again (its answer lost): the runner's own link, no second runner.
    resent = new_client()
    resent.set_cookie(COOKIE, copied, path=path)
    again = resent.post(
        path, data={**sent, "csrf_token": csrf_from(resent.get(path).get_data(as_text=True))}
    )
    assert again.status_code == 302 and "/r/" in again.headers["Location"]
    assert registrations() == 1


# --- the public API --------------------------------------------------------------------


def test_api_busy_queue_is_429_with_retry_after_in_the_callers_language(queued):
    event, new_client = queued
    url = f"/api/v1/events/{event.slug}/registrations"
    first = new_client().post(url, json=person_payload(1))  # the queue is free: a slot
    assert first.status_code == 201
    busy = new_client().post(url, json=person_payload(2))
    assert busy.status_code == 429 and busy.mimetype == PROBLEM
    body = busy.get_json()
    assert body["type"].endswith("/queue-busy") and body["retry_after"] == 1
    assert busy.headers["Retry-After"] == "1"
    assert body["title"].startswith("Banyak pelari sedang mendaftar")
    english = new_client().post(url, json=person_payload(2), headers={"Accept-Language": "en"})
    assert english.status_code == 429
    assert english.get_json()["title"].startswith("Many runners are registering right now")
    assert registrations() == 1


def test_api_admission_or_partner_token_passes_a_busy_queue(queued, queued_app):
    event, new_client = queued
    url = f"/api/v1/events/{event.slug}/registrations"
    new_client().get(form_url(event.slug))  # the queue is busy for a second now
    assert new_client().post(url, json=person_payload(1)).status_code == 429
    admission = passes.admission(event.id, event.slug, time.time())
    admitted = new_client().post(
        url, json=person_payload(2), headers={"Queue-Admission": admission}
    )
    assert admitted.status_code == 201
    # One runner an admission: the same admission with another body queues as if it
    # had none (the queue is still busy: 429).
    reused = new_client().post(url, json=person_payload(5), headers={"Queue-Admission": admission})
    assert reused.status_code == 429
    other_event = passes.admission(event.id + 1, event.slug, time.time())
    refused = new_client().post(
        url, json=person_payload(3), headers={"Queue-Admission": other_event}
    )
    assert refused.status_code == 429
    db.session.rollback()  # SQLite: the queued app wrote since this session's read
    partner = create_user("queue@aggregator.test", Role.PARTNER)
    token = create_api_token(partner)
    db.session.commit()
    by_partner = new_client().post(
        url, json=person_payload(4), headers={"Authorization": f"Bearer {token}"}
    )
    assert by_partner.status_code == 201
    assert registrations() == 2


def test_the_fast_lane_answers_arrivals_and_refreshes_without_the_app(queued, queued_app):
    event, new_client = queued
    new_client().get(form_url(event.slug))  # admitted: the queue is busy for a second
    lane = queued_app.wsgi_app
    inner = lane.wsgi_app

    def no_app(environ, start_response):
        raise AssertionError(f"the app was asked: {environ['PATH_INFO']}")

    lane.wsgi_app = no_app
    try:
        runner = new_client()
        for _ in range(2):  # the arrival put in line, then a refresh
            answer = runner.get(form_url(event.slug) + "?lang=en")
            assert answer.status_code == 200 and "Your place in line" in answer.get_data(True)
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
            assert answer.headers["X-Frame-Options"] == "DENY"
            assert answer.headers["Cache-Control"] == "no-store"
        assert isinstance(held(runner, event.slug), passes.Ticket)
    finally:
        lane.wsgi_app = inner
    # Anything else is the app's: another query, another method, an admission.
    with pytest.raises(AssertionError, match="the app was asked"):
        lane.wsgi_app = no_app
        try:
            new_client().get(form_url(event.slug) + "?x=1")
        finally:
            lane.wsgi_app = inner


def test_a_cookie_header_of_any_bytes_is_a_waiting_page_not_an_error(queued):
    """The fast lane reads cookies as the app does: bytes that are not UTF-8 (a broken
    client, a hand-made request) are a cookie that holds no ticket, not a 500."""
    event, new_client = queued
    new_client().get(form_url(event.slug))  # admitted: the next arrival waits
    for header in ("funrun_queue=\xc3\xa9\xff\xfe", "lang=\xff; funrun_queue=\xff"):
        # Without a cookie jar, which would replace the header with its own cookies.
        answer = new_client(use_cookies=False).get(form_url(event.slug), headers={"Cookie": header})
        assert answer.status_code == 200, header
        assert "Urutan Anda dalam antrean" in answer.get_data(as_text=True)


def test_late_runners_coming_back_together_open_the_form_at_the_rate(queued):
    """Three tickets whose slots passed a while ago (their refreshes came late), back
    at once: the form opens for one; each other is booked a whole second of its own,
    in the order they came back, and the form opens for them in it."""
    event, new_client = queued
    _start_of_a_second()
    now = time.time()
    runners = []
    for late in (30, 29, 28):
        runner = new_client()
        ticket = passes.Ticket(event.id, event.slug, now - late, 1, now - 40, event.name)
        runner.set_cookie(COOKIE, passes.ticket(ticket), path=form_url(event.slug))
        runners.append(runner)
    pages = [runner.get(form_url(event.slug)).get_data(as_text=True) for runner in runners]
    assert is_form(pages[0]) and isinstance(held(runners[0], event.slug), passes.Admission)
    booked = [held(runner, event.slug) for runner in runners[1:]]
    first_second = int(now)
    assert [ticket.booked for ticket in booked] == [first_second + 1, first_second + 2]
    for ticket, html in zip(booked, pages[1:], strict=True):
        assert not is_form(html)
        refresh = re.search(r'<meta http-equiv="refresh" content="(\d+)">', html)
        assert refresh and int(refresh.group(1)) == ticket.booked - first_second
        # Back when the page says: inside the booked second.
        assert ticket.booked <= now + int(refresh.group(1)) + 0.05 < ticket.booked + 1
    # Early (the second before the booked one): still waiting, the booking kept.
    early = runners[2].get(form_url(event.slug)).get_data(as_text=True)
    assert not is_form(early) and held(runners[2], event.slug) == booked[1]
    for runner, ticket in zip(runners[1:], booked, strict=True):
        time.sleep(max(0.0, ticket.slot - time.time()))
        assert is_form(runner.get(form_url(event.slug)).get_data(as_text=True))
        assert isinstance(held(runner, event.slug), passes.Admission)


def _start_of_a_second() -> None:
    """Sleep until a whole second has just begun (a test's steps then share one)."""
    time.sleep(1.02 - time.time() % 1)
