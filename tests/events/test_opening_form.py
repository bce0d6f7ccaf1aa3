"""The event form's fair-opening fields: ballot, kept places (pools), the queue's rate.

Through the organiser's pages (CSRF and all), on the suite's database: a ballot needs
its window and commits to a seed whose hash is published; pools stay within the quota
and never shrink below what they gave out; a ballot with entries keeps its opening.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from funrun.ballot.seed import secret_seed
from funrun.events.models import Event, Opening
from funrun.extensions import db
from tests.checkin.conftest import PASSWORD, browser, login
from tests.conftest import csrf_from


@pytest.fixture
def organiser(app: Flask, make_staff: Any) -> FlaskClient:
    client = browser(app)  # its own app context per request, as on a server
    staff = make_staff("organiser", password=PASSWORD)
    assert login(client, staff.email).status_code == 302
    return client


def _form(client: FlaskClient, url: str, **changes: Any) -> dict[str, Any]:
    """The edit form as the page shows it, with ``changes``."""
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    fields: dict[str, Any] = {
        "csrf_token": csrf_from(html),
        "city": "Kota",
        "name": "Fun Run Kota",
        "date": "2026-12-13",
        "start_time": "06:00",
        "timezone": "Asia/Jakarta",
        "venue": "Alun-alun",
        "quota": "10",
        "bib_prefix": "KTA",
        "bib_first": "1",
        "bib_last": "9999",
        "bib_colour": "#0A7A3D",
        "shirt_sizes": "S, M, L",
        "min_age": "17",
        "registration_open": "y",
        "registration_opens_at": "2026-11-01T08:00",
        "registration_closes_at": "2026-11-20T20:00",
        "opening": "first_come",
    }
    fields.update({k: v for k, v in changes.items() if v is not None})
    return {k: v for k, v in fields.items() if changes.get(k, "") is not None}


def _event(slug: str) -> Event:
    db.session.rollback()  # a new transaction: what the requests committed
    event = db.session.scalar(db.select(Event).where(Event.slug == slug))
    assert event is not None
    return event


def test_a_new_ballot_commits_to_a_seed_and_keeps_it_secret(organiser: FlaskClient) -> None:
    body = _form(organiser, "/staff/events/new", slug="undian", opening="ballot")
    answer = organiser.post("/staff/events/new", data=body)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    event = _event("undian")
    assert event.opening == Opening.BALLOT
    seed = secret_seed(event)
    assert len(seed) == 64 and event.ballot_seed is None  # not published before the draw
    assert event.ballot_seed_sha256 == hashlib.sha256(seed.encode()).hexdigest()
    assert seed.encode() not in (event.ballot_seed_encrypted or b"")
    # Saving again never replaces a seed committed to.
    committed = event.ballot_seed_sha256
    body = _form(organiser, "/staff/events/undian/edit", opening="ballot", quota="12")
    assert organiser.post("/staff/events/undian/edit", data=body).status_code == 302
    assert _event("undian").ballot_seed_sha256 == committed


def test_a_ballot_without_its_window_is_refused_in_indonesian(organiser: FlaskClient) -> None:
    body = _form(
        organiser, "/staff/events/new", slug="tanpa-jendela", opening="ballot",
        registration_closes_at=None,
    )  # fmt: skip
    answer = organiser.post("/staff/events/new", data=body)
    assert answer.status_code == 422
    assert "Undian memerlukan jendela pendaftaran" in answer.get_data(as_text=True)
    assert db.session.scalar(db.select(Event.id).where(Event.slug == "tanpa-jendela")) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pool_non_member": "8", "pool_partner": "3"}, "tidak boleh melebihi kuota"),
        ({"pool_non_member": "-1"}, "Masukkan angka dari 0 sampai 99999"),
        ({"admit_rate": "0"}, "Masukkan angka dari 1 sampai 10000"),
        ({"admit_rate": "banyak"}, "bilangan bulat"),
        ({"opening": "lottery"}, "Pilih cara pembagian tempat dari daftar"),
        ({"pools_flow_at": "kemarin"}, "2026-11-01 08:00"),
    ],
)
def test_bad_opening_values_answer_422_and_change_nothing(
    organiser: FlaskClient, make_event: Any, changes: dict[str, str], message: str
) -> None:
    event = make_event(quota=10)
    url = f"/staff/events/{event.slug}/edit"
    answer = organiser.post(url, data=_form(organiser, url, **changes))
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    after = _event(event.slug)
    assert (after.pool_non_member, after.pool_partner, after.admit_rate) == (0, 0, None)
    assert after.opening == Opening.FIRST_COME


def test_pools_flow_time_and_rate_are_saved_and_shown_again(
    organiser: FlaskClient, make_event: Any
) -> None:
    event = make_event(quota=100)
    url = f"/staff/events/{event.slug}/edit"
    body = _form(
        organiser, url, quota="100", pool_non_member="30", pool_partner="20",
        pools_flow_at="2026-11-15T12:00", admit_rate="250",
    )  # fmt: skip
    assert organiser.post(url, data=body).status_code == 302
    after = _event(event.slug)
    assert (after.pool_non_member, after.pool_partner, after.admit_rate) == (30, 20, 250)
    assert after.pools_flow_at is not None
    assert after.pools_flow_at.isoformat() == "2026-11-15T05:00:00+00:00"  # 12:00 WIB
    html = organiser.get(url).get_data(as_text=True)
    assert 'value="2026-11-15T12:00"' in html and 'value="30"' in html


def test_a_pool_cannot_shrink_below_its_places_taken(
    organiser: FlaskClient, make_event: Any, app: Flask
) -> None:
    event = make_event(quota=10, pool_non_member=5, pool_non_member_taken=4, confirmed_count=4)
    url = f"/staff/events/{event.slug}/edit"
    answer = organiser.post(url, data=_form(organiser, url, pool_non_member="3"))
    assert answer.status_code == 422
    assert "4 tempat dari kelompok ini sudah terisi" in answer.get_data(as_text=True)
    assert _event(event.slug).pool_non_member == 5


def test_a_ballot_with_entries_keeps_its_opening(organiser: FlaskClient, make_event: Any) -> None:
    event = make_event(opening="ballot", ballot_seed_sha256="0" * 64, ballot_entries=3)
    url = f"/staff/events/{event.slug}/edit"
    answer = organiser.post(url, data=_form(organiser, url, opening="first_come"))
    assert answer.status_code == 422
    assert "Sudah ada peserta undian" in answer.get_data(as_text=True)
    assert _event(event.slug).opening == Opening.BALLOT
