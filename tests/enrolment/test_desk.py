"""The enrolment desk pages: from a scan or as a walk-up, a confirm step, no JavaScript."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from funrun.bibs.services import payload_for
from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.conftest import csrf_from, person_payload
from tests.enrolment.conftest import PASSWORD, desk_browser, login, next_index

FORM = {
    "birth_place": "Makassar",
    "mother_maiden_name": "Hajjah Nurhayati",
    "address": "Jl. Somba Opu 12, Makassar",
    "occupation": "angkot_driver",
    "declared_income": "1.000.000",
    "months": "3",
    "payment_channel": "cash",
    "consent": "y",
}


def signed_in(app, make_staff, role="volunteer", events=()):
    staff = make_staff(role, events=events, password=PASSWORD)
    client = desk_browser(app)
    assert login(client, staff.email).status_code == 302
    return client, staff


def hidden_inputs(html: str) -> dict[str, str]:
    """The confirm form's fields, as the browser would send them back."""
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields["csrf_token"] = csrf_from(html)
    return {k: v.replace("&amp;", "&").replace("&#39;", "'") for k, v in fields.items()}


def stored() -> list[Enrolment]:
    db.session.rollback()
    return list(db.session.scalars(select(Enrolment)))


def test_scan_page_links_a_non_member_to_the_desk_prefilled(
    app, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    runner = add_runner(event, full_name="Daeng Rahman")
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    scan_url = f"/staff/events/{event.slug}/scan"
    page = client.get(scan_url).get_data(as_text=True)
    scanned = client.post(
        scan_url, data={"code": payload_for(runner), "csrf_token": csrf_from(page)}
    )
    html = scanned.get_data(as_text=True)
    link = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    assert link in html.replace("&amp;", "&")

    desk = client.get(link)
    assert desk.status_code == 200
    html = desk.get_data(as_text=True)
    assert "Daeng Rahman" in html and runner.bib in html
    assert "**********" in html  # the NIK is masked
    assert person_payload(0)["nik"] not in html
    assert 'name="full_name"' not in html  # the registration's fields are not asked again
    assert "Nama ibu kandung" in html  # Bahasa Indonesia first


def test_review_shows_the_contribution_then_confirm_enrols(
    app, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    runner = add_runner(event)
    client, staff = signed_in(app, make_staff, events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    review = client.post(url, data={**FORM, "jht": "y", "csrf_token": token, "action": "review"})
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert "Rp 36.800" in html  # per month, with JHT
    assert "Rp 110.400" in html  # three months
    assert 'value="confirm"' in html
    assert stored() == []  # nothing is written before confirming

    fields = hidden_inputs(html)
    assert fields["quoted"] == "36800,36800,36800" and fields["jht"] == "y"
    done = client.post(url, data={**fields, "action": "confirm"})
    assert done.status_code == 302, done.get_data(as_text=True)
    [enrolment] = stored()
    assert done.headers["Location"].endswith(f"/staff/enrolments/{enrolment.participant_number}")
    assert enrolment.registration_id == runner.id
    assert enrolment.enrolled_by_id == staff.id and enrolment.source == "desk"
    assert (enrolment.monthly_total, enrolment.amount_due, enrolment.programmes) == (
        36_800,
        110_400,
        "JKK,JKM,JHT",
    )
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert enrolment.participant_number in page
    assert f"/staff/enrolments/{enrolment.participant_number}/card.pdf" in page
    card = client.get(f"/staff/enrolments/{enrolment.participant_number}/card.pdf")
    assert card.status_code == 200 and card.mimetype == "application/pdf"
    # Opening the desk again for this runner says they are enrolled, and offers no form.
    again = client.get(url)
    assert again.status_code == 409
    assert enrolment.participant_number in again.get_data(as_text=True)
    assert 'name="birth_place"' not in again.get_data(as_text=True)


def test_edit_goes_back_to_the_form_with_the_values(
    app, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    runner = add_runner(event)
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    review = client.post(url, data={**FORM, "csrf_token": token})
    fields = hidden_inputs(review.get_data(as_text=True))
    back = client.post(url, data={**fields, "action": "edit"})
    assert back.status_code == 200
    assert 'value="Hajjah Nurhayati"' in back.get_data(as_text=True)
    assert stored() == []


def test_a_changed_quote_is_shown_again_not_charged(
    app, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    runner = add_runner(event)
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    fields = hidden_inputs(
        client.post(url, data={**FORM, "csrf_token": token}).get_data(as_text=True)
    )
    fields["quoted"] = "1"
    response = client.post(url, data={**fields, "action": "confirm"})
    assert response.status_code == 409
    assert "Periksa kembali" in response.get_data(as_text=True)
    assert stored() == []


def test_bad_input_is_shown_per_field_in_english_too(
    app, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    runner = add_runner(event)
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    client.get("/lang/en")
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    bad = {**FORM, "declared_income": "900000", "months": "5", "occupation": "pilot", "consent": ""}
    response = client.post(url, data={**bad, "csrf_token": token})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The lowest income basis is Rp 1,000,000 a month." in html
    assert "Pay for 1, 3, 6 or 12 months." in html
    assert "Choose one of the listed occupations." in html
    assert "The runner must agree to the enrolment notice." in html
    assert stored() == []
    # Without the CSRF token nothing happens either.
    assert client.post(url, data=FORM).status_code == 400
    assert stored() == []


def test_a_walk_up_registers_and_enrols_on_the_page(app, make_event, make_staff, on_finale_day):
    event = make_event(quota=5)
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol"
    page = client.get(url).get_data(as_text=True)
    assert 'name="nik"' in page and 'name="shirt_size"' in page
    person = person_payload(next_index())
    form = {
        **FORM,
        **{k: person[k] for k in ("full_name", "nik", "birth_date", "gender", "phone")},
        "shirt_size": "L",
        "payment_channel": "sponsor",
        "sponsor": "apbd-dki",
        "occupation": "street_sweeper",
        "csrf_token": csrf_from(page),
    }
    review = client.post(url, data=form)
    html = review.get_data(as_text=True)
    assert review.status_code == 200, html
    assert "Rp 0" in html and "APBD" in html
    done = client.post(url, data={**hidden_inputs(html), "action": "confirm"})
    assert done.status_code == 302, done.get_data(as_text=True)
    [enrolment] = stored()
    registration = db.session.get(Registration, enrolment.registration_id)
    assert registration.source == "walkup" and registration.status == "confirmed"
    assert registration.shirt_size == "L"
    assert (enrolment.amount_due, enrolment.sponsor_amount) == (0, 16_800 * 3)


def test_volunteers_of_another_city_cannot_open_the_desk(
    app, make_event, make_staff, add_runner, on_finale_day
):
    mine, theirs = make_event(), make_event()
    runner = add_runner(theirs)
    client, _staff = signed_in(app, make_staff, events=(mine.slug,))
    assert client.get(f"/staff/events/{theirs.slug}/enrol").status_code == 403
    # Another event's registration id is not found at mine.
    assert (
        client.get(f"/staff/events/{mine.slug}/enrol?registration={runner.id}").status_code == 404
    )
    assert client.get(f"/staff/events/{mine.slug}/enrol?registration=x1").status_code == 404
    assert (
        client.get(f"/staff/events/{mine.slug}/enrol?registration=99999999999").status_code == 404
    )
    anonymous = desk_browser(app)
    assert anonymous.get(f"/staff/events/{mine.slug}/enrol").status_code == 302
    assert db.session.scalar(select(func.count(Enrolment.id))) == 0


def test_a_quote_changed_in_a_later_month_only_is_shown_again_not_charged(
    app, make_event, make_staff, add_runner, monkeypatch
):
    """The confirm step compares every covered month, not only the first: a relief that
    an admin extends between review and confirm changes January, not December."""
    from datetime import UTC, datetime

    from funrun.enrolment import services as enrolment_services
    from funrun.enrolment.schedule import apply_document, dump_document

    monkeypatch.setattr(
        enrolment_services, "utcnow", lambda: datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    )
    event = make_event(timezone="Asia/Jakarta")
    runner = add_runner(event)
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    form = {**FORM, "occupation": "trader", "csrf_token": token}
    fields = hidden_inputs(client.post(url, data=form).get_data(as_text=True))
    assert fields["quoted"] == "8400,16800,16800"
    db.session.rollback()  # the test's session read the schedule before the pages did
    document = dump_document()
    [pp50] = [r for r in document["schedules"][0]["reliefs"] if r["code"] == "pp-50-2025"]
    [general] = [p for p in pp50["periods"] if p["sector"] == "general"]
    general["last_month"] = "2027-01"
    apply_document(document)
    response = client.post(url, data={**fields, "action": "confirm"})
    assert response.status_code == 409
    assert stored() == []
    again = hidden_inputs(response.get_data(as_text=True))
    assert again["quoted"] == "8400,8400,16800"
    assert client.post(url, data={**again, "action": "confirm"}).status_code == 302
    [enrolment] = stored()
    assert enrolment.amount_due == 33_600


def test_a_public_budget_sponsor_is_told_why_no_relief_applies(
    app, make_event, make_staff, add_runner, monkeypatch
):
    """A PPSU street sweeper paid by APBD DKI in December 2026: the month is at the full
    rate although PP 50/2025 covers it, and the desk says why, before and after."""
    from datetime import UTC, datetime

    from funrun.enrolment import services as enrolment_services

    monkeypatch.setattr(
        enrolment_services, "utcnow", lambda: datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    )
    event = make_event(timezone="Asia/Jakarta")
    runner = add_runner(event)
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol?registration={runner.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    sponsored = {
        **FORM,
        "occupation": "street_sweeper",
        "payment_channel": "sponsor",
        "months": "1",
    }
    review = client.post(url, data={**sponsored, "sponsor": "apbd-dki", "csrf_token": token})
    html = review.get_data(as_text=True)
    assert review.status_code == 200, html
    assert 'id="public-budget"' in html and "APBN/APBD" in html
    fields = hidden_inputs(html)
    assert fields["quoted"] == "16800"  # full rate: no PP 50/2025 cut
    done = client.post(url, data={**fields, "action": "confirm"}, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert 'id="public-budget"' in page and "keringanan iuran tidak berlaku" in page
    [enrolment] = stored()
    assert (enrolment.amount_due, enrolment.sponsor_amount) == (0, 16_800)
    # A runner who pays themselves in the same month gets the relief and no such note.
    other = add_runner(event)
    url = f"/staff/events/{event.slug}/enrol?registration={other.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    own = client.post(url, data={**FORM, "occupation": "trader", "csrf_token": token})
    assert 'id="public-budget"' not in own.get_data(as_text=True)
    assert hidden_inputs(own.get_data(as_text=True))["quoted"] == "8400,16800,16800"
