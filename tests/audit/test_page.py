"""The admin's audit page: entries and scans merged, filters, access, bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from funrun.audit.services import record
from funrun.extensions import db
from tests.checkin.conftest import PASSWORD, browser, login


@pytest.fixture
def admin_page(app, make_staff):
    admin = make_staff("admin", password=PASSWORD)
    page = browser(app)
    assert login(page, admin.email).status_code == 302
    page.admin = admin
    return page


def _scan(client, event, staff, code):
    response = client.post(
        f"/api/v1/events/{event.slug}/checkins",
        # A typed bib whose runner showed their ID card (issue 15).
        json={"code": code, "method": "typed", "id_checked": True},
        headers=staff.headers,
    )
    assert response.status_code in (200, 201), response.json


def test_scans_and_entries_are_merged_newest_first(
    app, client, admin_page, make_event, make_staff, add_runners
):
    event = make_event(quota=5)
    add_runners(event, 1)
    volunteer = make_staff("volunteer", events=(event.slug,))
    _scan(client, event, volunteer, "1")
    record("event_edit", user_id=admin_page.admin.id, target="marker-edit", event_id=event.id)
    db.session.commit()

    html = admin_page.get("/staff/audit").get_data(as_text=True)
    assert volunteer.email in html  # the scan, from scan_log
    assert "marker-edit" in html
    assert html.index("marker-edit") < html.index(volunteer.email)  # newest first
    assert "Berhasil check-in · Pengambilan race pack" in html  # the scan, in words
    assert "checked_in" not in html and "pickup" not in html

    only_scans = admin_page.get("/staff/audit?action=scan").get_data(as_text=True)
    assert volunteer.email in only_scans and "marker-edit" not in only_scans


def test_filters_by_action_email_event_and_dates(app, admin_page, make_event, make_staff):
    one, two = make_event(), make_event()
    other = make_staff("organiser")
    record("event_edit", user_id=other.id, target="edit-one", event_id=one.id)
    record("event_open", user_id=admin_page.admin.id, target="open-two", event_id=two.id)
    db.session.commit()

    def shown(query: str) -> set[str]:
        response = admin_page.get(f"/staff/audit?{query}")
        assert response.status_code == 200
        return set(re.findall(r"(edit-one|open-two)", response.get_data(as_text=True)))

    assert shown("") == {"edit-one", "open-two"}
    assert shown("action=event_edit") == {"edit-one"}
    assert shown(f"email={other.email.upper()}") == {"edit-one"}
    assert shown(f"event={two.id}") == {"open-two"}
    assert shown("from=2000-01-01&to=2000-01-02") == set()
    assert shown("from=2000-01-01") == {"edit-one", "open-two"}
    assert shown("to=2000-01-01") == set()


def test_pages_of_fifty(app, admin_page):
    for n in range(51):
        record("export", user_id=admin_page.admin.id, target=f"file-{n:03d}")
    db.session.commit()
    first = admin_page.get("/staff/audit?action=export").get_data(as_text=True)
    assert "file-050" in first and "file-000" not in first
    assert 'rel="next"' in first
    second = admin_page.get("/staff/audit?action=export&page=2").get_data(as_text=True)
    assert "file-000" in second and "file-050" not in second
    assert 'rel="next"' not in second


@pytest.mark.parametrize(
    "query",
    [
        "action=nonsense",
        "event=abc",
        "event=99999999999999999999",
        "from=2026-13-45",
        "to=yesterday",
        "page=0",
        "page=-1",
        "page=99999999999999999999",
        "email=" + "a" * 300,
        "event=%C2%B2",
    ],
)
def test_bad_filters_are_a_400_never_a_500(admin_page, query):
    assert admin_page.get(f"/staff/audit?{query}").status_code == 400


def test_only_admins_see_the_page(app, client, make_staff):
    for role in ("organiser", "volunteer"):
        staff = make_staff(role, password=PASSWORD)
        page = browser(app)
        login(page, staff.email)
        assert page.get("/staff/audit").status_code == 403
        assert "/staff/audit" not in page.get("/staff").get_data(as_text=True)
    anonymous = client.get("/staff/audit")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_admin_home_links_to_the_page(admin_page):
    assert "/staff/audit" in admin_page.get("/staff").get_data(as_text=True)


def test_dates_are_the_tours_local_days(admin_page):
    # 18:00 UTC on 25 Nov is 01:00 on 26 Nov in Jakarta.
    late = record("export", user_id=admin_page.admin.id, target="late-file")
    late.at = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    db.session.commit()

    def shows(query: str) -> bool:
        html = admin_page.get(f"/staff/audit?action=export&{query}").get_data(as_text=True)
        return "late-file" in html

    assert shows("from=2026-11-26&to=2026-11-26")
    assert not shows("to=2026-11-25")
    assert not shows("from=2026-11-27")
