"""Payment reminders: a member whose next month is due hears so a few days before the 15th.

A member's last settled month is the later of their last covered month (paid at the
desk: the month of ``paid_until``) and the last month a payment file recorded for them;
the next month is due by the 15th of that month (:data:`DUE_DAY`). In each calendar
month, from :data:`NOTICE_DAYS` days before its 15th to the 15th (in WIB), the worker
queues one ``PAYMENT_DUE`` message per member (the month is the message key's suffix, so
it is sent once a month) to every member with one to three months unpaid as of that
month; after three unpaid months they hear no more. Members a sponsor pays for are not
asked to pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.contribution import DUE_DAY, month_start
from funrun.enrolment.models import Enrolment
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue
from funrun.payments.models import Payment
from funrun.registration.models import Registration
from funrun.reports.figures import month_index

#: How many days before the 15th the reminder goes.
NOTICE_DAYS = 5
#: No reminder once this many months are unpaid.
MAX_UNPAID = 3
#: The tour's time zone: the due day is counted there.
WIB = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True)
class PaymentDueFacts:
    """What a payment reminder says."""

    participant_number: str
    #: The first month not paid, and the month whose 15th the reminder is for (the same
    #: unless earlier months are unpaid too).
    first_unpaid: date
    month: date
    due_by: date
    monthly_amount: int


def reminder_month(now: datetime) -> date | None:
    """The month whose contributions are being reminded at ``now`` (its first day), or
    None outside the days before its 15th."""
    today = now.astimezone(WIB).date()
    due_by = today.replace(day=DUE_DAY)
    if due_by - timedelta(days=NOTICE_DAYS) <= today <= due_by:
        return month_start(today)
    return None


def _last_settled() -> Any:
    """Per enrolment: the month index of its last covered-or-paid month."""
    paid = (
        select(Payment.enrolment_id, func.max(month_index(Payment.month)).label("paid"))
        .group_by(Payment.enrolment_id)
        .subquery("last_paid")
    )
    covered = month_index(Enrolment.paid_until)
    last = case((paid.c.paid > covered, paid.c.paid), else_=covered)
    return (
        select(Enrolment.id, Enrolment.registration_id, last.label("last"))
        .outerjoin(paid, paid.c.enrolment_id == Enrolment.id)
        .where(Enrolment.sponsor_id.is_(None), Enrolment.purged_at.is_(None))
        .subquery("settled")
    )


def due_registrations(month: date) -> ColumnElement[bool]:
    """Registrations of members with 1 to :data:`MAX_UNPAID` months unpaid by ``month``."""
    settled = _last_settled()
    current = month.year * 12 + month.month
    members = select(settled.c.registration_id).where(
        settled.c.last < current, settled.c.last >= current - MAX_UNPAID
    )
    return Registration.id.in_(members)


def queue_due(now: datetime | None = None) -> int:
    """Queue this month's payment reminders not yet queued; how many. Committed."""
    month = reminder_month(now or utcnow())
    if month is None:
        db.session.rollback()
        return 0
    begin_write()
    count = queue(
        MessageKind.PAYMENT_DUE,
        due_registrations(month),
        suffix=f":{month:%Y-%m}",
        context={"month": f"{month:%Y-%m}"},
    )
    db.session.commit()
    return count


def due_facts(registration_id: int, context: dict[str, Any] | None) -> PaymentDueFacts | None:
    """What the reminder queued for ``registration_id`` says, from the database now."""
    enrolment = db.session.scalar(
        select(Enrolment).where(Enrolment.registration_id == registration_id)
    )
    if enrolment is None:
        return None
    last_paid = db.session.scalar(
        select(func.max(Payment.month)).where(Payment.enrolment_id == enrolment.id)
    )
    last = max(month_start(enrolment.paid_until), last_paid or enrolment.valid_from)
    first_unpaid = month_start(last, 1)
    raw = (context or {}).get("month") or f"{first_unpaid:%Y-%m}"
    year, number = (int(part) for part in raw.split("-"))
    # The month it was queued for, as queued (a payment recorded since changes the months
    # unpaid before it, never the month the message is about).
    month = date(year, number, 1)
    return PaymentDueFacts(
        participant_number=enrolment.participant_number,
        first_unpaid=min(first_unpaid, month),
        month=month,
        due_by=month.replace(day=DUE_DAY),
        monthly_amount=enrolment.monthly_total,
    )


def sample_due_facts(day: date) -> PaymentDueFacts:
    """Made-up facts for the organisers' preview."""
    month = month_start(day, 1)
    return PaymentDueFacts("26120000042", month, month, month.replace(day=DUE_DAY), 28400)
