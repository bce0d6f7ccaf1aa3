"""The app starts and serves its home page and API on the test database."""

from tests.conftest import person_payload


def test_home_lists_events(client, make_event):
    make_event(city="Batam")
    page = client.get("/")
    assert page.status_code == 200
    assert "Batam" in page.get_data(as_text=True)


def test_register_through_api(client, make_event):
    event = make_event(quota=1)
    first = client.post(f"/api/v1/events/{event.slug}/registrations", json=person_payload(1))
    second = client.post(f"/api/v1/events/{event.slug}/registrations", json=person_payload(2))
    assert first.status_code == 201, first.json
    assert first.json["registration"]["status"] == "confirmed"
    assert second.json["registration"]["status"] == "waitlisted"
    assert second.json["registration"]["waitlist_position"] == 1
