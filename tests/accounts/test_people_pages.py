"""What an admin does on the people pages, each change persisted and effective."""

from __future__ import annotations

from sqlalchemy import select

from funrun.accounts.models import ApiToken, EventAssignment, User
from funrun.accounts.services import hash_api_token
from funrun.extensions import db
from tests.accounts.conftest import (
    API,
    PASSWORD,
    PEOPLE,
    browser,
    form_token,
    login,
    rows,
    token_on_page,
)


def stored(user_id: int) -> User:
    db.session.rollback()
    return db.session.get(User, user_id)


def test_the_list_shows_every_account(admin, make_staff):
    client, staff = admin
    volunteer = make_staff("volunteer")
    partner = make_staff("partner")
    html = client.get(PEOPLE).get_data(as_text=True)
    for email in (staff.email, volunteer.email, partner.email):
        assert email in html
    assert client.get(f"{PEOPLE}?lang=en").status_code == 200


def test_create_a_staff_account_that_can_sign_in(app, admin):
    client, _staff = admin
    response = client.post(
        f"{PEOPLE}/new",
        data={
            "email": "Rina@Example.org",
            "role": "organiser",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": form_token(client),
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "rina@example.org"))
    assert user.role == "organiser" and user.active
    assert user.password_hash and PASSWORD not in user.password_hash
    assert response.headers["Location"].endswith(f"{PEOPLE}/{user.id}")
    assert login(browser(app), "rina@example.org").status_code == 302


def test_create_a_partner_without_password(admin):
    client, _staff = admin
    response = client.post(
        f"{PEOPLE}/new",
        data={"email": "hr@partner.example", "role": "partner", "csrf_token": form_token(client)},
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "hr@partner.example"))
    assert user.role == "partner" and user.password_hash is None


def test_create_a_partner_with_a_password_that_signs_in_to_its_pages(app, admin):
    """Issue 20: a partner given a password signs in, to its own pages only."""
    client, _staff = admin
    response = client.post(
        f"{PEOPLE}/new",
        data={
            "email": "hr2@partner.example",
            "role": "partner",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": form_token(client),
        },
    )
    assert response.status_code == 302
    partner = browser(app)
    signed_in = login(partner, "hr2@partner.example")
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/partner/")


def test_assign_and_unassign_a_volunteer(admin, make_event, make_staff):
    client, _staff = admin
    solo = make_event(slug="solo", city="Solo")
    bogor = make_event(slug="bogor", city="Bogor")
    volunteer = make_staff("volunteer", events=("solo",))
    page = client.get(f"{PEOPLE}/{volunteer.id}").get_data(as_text=True)
    assert "Solo" in page and f'value="{bogor.id}"' in page and f'value="{solo.id}"' not in page
    # The station field says what it does (the volunteer's scan page opens there).
    assert "Tempat halaman pindai relawan terbuka" in page

    response = client.post(
        f"{PEOPLE}/{volunteer.id}/assignments",
        data={"event_id": bogor.id, "station": "start", "csrf_token": form_token(client)},
    )
    assert response.status_code == 302
    assert rows()["assignments"] == [
        (volunteer.id, solo.id, None),
        (volunteer.id, bogor.id, "start"),
    ]
    assert "· Garis start" in client.get(f"{PEOPLE}/{volunteer.id}").text
    # The volunteer can now use the API for Bogor.
    assert client.get(f"{API}/events/bogor/roster", headers=volunteer.headers).status_code == 200

    assignment = db.session.scalar(
        select(EventAssignment).where(EventAssignment.event_id == solo.id)
    )
    response = client.post(
        f"{PEOPLE}/{volunteer.id}/assignments/{assignment.id}/remove",
        data={"csrf_token": form_token(client)},
    )
    assert response.status_code == 302
    assert rows()["assignments"] == [(volunteer.id, bogor.id, "start")]
    assert client.get(f"{API}/events/solo/roster", headers=volunteer.headers).status_code == 403


