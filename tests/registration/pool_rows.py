"""An enrolment on record for a registration's person, written directly (the pool tests
need one to exist, not the desk's whole enrolment: tests/enrolment covers that)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from funrun.dbtypes import utcnow
from funrun.enrolment.models import ContributionSchedule, Enrolment
from funrun.extensions import db
from funrun.registration.models import Registration


def enrol_directly(registration: Registration) -> Enrolment:
    """The registration's person enrolled (one enrolment a person, whatever the city)."""
    schedule = db.session.scalar(select(ContributionSchedule).limit(1))
    if schedule is None:
        schedule = ContributionSchedule(
            code="test", name="Test", effective_from=date(2015, 1, 1), min_income=1_000_000
        )
        db.session.add(schedule)
        db.session.flush()
    number = db.session.scalar(select(func.count()).select_from(Enrolment)) + 1
    enrolment = Enrolment(
        participant_number=f"{number:011d}",
        person_id=registration.person_id,
        registration_id=registration.id,
        event_id=registration.event_id,
        full_name=registration.full_name,
        birth_place="Jakarta",
        mother_maiden_name="Ibu",
        address="Jl. Test 1",
        phone=registration.phone,
        occupation="trader",
        declared_income=1_000_000,
        income_basis=1_000_000,
        programmes="JKK,JKM",
        months=1,
        payment_channel="cash",
        schedule_id=schedule.id,
        jkk=10_000,
        jkm=6_800,
        jht=0,
        monthly_total=16_800,
        amount_due=16_800,
        sponsor_amount=0,
        valid_from=date(2015, 12, 13),
        paid_until=date(2015, 12, 31),
        enrolment_notice_id=registration.privacy_notice_id,
        consent_at=utcnow(),
        source="desk",
    )
    db.session.add(enrolment)
    db.session.commit()
    return enrolment
