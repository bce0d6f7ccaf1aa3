"""The rules of enrolling: who may be enrolled, the price, the participant number.

One person (NIK) is enrolled at most once, in any city: the service checks first, and a
unique index on ``enrolments.person_id`` settles two desks enrolling the same NIK at the
same moment. Participant numbers come from a counter row taken with a conditional
UPDATE under its row lock (never max()+1), in the same transaction as the enrolment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from funrun.accounts.models import User
from funrun.audit.services import record
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.choices import OCCUPATIONS
from funrun.enrolment.contribution import Quote
from funrun.enrolment.errors import (
    AlreadyEnrolled,
    AlreadyMember,
    EnrolmentError,
    NoSchedule,
    NotEnrollable,
    RegistrationNotFound,
)

# find_enrolment, registration_for_code: re-exported (``as``) for funrun/api/enrolments.py.
from funrun.enrolment.lookups import enrolment_of_person
from funrun.enrolment.lookups import find_enrolment as find_enrolment
from funrun.enrolment.lookups import registration_for_code as registration_for_code
from funrun.enrolment.models import ContributionSchedule, Enrolment, EnrolmentMonth, Sponsor
from funrun.enrolment.notice import enrolment_notice
from funrun.enrolment.participant_numbers import next_counter, participant_number
from funrun.enrolment.quotes import price
from funrun.enrolment.results import EnrolmentResult
from funrun.enrolment.schedule import active_sponsors, schedule_in_force
from funrun.enrolment.validation import EnrolmentData, clean_enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import MessageKind
from funrun.messages.queueing import queue_for
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import (
    Registration,
    RegistrationSource,
    RegistrationStatus,
)
from funrun.registration.services import (
    cancel,
    current_privacy_notice,
    register,
)
from funrun.registration.validation import (
    RegistrationData,
    ValidationFailed,
    clean_registration,
)
from funrun.sponsors.budget import charge, precheck
from funrun.sponsors.eligibility import nik_hash_of, with_eligible_sponsor


@dataclass(frozen=True)
class Prepared:
    """A checked enrolment, priced, ready to confirm."""

    data: EnrolmentData
    person: RegistrationData | None
    quote: Quote
    sponsor_id: int | None
    sponsor_name: str | None
    #: The sponsor pays from a public budget (APBN/APBD): no relief applies.
    sponsor_public_budget: bool
    day: date


# --- small rules ---------------------------------------------------------------------------


def receipt_number(year: int) -> str:
    """The next cash receipt (kuitansi) number of ``year``, e.g. ``KW-2026-000001``."""
    return f"KW-{year}-{next_counter(f'receipt-{year}'):06d}"


def local_day(event: Event, now: datetime) -> date:
    """The date at the venue at ``now``: the enrolment date."""
    return now.astimezone(ZoneInfo(event.timezone)).date()


def schedule_today(event: Event) -> ContributionSchedule | None:
    """The schedule in force today at the event's venue."""
    return schedule_in_force(local_day(event, utcnow()))


def _is_member(person_id: int) -> bool:
    """Whether any registration of the person (any city) says they are a member."""
    return (
        db.session.scalar(
            select(Registration.id)
            .where(Registration.person_id == person_id, Registration.is_member)
            .limit(1)
        )
        is not None
    )


def refuse_if_enrolled_or_member(person_id: int) -> None:
    """Raise AlreadyEnrolled or AlreadyMember for a person who must not be enrolled."""
    existing = enrolment_of_person(person_id)
    if existing is not None:
        raise AlreadyEnrolled(
            _(
                "This NIK is already enrolled (participant number %(number)s).",
                number=existing.participant_number,
            )
        )
    if _is_member(person_id):
        raise AlreadyMember(_("This runner is already a member of the scheme."))


# --- preparing and enrolling -----------------------------------------------------------------


def _merge(errors: dict[str, list[str]], more: Mapping[str, list[str]]) -> None:
    for field, messages in more.items():
        errors.setdefault(field, []).extend(messages)


