"""An event slug in a URL that no event could have is a 404 before any query runs:
a NUL byte (which PostgreSQL refuses even to compare) was a 500 on every event route."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/events/a%00b"),
        ("get", "/api/v1/events/a%00b"),
        ("post", "/api/v1/events/a%00b/registrations"),
        ("post", "/api/v1/events/a%00b/checkins"),
        ("get", "/api/v1/events/a%00b/roster"),
        ("get", "/api/v1/events/caf%C3%A9"),
        ("get", "/api/v1/events/" + "x" * 65),
    ],
)
def test_impossible_slugs_are_404(client, make_event, method, url):
    make_event(slug="jakarta")
    response = getattr(client, method)(url, json={"code": "1"})
    assert response.status_code == 404


def test_real_slugs_still_resolve(client, make_event):
    event = make_event(slug="jakarta-2015")
    assert client.get(f"/api/v1/events/{event.slug}").status_code == 200
    assert client.get(f"/events/{event.slug}").status_code == 200
