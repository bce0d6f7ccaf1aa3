"""Payment reminders: once a month a few days before the 15th, never after 3 unpaid months."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from funrun.enrolment.models import Enrolment, Sponsor
from funrun.extensions import db
from funrun.messages.facts import facts_for
from funrun.messages.models import Message, MessageKind
from funrun.messages.wording import word
from funrun.payments.due import queue_due, reminder_month
from funrun.payments.models import Payment, PaymentFile
from funrun.registration.models import Registration
from tests.payments.conftest import ENROLLED_AT


def at(day: date) -> datetime:
    """10:00 WIB on ``day``."""
    return datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)


def _reminded(kind: str = MessageKind.PAYMENT_DUE.value) -> list[tuple[int, str]]:
    db.session.rollback()
    rows = db.session.execute(
        select(Message.registration_id, Message.key).where(Message.kind == kind)
    )
    return sorted((r, k) for r, k in rows)


@pytest.fixture
def three(make_event, add_runner, enrol):
    """A pays nothing after the desk's month (December 2015), B paid January, C is paid
    for by a sponsor: all with an e-mail address."""
    event = make_event(date=ENROLLED_AT.date(), quota=10)
    regs = [add_runner(event, email=f"m{n}@example.org") for n in range(3)]
    enrol(event, regs[0])
    b = enrol(event, regs[1])
    sponsor = db.session.scalars(select(Sponsor).order_by(Sponsor.id)).first()
    enrol(event, regs[2], sponsor=sponsor.code, payment_channel=None)
    paid = PaymentFile(filename="jan.csv", sha256="1" * 64, status="done")
    db.session.add(paid)
    db.session.flush()
    db.session.add(
        Payment(
            enrolment_id=b.id,
            month=date(2016, 1, 1),
            month_number=2,
            amount=16800,
            file_id=paid.id,
        )
    )
    db.session.commit()
    return [r.id for r in regs]


def test_the_reminder_window_is_the_days_before_the_15th():
    assert reminder_month(at(date(2016, 1, 9))) is None
    assert reminder_month(at(date(2016, 1, 10))) == date(2016, 1, 1)
    assert reminder_month(at(date(2016, 1, 15))) == date(2016, 1, 1)
    assert reminder_month(at(date(2016, 1, 16))) is None
    # 14 January 20:00 UTC is already the 15th in WIB; 15 January 17:00 UTC the 16th.
    assert reminder_month(datetime(2016, 1, 15, 17, 0, tzinfo=UTC)) is None


def test_members_with_a_month_due_hear_once_a_month(three):
    a, _b, _c = three
    assert queue_due(at(date(2016, 1, 9))) == 0
    assert queue_due(at(date(2016, 1, 11))) == 1  # A only: B paid January, C's sponsor pays
    assert _reminded() == [(a, f"payment_due:{a}:email:2016-01")]
    assert queue_due(at(date(2016, 1, 14))) == 0  # once per member and month
    assert queue_due(at(date(2016, 1, 20))) == 0  # after the 15th: nothing
    assert queue_due(at(date(2016, 2, 12))) == 2  # A (2 months unpaid) and B (February)
    assert queue_due(at(date(2016, 3, 12))) == 2  # A: three months unpaid, the last word
    assert queue_due(at(date(2016, 4, 12))) == 1  # B only: A has 4 unpaid months
    assert [key.rsplit(":", 1)[1] for r, key in _reminded() if r == a] == [
        "2016-01",
        "2016-02",
        "2016-03",
    ]


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("id", ["Februari 2016 - Maret 2016", "15 Maret 2016", "Rp 16.800", "Nomor peserta"]),
        ("en", ["February 2016 - March 2016", "March 15, 2016", "Participant number"]),
    ],
)
def test_the_reminder_says_the_number_the_months_the_amount_and_how_to_pay(three, locale, words):
    _a, b, _c = three

    db.session.get_one(Registration, b).locale = locale
    db.session.commit()
    queue_due(at(date(2016, 3, 12)))
    message = db.session.scalar(
        select(Message).where(Message.registration_id == b, Message.kind == "payment_due")
    )
    wording = word(facts_for(message))
    text = wording.text()
    for expected in words:
        assert expected in text, (expected, text)
    assert "BPJS" in text
    number = db.session.scalar(
        select(Enrolment.participant_number).where(Enrolment.registration_id == b)
    )
    assert number in text and "2016" in wording.subject
