"""Who pays what (issue 17, point 7): the enrolment export batch and the tour's totals say,
per enrolment and per city, what the members paid and what each sponsor owes.

Enrolments are made on 4 December 2026 (12:00 WIB): a market trader paying 3 months with
JHT pays 28.400 + 36.800 + 36.800 = Rp 102.000 (PP 50/2025 ends with December for her
sector); an ojek driver paying 1 month pays 5.000 + 3.400 = Rp 8.400; a street sweeper
whose 12 months APBD DKI pays owes nothing, and APBD DKI owes 12 x 16.800 = Rp 201.600
for him (a public budget: no relief). 12 such sweepers: Rp 2.419.200.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from funrun.bibs.services import payload_for
from funrun.enrolment import services as enrolment_services
from funrun.enrolment.export import (
    COLUMNS,
    batch_file,
    batch_rows,
    create_batch,
    write_batch_files,
)
from funrun.enrolment.models import ExportBatch, Sponsor
from funrun.extensions import db
from funrun.reports.figures import tour_figures
from tests.enrolment.conftest import PASSWORD, desk_browser, enrol_body, login
from tests.reports.conftest import read_xlsx

API = "/api/v1"
ENROLLED_AT = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
APBD = "APBD Provinsi DKI Jakarta (PPSU)"

#: The columns the batch had before issue 17, point 7 (other code reads them): unchanged.
EARLIER_COLUMNS = [
    "batch_number", "participant_number", "enrolled_at", "event", "city", "full_name", "nik",
    "birth_place", "birth_date", "gender", "mother_maiden_name", "address", "phone",
    "occupation", "occupation_other", "declared_income", "income_basis", "programs", "months",
    "valid_from", "paid_until", "jkk", "jkm", "jht", "monthly_total", "amount_due", "sponsor",
    "sponsor_amount", "payment_channel", "schedule", "reliefs", "consent_at",
    "consent_notice_sha256",
]  # fmt: skip
NEW_COLUMNS = [
    "payer",
    "payer_name",
    "first_month",
    "last_month",
    "contribution_total",
    "per_month",
]

TRADER = {"occupation": "trader", "programs": ["JKK", "JKM", "JHT"], "months": 3}
OJEK = {"occupation": "ojek_driver", "months": 1}
SWEEPER = {
    "occupation": "street_sweeper",
    "months": 12,
    "sponsor": "apbd-dki",
    "payment_channel": None,
}


@pytest.fixture
def enrol(client, monkeypatch, make_staff, add_runner):  # type: ignore[no-untyped-def]
    """Enrol a new runner of ``event`` through the API on 4 Dec 2026; the participant number."""
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: ENROLLED_AT)
    staff = make_staff("organiser")

    def _enrol(event, **fields) -> str:  # type: ignore[no-untyped-def]
        body = enrol_body(code=payload_for(add_runner(event)), **fields)
        response = client.post(
            f"{API}/events/{event.slug}/enrolments", json=body, headers=staff.headers
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()["enrolment"]["participant_number"]

    return _enrol


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_the_batch_says_who_pays_what_for_which_months(make_event, make_staff, enrol):
    event = make_event()
    trader, ojek, sweeper = enrol(event, **TRADER), enrol(event, **OJEK), enrol(event, **SWEEPER)
    batch = create_batch(user_id=make_staff("organiser").id)
    assert batch is not None
    assert list(COLUMNS) == EARLIER_COLUMNS + NEW_COLUMNS

    rows = {r["participant_number"]: r for r in _csv(batch_file(batch.number, "csv", user_id=None))}
    assert list(rows[trader]) == EARLIER_COLUMNS + NEW_COLUMNS
    paid = rows[trader]
    assert (paid["payer"], paid["payer_name"], paid["payment_channel"]) == ("member", "", "cash")
    assert (paid["amount_due"], paid["sponsor_amount"], paid["contribution_total"]) == (
        "102000",
        "0",
        "102000",
    )
    assert (paid["first_month"], paid["last_month"]) == ("2026-12", "2027-02")
    assert paid["per_month"] == (
        "2026-12:5000:3400:20000:28400:pp-50-2025;"
        "2027-01:10000:6800:20000:36800:;"
        "2027-02:10000:6800:20000:36800:"
    )
    assert rows[ojek]["per_month"] == "2026-12:5000:3400:0:8400:pp-50-2025"
    assert (rows[ojek]["first_month"], rows[ojek]["last_month"]) == ("2026-12", "2026-12")
    owed = rows[sweeper]
    assert (owed["payer"], owed["payer_name"], owed["sponsor"]) == ("apbd-dki", APBD, "apbd-dki")
    assert (owed["amount_due"], owed["sponsor_amount"], owed["contribution_total"]) == (
        "0",
        "201600",
        "201600",
    )
    assert (owed["first_month"], owed["last_month"]) == ("2026-12", "2027-11")
    months = owed["per_month"].split(";")
    assert months[0] == "2026-12:10000:6800:0:16800:"  # no relief when APBD pays
    assert months[-1] == "2027-11:10000:6800:0:16800:"
    assert len(months) == 12 and all(m.endswith(":16800:") for m in months)

    document = json.loads(batch_file(batch.number, "json", user_id=None))
    assert document["columns"] == EARLIER_COLUMNS + NEW_COLUMNS
    items = {i["participant_number"]: i for i in document["enrolments"]}
    assert items[trader]["per_month"] == [
        {"month": "2026-12", "jkk": 5000, "jkm": 3400, "jht": 20000, "total": 28400,
         "relief": "pp-50-2025"},
        {"month": "2027-01", "jkk": 10000, "jkm": 6800, "jht": 20000, "total": 36800,
         "relief": None},
        {"month": "2027-02", "jkk": 10000, "jkm": 6800, "jht": 20000, "total": 36800,
         "relief": None},
    ]  # fmt: skip
    assert items[trader]["payer"] == "member" and items[trader]["payer_name"] is None
    assert items[trader]["contribution_total"] == 102_000
    sponsored = items[sweeper]
    assert (sponsored["payer"], sponsored["payer_name"]) == ("apbd-dki", APBD)
    assert (sponsored["amount_due"], sponsored["sponsor_amount"]) == (0, 201_600)
    assert [m["total"] for m in sponsored["per_month"]] == [16_800] * 12
    assert {m["relief"] for m in sponsored["per_month"]} == {None}


def test_a_sponsor_name_that_looks_like_a_formula_is_defused_in_the_csv(
    make_event, make_staff, enrol
):
    sponsor = db.session.scalar(select(Sponsor).where(Sponsor.code == "apbd-dki"))
    sponsor.name = '=HYPERLINK("http://x","APBD")'
    db.session.commit()
    number = enrol(make_event(), **SWEEPER)
    batch = create_batch(user_id=make_staff("organiser").id)
    [row] = _csv(batch_file(batch.number, "csv", user_id=None))
    assert row["participant_number"] == number
    assert row["payer_name"] == '\'=HYPERLINK("http://x","APBD")'
    [item] = json.loads(batch_file(batch.number, "json", user_id=None))["enrolments"]
    assert item["payer_name"] == '=HYPERLINK("http://x","APBD")'  # JSON: as given


def test_a_batch_made_before_the_new_columns_is_rewritten_with_them_empty(
    make_event, make_staff, enrol
):
    """The privacy purge rewrites a batch's files from its stored JSON rows: rows of a
    batch made before the payer columns existed leave those cells empty."""
    number = enrol(make_event(), **TRADER)
    batch = create_batch(user_id=make_staff("organiser").id)
    old_rows = [{k: v for k, v in row.items() if k not in NEW_COLUMNS} for row in batch_rows(batch)]
    write_batch_files(batch, old_rows)
    db.session.commit()
    db.session.expire_all()
    [row] = _csv(batch_file(batch.number, "csv", user_id=None))
    assert row["participant_number"] == number and row["amount_due"] == "102000"
    assert [row[c] for c in NEW_COLUMNS] == [""] * len(NEW_COLUMNS)
    assert db.session.get(ExportBatch, batch.id).count == 1


def test_the_totals_say_what_members_paid_and_what_each_sponsor_owes(
    app, make_event, make_staff, enrol, tmp_path
):
    batam = make_event(city="Batam", quota=20)
    jakarta = make_event(city="Jakarta", quota=20)
    make_event(city="Medan")  # nobody enrolled: zeros
    enrol(batam, **TRADER)
    enrol(batam, **OJEK)
    for _ in range(7):
        enrol(batam, **SWEEPER)
    for _ in range(5):
        enrol(jakarta, **SWEEPER)

    figures = tour_figures()
    rows = {row.city: row for row in figures.events}
    assert (rows["Batam"].paid_by_members.members, rows["Batam"].paid_by_members.amount) == (
        2,
        110_400,
    )
    batam_apbd = rows["Batam"].sponsor("apbd-dki")
    assert (batam_apbd.members, batam_apbd.amount) == (7, 1_411_200)
    assert (rows["Jakarta"].paid_by_members.members, rows["Jakarta"].paid_by_members.amount) == (
        0,
        0,
    )
    assert rows["Jakarta"].sponsor("apbd-dki").amount == 1_008_000
    assert rows["Medan"].payers == {}
    [apbd] = figures.sponsors
    assert (apbd.code, apbd.name, apbd.members, apbd.amount) == ("apbd-dki", APBD, 12, 2_419_200)
    assert figures.totals.paid_by_members.amount == 110_400
    assert figures.totals.enrolled == 14

    organiser = make_staff("organiser", password=PASSWORD)
    browser = desk_browser(app)
    login(browser, organiser.email)
    page = browser.get("/staff/dashboard").get_data(as_text=True)
    slug = {row.city: row.slug for row in figures.events}
    assert 'data-cell="total:payer:apbd-dki">12 peserta, Rp 2.419.200<' in page
    assert f"Ditanggung {APBD}" in page
    assert 'data-cell="total:payer:member">2 peserta, Rp 110.400<' in page
    # The tiles: the amount, then how many members.
    assert 'data-cell="total:payer:apbd-dki:amount">Rp 2.419.200<' in page
    assert 'data-cell="total:payer:apbd-dki:members">12 peserta<' in page
    assert 'data-cell="total:payer:member:amount">Rp 110.400<' in page
    assert f'data-cell="{slug["Batam"]}:payer:apbd-dki">7 peserta, Rp 1.411.200<' in page
    assert f'data-cell="{slug["Jakarta"]}:payer:member">0 peserta, Rp 0<' in page
    english = browser.get("/staff/dashboard?lang=en").get_data(as_text=True)
    assert 'data-cell="total:payer:apbd-dki">12 members, Rp 2,419,200<' in english
    assert f"Owed by {APBD}" in english
    assert 'data-cell="total:payer:member">2 members, Rp 110,400<' in english
    live = browser.get("/staff/dashboard.json").get_json()
    assert live["cells"]["total:payer:apbd-dki"] == "12 peserta, Rp 2.419.200"

    # The per-city totals files: the same figures, after the existing columns.
    totals = _csv(browser.get("/staff/totals.csv").data)
    header = list(totals[0])
    assert header[-4:] == [
        "member_paid_enrolments",
        "member_paid_amount",
        "sponsor_apbd-dki_enrolments",
        "sponsor_apbd-dki_amount",
    ]
    assert header[:2] == ["slug", "city"]
    by_city = {row["city"]: row for row in totals}
    assert [by_city["Batam"][k] for k in header[-4:]] == ["2", "110400", "7", "1411200"]
    assert [by_city["Jakarta"][k] for k in header[-4:]] == ["0", "0", "5", "1008000"]
    assert [by_city["Medan"][k] for k in header[-4:]] == ["0", "0", "0", "0"]
    assert [by_city["Jumlah"][k] for k in header[-4:]] == ["2", "110400", "12", "2419200"]
    sheet, _xml = read_xlsx(browser.get("/staff/totals.xlsx").data)
    assert sheet[0][-4:] == [
        "Dibayar peserta: jumlah peserta",
        "Dibayar peserta: Rp",
        f"{APBD}: jumlah peserta",
        f"{APBD}: Rp ditanggung",
    ]
    assert sheet[-1][-4:] == [2.0, 110_400.0, 12.0, 2_419_200.0]
    pdf = tmp_path / "totals.pdf"
    pdf.write_bytes(browser.get("/staff/totals.pdf").data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Siapa yang membayar kepesertaan baru" in text
    assert "12 peserta, Rp 2.419.200" in text and "2 peserta, Rp 110.400" in text
