"""Only admins manage people; everyone else is refused and nothing is written."""

from __future__ import annotations

import pytest

from tests.accounts.conftest import PASSWORD, PEOPLE, browser, csrf_from, login, rows


@pytest.fixture
def target(make_event, make_staff):
    """A volunteer (assigned to one event, with a token) for the others to act on."""
    event = make_event(slug="solo")
    other = make_event(slug="bogor")
    volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    return volunteer, other


def gets(user_id: int) -> list[str]:
    return [PEOPLE, f"{PEOPLE}/new", f"{PEOPLE}/{user_id}"]


def posts(user_id: int, other_event_id: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{PEOPLE}/new", {"email": "new@example.org", "role": "organiser",
                           "password": PASSWORD, "confirm": PASSWORD}),
        (f"{PEOPLE}/{user_id}/assignments", {"event_id": str(other_event_id), "station": ""}),
        (f"{PEOPLE}/{user_id}/assignments/1/remove", {}),
        (f"{PEOPLE}/{user_id}/tokens", {}),
        (f"{PEOPLE}/{user_id}/tokens/1/revoke", {}),
        (f"{PEOPLE}/{user_id}/deactivate", {}),
    ]  # fmt: skip


@pytest.mark.parametrize("role", ["organiser", "volunteer"])
def test_staff_other_than_admins_get_403(app, make_staff, target, role):
    volunteer, other = target
    staff = make_staff(role, password=PASSWORD)
    client = browser(app)
    assert login(client, staff.email).status_code == 302
    token = csrf_from(client.get("/staff").get_data(as_text=True))
    before = rows()
    for page in gets(volunteer.id):
        assert client.get(page).status_code == 403, page
    for page, data in posts(volunteer.id, other.id):
        assert client.post(page, data={**data, "csrf_token": token}).status_code == 403, page
    assert rows() == before


def test_anonymous_visitors_are_sent_to_sign_in(app, target):
    volunteer, other = target
    client = browser(app)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    before = rows()
    for page in gets(volunteer.id):
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.headers["Location"], page
    for page, data in posts(volunteer.id, other.id):
        response = client.post(page, data={**data, "csrf_token": token})
        assert response.status_code == 302 and "/login" in response.headers["Location"], page
    assert rows() == before


def test_a_partner_signs_in_to_its_own_pages_and_no_staff_page(app, make_staff, target):
    """A partner with a password signs in (issue 20) and lands on /partner/; the people
    pages, like every staff page, refuse it (403), and its API token opens no page."""
    volunteer, other = target
    partner = make_staff("partner", password=PASSWORD)
    for page in gets(volunteer.id):
        response = browser(app).get(page, headers=partner.headers)
        assert response.status_code == 302 and "/login" in response.headers["Location"], page
    client = browser(app)
    signed_in = login(client, partner.email)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/partner/")
    token = csrf_from(client.get("/partner/").get_data(as_text=True))
    before = rows()
    for page in (*gets(volunteer.id), "/staff", "/staff/password"):
        assert client.get(page).status_code == 403, page
    for page, data in posts(volunteer.id, other.id):
        assert client.post(page, data={**data, "csrf_token": token}).status_code == 403, page
    assert rows() == before


def test_admins_get_every_page_and_a_link_from_staff_home(admin, target):
    client, _staff = admin
    volunteer, _other = target
    assert f'href="{PEOPLE}"' in client.get("/staff").get_data(as_text=True)
    for page in gets(volunteer.id):
        assert client.get(page).status_code == 200, page


@pytest.mark.parametrize("role", ["organiser", "volunteer"])
def test_no_link_for_others(app, make_staff, role):
    staff = make_staff(role, password=PASSWORD)
    client = browser(app)
    login(client, staff.email)
    assert f'href="{PEOPLE}"' not in client.get("/staff").get_data(as_text=True)
