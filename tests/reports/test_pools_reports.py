"""Place pools in the organiser's figures (GET /stats, the dashboard, the per-city CSV and
XLSX) and on the public event page: places, taken, left and the flow time of each pool."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import refresh

from funrun.dbtypes import utcnow
from funrun.registration.models import Pool
from funrun.reports.exports import POOL_FIELDS
from tests.api.test_openapi import Checker, document  # noqa: F401  (fixture)
from tests.reports.conftest import browser, login, read_xlsx

MEMBER = {"member": True, "kpj_number": "12345678901"}
FLOW = datetime(2030, 1, 5, 3, 0, tzinfo=UTC)  # 10.00 WIB


@pytest.fixture
def pooled(make_event, add_runners):
    """Batam keeps 3 places for non-members (2 taken) and 2 for partners until FLOW;
    Medan 1 for non-members whose flow time has passed; Solo no pools."""
    batam = make_event(
        slug="batam", city="Batam", quota=10, pool_non_member=3, pool_partner=2, pools_flow_at=FLOW
    )
    add_runners(batam, 2)  # non-members: the pool's places
    add_runners(batam, 1, **MEMBER)
    medan = make_event(
        slug="medan",
        city="Medan",
        quota=4,
        pool_non_member=1,
        pools_flow_at=utcnow() - timedelta(hours=1),
    )
    add_runners(medan, 1, **MEMBER)
    make_event(slug="solo", city="Solo", quota=5)
    return batam, medan


def _organiser(app, make_staff):
    staff = make_staff("organiser", password="correct horse battery")
    client = browser(app)
    assert login(client, staff.email).status_code == 302
    return staff, client


def test_stats_show_each_pool_and_match_the_openapi_document(
    app,
    client,
    pooled,
    make_staff,
    document,  # noqa: F811
):
    staff = make_staff("organiser")
    body = Checker(client, document).call("GET", "/stats", 200, headers=staff.headers).get_json()
    rows = {row["slug"]: row for row in body["events"]}
    assert rows["batam"]["pools"] == [
        {
            "pool": "non_member",
            "places": 3,
            "taken": 2,
            "left": 1,
            "flow_at": FLOW.isoformat(),
            "flowed": False,
        },
        {
            "pool": "partner",
            "places": 2,
            "taken": 0,
            "left": 2,
            "flow_at": FLOW.isoformat(),
            "flowed": False,
        },
    ]
    [medan] = rows["medan"]["pools"]
    assert (medan["places"], medan["taken"], medan["left"], medan["flowed"]) == (1, 0, 0, True)
    assert rows["solo"]["pools"] == []
    totals = {p["pool"]: p for p in body["totals"]["pools"]}
    assert (totals["non_member"]["places"], totals["non_member"]["taken"]) == (4, 2)
    assert totals["non_member"]["left"] == 1 and totals["non_member"]["flow_at"] is None
    assert totals["partner"]["left"] == 2


def test_the_dashboard_shows_each_pool(app, pooled, make_staff):
    _staff, organiser = _organiser(app, make_staff)
    page = organiser.get("/staff/dashboard?lang=en").get_data(as_text=True)
    assert "Place pools" in page
    assert 'data-cell="batam:pool:non_member:places">3<' in page
    assert 'data-cell="batam:pool:non_member:taken">2<' in page
    assert 'data-cell="batam:pool:non_member:left">1<' in page
    assert 'data-cell="batam:pool:partner:left">2<' in page
    assert 'data-cell="batam:pool:partner:flow_at">5 Jan 10:00 WIB<' in page
    assert 'data-cell="medan:pool:non_member:flow_at">' in page and "flowed<" in page
    assert 'data-cell="total:pool:non_member:places">4<' in page
    live = organiser.get("/staff/dashboard.json").get_json()
    assert live["cells"]["batam:pool:non_member:left"] == "1"
    indonesian = organiser.get("/staff/dashboard?lang=id").get_data(as_text=True)
    assert "Kuota khusus" in indonesian and "sudah dilepas" in indonesian


def test_the_totals_csv_and_xlsx_carry_each_pool(app, pooled, make_staff):
    _staff, organiser = _organiser(app, make_staff)
    text = organiser.get("/staff/totals.csv").get_data(as_text=True)
    rows = {row["slug"]: row for row in csv.DictReader(io.StringIO(text))}
    keys = [f"pool_{pool.value}_{name}" for pool in Pool for name in POOL_FIELDS]
    assert all(key in rows["batam"] for key in keys)
    batam, medan, solo, total = rows["batam"], rows["medan"], rows["solo"], rows[""]
    flow = "2030-01-05T03:00+00:00"
    assert [batam[k] for k in keys] == ["3", "2", "1", flow, "2", "0", "2", flow]
    assert (medan["pool_non_member_places"], medan["pool_non_member_left"]) == ("1", "0")
    assert [solo[k] for k in keys] == ["0", "0", "0", ""] * 2
    assert (total["pool_non_member_places"], total["pool_non_member_taken"]) == ("4", "2")

    sheet, _xml = read_xlsx(organiser.get("/staff/totals.xlsx?lang=en").data)
    header, *body = sheet
    start = header.index("Non-member pool: places")
    assert header[start : start + 4] == [
        "Non-member pool: places",
        "Non-member pool: taken",
        "Non-member pool: left",
        "Non-member pool: flows at (UTC)",
    ]
    by_city = {row[1]: row for row in body}
    assert by_city["Batam"][start : start + 8] == [
        3.0,
        2.0,
        1.0,
        "2030-01-05T03:00+00:00",
        2.0,
        0.0,
        2.0,
        "2030-01-05T03:00+00:00",
    ]


def test_the_event_page_shows_the_pools_left_and_full_for_members(app, client, make_event):
    event = make_event(slug="jakarta", quota=3, pool_non_member=2, pool_partner=1)
    english = client.get("/events/jakarta?lang=en").get_data(as_text=True)
    assert "Kept for runners not yet members (no KPJ number): 2 left" in english
    assert "Kept for partners' groups: 1 left" in english
    # None for the general public: full for them, not for the pools' runners.
    assert "Only kept places are left: other runners join the waitlist (0 waiting)" in english
    # The general public sees full; the button still says register (a pool has places).
    assert "Join the waitlist" not in english
    refresh()  # the test's app context keeps the locale the last request chose
    indonesian = app.test_client().get("/events/jakarta").get_data(as_text=True)
    assert "Disisihkan untuk pelari yang belum menjadi peserta" in indonesian
    assert "terbuka untuk semua" not in indonesian  # no flow time: kept to race day
    assert event.status(utcnow()) == "full"


def test_the_event_page_says_when_the_kept_places_open_to_everyone(app, make_event):
    from datetime import timedelta

    flow = (utcnow() + timedelta(days=4)).replace(hour=3, minute=0, second=0, microsecond=0)
    make_event(slug="bandung", quota=10, pool_non_member=4, pools_flow_at=flow)
    page = app.test_client().get("/events/bandung").get_data(as_text=True)
    # Venue time (WIB, UTC+7), minutes only.
    month = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"][
        flow.month - 1
    ]
    shown = f"{flow.day} {month} {flow.year} 10.00"
    assert f"Mulai {shown} tempat sisihan yang belum terisi terbuka untuk semua." in page
