"""A sponsor's list of 100,000 NIKs (issue 20, point 2): uploaded through the page in one
request, stored in bulk, and read as a stream: the memory an upload takes does not grow
with the list (tracemalloc's peak for 100,000 lines against 10,000)."""

from __future__ import annotations

import io
import time
import tracemalloc
from datetime import date, timedelta

from sqlalchemy import func, select

from funrun.sponsors.models import SponsorEligible
from funrun.sponsors.nik_lists import import_list
from tests.sponsors.conftest import APBD
from tests.sponsors.test_pages import signed_in, upload

BIG = 100_000


def nik_lines(count: int, start: int = 0) -> bytes:
    """``count`` distinct valid NIKs, one a line (births spread over 1950-2005)."""
    out = io.StringIO()
    base = date(1950, 1, 1)
    for n in range(start, start + count):
        born = base + timedelta(days=n % 20_000)
        serial = 1 + n // 20_000
        out.write(f"317401{born.day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}\n")
    return out.getvalue().encode()


def listed() -> int:
    from funrun.extensions import db

    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(SponsorEligible)) or 0)


def test_a_list_of_100000_lines_through_the_page(app, make_staff):
    client, _staff = signed_in(app, make_staff)
    body = nik_lines(BIG)
    started = time.perf_counter()
    answer = upload(client, body, name="ppsu.txt")
    took = time.perf_counter() - started
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[:500]
    assert "100.000 baris dibaca: 100.000 diterima (100.000 baru" in html
    assert listed() == BIG
    print(f"\n100,000-line list through the page: {took:.2f} s ({len(body):,} bytes)")
    assert took < 60


def _peak(lines: int, start: int) -> int:
    body = nik_lines(lines, start)
    tracemalloc.start()
    try:
        import_list(APBD, io.BytesIO(body), replace=False, user_id=None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_upload_takes_the_same_memory_for_10000_or_100000_lines(app):
    small = _peak(10_000, 0)
    big = _peak(BIG, 10_000)
    print(f"\npeak traced memory: 10,000 lines {small / 1e6:.1f} MB, 100,000 {big / 1e6:.1f} MB")
    assert listed() == BIG + 10_000
    assert big < small * 1.5 + 2_000_000, (small, big)
