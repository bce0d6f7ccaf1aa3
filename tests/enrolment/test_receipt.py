"""The cash receipt (kuitansi) and the card's coverage period, read back with pdftotext;
the amount in Indonesian words (terbilang)."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from funrun.enrolment import services as enrolment_services
from funrun.enrolment.models import Enrolment
from funrun.enrolment.services import enrol_registered, prepare
from funrun.enrolment.wording import terbilang, terbilang_rupiah
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.enrolment.conftest import enrol_body
from tests.enrolment.test_desk import signed_in

#: Where to keep a copy of the receipt to look at (FUNRUN_RECEIPT_DIR), if anywhere.
SHOTS = Path(os.environ["FUNRUN_RECEIPT_DIR"]) if os.environ.get("FUNRUN_RECEIPT_DIR") else None
#: 4 December 2026, 10.00 WIB.
DECEMBER_4 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "nol"),
        (1, "satu"),
        (11, "sebelas"),
        (12, "dua belas"),
        (100, "seratus"),
        (101, "seratus satu"),
        (1000, "seribu"),
        (1001, "seribu satu"),
        (2000, "dua ribu"),
        (10000, "sepuluh ribu"),
        (102000, "seratus dua ribu"),
        (1000000, "satu juta"),
        (1234567, "satu juta dua ratus tiga puluh empat ribu lima ratus enam puluh tujuh"),
        (1000000000, "satu miliar"),
        # A few more edges: the teens, tens, hundreds and thousands.
        (19, "sembilan belas"),
        (20, "dua puluh"),
        (110, "seratus sepuluh"),
        (111000, "seratus sebelas ribu"),
        (1100000, "satu juta seratus ribu"),
        (2001001, "dua juta seribu satu"),
    ],
)
def test_terbilang(amount, words):
    assert terbilang(amount) == words


def test_terbilang_rupiah_and_its_limits():
    assert terbilang_rupiah(102000) == "seratus dua ribu rupiah"
    with pytest.raises(ValueError):
        terbilang(-1)
    with pytest.raises(ValueError):
        terbilang(10**15)


# --- the receipt PDF ---------------------------------------------------------------------------


@pytest.fixture
def on_december_4(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: DECEMBER_4)
    return DECEMBER_4


TRADER = enrol_body(
    occupation="trader", programs=["JKK", "JKM", "JHT"], months=3, payment_channel="cash"
)


def enrol(event, registration: Registration, user_id: int | None = None, **overrides) -> Enrolment:
    from funrun.accounts.models import User

    prepared = prepare(event, {**TRADER, **overrides}, walkup=False)
    user = db.session.get(User, user_id) if user_id else None
    result = enrol_registered(event, registration, prepared, user=user, locale="id")
    return db.session.scalar(select(Enrolment).where(Enrolment.id == result.id))


def pdf_text(data: bytes, tmp_path: Path, name: str) -> str:
    """The PDF's text as pdftotext reads it, whitespace runs made single spaces."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    return re.sub(r"[ \t]+", " ", out)


