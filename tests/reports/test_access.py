"""Only organisers and admins see figures, rosters and exports; bad input is a 4xx."""

from __future__ import annotations

import pytest

from tests.reports.conftest import API, assert_problem, browser, login

PAGES = [
    "/staff/dashboard",
    "/staff/dashboard.json",
    "/staff/totals.csv",
    "/staff/totals.xlsx",
    "/staff/totals.pdf",
    "/staff/roster.csv",
    "/staff/roster.xlsx",
    "/staff/events/{slug}/roster",
    "/staff/events/{slug}/roster.csv",
    "/staff/events/{slug}/roster.xlsx",
]


@pytest.mark.parametrize("role", ["volunteer"])
def test_volunteers_get_403_on_every_page(app, make_event, make_staff, role):
    event = make_event()
    staff = make_staff(role, events=(event.slug,), password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    for page in PAGES:
        assert client.get(page.format(slug=event.slug)).status_code == 403, page


def test_anonymous_visitors_are_sent_to_sign_in(app, make_event):
    event = make_event()
    client = browser(app)
    for page in PAGES:
        response = client.get(page.format(slug=event.slug))
        assert response.status_code == 302 and "/login" in response.headers["Location"], page


@pytest.mark.parametrize("role", ["admin", "organiser"])
def test_organisers_and_admins_get_every_page(app, make_event, make_staff, role):
    event = make_event()
    staff = make_staff(role, password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    for page in PAGES:
        assert client.get(page.format(slug=event.slug)).status_code == 200, page


def test_stats_api_needs_an_organiser_or_admin_token(client, make_staff):
    assert_problem(client.get(f"{API}/stats"), 401)
    assert_problem(client.get(f"{API}/stats", headers={"Authorization": "Bearer frn_nope"}), 401)
    for role in ("volunteer", "partner"):
        staff = make_staff(role)
        assert_problem(client.get(f"{API}/stats", headers=staff.headers), 403)
    for role in ("organiser", "admin"):
        staff = make_staff(role)
        response = client.get(f"{API}/stats", headers=staff.headers)
        assert response.status_code == 200
        assert response.get_json()["events"] == []
    # The API sets no cookie.
    assert "Set-Cookie" not in response.headers


def test_partner_tokens_do_not_open_the_pages(app, make_event, make_staff):
    event = make_event()
    partner = make_staff("partner")
    client = browser(app)
    for page in PAGES:
        response = client.get(page.format(slug=event.slug), headers=partner.headers)
        assert response.status_code == 302, page


def test_bad_input_is_a_4xx(app, make_event, make_staff):
    event = make_event()
    staff = make_staff("organiser", password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    roster = f"/staff/events/{event.slug}/roster"
    for url, status in [
        ("/staff/totals.doc", 404),
        ("/staff/totals.exe", 404),
        ("/staff/roster.pdf", 404),
        (f"/staff/events/{event.slug}/roster.json", 404),
        ("/staff/events/nowhere/roster", 404),
        ("/staff/events/nowhere/roster.csv", 404),
        ("/staff/events/" + "x" * 500 + "/roster", 404),
        (f"{roster}?page=0", 400),
        (f"{roster}?page=-1", 400),
        (f"{roster}?page=abc", 400),
        (f"{roster}?page=\N{FULLWIDTH DIGIT ONE}", 400),
        (f"{roster}?page=99999999999999999999", 400),
        (f"{roster}?page=2", 404),
        (f"{roster}?q=" + "a" * 101, 400),
        (f"{roster}?q=" + "a" * 100000, 400),
        (f"{roster}?q=%25%5F%5C", 200),
        (f"{roster}?q=%00", 400),
        (f"{roster}?q=a%0Ab", 400),
        (f"{roster}?q=%ED%A0%80", 200),  # not UTF-8: decoded with a replacement character
    ]:
        assert client.get(url).status_code == status, url
