"""The chart series are grouped right (in SQL, on SQLite and PostgreSQL) and drawn as SVG."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from funrun.bibs.services import payload_for
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.reports.charts import (
    checkins_chart,
    checkins_per_bucket,
    registrations_chart,
    registrations_per_day,
)
from tests.reports.conftest import API, browser, login


def test_registrations_are_counted_per_day_in_wib(make_event, add_runners):
    event = make_event(quota=100)
    ids = add_runners(event, 4)
    stamps = [
        datetime(2026, 1, 1, 16, 59, tzinfo=UTC),  # 23:59 WIB on 1 January
        datetime(2026, 1, 1, 17, 0, tzinfo=UTC),  # 00:00 WIB on 2 January
        datetime(2026, 1, 1, 23, 0, tzinfo=UTC),
        datetime(2026, 1, 4, 3, 0, tzinfo=UTC),
    ]
    for rid, stamp in zip(ids, stamps, strict=True):
        db.session.get_one(Registration, rid).created_at = stamp
    db.session.commit()
    series = registrations_per_day()
    assert series == [(date(2026, 1, 1), 1), (date(2026, 1, 2), 2), (date(2026, 1, 4), 1)]
    chart = registrations_chart(series, lambda d: d.isoformat())
    # Days without registrations are gaps, not left out.
    assert [bar.title for bar in chart.bars] == [
        "2026-01-01: 1",
        "2026-01-02: 2",
        "2026-01-03: 0",
        "2026-01-04: 1",
    ]
    assert chart.peak == 2 and chart.bars[1].height == chart.plot_height
    assert chart.bars[2].height == 0


def test_checkins_are_counted_per_10_minutes(client, make_event, make_staff, add_runners):
    event = make_event(quota=100)
    volunteer = make_staff("volunteer", events=(event.slug,))
    ids = add_runners(event, 4)
    now = datetime.now(UTC)
    base = datetime.fromtimestamp((now.timestamp() - 3 * 3600) // 600 * 600, UTC)
    times = [base, base + timedelta(minutes=3), base + timedelta(minutes=25)]
    for rid, at in zip(ids, times, strict=False):
        reply = client.post(
            f"{API}/events/{event.slug}/checkins",
            json={
                "code": payload_for(db.session.get_one(Registration, rid)),
                "scanned_at": at.isoformat(),
            },
            headers=volunteer.headers,
        )
        assert reply.status_code == 201, reply.get_data(as_text=True)
    # Another station's scans are not pickups.
    reply = client.post(
        f"{API}/events/{event.slug}/checkins",
        json={"code": payload_for(db.session.get_one(Registration, ids[3])), "station": "finish"},
        headers=volunteer.headers,
    )
    assert reply.status_code == 201
    series = checkins_per_bucket()
    assert series == [(base, 2), (base + timedelta(minutes=20), 1)]
    chart = checkins_chart(series, lambda t: t.strftime("%H:%M"))
    assert [bar.title.split(": ")[1] for bar in chart.bars] == ["2", "0", "1"]


def test_no_data_draws_a_note_not_an_empty_chart(app, make_staff):
    staff = make_staff("organiser", password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    html = client.get("/staff/dashboard").get_data(as_text=True)
    assert "<svg" not in html
    assert html.count('class="hint chart-empty"') == 4


def scenario_cities(html: str) -> list[str]:
    """The cities of the shirt stock section (one chart each)."""
    return re.findall(r'<div class="shirt-stock-city">', html)


def test_the_dashboard_draws_four_svg_charts_and_fetches_nothing_else(app, scenario, make_staff):
    staff = make_staff("organiser", password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    response = client.get("/staff/dashboard")
    html = response.get_data(as_text=True)
    # Four charts, then the funnel's (one per city), then one per city in the shirt
    # stock section (neither refreshed live).
    charts, shirts = html.split('id="shirt-stock-board"')
    charts, funnel = charts.split('id="funnel"')
    assert charts.count("<svg") == 4
    assert funnel.count("<svg") == len(scenario_cities(html))
    assert shirts.count("<svg") == len(scenario_cities(html))
    assert "http://" not in html and "https://" not in html.replace("http://www.w3.org", "")
    assert "<script>" not in html  # the CSP allows script files from this host only
    assert '<script src="/static/js/dashboard.js">' in html
    live = client.get("/staff/dashboard.json").get_json()
    assert set(live["charts"]) == {"quota_fill", "registrations", "checkins", "enrolments"}
    for svg in live["charts"].values():
        assert svg.startswith("<svg") and svg.endswith("</svg>")
    # Every cell the page marks is in the live update, with the same text.
    cells = dict(re.findall(r'data-cell="([^"]+)">([^<]*)<', html))
    assert cells and all(live["cells"][key] == value for key, value in cells.items())