def test_the_traders_receipt_reads_back(
    app, make_event, make_staff, add_runner, on_december_4, tmp_path
):
    event = make_event(city="Jakarta")
    runner = add_runner(event, full_name="Siti Pedagang")
    client, staff = signed_in(app, make_staff, events=(event.slug,))
    enrolment = enrol(event, runner, staff.id)
    assert enrolment.receipt_number == "KW-2026-000001"
    response = client.get(f"/staff/enrolments/{enrolment.participant_number}/kuitansi.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "kuitansi-KW-2026-000001.pdf" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    text = pdf_text(response.data, tmp_path, "kuitansi")
    if SHOTS:
        (SHOTS / "kuitansi.pdf").write_bytes(response.data)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert "KUITANSI" in lines
    assert "No. KW-2026-000001" in lines
    assert "Test" in lines  # the organiser
    assert "Telah terima dari: Siti Pedagang" in lines
    assert f"Nomor peserta: {enrolment.participant_number}" in lines
    assert "Uang sejumlah: Rp 102.000" in lines
    assert "Terbilang: seratus dua ribu rupiah" in lines
    assert "Untuk pembayaran iuran (JKK, JKM, JHT) bulan Desember 2026 - Februari 2027" in lines
    assert "Bulan JKK JKM JHT Jumlah" in lines
    assert "Desember 2026 (50%) Rp 5.000 Rp 3.400 Rp 20.000 Rp 28.400" in lines
    assert "Januari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800" in lines
    assert "Februari 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800" in lines
    assert "Jumlah Rp 102.000" in lines
    assert "Keringanan iuran PP 50/2025: JKK dan JKM dipotong 50%." in lines
    assert "Diterapkan pada iuran Desember 2026." in lines
    assert "JKK: Rp 10.000 -> Rp 5.000" in lines
    assert "JHT: Rp 20.000 (tanpa keringanan)" in lines
    assert "Iuran berikutnya jatuh tempo paling lambat 15 Maret 2027." in lines
    assert "Jakarta, 4 Desember 2026" in lines
    assert "Yang menerima," in lines
    assert staff.email in lines  # under the signature line: who took the money


def test_receipt_numbers_are_sequential_and_only_for_cash(
    app, make_event, make_staff, add_runner, on_december_4, tmp_path
):
    event = make_event()
    client, staff = signed_in(app, make_staff, events=(event.slug,))
    first = enrol(event, add_runner(event), staff.id)
    bank = enrol(event, add_runner(event), staff.id, payment_channel="bank")
    sponsored = enrol(
        event,
        add_runner(event),
        staff.id,
        occupation="street_sweeper",
        payment_channel=None,
        sponsor="apbd-dki",
    )
    second = enrol(event, add_runner(event), staff.id)
    assert [first.receipt_number, second.receipt_number] == ["KW-2026-000001", "KW-2026-000002"]
    assert (bank.receipt_number, sponsored.receipt_number) == (None, None)
    assert sponsored.amount_due == 0
    # The second receipt carries its own number; a bank or sponsor enrolment has none.
    text = pdf_text(
        client.get(f"/staff/enrolments/{second.participant_number}/kuitansi.pdf").data,
        tmp_path,
        "second",
    )
    assert "No. KW-2026-000002" in text and "KW-2026-000001" not in text
    for enrolment in (bank, sponsored):
        number = enrolment.participant_number
        assert client.get(f"/staff/enrolments/{number}/kuitansi.pdf").status_code == 404
        page = client.get(f"/staff/enrolments/{number}").get_data(as_text=True)
        assert "kuitansi.pdf" not in page
    page = client.get(f"/staff/enrolments/{first.participant_number}").get_data(as_text=True)
    assert f"/staff/enrolments/{first.participant_number}/kuitansi.pdf" in page


def test_receipt_access_is_the_cards(app, make_event, make_staff, add_runner, on_december_4):
    event, other = make_event(), make_event()
    enrolment = enrol(event, add_runner(event))
    url = f"/staff/enrolments/{enrolment.participant_number}/kuitansi.pdf"
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    elsewhere, _staff = signed_in(app, make_staff, events=(other.slug,))
    assert elsewhere.get(url).status_code == 403
    here, _staff = signed_in(app, make_staff, events=(event.slug,))
    assert here.get(url).status_code == 200
    assert here.get("/staff/enrolments/99999999999/kuitansi.pdf").status_code == 404
    assert here.get("/staff/enrolments/not-a-number/kuitansi.pdf").status_code == 404


# --- the card's coverage period ---------------------------------------------------------------


def test_the_card_states_the_months_covered(
    app, make_event, make_staff, add_runner, on_december_4, tmp_path
):
    event = make_event()
    enrolment = enrol(event, add_runner(event))
    single = enrol(event, add_runner(event), months=1, payment_channel="bank")
    client, _staff = signed_in(app, make_staff, events=(event.slug,))
    client.get("/lang/en")  # the card stays in Indonesian whatever the page language
    card = client.get(f"/staff/enrolments/{enrolment.participant_number}/card.pdf")
    assert card.status_code == 200
    assert "Masa iuran: Desember 2026 - Februari 2027" in pdf_text(card.data, tmp_path, "card")
    if SHOTS:
        (SHOTS / "card.pdf").write_bytes(card.data)
    card = client.get(f"/staff/enrolments/{single.participant_number}/card.pdf")
    text = pdf_text(card.data, tmp_path, "single")
    assert "Masa iuran: Desember 2026" in text and "Februari" not in text


def test_a_twelve_month_receipt_lists_every_month_and_where_the_relief_ends(
    app, make_event, make_staff, add_runner, on_december_4, tmp_path
):
    event = make_event()
    client, staff = signed_in(app, make_staff, events=(event.slug,))
    # An ojek driver: the transport relief runs to the contributions of March 2027.
    enrolment = enrol(event, add_runner(event), staff.id, occupation="ojek_driver", months=12)
    response = client.get(f"/staff/enrolments/{enrolment.participant_number}/kuitansi.pdf")
    text = pdf_text(response.data, tmp_path, "twelve")
    if SHOTS:
        (SHOTS / "twelve.pdf").write_bytes(response.data)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    relieved = ["Desember 2026", "Januari 2027", "Februari 2027", "Maret 2027"]
    full = ["April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November"]
    for month in relieved:
        assert f"{month} (50%) Rp 5.000 Rp 3.400 Rp 20.000 Rp 28.400" in lines
    for month in full:
        assert f"{month} 2027 Rp 10.000 Rp 6.800 Rp 20.000 Rp 36.800" in lines
    assert enrolment.amount_due == 4 * 28_400 + 8 * 36_800
    assert "Uang sejumlah: Rp 408.000" in lines
    assert "Terbilang: empat ratus delapan ribu rupiah" in lines
    assert "Diterapkan pada iuran Desember 2026 - Maret 2027." in lines
    assert "Tarif penuh, tanpa keringanan: April 2027 - November 2027." in lines
    assert "Iuran berikutnya jatuh tempo paling lambat 15 Desember 2027." in lines
    assert text.count("\f") == 1  # one page