def prepare(
    event: Event,
    raw: Mapping[str, Any],
    *,
    walkup: bool,
    typed: bool = False,
    now: datetime | None = None,
    registration: Registration | None = None,
) -> Prepared:
    """Check an enrolment (and a walk-up's registration fields) and price it.

    ``typed``: the desk's form, whose numbers arrive as text (the API sends JSON numbers).
    ``registration``: the scanned runner's (a sponsor's list may name their NIK).
    """
    day = local_day(event, now or utcnow())
    schedule: ContributionSchedule | None = schedule_in_force(day)
    if schedule is None:
        raise NoSchedule(_("No contribution schedule is in force today. An admin must load one."))
    sponsors = active_sponsors()
    errors: dict[str, list[str]] = {}
    person = None
    if walkup:
        try:
            # The one consent box covers both notices; it is checked with the enrolment.
            person = clean_registration({**raw, "member": False, "consent": True}, event)
        except ValidationFailed as failed:
            _merge(errors, failed.errors)
    data = None
    nik_hash = nik_hash_of(person, registration)
    raw = with_eligible_sponsor(raw, nik_hash)  # no payer named: the eligible sponsor
    try:
        data = clean_enrolment(raw, schedule, sponsors, typed=typed)
    except ValidationFailed as failed:
        _merge(errors, failed.errors)
    if errors or data is None:
        raise ValidationFailed(errors)
    sponsor: Sponsor | None = next((s for s in sponsors if s.code == data.sponsor_code), None)
    priced = price(
        day,
        declared_income=data.declared_income,
        programmes=data.programmes,
        months=data.months,
        occupation=data.occupation,
        sponsor=sponsor,
    )
    precheck(sponsor.id if sponsor else None, nik_hash, priced)  # again under the lock
    if person is not None:
        with force_locale("id"):
            label = str(OCCUPATIONS[data.occupation])
        person = dataclasses.replace(person, occupation=data.occupation_other or label)
    return Prepared(
        data=data,
        person=person,
        quote=priced,
        sponsor_id=sponsor.id if sponsor else None,
        sponsor_name=sponsor.name if sponsor else None,
        sponsor_public_budget=bool(sponsor and sponsor.public_budget),
        day=day,
    )


def _insert_enrolment(
    registration: Registration,
    prepared: Prepared,
    *,
    notice_id: int,
    user_id: int | None,
    source: str,
    now: datetime,
) -> tuple[int, str]:
    """Take a participant number and store the enrolment; commits. (id, number)."""
    data, priced = prepared.data, prepared.quote
    person_id, registration_id = registration.person_id, registration.id
    values = dict(
        person_id=person_id,
        registration_id=registration_id,
        event_id=registration.event_id,
        full_name=registration.full_name,
        phone=registration.phone,
        birth_place=data.birth_place,
        mother_maiden_name=data.mother_maiden_name,
        address=data.address,
        occupation=data.occupation,
        occupation_other=data.occupation_other,
        declared_income=data.declared_income,
        income_basis=priced.income_basis,
        programmes=",".join(priced.programmes),
        months=priced.months,
        payment_channel=data.payment_channel,
        sponsor_id=prepared.sponsor_id,
        schedule_id=priced.schedule_id,
        reliefs=",".join(priced.relief_codes),
        jkk=priced.jkk,
        jkm=priced.jkm,
        jht=priced.jht,
        monthly_total=priced.monthly_total,
        amount_due=priced.amount_due,
        sponsor_amount=priced.sponsor_amount,
        valid_from=prepared.day,
        paid_until=priced.paid_until,
        enrolment_notice_id=notice_id,
        consent_at=now,
        enrolled_by_id=user_id,
        source=source,
        created_at=now,
    )
    begin_write()
    try:
        charge(prepared.sponsor_id, person_id, priced)  # the sponsor's row locked first
        refuse_if_enrolled_or_member(person_id)
        number = participant_number(next_counter("participant"))
        if data.payment_channel == "cash":
            values["receipt_number"] = receipt_number(prepared.day.year)
        table = Enrolment.__table__
        enrolment_id = db.session.scalar(
            table.insert().values(participant_number=number, **values).returning(table.c.id)
        )
        db.session.execute(
            EnrolmentMonth.__table__.insert(),
            [
                {
                    "enrolment_id": enrolment_id,
                    "month": m.month,
                    "schedule_id": m.schedule_id,
                    "jkk": m.jkk,
                    "jkm": m.jkm,
                    "jht": m.jht,
                    "total": m.total,
                    "relief": m.relief_code,
                }
                for m in priced.per_month
            ],
        )
    except IntegrityError as exc:
        db.session.rollback()
        if "person_id" in str(exc.orig) or "registration_id" in str(exc.orig):
            raise AlreadyEnrolled(_("This NIK is already enrolled.")) from exc
        raise
    except BaseException:
        db.session.rollback()
        raise
    queue_for(MessageKind.ENROLMENT_WELCOME, registration_id)
    record(
        "enrolment",
        user_id=user_id,
        target=number,
        event_id=registration.event_id,
        detail=source,
    )
    db.session.commit()
    return enrolment_id, number


