"""Two imports at once on PostgreSQL (real threads): the same file is recorded once, and
one member's month is recorded by one file only."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from funrun.extensions import db
from funrun.payments.importing import ImportResult, import_file
from funrun.payments.models import Payment, PaymentFile, PaymentRefusal
from tests.payments.conftest import write_csv


def _at_once(app, paths: list[Path]) -> list[ImportResult]:
    start = threading.Barrier(len(paths))
    results: list[ImportResult] = []
    errors: list[BaseException] = []

    def run(path: Path) -> None:
        with app.app_context():
            try:
                start.wait()
                results.append(import_file(path))
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def _count(model) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_same_file_twice_at_once_is_recorded_once(postgres_url, app, members, tmp_path):
    people = members(3)
    lines = [
        f"{m.participant_number},{month},16800" for m in people for month in ("2016-01", "2016-02")
    ]
    path = write_csv(tmp_path / "p.csv", lines)
    first, second = _at_once(app, [path, path])
    assert sorted([first.repeated, second.repeated]) == [False, True]
    assert first.file_id == second.file_id and first.accepted == second.accepted == 6
    assert (_count(PaymentFile), _count(Payment), _count(PaymentRefusal)) == (1, 6, 0)


def test_two_files_with_the_same_month_at_once_record_it_once(postgres_url, app, members, tmp_path):
    people = members(2)
    one = write_csv(tmp_path / "one.csv", [f"{m.participant_number},2016-01,16800" for m in people])
    two = write_csv(
        tmp_path / "two.csv",
        [
            f"{people[0].participant_number},2016-01,16800",
            f"{people[1].participant_number},2016-02,16800",
        ],
    )
    results = _at_once(app, [one, two])
    assert sum(r.accepted for r in results) == 3 and sum(r.refused for r in results) == 1
    assert (_count(PaymentFile), _count(Payment)) == (2, 3)
    db.session.rollback()
    [errors] = db.session.scalars(select(PaymentRefusal.errors)).all()
    assert errors == {"month": "already_recorded"}
