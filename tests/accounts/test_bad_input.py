"""Bad input on the people pages: a 4xx with a clear message, and nothing written."""

from __future__ import annotations

import pytest

from tests.accounts.conftest import PASSWORD, PEOPLE, form_token, rows

GOOD = {"email": "new@example.org", "role": "volunteer", "password": PASSWORD, "confirm": PASSWORD}


def assert_no_english_defaults(html: str) -> None:
    """The page is in Bahasa Indonesia: none of WTForms' English default messages."""
    for english in ("field is required", "Not a valid choice", "Invalid Choice", "characters"):
        assert english not in html


BAD_ACCOUNTS = [
    ({"email": ""}, "email"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a" * 250 + "@example.org"}, "email"),
    ({"role": ""}, "role"),
    ({"role": "superuser"}, "role"),
    ({"password": "", "confirm": ""}, "password"),
    ({"password": "short", "confirm": "short"}, "password"),
    ({"password": "x" * 201, "confirm": "x" * 201}, "password"),
    ({"confirm": PASSWORD + "!"}, "confirm"),
]


@pytest.mark.parametrize(("change", "field"), BAD_ACCOUNTS)
def test_bad_new_accounts_are_refused(admin, change, field):
    client, _staff = admin
    before = rows()
    response = client.post(
        f"{PEOPLE}/new", data={**GOOD, **change, "csrf_token": form_token(client)}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert_no_english_defaults(html)
    assert rows() == before


def test_a_duplicate_email_is_refused_whatever_its_case(admin, make_staff):
    client, _staff = admin
    existing = make_staff("organiser")
    before = rows()
    response = client.post(
        f"{PEOPLE}/new",
        data={**GOOD, "email": existing.email.upper(), "csrf_token": form_token(client)},
    )
    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert rows() == before


def test_messages_are_in_the_chosen_language(admin, make_staff):
    client, _staff = admin
    existing = make_staff("organiser")
    for lang, message in (
        ("id", "Akun dengan email ini sudah ada."),
        ("en", "An account with this email already exists."),
    ):
        response = client.post(
            f"{PEOPLE}/new?lang={lang}",
            data={**GOOD, "email": existing.email, "csrf_token": form_token(client)},
        )
        assert message in response.get_data(as_text=True)


def test_forged_or_missing_csrf_is_refused(admin, make_event, make_staff):
    client, staff = admin
    event = make_event(slug="solo")
    volunteer = make_staff("volunteer", events=("solo",))
    other = make_event(slug="bogor")
    before = rows()
    posts = [
        (f"{PEOPLE}/new", GOOD),
        (f"{PEOPLE}/{volunteer.id}/assignments", {"event_id": str(other.id)}),
        (f"{PEOPLE}/{volunteer.id}/assignments/1/remove", {}),
        (f"{PEOPLE}/{volunteer.id}/tokens", {}),
        (f"{PEOPLE}/{volunteer.id}/tokens/1/revoke", {}),
        (f"{PEOPLE}/{volunteer.id}/deactivate", {}),
        (f"{PEOPLE}/{staff.id}/deactivate", {}),
    ]
    for url, data in posts:
        for token in (None, "forged", form_token(client)[:-3] + "abc"):
            body = dict(data) if token is None else {**data, "csrf_token": token}
            response = client.post(url, data=body)
            assert response.status_code == 400, (url, token)
    assert rows() == before
    assert event.id


def test_unknown_ids_are_404_and_change_nothing(admin, make_event, make_staff):
    client, _staff = admin
    make_event(slug="solo")
    volunteer = make_staff("volunteer", events=("solo",))
    someone = make_staff("volunteer", events=("solo",))
    token = form_token(client)
    before = rows()
    # The other volunteer's assignment and token: not this account's.
    theirs = rows()["assignments"]
    assert len(theirs) == 2
    for url in (
        f"{PEOPLE}/999999",
        f"{PEOPLE}/99999999999",
        f"{PEOPLE}/0",
        f"{PEOPLE}/abc",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"{PEOPLE}/999999/tokens",
        f"{PEOPLE}/999999/deactivate",
        f"{PEOPLE}/999999/assignments",
        f"{PEOPLE}/{volunteer.id}/assignments/999999/remove",
        f"{PEOPLE}/{volunteer.id}/tokens/999999/revoke",
        f"{PEOPLE}/{volunteer.id}/assignments/2/remove",  # someone else's
        f"{PEOPLE}/{volunteer.id}/tokens/3/revoke",  # someone else's
        f"{PEOPLE}/{volunteer.id}/explode",
    ):
        assert client.post(url, data={"csrf_token": token}).status_code == 404, url
    assert rows() == before
    assert someone.id


@pytest.mark.parametrize(
    "data",
    [
        {"event_id": ""},
        {"event_id": "abc"},
        {"event_id": "999999"},
        {"event_id": "1"},  # already assigned
        {"event_id": "2", "station": "bar"},
        {"event_id": "2", "station": "x" * 100},
    ],
)
def test_bad_assignments_are_refused(admin, make_event, make_staff, data):
    client, _staff = admin
    make_event(slug="solo")
    make_event(slug="bogor")
    volunteer = make_staff("volunteer", events=("solo",))
    before = rows()
    response = client.post(
        f"{PEOPLE}/{volunteer.id}/assignments", data={**data, "csrf_token": form_token(client)}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="errors"' in html
    assert_no_english_defaults(html)
    assert rows() == before


def test_only_volunteers_are_assigned(admin, make_event, make_staff):
    client, _staff = admin
    event = make_event(slug="solo")
    organiser = make_staff("organiser")
    assert 'name="event_id"' not in client.get(f"{PEOPLE}/{organiser.id}").get_data(as_text=True)
    before = rows()
    response = client.post(
        f"{PEOPLE}/{organiser.id}/assignments",
        data={"event_id": str(event.id), "csrf_token": form_token(client)},
    )
    assert response.status_code == 422
    assert rows() == before
