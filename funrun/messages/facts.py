"""What a message says, gathered from the registration as it is when the message is sent
(or shown), or made up for an organiser's preview."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select

from funrun.enrolment.contribution import DUE_DAY, month_start
from funrun.enrolment.models import Enrolment, EnrolmentMonth, Sponsor
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.models import Broadcast, Message, MessageKind
from funrun.people.crypto import data_cipher
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.tokens import TOKEN_CONTEXT

if TYPE_CHECKING:
    from funrun.payments.due import PaymentDueFacts

#: Where links point when FUNRUN_PUBLIC_URL is not set (development, ``make run``).
DEVELOPMENT_URL = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class EnrolmentFacts:
    """What the welcome message says of a new membership."""

    participant_number: str
    programmes: str
    first_month: date
    last_month: date
    paid: int
    sponsor: str | None
    next_due: date


@dataclass(frozen=True)
class Facts:
    """Everything a message of any kind may say."""

    kind: MessageKind
    locale: str
    name: str
    email: str | None
    phone: str
    event_name: str
    city: str
    day: date
    start: time
    venue: str
    status: str
    bib: str | None = None
    waitlist_position: int | None = None
    link: str | None = None
    pickup_hours: str | None = None
    days_before: int | None = None
    enrolment: EnrolmentFacts | None = None
    subject: str | None = None
    body: str | None = None
    #: A link recovery goes only where the runner asked ("email" or "phone").
    via: str | None = None
    #: A group member's place: the partner (organisation) who registered them, and until
    #: when the place is held (venue time).
    partner: str | None = None
    hold_until: datetime | None = None
    #: A payment reminder: the member's participant number, the month due, the amount.
    payment_due: PaymentDueFacts | None = None
    #: A ballot entry's number, and when entries close (venue time): the draw follows.
    entry_number: int | None = None
    entries_close: datetime | None = None


def public_url() -> str:
    """The site's address for links in messages."""
    return (current_app.config.get("FUNRUN_PUBLIC_URL") or DEVELOPMENT_URL).rstrip("/")


def manage_link(registration: Registration) -> str | None:
    """The runner's private link, when it was stored (registrations since messages)."""
    if not registration.manage_token_encrypted:
        return None
    token = data_cipher().decrypt(registration.manage_token_encrypted, context=TOKEN_CONTEXT)
    return f"{public_url()}/r/{token}"


def _waitlist_position(registration: Registration) -> int | None:
    from funrun.registration.cancelling import waitlist_position

    return waitlist_position(registration)


def _enrolment(registration_id: int) -> EnrolmentFacts | None:
    enrolment = db.session.scalar(
        select(Enrolment).where(Enrolment.registration_id == registration_id)
    )
    if enrolment is None:
        return None
    months = db.session.execute(
        select(EnrolmentMonth.month)
        .where(EnrolmentMonth.enrolment_id == enrolment.id)
        .order_by(EnrolmentMonth.month)
    ).scalars()
    covered = list(months) or [enrolment.valid_from]
    sponsor = db.session.get(Sponsor, enrolment.sponsor_id) if enrolment.sponsor_id else None
    return EnrolmentFacts(
        participant_number=enrolment.participant_number,
        programmes=enrolment.programmes.replace(",", ", "),
        first_month=covered[0],
        last_month=covered[-1],
        paid=enrolment.amount_due,
        sponsor=sponsor.name if sponsor else None,
        next_due=month_start(covered[-1], 1).replace(day=DUE_DAY),
    )


def facts_for(message: Message) -> Facts | None:
    """What ``message`` says now; None when there is nobody to tell (purged, deleted)."""
    registration = (
        db.session.get(Registration, message.registration_id) if message.registration_id else None
    )
    if registration is None or registration.purged_at is not None:
        return None
    event: Event = registration.event
    kind = MessageKind(message.kind)
    confirmed = registration.status == RegistrationStatus.CONFIRMED
    facts = Facts(
        kind=kind,
        locale=registration.locale or "id",
        name=registration.full_name,
        email=registration.email,
        phone=registration.phone,
        event_name=event.name,
        city=event.city,
        day=event.date,
        start=event.start_time,
        venue=event.venue,
        status=registration.status,
        bib=registration.bib if confirmed else None,
        link=manage_link(registration),
        pickup_hours=event.pickup_hours,
        days_before=(event.date - _today(event)).days,
        via=(message.context or {}).get("via"),
        entry_number=registration.entry_number,
    )
    if kind in _BALLOT_KINDS:
        facts = replace(facts, entries_close=_entries_close(event))
    if kind in (MessageKind.WAITLISTED, MessageKind.BALLOT_WAITLISTED):
        facts = replace(facts, waitlist_position=_waitlist_position(registration))
    if kind == MessageKind.ENROLMENT_WELCOME:
        facts = replace(facts, enrolment=_enrolment(registration.id))
    if kind in (MessageKind.GROUP_INVITE, MessageKind.HOLD_EXPIRED):
        facts = replace(facts, **_hold_facts(registration, event))
    if kind == MessageKind.PAYMENT_DUE:
        from funrun.payments.due import due_facts

        facts = replace(facts, payment_due=due_facts(registration.id, message.context))
    if kind == MessageKind.BROADCAST and message.broadcast_id:
        broadcast = db.session.get(Broadcast, message.broadcast_id)
        if broadcast is not None:
            english = facts.locale == "en" and broadcast.body_en
            facts = replace(
                facts,
                subject=(broadcast.subject_en if english else None) or broadcast.subject_id,
                body=broadcast.body_en if english else broadcast.body_id,
            )
    return facts


