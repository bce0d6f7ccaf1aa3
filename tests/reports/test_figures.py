"""The tour's figures: counted right, and the same in the API, the dashboard and every export."""

from __future__ import annotations

import csv
import io

from funrun.reports.exports import TOTALS_KEYS
from funrun.reports.figures import tour_figures
from tests.api.test_openapi import Checker, document  # noqa: F401  (fixture)
from tests.reports.conftest import EXPECTED, EXPECTED_TOTALS, browser, login, read_xlsx

FIELDS = list(EXPECTED_TOTALS)


def _staff_browser(app, make_staff, role):
    staff = make_staff(role, password="correct horse battery")
    client = browser(app)
    assert login(client, staff.email).status_code == 302
    return client


def test_figures_count_every_case(scenario):
    figures = tour_figures()
    by_slug = {row.slug: row.as_json() for row in figures.events}
    for slug, expected in EXPECTED.items():
        for name, value in expected.items():
            assert by_slug[slug][name] == value, (slug, name)
    assert by_slug["past"]["shirt_sizes"] == {"S": 0, "M": 2, "L": 1}
    assert by_slug["future"]["shirt_sizes"]["S"] == 2
    totals = figures.as_json()["totals"]
    for name, value in EXPECTED_TOTALS.items():
        assert totals[name] == value, name
    assert totals["shirt_sizes"]["S"] == 2 and totals["shirt_sizes"]["M"] == 2


def test_an_event_without_registrations_shows_zeros(make_event):
    make_event(slug="empty", quota=7)
    [row] = tour_figures().as_json()["events"]
    assert row["quota"] == 7 and row["confirmed"] == 0 and row["conversion_rate"] is None


def test_api_dashboard_and_exports_show_the_same_figures(app, client, scenario, make_staff):
    api = client.get("/api/v1/stats", headers=scenario.organiser.headers)
    assert api.status_code == 200
    assert api.headers["Cache-Control"] == "private, no-store"
    stats = api.get_json()
    api_rows = {row["slug"]: row for row in stats["events"]}
    for slug, expected in EXPECTED.items():
        assert {k: api_rows[slug][k] for k in expected} == expected
    assert {k: stats["totals"][k] for k in FIELDS} == EXPECTED_TOTALS

    organiser = _staff_browser(app, make_staff, "organiser")
    live = organiser.get("/staff/dashboard.json").get_json()
    assert live["stats"]["events"] == stats["events"]
    assert live["stats"]["totals"] == stats["totals"]
    page = organiser.get("/staff/dashboard").get_data(as_text=True)
    for slug, row in api_rows.items():
        for name in ("quota", "confirmed", "waitlisted", "checked_in", "enrolled"):
            assert f'data-cell="{slug}:{name}">{row[name]}<' in page, (slug, name)
    assert 'data-cell="past:conversion_rate">100' in page
    assert 'data-cell="total:conversion_rate">33' in page

    # CSV: the header is the API's field names, one row per event, then the tour total.
    text = organiser.get("/staff/totals.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    csv_sizes = [name.removeprefix("shirt_") for name in rows[0] if name.startswith("shirt_")]
    assert csv_sizes == ["S", "M", "L", "XS", "XL", "XXL"]
    assert [r["slug"] for r in rows] == ["past", "future", ""]
    for row in rows:
        source = api_rows[row["slug"]] if row["slug"] else stats["totals"]
        for name in FIELDS:
            if name == "conversion_rate":
                assert float(row[name]) == source[name]
            else:
                assert int(row[name]) == source[name], (row["slug"], name)
        for size, count in source["shirt_sizes"].items():
            assert int(row[f"shirt_{size}"]) == count

    # XLSX: the same numbers, typed; a header row; panes frozen under it.
    response = organiser.get("/staff/totals.xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet, xml = read_xlsx(response.data)
    header, *body = sheet
    assert header[0] and header[len(TOTALS_KEYS)].endswith(" S")
    assert len(body) == 3
    for values, source in zip(
        body, [api_rows["past"], api_rows["future"], stats["totals"]], strict=True
    ):
        for key, value in zip(TOTALS_KEYS[2:], values[2:], strict=False):
            assert value == float(source[key]), key
        assert values[len(TOTALS_KEYS) : len(TOTALS_KEYS) + len(csv_sizes)] == [
            float(source["shirt_sizes"].get(size, 0)) for size in csv_sizes
        ]
    assert body[0][1] == "Batam" and isinstance(body[0][2], float)
    assert body[2][1] in ("Jumlah", "Total")
    pane = xml.find(".//{*}pane")
    assert pane is not None and pane.get("state") == "frozen" and pane.get("ySplit") == "1"


def test_figures_reflect_a_change_at_once(client, scenario):
    """No cache between the database and the figures: a cancellation shows on the next call."""
    from tests.reports.conftest import cancel_registration

    cancel_registration(scenario.runners["member"].id)
    stats = client.get("/api/v1/stats", headers=scenario.organiser.headers).get_json()
    past = next(row for row in stats["events"] if row["slug"] == "past")
    # The waitlisted runner was promoted into the freed place; the member's check-in is
    # gone from the count with the cancellation.
    assert past["confirmed"] == 3 and past["waitlisted"] == 0 and past["cancelled"] == 2
    assert past["members"] == 0 and past["checked_in"] == 1


def test_stats_answers_match_the_openapi_document(client, scenario, make_staff, document):  # noqa: F811
    check = Checker(client, document)
    body = check.call("GET", "/stats", 200, headers=scenario.organiser.headers).get_json()
    assert body["events"] and body["events"][0]["conversion_rate"] == 1.0
    check.call("GET", "/stats", 401)
    check.call("GET", "/stats", 403, headers=make_staff("partner").headers)
    check.call("GET", "/stats", 403, headers=scenario.volunteer.headers)


def test_the_pdf_report_shows_the_same_figures_and_the_charts(app, scenario, make_staff, tmp_path):
    import subprocess

    organiser = _staff_browser(app, make_staff, "organiser")
    response = organiser.get("/staff/totals.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    path = tmp_path / "totals.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    lines: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) > 2 and words[1][0].isdigit():  # a city's first row: the totals table
            lines.setdefault(words[0], words[1:])
    # City, then the dashboard's columns: quota ... enrolled, conversion rate (the paid
    # months in a table of their own: enrolled, paid months 1, 2 and 3).
    assert lines["Batam"][:11] == ["3", "3", "1", "0", "1", "2", "1", "1", "2", "1", "100,0%"]
    assert lines["Jumlah"][:11] == ["8", "5", "1", "0", "1", "4", "1", "1", "4", "1", "33,3%"]
    paid = [line.split() for line in text.splitlines() if line.split()[:1] == ["Batam"]]
    assert ["Batam", "1", "1", "0", "1"] in paid
    for title in ("Keterisian kuota per kota", "Kepesertaan baru per kota"):
        assert title in text
    assert "Jakarta: " not in text  # chart labels are drawn, not the page's tooltips
