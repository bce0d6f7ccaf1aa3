"""The runner's HTML pages, without JavaScript: register, confirm, manage, cancel.

Expected texts are looked up in the Indonesian catalogue (the default language), so the
tests follow the translations instead of hard-coding them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from funrun.events.models import DEFAULT_SHIRT_SIZES, Event
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import PrivacyNotice, Registration
from funrun.registration.services import (
    current_privacy_notice,
    find_by_token,
    new_submission_ref,
)
from funrun.registration.validation import national_format
from tests.conftest import csrf_from, person_payload

FORM_FIELDS = [
    "full_name",
    "nik",
    "birth_date",
    "gender",
    "phone",
    "email",
    "emergency_contact",
    "emergency_phone",
    "shirt_size",
    "member",
    "kpj_number",
    "occupation",
    "consent",
]


def t(app: Flask, message: str, locale: str = "id", **variables: Any) -> str:
    """``message`` as the page shows it in ``locale``, HTML-escaped."""
    with app.test_request_context("/"), force_locale(locale):
        return str(escape(gettext(message, **variables)))


def snapshot() -> tuple[Any, ...]:
    db.session.rollback()
    return (
        db.session.scalar(select(func.count(Registration.id))),
        db.session.scalar(select(func.count(Person.id))),
        tuple(
            db.session.execute(
                select(
                    Event.id, Event.confirmed_count, Event.waitlist_seq, Event.bib_next
                ).order_by(Event.id)
            ).all()
        ),
    )


def form_data(index: int = 1, **overrides: Any) -> dict[str, str]:
    """What a browser sends for a valid registration of person_payload(index)."""
    person = person_payload(index)
    data = {
        "full_name": person["full_name"],
        "nik": person["nik"],
        "birth_date": person["birth_date"],
        "gender": person["gender"],
        "phone": person["phone"],
        "email": "",
        "emergency_contact": "",
        "emergency_phone": "",
        "shirt_size": "M",
        "member": "n",
        "kpj_number": "",
        "occupation": "",
        "consent": "y",
    }
    data.update(overrides)
    return data


def form_url(event: Event) -> str:
    return f"/events/{event.slug}/register"


def open_form(client: FlaskClient, event: Event) -> tuple[str, str]:
    page = client.get(form_url(event))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html, csrf_from(html)


def submit(client: FlaskClient, event: Event, index: int = 1, **overrides: Any) -> Any:
    _html, token = open_form(client, event)
    return client.post(form_url(event), data={**form_data(index, **overrides), "csrf_token": token})


def registered(client: FlaskClient, event: Event, index: int = 1, **overrides: Any) -> str:
    """Register through the form; the manage token."""
    response = submit(client, event, index, **overrides)
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/r/([A-Za-z0-9_\-]+)\?new=1", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def errors_of(html: str, field: str) -> list[str]:
    """The messages in the error list shown for ``field``."""
    match = re.search(rf'<ul class="errors" id="{field}-error">(.*?)</ul>', html, re.S)
    if not match:
        return []
    return [m.strip() for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else None


def checked_value(html: str, name: str) -> str | None:
    for tag in re.findall(rf'<input[^>]*\bname="{name}"[^>]*>', html):
        if re.search(r"\bchecked\b", tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            return value.group(1) if value else None
    return None


def row(token_or_id: str | int) -> Registration:
    db.session.rollback()
    if isinstance(token_or_id, int):
        found = db.session.get(Registration, token_or_id)
    else:
        found = find_by_token(token_or_id)
    assert found is not None
    return found


# --- the form --------------------------------------------------------------------------


def test_form_has_every_field_and_the_privacy_notice(app, client, make_event):
    event = make_event()
    html, _token = open_form(client, event)
    assert '<html lang="id">' in html
    for name in FORM_FIELDS:
        assert re.search(rf'<input[^>]*\bname="{name}"', html), name
    radios = {
        name: re.findall(rf'<input[^>]*name="{name}"[^>]*type="radio"[^>]*value="([^"]*)"', html)
        for name in ("gender", "member", "shirt_size")
    }
    assert radios["gender"] == ["M", "F"]
    assert radios["member"] == ["y", "n"]
    assert radios["shirt_size"] == DEFAULT_SHIRT_SIZES
    assert re.search(r'<input[^>]*id="consent"[^>]*name="consent"[^>]*type="checkbox"', html)
    for label in (
        "Full name as on your ID card (KTP)",
        "NIK (16 digits)",
        "Birth date",
        "Mobile number",
        "Shirt size",
        "Emergency contact (name)",
        "Emergency contact phone",
    ):
        assert t(app, label) in html, label
    notice = current_privacy_notice("id")
    for paragraph in notice.body.split("\n\n"):
        assert f"<p>{escape(paragraph)}</p>" in html
    assert escape(notice.consent_label) in html
    assert t(app, "Register") in html


def test_form_in_english_on_request(app, client, make_event):
    event = make_event()
    html = client.get(form_url(event) + "?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Full name as on your ID card (KTP)" in html
    assert escape(current_privacy_notice("en").consent_label) in html


def test_post_without_csrf_token_is_400_and_writes_nothing(app, client, make_event):
    event = make_event()
    open_form(client, event)  # a session exists, but the token is not sent
    before = snapshot()
    response = client.post(form_url(event), data=form_data(1))
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert (
        t(
            app,
            "This form has expired or was not sent from our site. "
            "Please go back, reload the page and try again.",
        )
        in html
    )
    forged = client.post(form_url(event), data={**form_data(1), "csrf_token": "forged"})
    assert forged.status_code == 400
    assert snapshot() == before


def test_valid_post_redirects_to_the_manage_page_with_the_bib(app, client, make_event):
    event = make_event(quota=3)
    token = registered(client, event, 1)
    page = client.get(f"/r/{token}?new=1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<p class="bib">TST 0001</p>' in html
    assert t(app, "You are registered!") in html
    assert f"/r/{token}" in html  # the private link is shown to keep
    registration = row(token)
    assert registration.status == "confirmed"
    assert registration.source == "web"
    assert registration.phone == "+62" + person_payload(1)["phone"][1:]


def test_consent_is_recorded_with_what_was_shown(app, client, make_event):
    event = make_event()
    html, token = open_form(client, event)
    response = client.post(form_url(event), data={**form_data(1), "csrf_token": token})
    assert response.status_code == 302
    registration = row(response.headers["Location"].split("/")[2].split("?")[0])
    notice = registration.privacy_notice
    assert notice.locale == "id"
    assert registration.locale == "id"
    assert registration.consent_at is not None
    assert registration.consent_at == registration.created_at
    # The stored notice is exactly the one on the page, label included.
    for paragraph in notice.body.split("\n\n"):
        assert f"<p>{escape(paragraph)}</p>" in html
    assert escape(notice.consent_label) in html
    assert notice.body == current_privacy_notice("id").body


def test_english_consent_records_the_english_notice(client, make_event):
    event = make_event()
    assert client.get("/lang/en?next=/").status_code == 302
    html, token = open_form(client, event)
    assert '<html lang="en">' in html
    response = client.post(form_url(event), data={**form_data(1), "csrf_token": token})
    assert response.status_code == 302
    registration = row(response.headers["Location"].split("/")[2].split("?")[0])
    assert registration.privacy_notice.locale == "en"
    assert registration.locale == "en"
    assert escape(registration.privacy_notice.consent_label) in html
    assert db.session.scalar(select(func.count(PrivacyNotice.id))) >= 1


def test_invalid_data_shows_messages_by_the_fields_and_keeps_values(app, client, make_event):
    event = make_event()
    before = snapshot()
    response = submit(client, event, 1, nik="123", phone="12345", email="budi@", consent="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert errors_of(html, "nik") == [t(app, "NIK must be exactly 16 digits.")]
    assert errors_of(html, "phone") == [
        t(app, "Enter an Indonesian mobile number, e.g. 0812 3456 7890.")
    ]
    assert errors_of(html, "email") == [t(app, "Enter a valid email address.")]
    assert errors_of(html, "consent") == [
        t(app, "You must agree to the privacy notice to register.")
    ]
    assert t(app, "Some fields need correcting:") in html  # the summary at the top
    # Indonesian by default: where the catalogue translates a message, the English is absent.
    for english in ("NIK must be exactly 16 digits.", "Enter a valid email address."):
        if t(app, english) != english:
            assert english not in html
    assert t(app, "Enter a valid email address.") != t(app, "Enter a valid email address.", "en")
    for valid in ("full_name", "birth_date", "gender", "shirt_size"):
        assert errors_of(html, valid) == [], valid
    # What was typed stays in the form.
    assert input_value(html, "full_name") == "Siti Rahmawati"
    assert input_value(html, "nik") == "123"
    assert input_value(html, "phone") == "12345"
    assert input_value(html, "email") == "budi@"
    assert checked_value(html, "gender") == "F"
    assert checked_value(html, "shirt_size") == "M"
    assert checked_value(html, "member") == "n"
    assert re.search(r'aria-invalid="true"[^>]*id="nik"|id="nik"[^>]*aria-invalid="true"', html)
    assert csrf_from(html)  # can be sent again as it is
    assert snapshot() == before


def test_empty_form_reports_required_fields(app, client, make_event):
    event = make_event()
    before = snapshot()
    _html, token = open_form(client, event)
    response = client.post(form_url(event), data={"csrf_token": token})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    required = t(app, "This field is required.")
    for name in ("full_name", "nik", "birth_date", "gender", "phone", "shirt_size", "member"):
        assert required in errors_of(html, name), name
    assert snapshot() == before


def test_duplicate_nik_on_the_form_is_409(app, client, make_event):
    event = make_event()
    registered(client, event, 1)
    before = snapshot()
    response = submit(client, event, 1)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert (
        t(
            app,
            "This NIK is already registered for this event. Use your manage link to see it. "
            "If you did not register it, bring your KTP to the race-pack desk.",
        )
        in html
    )
    assert input_value(html, "nik") == person_payload(1)["nik"]
    assert snapshot() == before


def _sent_twice(client: FlaskClient, event: Event, body: dict[str, str]) -> tuple[Any, Any]:
    return client.post(form_url(event), data=body), client.post(form_url(event), data=body)


def _token_of(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/r/([A-Za-z0-9_\-]+)\?new=1", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def test_the_same_form_sent_again_opens_its_registration(app, client, make_event):
    """The answer to "Register" was lost on the way (or the button was tapped twice): the
    same form, sent again, opens the registration it made instead of a 409."""
    event = make_event()
    html, token = open_form(client, event)
    ref = input_value(html, "submission")
    assert ref and re.fullmatch(r"[A-Za-z0-9_\-]{22}", ref)
    assert input_value(open_form(client, event)[0], "submission") != ref  # one per form
    body = {**form_data(1), "csrf_token": token, "submission": ref}
    first = client.post(form_url(event), data=body)
    manage = _token_of(first)
    before = snapshot()
    again = client.post(form_url(event), data=body)
    assert _token_of(again) == manage
    assert snapshot() == before
    assert row(manage).bib_number == 1
    # Edited and sent again (another shirt size): still that registration, unchanged.
    edited = client.post(form_url(event), data={**body, "shirt_size": "XL"})
    assert _token_of(edited) == manage and row(manage).shirt_size == "M"
    assert snapshot() == before


def test_the_same_form_never_opens_another_persons_registration(app, client, make_event):
    """Back from the confirmation, the same form filled in for a friend registers the
    friend apart; sent again, the friend's is a 409, never the first runner's page. Nor
    does a guessed form id open a registration."""
    event = make_event()
    html, token = open_form(client, event)
    ref = input_value(html, "submission")
    runner = _token_of(
        client.post(form_url(event), data={**form_data(1), "csrf_token": token, "submission": ref})
    )
    friend_body = {**form_data(2), "csrf_token": token, "submission": ref}
    friend = _token_of(client.post(form_url(event), data=friend_body))
    assert friend != runner
    assert row(friend).person_id != row(runner).person_id
    before = snapshot()
    again = client.post(form_url(event), data=friend_body)
    assert again.status_code == 409
    assert runner not in again.get_data(as_text=True)
    # Runner 1's NIK in a form with another id: "already registered", no link.
    for other in ("A" * 22, new_submission_ref()):
        body = {**form_data(1), "csrf_token": token, "submission": other}
        response = client.post(form_url(event), data=body)
        assert response.status_code == 409 and runner not in response.get_data(as_text=True)
    assert snapshot() == before


@pytest.mark.parametrize(
    "mangled",
    ["", "short", "x" * 65, "<script>alert(1)</script>", "ada spasi di id ini juga", "é" * 30],
)
def test_a_mangled_form_id_still_registers_once(app, client, make_event, mangled):
    event = make_event()
    _html, token = open_form(client, event)
    body = {**form_data(1), "csrf_token": token, "submission": mangled}
    first, again = _sent_twice(client, event, body)
    _token_of(first)
    assert again.status_code == 409  # no id to recognise it by: as before
    # A page shown again (here with a field to correct) carries a fresh, valid id.
    page = client.post(form_url(event), data={**body, "nik": "123"})
    assert page.status_code == 422
    assert re.fullmatch(
        r"[A-Za-z0-9_\-]{22}", input_value(page.get_data(as_text=True), "submission") or ""
    )


def test_huge_form_is_413_page(app, client, make_event):
    event = make_event()
    _html, token = open_form(client, event)
    before = snapshot()
    data = {**form_data(1, occupation="x" * (70 * 1024)), "csrf_token": token}
    response = client.post(form_url(event), data=data)
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert t(app, "What you sent is too large.") in response.get_data(as_text=True)
    assert snapshot() == before


# --- manage, change, cancel ------------------------------------------------------------


def test_manage_page_masks_the_nik(client, make_event):
    event = make_event()
    token = registered(client, event, 1)
    nik = person_payload(1)["nik"]
    for url in (f"/r/{token}", f"/r/{token}?new=1", f"/r/{token}/cancel"):
        html = client.get(url).get_data(as_text=True)
        assert nik not in html, url
        assert nik[6:12] not in html, url  # not even the birth-date part
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert f"{nik[:4]}{'*' * 10}{nik[-2:]}" in html


def test_runner_changes_phone_and_shirt_size(app, client, make_event):
    event = make_event()
    token = registered(client, event, 1)
    html = client.get(f"/r/{token}").get_data(as_text=True)
    # Shown as Indonesians write it, stored in E.164.
    assert input_value(html, "phone") == national_format("+62" + person_payload(1)["phone"][1:])
    assert input_value(html, "phone").startswith("0812")
    data = {
        "csrf_token": csrf_from(html),
        "phone": "0812-9999-8888",
        "email": "siti@example.com",
        "shirt_size": "XL",
        "occupation": "Pedagang pasar",
        "emergency_contact": "Ibu Sri",
        "emergency_phone": "0813 1111 2222",
    }
    response = client.post(f"/r/{token}", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/r/{token}"
    registration = row(token)
    assert registration.phone == "+6281299998888"
    assert registration.shirt_size == "XL"
    assert registration.email == "siti@example.com"
    assert registration.emergency_phone == "+6281311112222"
    assert registration.bib_number == 1  # nothing else changed
    after = client.get(f"/r/{token}").get_data(as_text=True)
    assert t(app, "Your changes are saved.") in after
    assert checked_value(after, "shirt_size") == "XL"


def test_bad_phone_on_the_manage_page_is_422(app, client, make_event):
    event = make_event()
    token = registered(client, event, 1)
    original = row(token).phone
    html = client.get(f"/r/{token}").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "phone": "021 555 0100", "shirt_size": "XXXXL"}
    response = client.post(f"/r/{token}", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert errors_of(page, "phone") == [
        t(app, "Enter an Indonesian mobile number, e.g. 0812 3456 7890.")
    ]
    assert errors_of(page, "shirt_size") == [t(app, "Choose one of the listed shirt sizes.")]
    assert input_value(page, "phone") == "021 555 0100"
    registration = row(token)
    assert (registration.phone, registration.shirt_size) == (original, "M")


def test_manage_change_needs_the_csrf_token(client, make_event):
    event = make_event()
    token = registered(client, event, 1)
    original = row(token).phone
    response = client.post(f"/r/{token}", data={"phone": "081299998888", "shirt_size": "S"})
    assert response.status_code == 400
    registration = row(token)
    assert (registration.phone, registration.shirt_size) == (original, "M")


def test_cancel_asks_first_then_promotes_the_waitlist_head(app, client, make_event):
    event = make_event(quota=1)
    token = registered(client, event, 1)
    head = registered(client, event, 2)
    behind = registered(client, event, 3)
    assert (row(head).status, row(behind).status) == ("waitlisted", "waitlisted")
    # GET only asks.
    ask = client.get(f"/r/{token}/cancel")
    assert ask.status_code == 200
    html = ask.get_data(as_text=True)
    assert t(app, "Cancel your registration?") in html
    assert t(app, "Yes, cancel it") in html
    assert row(token).status == "confirmed"
    # Without the token nothing happens.
    assert client.post(f"/r/{token}/cancel").status_code == 400
    assert row(token).status == "confirmed"
    # POST cancels; the head of the waitlist gets the place and the next bib.
    response = client.post(f"/r/{token}/cancel", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/r/{token}"
    cancelled = row(token)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    promoted = row(head)
    assert (promoted.status, promoted.bib_number) == ("confirmed", 2)
    assert row(behind).status == "waitlisted"
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert t(app, "Your registration is cancelled.") in page
    assert t(app, "Correct your details") not in page  # no form on a cancelled registration
    head_page = client.get(f"/r/{head}").get_data(as_text=True)
    assert '<p class="bib">TST 0002</p>' in head_page
    behind_page = client.get(f"/r/{behind}").get_data(as_text=True)
    assert '<p class="bib">1</p>' in behind_page  # now first in line
    # Asking again says it is already cancelled; posting changes nothing.
    again = client.get(f"/r/{token}/cancel").get_data(as_text=True)
    assert t(app, "This registration was already cancelled.") in again
    before = snapshot()
    replay = client.post(f"/r/{token}/cancel", data={"csrf_token": csrf_from(html)})
    assert replay.status_code == 302
    assert snapshot() == before


@pytest.mark.parametrize(
    "url",
    [
        "/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/r/nope",
        "/r/" + "x" * 3000,
        "/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/cancel",
        "/events/no-such-city",
        "/events/no-such-city/register",
        "/events/no-such-city/privacy",
        "/no/such/page",
    ],
)
def test_unknown_pages_are_a_404_page(app, client, make_event, url):
    make_event()
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert t(app, "We could not find that page.") in html
    assert "Traceback" not in html and "Werkzeug" not in html


def test_post_to_an_unknown_manage_link_is_404(client, make_event):
    event = make_event()
    token = registered(client, event, 1)
    html = client.get(f"/r/{token}").get_data(as_text=True)
    before = snapshot()
    data = {"csrf_token": csrf_from(html), "phone": "081299998888", "shirt_size": "S"}
    assert client.post("/r/" + "B" * 32, data=data).status_code == 404
    assert client.post("/r/" + "B" * 32 + "/cancel", data=data).status_code == 404
    assert snapshot() == before


def test_full_event_speaks_of_the_waitlist(app, client, make_event):
    event = make_event(quota=1)
    registered(client, event, 1)
    html, _token = open_form(client, event)
    assert t(app, "Join the waitlist") in html
    assert t(app, "Full: new registrations join the waitlist (%(n)s waiting)", n="0") in html
    assert t(app, "Join the waitlist") in client.get(f"/events/{event.slug}").get_data(as_text=True)
    token = registered(client, event, 2)
    page = client.get(f"/r/{token}?new=1").get_data(as_text=True)
    assert t(app, "You are on the waitlist") in page
    assert t(app, "Waitlist position") in page
    assert '<p class="bib">1</p>' in page
    assert row(token).bib_number is None


def test_closed_event_shows_no_form_and_refuses_posts(app, client, make_event):
    event = make_event(registration_open=False)
    other = make_event()
    html = client.get(form_url(event)).get_data(as_text=True)
    assert t(app, "Registration for this event is closed.") in html
    assert '<form method="post"' not in html
    assert 'name="nik"' not in html
    assert '<button type="submit"' not in html
    # A valid CSRF token from another page still does not let anyone in.
    _other_html, token = open_form(client, other)
    before = snapshot()
    response = client.post(form_url(event), data={**form_data(1), "csrf_token": token})
    assert response.status_code == 409
    assert t(app, "Registration for this event is closed.") in response.get_data(as_text=True)
    assert snapshot() == before


# --- headers and hosts -----------------------------------------------------------------


def _csp(response: Any) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_security_headers(client, make_event):
    event = make_event()
    token = registered(client, event, 1)
    pages = {
        "/": "same-origin",
        f"/events/{event.slug}": "same-origin",
        form_url(event): "same-origin",
        "/privacy": "same-origin",
        f"/r/{token}": "no-referrer",
        f"/r/{token}?new=1": "no-referrer",
        f"/r/{token}/cancel": "no-referrer",
        "/r/" + "A" * 32: "no-referrer",
        "/r/recover": "no-referrer",
    }
    for url, referrer in pages.items():
        response = client.get(url)
        csp = _csp(response)
        scripts = csp.get("script-src", csp.get("default-src"))
        assert scripts is not None, url
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, url
        assert "*" not in scripts, url
        assert csp["default-src"] == ["'self'"], url
        assert csp.get("frame-ancestors") == ["'none'"], url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Referrer-Policy"] == referrer, url
    # The manage page's form posts keep the token out of any Referer, too.
    html = client.get(f"/r/{token}").get_data(as_text=True)
    response = client.post(f"/r/{token}", data={"csrf_token": csrf_from(html), "phone": "x"})
    assert response.status_code == 422
    assert response.headers["Referrer-Policy"] == "no-referrer"


#: Links a runner may follow off the site (nothing is loaded from there): WhatsApp's
#: "message yourself" link and the saved-link text file on the confirmation page.
LINKS_OFF_SITE = (
    re.compile(r"https://wa\.me/[0-9]+\?text=[^\s]*"),
    re.compile(r"data:text/plain;"),
)


def _references(html: str) -> list[str]:
    """What the page loads or sends to, and where its links go, less the allowed links."""
    found = re.findall(r'\b(?:src|href|action|srcset|poster|data)\s*=\s*["\']([^"\']*)["\']', html)
    anchors = set(re.findall(r'<a\b[^>]*\bhref\s*=\s*["\']([^"\']*)["\']', html))
    return [
        ref
        for ref in found
        if not (ref in anchors and any(rule.match(ref) for rule in LINKS_OFF_SITE))
    ]


def test_pages_load_nothing_from_other_hosts_and_nothing_inline(client, make_event):
    event = make_event(quota=1)
    token = registered(client, event, 1)
    urls = [
        "/",
        f"/events/{event.slug}",
        form_url(event),
        f"/r/{token}",
        f"/r/{token}?new=1",
        f"/r/{token}/cancel",
        "/privacy",
        "/r/" + "A" * 32,
        "/r/recover",
        "/login",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        html = response.get_data(as_text=True)
        references = _references(html)
        assert references, url
        for reference in references:
            parts = urlsplit(reference)
            assert parts.netloc in ("", "localhost"), (url, reference)
            assert parts.scheme in ("", "http"), (url, reference)
            assert not reference.startswith("//"), (url, reference)
        # The CSP forbids inline scripts, handlers and styles: the pages use none.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+\s*=", html), url
        assert not re.search(r"\sstyle\s*=", html), url
        assert "<style" not in html, url
    css = client.get("/static/css/app.css")
    assert css.status_code == 200
    text = css.get_data(as_text=True)
    css.close()
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text


# --- the form helps (issue 19, point 9) ---------------------------------------------------


def _summary(html: str) -> str:
    match = re.search(r'<div class="error-summary"[^>]*>.*?</div>', html, re.S)
    assert match, "no error summary"
    return match.group(0)


def test_an_error_summary_links_each_field_in_error_and_takes_the_focus(app, client, make_event):
    event = make_event()
    assert 'class="error-summary"' not in open_form(client, event)[0]
    response = submit(client, event, 1, nik="123", phone="12345", gender="", consent="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    summary = _summary(html)
    opening = summary.split(">", 1)[0]
    assert 'tabindex="-1"' in opening and re.search(r"\sautofocus\b", opening)
    assert html.index('class="error-summary"') < html.index("<form")
    links = re.findall(r'<a href="#([^"]+)">', summary)
    assert links == ["nik", "gender-0", "phone", "consent"]
    for anchor in links:  # each link lands on a field of the form
        assert re.search(rf'<input[^>]*\bid="{anchor}"', html), anchor
    assert t(app, "NIK must be exactly 16 digits.") in summary
    assert t(app, "Some fields need correcting:") in summary
    # The summary replaces the general notice; the privacy notice stays folded.
    assert t(app, "Some fields need correcting. See the messages below.") not in html
    assert re.search(r'<details class="notice">', html)
    assert not re.search(r"<details[^>]*\bopen\b", html)


def test_the_birth_date_hint_matches_the_date_control(app, client, make_event):
    html, _token = open_form(client, event := make_event())
    control = re.search(r'<input[^>]*\bid="birth_date"[^>]*>', html).group(0)
    assert 'type="date"' in control
    hint = re.search(r'<p class="hint" id="birth_date-hint">(.*?)</p>', html).group(1)
    assert hint == t(app, "Pick the date, as on your KTP.")
    for english in (True, False):
        page = client.get(form_url(event) + ("?lang=en" if english else "")).get_data(as_text=True)
        shown = re.search(r'id="birth_date-hint">(.*?)</p>', page).group(1)
        assert not re.search(r"DD|MM|YYYY|/|day|month|year|hari|bulan|tahun", shown), shown
        assert "1990-08-17" not in shown


def test_the_cancel_page_offers_to_keep_the_place(app, client, make_event):
    event = make_event()
    token = registered(client, event, 1)
    html = client.get(f"/r/{token}/cancel").get_data(as_text=True)
    keep = re.search(r'<a href="([^"]+)" class="button" id="keep-place">(.*?)</a>', html)
    assert keep and keep.group(1) == f"/r/{token}"
    assert keep.group(2) == t(app, "No, keep my place")
    assert html.index('id="keep-place"') < html.index(t(app, "Yes, cancel it"))
    assert row(token).status == "confirmed"


def test_one_spelling_of_e_tiket():
    """Indonesian says e-tiket, every time; the English catalogue says e-ticket."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    with open("translations/id/LC_MESSAGES/messages.po", "rb") as po:
        text = " ".join(str(m.string) for m in read_po(po, locale="id") if m.id)
    assert "e-tiket" in text
    assert not re.search(r"e-?ticket|eticket|e-tiket", text.replace("e-tiket", "ok"), re.I)
    templates = " ".join(p.read_text() for p in Path("templates").rglob("*.html"))
    assert not re.search(r"e-tiket|eticket|E-Tiket", templates)  # through the catalogue only
