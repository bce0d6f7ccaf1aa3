"""Shared pieces for the organiser report tests: a small tour whose every figure is known."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from funrun.bibs.services import payload_for
from funrun.checkin.models import CheckIn
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.payments.models import Payment, PaymentFile
from funrun.registration.models import Registration
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    API,
    PASSWORD,
    _fast_password_hashes,
    add_runners,
    assert_problem,
    browser,
    cancel_registration,
    login,
    make_staff,
)
from tests.enrolment.conftest import enrol_body, on_finale_day, schedules  # noqa: F401

#: What the scenario below makes, per event slug (the API's field names).
EXPECTED = {
    "past": {
        "quota": 3,
        "confirmed": 3,
        "waitlisted": 1,
        "cancelled": 1,
        "checked_in": 2,
        "no_shows": 1,
        "members": 1,
        "non_members": 2,
        "non_members_checked_in": 1,
        "enrolled": 1,
        "held": 0,
        "paid_month_1": 1,
        "paid_month_2": 0,
        "paid_month_3": 1,
        "conversion_rate": 1.0,
    },
    "future": {
        "quota": 5,
        "confirmed": 2,
        "waitlisted": 0,
        "cancelled": 0,
        "checked_in": 2,
        "no_shows": 0,  # the race has not started: nobody is a no-show yet
        "members": 0,
        "non_members": 2,
        "non_members_checked_in": 2,
        "enrolled": 0,
        "held": 0,
        "paid_month_1": 0,
        "paid_month_2": 0,
        "paid_month_3": 0,
        "conversion_rate": 0.0,
    },
}
EXPECTED_TOTALS = {
    "quota": 8,
    "confirmed": 5,
    "waitlisted": 1,
    "cancelled": 1,
    "checked_in": 4,
    "no_shows": 1,
    "members": 1,
    "non_members": 4,
    "non_members_checked_in": 3,
    "enrolled": 1,
    "held": 0,
    "paid_month_1": 1,
    "paid_month_2": 0,
    "paid_month_3": 1,
    "conversion_rate": 0.3333,
}


@dataclass
class Scenario:
    """The events made, the organiser's token, and the registrations by role in the story."""

    past: Event
    future: Event
    organiser: Any
    volunteer: Any
    runners: dict[str, Registration]


@pytest.fixture
def scenario(client, make_event, make_staff, add_runners, on_finale_day) -> Scenario:  # noqa: F811
    """Two cities: one whose race is over (2015), one still to come, every figure known.

    Past (quota 3): a member and two non-members confirmed, one waitlisted, one cancelled;
    the member and one non-member checked in at pickup, that non-member enrolled, who
    then paid their first and third covered month (a payment file).
    Future (quota 5): two non-members, both checked in, neither enrolled.
    """
    past = make_event(slug="past", city="Batam", date=date(2015, 11, 14), quota=3)
    future = make_event(slug="future", city="Jakarta", date=date(2030, 12, 13), quota=5)
    past.shirt_sizes = ["S", "M", "L"]
    db.session.commit()
    volunteer = make_staff("volunteer", events=(past.slug, future.slug))
    organiser = make_staff("organiser")
    [member] = add_runners(past, 1, member=True, kpj_number="12345678901", shirt_size="L")
    plain, enrolled, waiting, gone = add_runners(past, 4)
    cancel_registration(gone)
    runners_future = add_runners(future, 2, shirt_size="S")
    db.session.rollback()
    regs = {
        name: db.session.get_one(Registration, rid)
        for name, rid in (
            ("member", member),
            ("plain", plain),
            ("enrolled", enrolled),
            ("waiting", waiting),
            ("gone", gone),
        )
    }
    assert regs["waiting"].status == "waitlisted" and regs["gone"].status == "cancelled"
    # An undone check-in counts for nothing.
    for name in ("member", "enrolled", "plain"):
        reply = client.post(
            f"{API}/events/past/checkins",
            json={"code": payload_for(regs[name])},
            headers=volunteer.headers,
        )
        assert reply.status_code == 201, reply.get_data(as_text=True)
    plain_checkin = db.session.scalar(
        select(CheckIn.id).where(CheckIn.registration_id == regs["plain"].id)
    )
    reply = client.post(f"{API}/checkins/{plain_checkin}/undo", headers=organiser.headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    for rid in runners_future:
        reg = db.session.get_one(Registration, rid)
        reply = client.post(
            f"{API}/events/future/checkins",
            json={"code": payload_for(reg)},
            headers=volunteer.headers,
        )
        assert reply.status_code == 201, reply.get_data(as_text=True)
    reply = client.post(
        f"{API}/events/past/enrolments",
        json=enrol_body(code=payload_for(regs["enrolled"])),
        headers=volunteer.headers,
    )
    assert reply.status_code == 201, reply.get_data(as_text=True)
    db.session.rollback()
    # The scheme's payment file: the new member paid their first and third covered month
    # (December 2015, the month of enrolment, and February 2016), not the second.
    paid_file = PaymentFile(filename="scenario.csv", sha256="0" * 64, status="done")
    db.session.add(paid_file)
    db.session.flush()
    member_id = db.session.scalar(
        select(Enrolment.id).where(Enrolment.registration_id == regs["enrolled"].id)
    )
    for number, month in ((1, date(2015, 12, 1)), (3, date(2016, 2, 1))):
        db.session.add(
            Payment(
                enrolment_id=member_id,
                month=month,
                month_number=number,
                amount=16800,
                file_id=paid_file.id,
            )
        )
    db.session.commit()
    return Scenario(past, future, organiser, volunteer, regs)


# --- reading XLSX files back (no extra dependency: the format is zipped XML) -------------

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _column_index(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref).group(0)  # type: ignore[union-attr]
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def read_xlsx(data: bytes) -> tuple[list[list[Any]], ElementTree.Element]:
    """The first sheet's rows (numbers as floats, strings as str, blanks as None) and XML."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in archive.namelist():
            root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")) for si in root]
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    rows: list[list[Any]] = []
    for row in sheet.iter(f"{{{_NS['m']}}}row"):
        values: list[Any] = []
        for cell in row.findall("m:c", _NS):
            index = _column_index(cell.get("r", "A"))
            values.extend([None] * (index - len(values)))
            kind = cell.get("t")
            if kind == "inlineStr":
                value: Any = "".join(t.text or "" for t in cell.iter(f"{{{_NS['m']}}}t"))
            elif kind == "s":
                value = shared[int(cell.findtext("m:v", namespaces=_NS) or 0)]
            elif cell.find("m:v", _NS) is not None:
                value = float(cell.findtext("m:v", namespaces=_NS) or 0)
            else:
                value = None
            values.append(value)
        rows.append(values)
    return rows, sheet
