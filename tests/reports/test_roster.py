"""Rosters: the page (search, pages, NIK masked but for admins) and the streamed files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from flask_babel import force_locale, gettext
from sqlalchemy import select

from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration
from funrun.reports import roster_queries as roster_module
from tests.reports.conftest import browser, login, read_xlsx


def _signed_in(app, make_staff, role):
    staff = make_staff(role, password="correct horse battery")
    client = browser(app)
    login(client, staff.email)
    return client


def _nik(registration: Registration) -> str:
    person = db.session.get_one(Person, registration.person_id)
    return data_cipher().decrypt(person.nik_encrypted)


def test_roster_page_shows_each_runner_with_status_member_checkin_and_enrolment(
    app, scenario, make_staff
):
    page = _signed_in(app, make_staff, "organiser").get("/staff/events/past/roster")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    html = page.get_data(as_text=True)
    regs = scenario.runners
    for reg in regs.values():
        assert reg.full_name in html
    # Confirmed runners in bib order, then the waitlist, then the cancelled one.
    assert html.index("TST 0001") < html.index("TST 0002") < html.index("TST 0003")
    enrolled = regs["enrolled"]
    number = db.session.scalar(select(Enrolment.participant_number))
    assert number in html
    assert "Pelari: 5" in html or "Runners: 5" in html
    # Organisers see a masked NIK only.
    nik = _nik(enrolled)
    assert nik not in html
    assert nik[:4] + "*" * 10 + nik[-2:] in html


def test_admins_see_the_full_nik(app, scenario, make_staff):
    html = (
        _signed_in(app, make_staff, "admin").get("/staff/events/past/roster").get_data(as_text=True)
    )
    for reg in scenario.runners.values():
        assert _nik(reg) in html


def test_search_by_name_part_or_bib(app, make_event, make_staff, add_runners):
    event = make_event(quota=100)
    ids = add_runners(event, 3)
    first = db.session.get_one(Registration, ids[0])
    first.full_name = "Made Wirawan"
    db.session.commit()
    client = _signed_in(app, make_staff, "organiser")
    url = f"/staff/events/{event.slug}/roster"
    html = client.get(url, query_string={"q": "wiraw"}).get_data(as_text=True)
    assert "Made Wirawan" in html and "TST 0002" not in html
    for typed in ("2", "TST 0002", "tst0002", " 0002 "):
        html = client.get(url, query_string={"q": typed}).get_data(as_text=True)
        assert "TST 0002" in html and "Made Wirawan" not in html, typed
    # LIKE wildcards are searched for literally.
    html = client.get(url, query_string={"q": "%"}).get_data(as_text=True)
    assert "TST 0001" not in html


def test_roster_pages(app, make_event, make_staff, add_runners, monkeypatch):
    monkeypatch.setattr(roster_module, "PER_PAGE", 2)
    event = make_event(quota=100)
    add_runners(event, 5)
    client = _signed_in(app, make_staff, "organiser")
    url = f"/staff/events/{event.slug}/roster"
    pages = [client.get(url, query_string={"page": n}).get_data(as_text=True) for n in (1, 2, 3)]
    assert "TST 0001" in pages[0] and "TST 0002" in pages[0] and "TST 0003" not in pages[0]
    assert "TST 0003" in pages[1] and "TST 0004" in pages[1]
    assert "TST 0005" in pages[2] and 'rel="next"' not in pages[2]
    assert 'rel="prev"' in pages[2]
    assert client.get(url, query_string={"page": 4}).status_code == 404


def test_roster_csv_and_xlsx_hold_every_runner_and_no_nik(app, scenario, make_staff):
    client = _signed_in(app, make_staff, "admin")
    response = client.get("/staff/events/past/roster.csv?lang=en")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Cache-Control"] == "private, no-store"
    assert 'filename="roster-past.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["status"] for r in rows] == [
        "confirmed",
        "confirmed",
        "confirmed",
        "waitlisted",
        "cancelled",
    ]
    regs = scenario.runners
    by_bib = {r["bib"]: r for r in rows}
    assert by_bib[f"TST {regs['enrolled'].bib_number:04d}"]["participant_number"]
    assert by_bib[f"TST {regs['plain'].bib_number:04d}"]["checked_in_at"] == ""  # undone
    checked = [r for r in rows if r["checked_in_at"]]
    assert len(checked) == 2
    assert sum(1 for r in rows if r["participant_number"]) == 1
    assert sum(1 for r in rows if r["member"] == "yes") == 1
    datetime.fromisoformat(checked[0]["checked_in_at"])
    xlsx = client.get("/staff/events/past/roster.xlsx?lang=en")
    assert xlsx.status_code == 200
    sheet, xml = read_xlsx(xlsx.data)
    assert len(sheet) == 6  # header and five runners
    assert [row[2] for row in sheet[1:4]] == ["TST 0001", "TST 0002", "TST 0003"]
    assert {row[0] for row in sheet[1:]} == {"past"} and sheet[1][1] == "Batam"
    # Dates are real dates (numbers with a date format), not text.
    assert isinstance(sheet[1][11], float)
    assert xml.find(".//{*}pane").get("state") == "frozen"
    for reg in regs.values():
        nik = _nik(reg)
        assert nik not in text
        assert nik.encode() not in xlsx.data
        assert nik[-6:] not in text


def test_a_formula_in_a_name_is_not_a_formula_in_the_files(
    app, make_event, make_staff, add_runners
):
    event = make_event()
    [rid] = add_runners(event, 1)
    db.session.get_one(Registration, rid).full_name = "=HYPERLINK(1)"
    db.session.commit()
    client = _signed_in(app, make_staff, "organiser")
    text = client.get(f"/staff/events/{event.slug}/roster.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in text
    sheet, xml = read_xlsx(client.get(f"/staff/events/{event.slug}/roster.xlsx").data)
    assert sheet[1][3] == "=HYPERLINK(1)"  # a string cell, never a formula
    assert xml.find(".//{*}f") is None


def test_the_tour_roster_holds_every_event(app, scenario, make_staff):
    client = _signed_in(app, make_staff, "organiser")
    text = client.get("/staff/roster.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["event"] for r in rows] == ["past"] * 5 + ["future"] * 2
    assert rows[5]["city"] == "Jakarta" and rows[5]["bib"] == "TST 0001"
    sheet, _xml = read_xlsx(client.get("/staff/roster.xlsx").data)
    assert len(sheet) == 8
    assert [row[2] for row in sheet[1:]] == [r["bib"] for r in rows]


def test_a_registrations_history(app, scenario, make_staff):
    client = _signed_in(app, make_staff, "organiser")
    regs = scenario.runners
    roster = client.get("/staff/events/past/roster").get_data(as_text=True)
    url = f"/staff/events/past/roster/{regs['enrolled'].id}"
    assert f'href="{url}"' in roster
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    html = response.get_data(as_text=True)
    number = db.session.scalar(select(Enrolment.participant_number))
    volunteer = scenario.volunteer.email.split("@")[0]
    assert number in html and volunteer in html
    # (The enrolment is dated on the 2015 finale by the on_finale_day fixture: not compared.)
    steps = [
        "mendaftar (situs web)",
        "terkonfirmasi dengan BIB TST 0003",
        "check-in di Pengambilan race pack",
    ]
    positions = [html.index(step) for step in steps]
    assert positions == sorted(positions), "oldest first"
    assert f"kepesertaan baru: nomor peserta {number}" in html
    nik = _nik(regs["enrolled"])
    assert nik not in html and nik[:4] + "*" * 10 + nik[-2:] in html
    # The undone check-in shows as undone, by the organiser who undid it.
    plain = client.get(f"/staff/events/past/roster/{regs['plain'].id}").get_data(as_text=True)
    assert "check-in di Pengambilan race pack dibatalkan" in plain
    assert scenario.organiser.email.split("@")[0] in plain
    waiting = client.get(f"/staff/events/past/roster/{regs['waiting'].id}").get_data(as_text=True)
    assert "daftar tunggu no. 1" in waiting
    # Another event's registration, or none, is a 404; volunteers get a 403.
    future_reg = db.session.scalar(
        select(Registration.id).where(Registration.event_id == scenario.future.id)
    )
    assert client.get(f"/staff/events/past/roster/{future_reg}").status_code == 404
    assert client.get("/staff/events/past/roster/99999999").status_code == 404
    assert client.get("/staff/events/past/roster/99999999999999").status_code == 404
    assert client.get("/staff/events/past/roster/abc").status_code == 404
    admin = _signed_in(app, make_staff, "admin").get(url).get_data(as_text=True)
    assert nik in admin
    volunteer_client = browser(app)
    staff = make_staff("volunteer", events=("past",), password="correct horse battery")
    login(volunteer_client, staff.email)
    assert volunteer_client.get(url).status_code == 403


def test_a_second_scan_shows_in_the_history(app, client, scenario, make_staff):
    from funrun.bibs.services import payload_for

    regs = scenario.runners
    reply = client.post(
        "/api/v1/events/past/checkins",
        json={"code": payload_for(regs["member"])},
        headers=scenario.volunteer.headers,
    )
    assert reply.get_json()["result"] == "already_checked_in"
    page = _signed_in(app, make_staff, "organiser").get(
        f"/staff/events/past/roster/{regs['member'].id}"
    )
    html = page.get_data(as_text=True)
    assert html.count("check-in di Pengambilan race pack") == 1
    assert "dipindai lagi di Pengambilan race pack (sudah check-in)" in html


def test_roster_files_hold_what_organisers_act_on_in_their_language_and_venue_time(
    app, make_event, make_staff, add_runners
):
    """Phone, email, emergency contact, shirt and member status; statuses in the file's
    language; times in the venue's zone (Makassar: UTC+8); phones as text cells."""
    event = make_event(slug="mks", city="Makassar", timezone="Asia/Makassar", quota=1)
    [first, second] = add_runners(event, 2, shirt_size="XL")
    reg = db.session.get_one(Registration, first)
    reg.email = "siti@example.com"
    reg.emergency_contact = "Budi Santoso"
    reg.emergency_phone = "+6281298765432"
    reg.created_at = datetime(2030, 1, 2, 23, 30, tzinfo=UTC)  # 07:30 on the 3rd in WITA
    db.session.commit()
    phone = reg.phone
    client = _signed_in(app, make_staff, "organiser")
    for lang, confirmed, waitlisted, yes_no in (
        ("en", "confirmed", "waitlisted", {"yes", "no"}),
        ("id", "terkonfirmasi", "daftar tunggu", {"ya", "tidak"}),
    ):
        text = client.get(f"/staff/events/mks/roster.csv?lang={lang}").get_data(as_text=True)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["status"] for r in rows] == [confirmed, waitlisted], lang
        assert {r["member"] for r in rows} <= yes_no, lang
        row = rows[0]
        assert (row["phone"], row["email"]) == (phone, "siti@example.com")
        assert (row["emergency_contact"], row["emergency_phone"]) == (
            "Budi Santoso",
            "+6281298765432",
        )
        assert row["shirt_size"] == "XL"
        assert row["registered_at"] == "2030-01-03 07:30"
        assert row["timezone"] == "Asia/Makassar"
        assert "confirmed" not in text.split("\r\n", 1)[1] or lang == "en"
        sheet, _xml = read_xlsx(client.get(f"/staff/events/mks/roster.xlsx?lang={lang}").data)
        header = sheet[0]
        assert sheet[1][header.index(str(_word(app, "Status", lang)))] == confirmed
        phone_cell = sheet[1][header.index(str(_word(app, "Phone", lang)))]
        assert phone_cell == phone  # text, with its plus
        contact = header.index(str(_word(app, "Emergency contact phone", lang)))
        assert sheet[1][contact] == "+6281298765432"
        registered = sheet[1][header.index(str(_word(app, "Registered at", lang)))]
        # 2030-01-03 07:30 as a spreadsheet serial date (days since 1899-12-30).
        assert abs(registered - ((date(2030, 1, 3) - date(1899, 12, 30)).days + 7.5 / 24)) < 1e-6
    page = client.get("/staff/events/mks/roster?lang=en").get_data(as_text=True)
    for shown in ("siti@example.com", "Budi Santoso", "+6281298765432", phone, "XL"):
        assert shown in page, shown
    assert second


def _word(app, message, lang):
    with app.test_request_context("/"), force_locale(lang):
        return gettext(message)
