"""Shirt stock (issue 19, point 6): quantities per size, what is left at the desk, swaps.

Left = stock - shirts handed out (race-pack pickups not undone, a swap counted as the size
given); the dashboard shows stock against demand (confirmed runners' sizes).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from funrun.accounts.models import User
from funrun.checkin.services import scan, undo_checkin
from funrun.events.models import Event, ShirtStock
from funrun.events.stock import shirts_left, stock_against_demand, stock_table
from funrun.extensions import db
from tests.checkin.conftest import (
    API,
    PASSWORD,
    Staff,
    active_checkins,
    assert_problem,
    browser,
    cancel_registration,
    counts,
    login,
)
from tests.conftest import csrf_from


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    return make_event(
        slug="bogor", city="Bogor", bib_prefix="BGR", quota=20, shirt_sizes=["S", "M", "L"]
    )


@pytest.fixture
def organiser(make_staff) -> Staff:
    return make_staff("organiser", password=PASSWORD)


def set_stock(event: Event, **sizes: int) -> None:
    db.session.add_all(ShirtStock(event_id=event.id, size=s, quantity=q) for s, q in sizes.items())
    db.session.commit()


def pick_up(event: Event, staff: Staff, bib: int, *, station: str = "pickup", **extra):
    return scan(
        event,
        str(bib),
        user=db.session.get(User, staff.id),
        station=station,
        method="typed",
        id_checked=True,
        **extra,
    )


def left(event: Event) -> dict[str, int | None]:
    db.session.rollback()
    return {row.size: row.left for row in shirts_left(db.session.get(Event, event.id))}


def test_left_counts_pickups_swaps_and_undo(event, organiser, add_runners):
    add_runners(event, 4, shirt_size="M")
    add_runners(event, 1, shirt_size="L")
    set_stock(event, S=2, M=3, L=1)
    assert left(event) == {"S": 2, "M": 3, "L": 1}

    first = pick_up(event, organiser, 1)
    pick_up(event, organiser, 2, shirt_given="S")  # registered M, given S: a swap
    pick_up(event, organiser, 3, shirt_given="M")  # the registered size: no swap stored
    pick_up(event, organiser, 5, station="start")  # another station hands out nothing
    assert left(event) == {"S": 1, "M": 1, "L": 1}
    assert active_checkins(first.registration.id)[0].shirt_given is None
    swapped = active_checkins(first.registration.id + 1)[0]
    assert swapped.shirt_given == "S"
    assert active_checkins(first.registration.id + 2)[0].shirt_given is None

    undo_checkin(first.checkin.id, user=db.session.get(User, organiser.id))
    assert left(event) == {"S": 1, "M": 2, "L": 1}
    # Handing out more than the stock shows below zero (and is highlighted as out).
    pick_up(event, organiser, 5, shirt_given="L")
    pick_up(event, organiser, 4, shirt_given="L")
    rows = {r.size: r for r in shirts_left(db.session.get(Event, event.id))}
    assert rows["L"].left == -1 and rows["L"].out and rows["L"].low
    assert not rows["M"].low or rows["M"].left <= 5


def test_no_stock_set_shows_nothing_at_the_desk(event, organiser, add_runners):
    add_runners(event, 1)
    assert shirts_left(event) == []
    table = stock_table(event)
    assert [(r.size, r.quantity, r.demand) for r in table] == [
        ("S", None, 0),
        ("M", None, 1),
        ("L", None, 0),
    ]


def test_counter_and_scan_page_show_what_is_left(app, client, event, organiser, add_runners):
    add_runners(event, 3, shirt_size="M")
    set_stock(event, S=0, M=7)
    pick_up(event, organiser, 1)

    body = client.get(
        f"{API}/events/bogor/checkins/counts?station=pickup", headers=organiser.headers
    ).get_json()
    assert body["shirts"] == [
        {"size": "S", "quantity": 0, "handed_out": 0, "left": 0, "low": True},
        {"size": "M", "quantity": 7, "handed_out": 1, "left": 6, "low": False},
    ]
    start = client.get(
        f"{API}/events/bogor/checkins/counts?station=start", headers=organiser.headers
    ).get_json()
    assert "shirts" not in start

    desk = browser(app)
    assert login(desk, organiser.email).status_code == 302
    page = desk.get("/staff/events/bogor/scan?station=pickup&lang=en").get_data(as_text=True)
    assert 'id="shirt-stock"' in page and "Shirts left" in page
    assert '<span class="shirt-left is-out" data-size="S"><b>S</b> 0' in page
    assert '<span class="shirt-left" data-size="M"><b>M</b> 6' in page


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("XXL", "shirt_given"),
        ("m" * 9, "shirt_given"),
        (["M"], "shirt_given"),
        ("\x00", "shirt_given"),
    ],
)
def test_unknown_size_is_422(client, event, organiser, add_runners, value, field):
    add_runners(event, 1)
    response = client.post(
        f"{API}/events/bogor/checkins",
        json={"code": "1", "method": "typed", "id_checked": True, "shirt_given": value},
        headers={**organiser.headers, "Accept-Language": "en"},
    )
    problem = assert_problem(response, 422)
    assert field in problem["errors"]
    assert counts() == (0, 0)


def test_unknown_size_in_indonesian_names_the_sizes(client, event, organiser, add_runners):
    add_runners(event, 1)
    problem = assert_problem(
        client.post(
            f"{API}/events/bogor/checkins",
            json={"code": "1", "method": "typed", "id_checked": True, "shirt_given": "xxl"},
            headers={**organiser.headers, "Accept-Language": "id"},
        ),
        422,
    )
    assert problem["errors"]["shirt_given"] == ["Pilih salah satu ukuran kaos acara ini: S, M, L."]


def test_lower_case_size_is_taken(client, event, organiser, add_runners):
    [runner] = add_runners(event, 1)
    response = client.post(
        f"{API}/events/bogor/checkins",
        json={"code": "1", "method": "typed", "id_checked": True, "shirt_given": "l"},
        headers=organiser.headers,
    )
    assert response.status_code == 201
    assert response.get_json()["shirt_given"] == "L"
    assert active_checkins(runner)[0].shirt_given == "L"


def test_organiser_sets_the_stock(app, event, organiser):
    page_client = browser(app)
    assert login(page_client, organiser.email).status_code == 302
    edit = page_client.get("/staff/events/bogor/edit?lang=en").get_data(as_text=True)
    assert "Shirt stock" in edit and 'name="size-M"' in edit
    token = csrf_from(edit)

    saved = page_client.post(
        "/staff/events/bogor/shirt-stock",
        data={"csrf_token": token, "size-S": "10", "size-M": " 25 ", "size-L": ""},
    )
    assert saved.status_code == 302
    db.session.rollback()
    assert {row.size: row.quantity for row in db.session.scalars(db.select(ShirtStock))} == {
        "S": 10,
        "M": 25,
    }
    for bad in ("-1", "1e3", "100000", "٣", "ten"):
        refused = page_client.post(
            "/staff/events/bogor/shirt-stock?lang=en",
            data={"csrf_token": token, "size-S": bad, "size-M": "5"},
        )
        assert refused.status_code == 422, bad
        assert "Enter a whole number from 0 to 99999." in refused.get_data(as_text=True)
    db.session.rollback()
    assert len(db.session.scalars(db.select(ShirtStock)).all()) == 2
    assert (
        page_client.post("/staff/events/bogor/shirt-stock", data={"size-S": "1"}).status_code == 400
    )


def test_dashboard_shows_stock_against_demand(app, make_event, event, organiser, add_runners):
    other = make_event(slug="depok", city="Depok", bib_prefix="DPK", quota=5)
    add_runners(event, 3, shirt_size="M")
    [_gone] = add_runners(event, 1, shirt_size="S")
    cancel_registration(_gone)
    add_runners(other, 2, shirt_size="XL")
    set_stock(event, S=1, M=2, L=4)
    pick_up(event, organiser, 1, shirt_given="L")

    boards = {b.slug: b for b in stock_against_demand([event, other])}
    rows = {r.size: (r.demand, r.quantity, r.handed_out, r.left) for r in boards["bogor"].rows}
    assert rows == {"S": (0, 1, 0, 1), "M": (3, 2, 0, 2), "L": (0, 4, 1, 3)}
    assert not boards["depok"].has_stock
    assert {r.size: r.demand for r in boards["depok"].rows}["XL"] == 2

    page_client = browser(app)
    assert login(page_client, organiser.email).status_code == 302
    page = page_client.get("/staff/dashboard?lang=en").get_data(as_text=True)
    assert "Shirt stock against demand" in page
    assert "no stock set: demand only" in page
    assert "2/3" in page  # M: 2 in stock against 3 needed, drawn
    assert 'class="is-short"' in page
