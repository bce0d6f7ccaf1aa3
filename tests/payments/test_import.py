"""``flask payments import``: each row accepted or refused, set-based, on both databases."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from funrun.extensions import db
from funrun.payments.importing import import_file, write_report
from funrun.payments.models import Payment, PaymentFile, PaymentRefusal
from tests.payments.conftest import write_csv


def _refusals(file_id: int) -> dict[int, dict[str, str]]:
    rows = db.session.execute(
        select(PaymentRefusal.row, PaymentRefusal.errors).where(PaymentRefusal.file_id == file_id)
    )
    return {row: errors for row, errors in rows}


def test_every_reason_to_refuse_a_row(members, tmp_path):
    a, b, c = members(3)
    na, nb, nc = a.participant_number, b.participant_number, c.participant_number
    first = write_csv(tmp_path / "first.csv", [f"{nc},2016-01,16800"])
    assert import_file(first).accepted == 1
    lines = [
        f"{na},2015-12,16800",  # 1 accepted: the first covered month
        f"{na},2016-01,16800",  # 2 accepted
        f"{na},2016-01,16800",  # 3 the same month twice in the file
        "99999999999,2016-01,16800",  # 4 unknown participant number
        f"{nb},2015-11,16800",  # 5 before the first covered month
        f"{nb},2016-13,16800",  # 6 malformed month
        f"{nb},2016-02,0",  # 7 amount 0
        f"{nb},2016-02,-5",  # 8 negative
        f"{nb},2016-02,16.800",  # 9 not whole rupiah
        "123,2016-02,16800",  # 10 malformed participant number
        f"{nc},2016-01,16800",  # 11 recorded by the first file
        f"{nb},2016-02",  # 12 two columns
        "",  # blank: skipped
        f'"{nb}", 2016-03 ,"16800"',  # 14 accepted: quoted, spaces
    ]
    path = write_csv(tmp_path / "payments.csv", lines)
    with path.open("ab") as out:
        out.write(f"{nb},2016-04,\xff16800\r\n".encode("latin-1"))  # 15 not UTF-8
    result = import_file(path)
    assert (result.rows, result.accepted, result.refused) == (14, 3, 11)
    assert _refusals(result.file_id) == {
        3: {"month": "duplicate_in_file"},
        4: {"participant_number": "unknown"},
        5: {"month": "before_first_month"},
        6: {"month": "malformed"},
        7: {"amount": "not_positive"},
        8: {"amount": "not_positive"},
        9: {"amount": "malformed"},
        10: {"participant_number": "malformed"},
        11: {"month": "already_recorded"},
        12: {"row": "columns"},
        15: {"row": "encoding"},
    }
    paid = db.session.execute(
        select(Payment.enrolment_id, Payment.month, Payment.month_number, Payment.amount)
    ).all()
    # month_number: which covered month it is, 1 for the month of enrolment (2015-12).
    assert sorted((e, m.isoformat(), n, amount) for e, m, n, amount in paid) == [
        (a.id, "2015-12-01", 1, 16800),
        (a.id, "2016-01-01", 2, 16800),
        (b.id, "2016-03-01", 4, 16800),
        (c.id, "2016-01-01", 2, 16800),
    ]
    assert result.reasons["month:duplicate_in_file"] == 1
    assert result.reasons["amount:not_positive"] == 2
    stored = db.session.get_one(PaymentFile, result.file_id)
    assert (stored.status, stored.rows, stored.accepted, stored.refused) == ("done", 14, 3, 11)

    out = io.StringIO()
    assert write_report(result.file_id, path, out) == 14
    report = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["row"] for r in report] == [str(n) for n in (*range(1, 13), 14, 15)]
    assert report[0]["outcome"] == "accepted" and report[0]["participant_number"] == na
    assert report[3]["outcome"] == "refused"
    assert report[3]["reasons"] == "participant_number:unknown"
    assert "no member" in report[3]["words"]


def test_the_same_file_again_changes_nothing(members, tmp_path):
    [member] = members(1)
    path = write_csv(tmp_path / "p.csv", [f"{member.participant_number},2016-01,16800", "x,y,z"])
    first = import_file(path)
    again = import_file(path)
    assert again.repeated and not first.repeated
    assert (again.file_id, again.rows, again.accepted, again.refused) == (first.file_id, 2, 1, 1)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert db.session.scalar(select(func.count()).select_from(PaymentFile)) == 1
    assert db.session.scalar(select(func.count()).select_from(PaymentRefusal)) == 1


def test_a_wrong_header_records_nothing(members, tmp_path, runner):
    [member] = members(1)
    path = write_csv(
        tmp_path / "p.csv",
        [f"{member.participant_number},2016-01,16800"],
        header="nik,month,amount",
    )
    done = runner.invoke(args=["payments", "import", str(path)])
    assert done.exit_code == 1
    assert "participant_number,month,amount" in done.output and "nothing recorded" in done.output
    assert db.session.scalar(select(func.count()).select_from(PaymentFile)) == 0


def test_the_command_prints_a_summary_and_writes_the_report(members, tmp_path, runner):
    [member] = members(1)
    number = member.participant_number
    path = write_csv(tmp_path / "p.csv", [f"{number},2016-01,16800", "12345678901,2016-01,5"])
    report = tmp_path / "report.csv"
    done = runner.invoke(args=["payments", "import", str(path), "--report", str(report)])
    assert done.exit_code == 0, done.output
    assert "2 rows, 1 accepted, 1 refused" in done.output
    assert "refused 1: participant_number:unknown" in done.output
    lines = report.read_text().splitlines()
    assert lines[0] == "row,participant_number,month,amount,outcome,reasons,words"
    assert lines[1].startswith(f"1,{number},2016-01,16800,accepted")
    again = runner.invoke(args=["payments", "import", str(path)])
    assert again.exit_code == 0 and "imported before" in again.output