def enrol_registered(
    event: Event,
    registration: Registration,
    prepared: Prepared,
    *,
    user: User | None,
    locale: str,
    source: str = "desk",
    now: datetime | None = None,
) -> EnrolmentResult:
    """Enrol the runner of ``registration`` (a bib scanned at the desk)."""
    now = now or utcnow()
    if registration.event_id != event.id:
        raise RegistrationNotFound(_("No runner of this event has that bib."))
    if registration.status == RegistrationStatus.CANCELLED:
        raise NotEnrollable(_("This registration was cancelled."))
    if registration.is_member:
        raise AlreadyMember(_("This runner is already a member of the scheme."))
    notice_id = enrolment_notice(locale).id
    user_id = user.id if user else None
    snapshot = (
        registration.id,
        registration.status,
        registration.bib,
        registration.full_name,
    )
    enrolment_id, number = _insert_enrolment(
        registration, prepared, notice_id=notice_id, user_id=user_id, source=source, now=now
    )
    return EnrolmentResult(
        id=enrolment_id,
        participant_number=number,
        registration_id=snapshot[0],
        registration_status=snapshot[1],
        bib=snapshot[2],
        full_name=snapshot[3],
        quote=prepared.quote,
        valid_from=prepared.day,
        paid_until=prepared.quote.paid_until,
    )


def enrol_walkup(
    event: Event,
    prepared: Prepared,
    *,
    user: User | None,
    locale: str,
    source: str = "desk",
    now: datetime | None = None,
    walkup_place: bool = False,
) -> EnrolmentResult:
    """Register a walk-up (a place while the quota lasts, else the waitlist) and enrol them.

    ``walkup_place`` (the race-day desk): beyond the quota, one of the event's walk-up
    places, else refused; never the waitlist (funrun/registration/register.py).

    The checks that can refuse the enrolment run before registering. If the enrolment
    still fails (another desk enrolled the same NIK in that instant), the new
    registration is cancelled again, so no half-done walk-up stays behind.
    """
    if prepared.person is None:
        raise ValueError("a walk-up needs the person's fields")
    cipher = data_cipher()
    person_id = db.session.scalar(
        select(Person.id).where(Person.nik_hash == cipher.lookup_hash(prepared.person.nik))
    )
    if person_id is not None:
        refuse_if_enrolled_or_member(person_id)
        registered = db.session.scalar(
            select(Registration.id).where(
                Registration.person_id == person_id,
                Registration.event_id == event.id,
                Registration.status != RegistrationStatus.CANCELLED,
            )
        )
        if registered is not None:
            raise NotEnrollable(
                _("This NIK is already registered for this event: scan the runner's bib instead.")
            )
    new = register(
        event,
        prepared.person,
        notice=current_privacy_notice(locale),
        source=RegistrationSource.WALKUP,
        locale=locale,
        created_by_id=user.id if user else None,
        now=now,
        walkup_place=walkup_place,
    )
    registration = new.registration
    try:
        result = enrol_registered(
            event, registration, prepared, user=user, locale=locale, source=source, now=now
        )
    except EnrolmentError:
        cancel(db.session.get_one(Registration, new.snapshot.id))
        raise
    return dataclasses.replace(result, manage_token=new.manage_token)


def enrolment_card(enrolment: Enrolment) -> bytes:
    """The membership card PDF of an enrolment."""
    from funrun.enrolment.card import CardFace, card_pdf  # reportlab loads when a card is made

    return card_pdf(
        CardFace(
            organiser=enrolment.event.tour.organiser,
            participant_number=enrolment.participant_number,
            full_name=enrolment.full_name,
            programmes=tuple(enrolment.programme_list),
            valid_from=enrolment.valid_from,
            paid_until=enrolment.paid_until,
            colour=enrolment.event.bib_colour,
        )
    )
