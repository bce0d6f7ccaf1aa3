"""A sponsor's statement (issue 20, point 3): per member, per month and the grand total, as
CSV, XLSX and PDF (read back with pdftotext), in the user's language, audited once served.

On the Jakarta finale (13 December 2015) a street sweeper's month costs APBD DKI
Rp 16.800 (JKK 10.000 + JKM 6.800; a public budget: no relief): one sweeper paid for 3
months (Dec 2015 - Feb 2016, Rp 50.400), another for 1 (Rp 16.800); a trader paying
herself is not on the statement. December: 2 members, Rp 33.600; grand total Rp 67.200.
"""

from __future__ import annotations

import csv
import io
import subprocess

from sqlalchemy import select

from funrun.audit.models import AuditEntry
from funrun.enrolment.services import enrol_registered, prepare
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from tests.reports.conftest import read_xlsx
from tests.sponsors.conftest import APBD, enrol_body, sponsored
from tests.sponsors.test_browser import SHOTS
from tests.sponsors.test_pages import signed_in


def world(event, add_runner):
    made = []
    for body in (sponsored(months=3), sponsored(months=1), enrol_body(months=1)):
        runner = add_runner(event, full_name="Ujang Suryana" if not made else "Asep Saepudin")
        ready = prepare(event, body, walkup=False, registration=runner)
        made.append((runner, enrol_registered(event, runner, ready, user=None, locale="id")))
    return made


def test_the_statement_as_csv_xlsx_and_pdf(app, make_event, make_staff, add_runner, on_finale_day):
    event = make_event(city="Jakarta")
    made = world(event, add_runner)
    niks = [data_cipher().decrypt(r.person.nik_encrypted) for r, _e in made]
    client, staff = signed_in(app, make_staff)

    answer = client.get(f"/staff/sponsors/{APBD}/statement.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Laporan tagihan APBD Provinsi DKI Jakarta (PPSU) (apbd-dki)"]
    assert rows[2][:3] == ["Nomor peserta", "Nama", "NIK"]
    members = rows[3:5]
    first = made[0][1].participant_number
    assert members[0] == [
        first, "Ujang Suryana", niks[0][:4] + "**********" + niks[0][-2:], event.slug,
        "Jakarta", "Des 2015", "Feb 2016", "3", "16800", "50400",
    ]  # fmt: skip
    assert members[1][7:] == ["1", "16800", "16800"]
    assert rows[5] == []
    assert rows[7:10] == [["Des 2015", "2", "33600"], ["Jan 2016", "1", "16800"],
                          ["Feb 2016", "1", "16800"]]  # fmt: skip
    assert rows[-3:] == [["Peserta", "2"], ["Peserta-bulan", "4"],
                         ["Total keseluruhan (Rp)", "67200"]]  # fmt: skip
    for nik in niks:
        assert nik not in text
    assert made[2][1].participant_number not in text  # paid by the member: not the sponsor's

    xlsx = client.get(f"/staff/sponsors/{APBD}/statement.xlsx?lang=en")
    assert xlsx.status_code == 200
    sheet, _xml = read_xlsx(xlsx.get_data())
    assert sheet[1][:3] == ["Participant number", "Name", "NIK"]  # (blank rows are left out)
    assert sheet[2][0] == first and sheet[2][5:] == ["Dec 2015", "Feb 2016", 3.0, 16800.0, 50400.0]
    assert sheet[-1] == ["Grand total (Rp)", 67200.0]

    pdf = client.get(f"/staff/sponsors/{APBD}/statement.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "statement.pdf").write_bytes(pdf.get_data())  # to look at
    words = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf.get_data(), capture_output=True, check=True
    ).stdout.decode()
    assert "Laporan tagihan APBD Provinsi DKI Jakarta (PPSU)" in words
    assert first in words and "Ujang Suryana" in words and "50.400" in words
    assert "Total per bulan" in words and "67.200" in words and "Des 2015" in words
    for nik in niks:
        assert nik not in words

    db.session.rollback()
    exports = db.session.scalars(
        select(AuditEntry.target).where(
            AuditEntry.action == "export", AuditEntry.user_id == staff.id
        )
    ).all()
    assert [t.rsplit(".", 1)[1] for t in exports] == ["csv", "xlsx", "pdf"]
    assert all(t.startswith("sponsor-apbd-dki-") for t in exports)


def test_an_empty_statement_and_unknown_formats(app, make_staff):
    client, _staff = signed_in(app, make_staff)
    pdf = client.get(f"/staff/sponsors/{APBD}/statement.pdf?lang=en")
    words = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.get_data(), capture_output=True, check=True
    ).stdout.decode()
    assert "No enrolment is charged to this sponsor yet." in words
    assert client.get(f"/staff/sponsors/{APBD}/statement.json").status_code == 404
    assert client.get("/staff/sponsors/nobody/statement.csv").status_code == 404