#: Messages of a ballot's entrants (funrun.ballot).
_BALLOT_KINDS = frozenset(
    {MessageKind.BALLOT_ENTERED, MessageKind.BALLOT_WON, MessageKind.BALLOT_WAITLISTED}
)


def _entries_close(event: Event) -> datetime | None:
    """When the ballot's entries close, in venue time."""
    from zoneinfo import ZoneInfo

    closes = event.registration_closes_at
    return closes.astimezone(ZoneInfo(event.timezone)) if closes else None


def _hold_facts(registration: Registration, event: Event) -> dict[str, Any]:
    """A group member's place: who registered them, until when it is held, its bib."""
    from zoneinfo import ZoneInfo

    from funrun.accounts.models import User

    partner = db.session.get(User, registration.partner_id) if registration.partner_id else None
    until = registration.hold_expires_at
    return {
        "partner": (partner.organisation or partner.email) if partner is not None else None,
        "hold_until": until.astimezone(ZoneInfo(event.timezone)) if until else None,
        "bib": registration.bib,
    }


def _today(event: Event) -> date:
    from zoneinfo import ZoneInfo

    from funrun.dbtypes import utcnow

    return utcnow().astimezone(ZoneInfo(event.timezone)).date()


def sample_facts(kind: MessageKind, locale: str, event: Event | None = None) -> Facts:
    """Made-up facts for an organiser's preview (nobody's real data)."""
    day = event.date if event else date.today() + timedelta(days=14)
    facts = Facts(
        kind=kind,
        locale=locale,
        name="Siti Rahayu",
        email="siti@example.com",
        phone="+6281200000000",
        event_name=event.name if event else "Fun Run Jakarta",
        city=event.city if event else "Jakarta",
        day=day,
        start=event.start_time if event else time(6, 0),
        venue=event.venue if event else "Monas",
        status=RegistrationStatus.CONFIRMED.value,
        bib=f"{event.bib_prefix} 0042" if event else "JKT 0042",
        link=f"{public_url()}/r/contoh-tautan-pribadi",
        pickup_hours=(event.pickup_hours if event else None) or "Sabtu 10.00-18.00",
        days_before=(event.reminder_days_before if event else None) or 3,
        subject="Perubahan lokasi start" if kind == MessageKind.BROADCAST else None,
        body="Start dipindah ke gerbang selatan." if kind == MessageKind.BROADCAST else None,
    )
    if kind == MessageKind.WAITLISTED:
        facts = replace(facts, status=RegistrationStatus.WAITLISTED.value, bib=None)
        facts = replace(facts, waitlist_position=12)
    if kind == MessageKind.CANCELLED:
        facts = replace(facts, status=RegistrationStatus.CANCELLED.value)
    if kind in _BALLOT_KINDS:
        closes = (event and _entries_close(event)) or datetime.combine(day, time(23, 59))
        facts = replace(facts, entry_number=1234, entries_close=closes)
    if kind == MessageKind.BALLOT_ENTERED:
        facts = replace(facts, status=RegistrationStatus.ENTERED.value, bib=None)
    if kind == MessageKind.BALLOT_WAITLISTED:
        facts = replace(facts, status=RegistrationStatus.WAITLISTED.value, bib=None)
        facts = replace(facts, waitlist_position=12)
    if kind in (MessageKind.GROUP_INVITE, MessageKind.HOLD_EXPIRED):
        held = RegistrationStatus.HELD if kind == MessageKind.GROUP_INVITE else None
        facts = replace(
            facts,
            status=(held or RegistrationStatus.CANCELLED).value,
            partner="Koperasi Ojek Sejahtera",
            hold_until=datetime.combine(date.today() + timedelta(days=7), time(23, 59)),
        )
    if kind == MessageKind.ENROLMENT_WELCOME:
        first = month_start(day)
        facts = replace(
            facts,
            enrolment=EnrolmentFacts(
                participant_number="26120000042",
                programmes="JKK, JKM",
                first_month=first,
                last_month=month_start(first, 2),
                paid=50400,
                sponsor=None,
                next_due=month_start(first, 3).replace(day=DUE_DAY),
            ),
        )
    if kind == MessageKind.PAYMENT_DUE:
        from funrun.payments.due import sample_due_facts

        facts = replace(facts, payment_due=sample_due_facts(day))
    return facts
