"""Codes are shown in words, in the page's language: audit actions and details, roles,
stations, scan results, statuses; a code without words shows as itself."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from funrun.audit.services import record
from funrun.extensions import db
from funrun.i18n_words import audit_detail, role_name, scan_result_name, station_name
from tests.checkin.conftest import PASSWORD, browser, login


def _scan(client, event, staff, code: str) -> None:
    response = client.post(
        f"/api/v1/events/{event.slug}/checkins",
        json={"code": code, "method": "typed", "id_checked": True},
        headers=staff.headers,
    )
    assert response.status_code in (200, 201, 404, 422), response.json


@pytest.fixture
def logged(app, client, make_event, make_staff, add_runners):
    """An admin's browser; a volunteer's scans (checked in, again, unknown); audit rows."""
    admin = make_staff("admin", password=PASSWORD)
    page = browser(app)
    assert login(page, admin.email).status_code == 302
    event = make_event(quota=5)
    add_runners(event, 1)
    volunteer = make_staff("volunteer", events=(event.slug,))
    for code in ("1", "1", "99"):
        _scan(client, event, volunteer, code)
    rows = [
        ("account_create", "organiser"),
        ("event_edit", "quota 500 reminder 3"),
        ("assign", "finish"),
        ("login_locked", "15 min"),
        ("sessions_end", "2"),
        ("export_batch", "3"),
        ("enrolment", "desk"),
        ("privacy_lookup", "not found"),
        ("message_retry", "3 failed messages"),
        ("link_recovered", "by phone"),
    ]
    for action, detail in rows:
        record(action, user_id=admin.id, target="t@example.org", event_id=event.id, detail=detail)
    db.session.commit()
    page.admin = admin
    return page


WORDS = {
    "id": [
        "Sudah check-in · Pengambilan race pack",
        "Berhasil check-in · Pengambilan race pack",
        "BIB tidak dikenal · Pengambilan race pack",
        "kuota 500 · pengingat 3 hari sebelumnya",
        "Garis finis",
        "dikunci 15 menit",
        "2 sesi diakhiri",
        "3 kepesertaan",
        "meja pendaftaran peserta",
        "tidak ditemukan",
        "3 pesan gagal",
        "lewat telepon",
    ],
    "en": [
        "Already checked in · Race-pack pickup",
        "Checked in · Race-pack pickup",
        "Unknown bib · Race-pack pickup",
        "quota 500 · reminder 3 days before",
        "Finish line",
        "locked for 15 minutes",
        "2 sessions ended",
        "3 enrolments",
        "enrolment desk",
        "not found",
        "3 failed messages",
        "by phone",
    ],
}
RAW = [
    "already_checked_in",
    "checked_in",
    "unknown ·",
    "· pickup",
    ">finish<",
    ">organiser<",
    "quota 500 reminder 3",
    "15 min<",
    ">desk<",
]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_audit_page_says_codes_in_words(logged, lang):
    html = logged.get(f"/staff/audit?lang={lang}").get_data(as_text=True)
    for words in WORDS[lang]:
        assert words in html, words
    for raw in RAW:
        assert raw not in html, raw
    assert ("Penyelenggara" if lang == "id" else "Organiser") in html  # the role created


@pytest.mark.parametrize(
    ("lang", "said"), [("id", "Peran: Penyelenggara"), ("en", "Role: Organiser")]
)
def test_the_staff_home_names_the_role(app, make_staff, lang, said):
    organiser = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    login(page, organiser.email)
    html = page.get(f"/staff?lang={lang}").get_data(as_text=True)
    assert said in html
    assert ": organiser<" not in html


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_people_page_names_roles(logged, lang):
    html = logged.get(f"/staff/people?lang={lang}").get_data(as_text=True)
    assert ("Relawan" if lang == "id" else "Volunteer") in html
    assert ">volunteer<" not in html and ">admin<" not in html


def test_every_kind_falls_back_to_the_code(app):
    with app.test_request_context("/"), force_locale("en"):
        assert scan_result_name("wrong_event") == "Bib of another event"
        assert scan_result_name("zz_new") == "zz_new"
        assert station_name("start") == "Start line"
        assert station_name("moon") == "moon"
        assert role_name("volunteer") == "Volunteer"
        assert role_name("ghost") == "ghost"
        assert audit_detail("scan", "invalid · finish · ") == "Invalid code · Finish line"
        assert audit_detail("scan", "odd detail") == "odd detail"
        assert audit_detail("event_edit", "quota 10 reminder none") == "quota 10 · no reminder"
        assert audit_detail("unknown_action", "x · y") == "x · y"
        assert audit_detail("privacy_delete", "cancelled=1 promoted=0 events=0") == (
            "cancelled: 1, promoted from the waitlist: 0, events: 0"
        )
    with app.test_request_context("/"), force_locale("id"):
        assert scan_result_name("wrong_event") == "BIB acara lain"
        assert audit_detail("undo", "pickup · scan-5EVF") == (
            "Pengambilan race pack · perangkat scan-5EVF"
        )
