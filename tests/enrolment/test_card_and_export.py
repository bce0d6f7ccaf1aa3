"""The membership card read back like the bibs, and export batches for the core system."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from funrun.bibs.services import payload_for
from funrun.enrolment.card import card_payload, verify_card_payload
from funrun.enrolment.export import COLUMNS, create_batch
from funrun.enrolment.models import Enrolment, ExportAccess, ExportBatch
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from tests.bibs.test_pdf import read_back
from tests.conftest import csrf_from
from tests.enrolment.conftest import (
    PASSWORD,
    assert_problem,
    desk_browser,
    enrol_body,
    login,
    walkup_body,
)

API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]


def enrol(client, event, staff, runner=None, **overrides):
    body = enrol_body(code=payload_for(runner), **overrides) if runner else walkup_body(**overrides)
    response = client.post(
        f"{API}/events/{event.slug}/enrolments", json=body, headers=staff.headers
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["enrolment"]


def test_card_pdf_reads_back_with_number_name_programmes_date_and_a_signed_qr(
    client, make_event, make_staff, add_runner, on_finale_day, tmp_path
):
    event = make_event()
    runner = add_runner(event, full_name="Siti Rahmawati Nurul Hidayah")
    staff = make_staff("organiser")
    number = enrol(client, event, staff, runner, programs=["JKK", "JKM", "JHT"])[
        "participant_number"
    ]
    pdf = client.get(f"{API}/enrolments/{number}/card.pdf", headers=staff.headers)
    assert pdf.status_code == 200
    [page] = read_back(pdf.data, tmp_path, "card")
    assert round(page.width_pt / 72 * 25.4, 1) == 85.6 and round(page.height_pt / 72 * 25.4) == 54
    text = " ".join(page.text.split())
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    assert spaced in text
    assert "SITI RAHMAWATI NURUL" in text and "HIDAYAH" in text
    assert "JKK - JKM - JHT" in text
    assert "13 Desember 2015" in text  # valid from
    assert page.qr_texts == [card_payload(number)]
    assert verify_card_payload(page.qr_texts[0]) == number
    # A changed character or another number does not verify; a bib is not a card.
    forged = (
        page.qr_texts[0][:-5]
        + ("A" if page.qr_texts[0][-5] != "A" else "B")
        + page.qr_texts[0][-4:]
    )
    assert verify_card_payload(forged) is None
    assert verify_card_payload(page.qr_texts[0].replace(number, "0" * 11)) is None
    assert verify_card_payload(payload_for(runner)) is None
    # Staff of another city cannot fetch it; unknown numbers are 404.
    other = make_staff("volunteer", events=(make_event().slug,))
    assert_problem(client.get(f"{API}/enrolments/{number}/card.pdf", headers=other.headers), 403)
    assert_problem(client.get(f"{API}/enrolments/99999999999/card.pdf", headers=staff.headers), 404)


def test_participant_numbers_are_sequential_with_a_check_digit_and_never_reused(
    client, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    staff = make_staff("organiser")
    first = enrol(client, event, staff, add_runner(event))["participant_number"]
    # A refused enrolment takes no number.
    refused = client.post(
        f"{API}/events/{event.slug}/enrolments",
        json=enrol_body(code=payload_for(add_runner(event)), months=7),
        headers=staff.headers,
    )
    assert refused.status_code == 422
    second = enrol(client, event, staff, add_runner(event))["participant_number"]
    assert int(second[:10]) == int(first[:10]) + 1
    for number in (first, second):
        digits = [int(d) for d in number]
        total = sum(
            d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d)
            for i, d in enumerate(reversed(digits))
        )
        assert total % 10 == 0  # Luhn
    # Deleting an enrolment (e.g. a retention purge) frees no number.
    db.session.rollback()
    db.session.execute(db.delete(Enrolment).where(Enrolment.participant_number == second))
    db.session.commit()
    third = enrol(client, event, staff, add_runner(event))["participant_number"]
    assert int(third[:10]) == int(second[:10]) + 1


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_export_batches_are_numbered_complete_and_downloadable_again(
    app, client, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    volunteer = make_staff("volunteer", events=(event.slug,))
    runners = [add_runner(event) for _ in range(3)]
    numbers = [enrol(client, event, volunteer, r)["participant_number"] for r in runners[:2]]
    numbers.append(
        enrol(client, event, volunteer, sponsor="apbd-dki", payment_channel=None)[
            "participant_number"
        ]
    )

    organiser = make_staff("organiser", password=PASSWORD)
    browser = desk_browser(app)
    login(browser, organiser.email)
    page = browser.get("/staff/enrolment/exports").get_data(as_text=True)
    assert "3" in page
    made = browser.post("/staff/enrolment/exports", data={"csrf_token": csrf_from(page)})
    assert made.status_code == 302
    first_csv = browser.get("/staff/enrolment/exports/1.csv")
    assert first_csv.status_code == 200 and first_csv.mimetype == "text/csv"
    assert first_csv.headers["Cache-Control"] == "private, no-store"
    rows = _csv(first_csv.data)
    assert list(rows[0]) == list(COLUMNS)
    assert [r["participant_number"] for r in rows] == numbers
    assert {r["batch_number"] for r in rows} == {"1"}
    # The NIK travels in full here (the core system needs it), and only here.
    db.session.rollback()
    niks = [
        data_cipher().decrypt(e.person.nik_encrypted)
        for e in db.session.scalars(select(Enrolment).order_by(Enrolment.id))
    ]
    assert [r["nik"] for r in rows] == niks
    assert rows[2]["sponsor"] == "apbd-dki" and rows[2]["amount_due"] == "0"
    assert rows[2]["sponsor_amount"] == "16800"
    as_json = json.loads(browser.get("/staff/enrolment/exports/1.json").data)
    assert as_json["batch_number"] == 1 and as_json["count"] == 3
    assert [e["participant_number"] for e in as_json["enrolments"]] == numbers
    assert as_json["columns"] == list(COLUMNS)

    # Nothing new: no empty batch, and the number is not used up.
    page = browser.get("/staff/enrolment/exports").get_data(as_text=True)
    browser.post("/staff/enrolment/exports", data={"csrf_token": csrf_from(page)})
    assert db.session.scalar(select(func.count(ExportBatch.id))) == 1
    # A new enrolment goes into batch 2, alone; batch 1 downloads exactly as before.
    late = enrol(client, event, volunteer, runners[2])["participant_number"]
    batch = create_batch(user_id=organiser.id)
    assert batch is not None and batch.number == 2 and batch.count == 1
    second = _csv(browser.get("/staff/enrolment/exports/2.csv").data)
    assert [r["participant_number"] for r in second] == [late]
    assert browser.get("/staff/enrolment/exports/1.csv").data == first_csv.data
    assert browser.get("/staff/enrolment/exports/3.csv").status_code == 404
    assert browser.get("/staff/enrolment/exports/1.xml").status_code == 404
    # Every download is logged, with who.
    db.session.rollback()
    log = db.session.execute(select(ExportAccess.action, ExportAccess.user_id)).all()
    assert sorted(a for a, _u in log) == ["create", "create", "csv", "csv", "csv", "json"]
    assert {u for _a, u in log} == {organiser.id}


def test_exports_are_for_organisers_and_admins_only(app, make_staff):
    volunteer = make_staff("volunteer", password=PASSWORD)
    browser = desk_browser(app)
    login(browser, volunteer.email)
    assert browser.get("/staff/enrolment/exports").status_code == 403
    assert browser.get("/staff/enrolment/exports/1.csv").status_code == 403
    assert browser.get("/staff/enrolment/schedules").status_code == 403


def test_the_stored_files_are_encrypted(client, make_event, make_staff, add_runner, on_finale_day):
    event = make_event()
    staff = make_staff("organiser")
    enrol(client, event, staff, add_runner(event))
    batch = create_batch(user_id=staff.id)
    nik = data_cipher().decrypt(db.session.scalar(select(Enrolment)).person.nik_encrypted)
    assert nik.encode() not in batch.csv_encrypted and nik.encode() not in batch.json_encrypted


def test_readme_documents_every_export_column():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Enrolment export", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.MULTILINE)
    assert documented == list(COLUMNS)


def test_cli_loads_schedules_and_exports(
    runner, client, make_event, make_staff, add_runner, on_finale_day, tmp_path
):
    assert (
        "loaded 1 contribution schedule"
        in runner.invoke(args=["enrolment", "load-schedules"]).output
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 2, "schedules": [{"code": "x"}]}')
    result = runner.invoke(args=["enrolment", "load-schedules", str(bad)])
    assert result.exit_code != 0 and "schedules[0]" in result.output
    out = tmp_path / "batch.json"
    assert (
        runner.invoke(args=["enrolment", "export", "--format", "json", "-o", str(out)]).exit_code
        == 1
    )
    event = make_event()
    enrol(client, event, make_staff("organiser"), add_runner(event))
    result = runner.invoke(args=["enrolment", "export", "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["count"] == 1


@pytest.mark.parametrize(
    "document",
    ["{", '{"format": 1, "schedules": [{"code": 1}]}', "[" * 20000, '{"format": 1}' * 2, "[]"],
)
def test_admins_edit_schedules_and_bad_data_changes_nothing(app, make_staff, document):
    admin = make_staff("admin", password=PASSWORD)
    browser = desk_browser(app)
    login(browser, admin.email)
    page = browser.get("/staff/enrolment/schedules")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "bpu-2015" in html
    assert "belum lengkap" in html  # the bracket table is marked incomplete
    refused = browser.post(
        "/staff/enrolment/schedules", data={"document": document, "csrf_token": csrf_from(html)}
    )
    assert refused.status_code == 422
    assert 'id="problems"' in refused.get_data(as_text=True)
    # A real edit: JKM becomes Rp 7.000.
    from funrun.enrolment.schedule import dump_document

    edited = dump_document()
    next(r for r in edited["schedules"][0]["rates"] if r["programme"] == "JKM")["flat_amount"] = (
        7000
    )
    saved = browser.post(
        "/staff/enrolment/schedules",
        data={"document": json.dumps(edited), "csrf_token": csrf_from(html)},
    )
    assert saved.status_code == 302
    db.session.rollback()
    assert dump_document() == edited


def test_seed_demo_loads_the_shipped_schedule_once_and_keeps_admin_edits(runner):
    from funrun.enrolment.models import ContributionSchedule
    from funrun.enrolment.schedule import dump_document

    for schedule in db.session.scalars(select(ContributionSchedule)):
        db.session.delete(schedule)  # as on a fresh database
    db.session.commit()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "contribution schedules" in result.output
    edited = dump_document()
    edited["schedules"][0]["notes"] = "Edited by an admin."
    from funrun.enrolment.schedule import apply_document

    apply_document(edited)
    assert runner.invoke(args=["seed-demo", "--if-empty"]).exit_code == 0
    db.session.rollback()
    assert dump_document()["schedules"][0]["notes"] == "Edited by an admin."


def test_csv_defuses_formulas_in_free_text_and_keeps_checked_fields(
    client, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    staff = make_staff("organiser")
    enrol(client, event, staff, add_runner(event), address='=HYPERLINK("http://x")')
    batch = create_batch(user_id=staff.id)
    [row] = _csv(batch_file_bytes(batch.number, "csv"))
    assert row["address"] == '\'=HYPERLINK("http://x")'
    assert re.fullmatch(r"\+628[0-9]+", row["phone"])  # an E.164 number, untouched
    [item] = json.loads(batch_file_bytes(batch.number, "json"))["enrolments"]
    assert item["address"] == '=HYPERLINK("http://x")'  # JSON carries the text as given
    assert isinstance(item["declared_income"], int) and item["sponsor"] is None


#: Text that a spreadsheet would run, in every way one can start (issue 15, point 7).
FORMULAS = {
    "city": '=HYPERLINK("http://x","y")',
    "full_name": "@SUM(1+1)*cmd|' /C calc'!A0",
    "birth_place": "+1+1",
    "mother_maiden_name": "-2+3",
    "address": "\t=1+1",
    "occupation_other": "\r=1+1",
}


def test_every_text_column_of_the_csv_is_defused_the_city_too(
    client, make_event, make_staff, add_runner, on_finale_day
):
    """The city comes from the event (never from the desk's form): set through the model,
    like every other text here, so no form's validation stands in the way."""
    event = make_event(city=FORMULAS["city"])
    staff = make_staff("organiser")
    numbers = [
        enrol(client, event, staff, add_runner(event), occupation="other", occupation_other="x")[
            "participant_number"
        ]
        for _ in range(2)
    ]
    text_fields = {k: v for k, v in FORMULAS.items() if k != "city"}
    db.session.execute(
        Enrolment.__table__.update()
        .where(Enrolment.participant_number == numbers[0])
        .values(**text_fields)
    )
    # A phone that is not E.164 (stored by some other way in) is text like any other.
    db.session.execute(
        Enrolment.__table__.update()
        .where(Enrolment.participant_number == numbers[1])
        .values(phone="+62 812-3456 (rumah)")
    )
    db.session.commit()
    batch = create_batch(user_id=staff.id)
    rows = {row["participant_number"]: row for row in _csv(batch_file_bytes(batch.number, "csv"))}
    defused, other = rows[numbers[0]], rows[numbers[1]]
    for column, formula in FORMULAS.items():
        assert defused[column] == "'" + formula, column
    assert other["city"] == "'" + FORMULAS["city"]
    assert re.fullmatch(r"\+628[0-9]+", defused["phone"])  # E.164 as it is, for the scheme
    assert other["phone"] == "'+62 812-3456 (rumah)"
    items = json.loads(batch_file_bytes(batch.number, "json"))["enrolments"]
    [item] = [i for i in items if i["participant_number"] == numbers[0]]
    assert {column: item[column] for column in FORMULAS} == FORMULAS  # JSON: as given


def batch_file_bytes(number: int, fmt: str) -> bytes:
    from funrun.enrolment.export import batch_file

    data = batch_file(number, fmt, user_id=None)
    assert data is not None
    return data