def test_issue_a_token_shown_once_and_hashed(admin, make_event, make_staff):
    client, _staff = admin
    make_event(slug="solo")
    volunteer = make_staff("volunteer", events=("solo",))
    response = client.post(
        f"{PEOPLE}/{volunteer.id}/tokens", data={"csrf_token": form_token(client)}
    )
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    token = token_on_page(response.get_data(as_text=True))
    db.session.rollback()
    hashes = db.session.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == volunteer.id))
    assert hash_api_token(token) in set(hashes)
    # Only the hash is stored, and the account page shows the prefix, never the token.
    for row in db.session.scalars(select(ApiToken)):
        assert token not in (row.token_hash, row.prefix)
    page = client.get(f"{PEOPLE}/{volunteer.id}").get_data(as_text=True)
    assert token not in page and token[:12] in page
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/events/solo/roster", headers=headers).status_code == 200


def test_a_revoked_token_is_refused_by_the_api(admin, make_event, make_staff):
    client, _staff = admin
    make_event(slug="solo")
    volunteer = make_staff("volunteer", events=("solo",))
    assert client.get(f"{API}/events/solo/roster", headers=volunteer.headers).status_code == 200
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == volunteer.id))
    url = f"{PEOPLE}/{volunteer.id}/tokens/{token_id}/revoke"
    assert client.post(url, data={"csrf_token": form_token(client)}).status_code == 302
    assert (token_id, False) in rows()["tokens"]
    assert db.session.get(ApiToken, token_id).revoked_at is not None
    assert client.get(f"{API}/events/solo/roster", headers=volunteer.headers).status_code == 401
    # Revoking again changes nothing and is not an error.
    revoked_at = db.session.get(ApiToken, token_id).revoked_at
    assert client.post(url, data={"csrf_token": form_token(client)}).status_code == 302
    db.session.rollback()
    assert db.session.get(ApiToken, token_id).revoked_at == revoked_at


def test_deactivate_and_reactivate(app, admin, make_event, make_staff):
    client, _staff = admin
    make_event(slug="solo")
    volunteer = make_staff("volunteer", events=("solo",), password=PASSWORD)
    theirs = browser(app)
    assert login(theirs, volunteer.email).status_code == 302
    assert theirs.get("/staff").status_code == 200

    url = f"{PEOPLE}/{volunteer.id}/deactivate"
    assert client.post(url, data={"csrf_token": form_token(client)}).status_code == 302
    assert stored(volunteer.id).active is False
    # No sign-in, the open session ends, the token stops working.
    assert login(browser(app), volunteer.email).status_code == 401
    response = theirs.get("/staff")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get(f"{API}/events/solo/roster", headers=volunteer.headers).status_code == 401
    # No new token for a deactivated account.
    before = rows()
    response = client.post(
        f"{PEOPLE}/{volunteer.id}/tokens", data={"csrf_token": form_token(client)}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and 'value="frn_' not in html
    assert "flash-error" in html
    assert rows() == before

    url = f"{PEOPLE}/{volunteer.id}/reactivate"
    assert client.post(url, data={"csrf_token": form_token(client)}).status_code == 302
    assert stored(volunteer.id).active is True
    assert login(browser(app), volunteer.email).status_code == 302
    assert client.get(f"{API}/events/solo/roster", headers=volunteer.headers).status_code == 200


def test_an_admin_cannot_deactivate_themselves(admin):
    client, staff = admin
    page = client.get(f"{PEOPLE}/{staff.id}").get_data(as_text=True)
    assert f"{PEOPLE}/{staff.id}/deactivate" not in page
    response = client.post(
        f"{PEOPLE}/{staff.id}/deactivate", data={"csrf_token": form_token(client)}
    )
    assert response.status_code == 409
    assert stored(staff.id).active is True
    assert client.get("/staff").status_code == 200


def test_an_admin_can_deactivate_another_admin(admin, make_staff):
    client, _staff = admin
    other = make_staff("admin")
    url = f"{PEOPLE}/{other.id}/deactivate"
    assert client.post(url, data={"csrf_token": form_token(client)}).status_code == 302
    assert stored(other.id).active is False
