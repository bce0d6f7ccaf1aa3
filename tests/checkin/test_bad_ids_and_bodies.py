"""Ids out of the database's range and odd JSON bodies on staff routes: 4xx, never 500."""

from __future__ import annotations

import pytest

from tests.checkin.conftest import PASSWORD, browser, login
from tests.conftest import csrf_from

HUGE = "9" * 25


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/staff/print-jobs/{HUGE}"),
        ("get", f"/staff/print-jobs/{HUGE}.pdf"),
        ("get", "/staff/print-jobs/0"),
        ("post", f"/staff/checkins/{HUGE}/undo"),
    ],
)
def test_out_of_range_ids_are_404_pages(app, make_staff, method, path):
    organiser = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    login(page, organiser.email)
    token = csrf_from(page.get("/login").text) if method == "post" else None
    response = getattr(page, method)(path, data={"csrf_token": token} if token else None)
    assert response.status_code == 404


def test_out_of_range_undo_id_is_404_in_the_api(client, make_staff):
    organiser = make_staff("organiser")
    response = client.post(f"/api/v1/checkins/{HUGE}/undo", headers=organiser.headers)
    assert response.status_code == 404


@pytest.mark.parametrize("body", [b"[1, 2]", b"7", b'"code"', b"null", b"\xff\xfe"])
def test_scan_page_refuses_json_that_is_not_an_object(app, make_event, make_staff, body):
    event = make_event(quota=2)
    volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    page = browser(app)
    login(page, volunteer.email)
    token = csrf_from(page.get(f"/staff/events/{event.slug}/scan").text)
    # The page's script calls the check-in API with its session and CSRF token.
    response = page.post(
        f"/api/v1/events/{event.slug}/checkins",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
