"""Smaller doors found by an attack (issue 15, point 7): the language switch's ``next``,
the OpenAPI document's server URL and caching, pages never stored, the language cookie."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.checkin.conftest import PASSWORD, Staff, login, make_staff  # noqa: F401
from tests.conftest import person_payload
from tests.test_config import no_secrets, production_env  # noqa: F401
from tests.test_security import cookie_attributes, production_app  # noqa: F401

API = "/api/v1"


@pytest.mark.parametrize(
    "target", ["/events\n", "/\r\nSet-Cookie: x=1", "/events%0aX: y", "/\x7f", "/\t"]
)
def test_a_control_character_in_next_is_a_400_not_a_500(client, target):
    response = client.get("/lang/en", query_string={"next": target.replace("%0a", "\n")})
    assert response.status_code == 400
    assert "Set-Cookie: x=1" not in str(response.headers)
    assert "Location" not in response.headers


def test_next_still_goes_back_within_the_site(client):
    response = client.get("/lang/en", query_string={"next": "/events?page=2"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/events?page=2"
    for outside in ("https://evil.example/", "//evil.example/", "evil"):
        response = client.get("/lang/en", query_string={"next": outside})
        assert response.headers["Location"] == "/"


def test_the_openapi_servers_url_ignores_the_host_headers(client):
    response = client.get(
        f"{API}/openapi.json",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 200
    assert "evil.example" not in response.get_data(as_text=True)
    assert response.get_json()["servers"] == [{"url": API}]
    cache = response.headers["Cache-Control"]
    assert "public" not in cache and "max-age" not in cache


def test_the_openapi_servers_url_is_the_configured_public_url(app: Flask):
    app.config["FUNRUN_PUBLIC_URL"] = "https://lari.example.id/"
    try:
        response = app.test_client().get(
            f"{API}/openapi.json", headers={"X-Forwarded-Host": "evil.example"}
        )
        assert response.get_json()["servers"] == [{"url": "https://lari.example.id/api/v1"}]
    finally:
        app.config["FUNRUN_PUBLIC_URL"] = None


def test_manage_pages_and_their_files_are_never_stored(client, make_event):
    event = make_event()
    made = client.post(f"{API}/events/{event.slug}/registrations", json=person_payload(1))
    assert made.status_code == 201
    token = made.get_json()["registration"]["manage_token"]
    for path in (
        f"/r/{token}",
        f"/r/{token}/cancel",
        f"/r/{token}/bib.pdf",
        f"/r/{token}/qr.svg",
        f"/r/{token}/my-data.json",
        f"{API}/registrations/{token}",
        f"{API}/registrations/{token}/bib.pdf",
        f"{API}/registrations/{token}/my-data.json",
        "/r/" + "x" * 32,  # a 404 too
    ):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-store", path


def test_staff_pages_and_sign_in_are_never_stored(client, make_staff):  # noqa: F811
    assert client.get("/login").headers["Cache-Control"] == "private, no-store"
    staff = make_staff("organiser", password=PASSWORD)
    login(client, staff.email)
    for path in ("/staff/events", "/staff/dashboard"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response.headers["Cache-Control"], path


def test_public_pages_may_still_be_cached(client, make_event):
    make_event()
    assert "no-store" not in client.get("/events").headers.get("Cache-Control", "")


def test_the_language_cookie_is_secure_in_production(
    production_app: Flask,  # noqa: F811
):
    client = production_app.test_client()
    response = client.get("/lang/en", base_url="https://funrun.example")
    assert {"secure", "httponly", "samesite=lax"} <= cookie_attributes(response, "lang")


def test_the_language_cookie_is_plain_http_in_development(client):
    assert "secure" not in cookie_attributes(client.get("/lang/en"), "lang")
