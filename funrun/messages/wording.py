"""What each kind of message says, in the runner's language: a subject, paragraphs, a
few labelled facts and the runner's link. E-mail, WhatsApp and SMS are built from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from funrun.enrolment.filters import rupiah
from funrun.i18n import format_clock, format_event_date
from funrun.messages.facts import Facts
from funrun.messages.models import MessageKind


@dataclass(frozen=True)
class Wording:
    """A message's words, before any channel's layout."""

    subject: str
    greeting: str
    paragraphs: tuple[str, ...]
    rows: tuple[tuple[str, str], ...]
    link_label: str | None
    link: str | None
    footer: str

    def text(self) -> str:
        """The plain-text body (e-mail's text part, SMS)."""
        parts = [self.greeting, "", *(p for para in self.paragraphs for p in (para, ""))]
        parts += [f"{label}: {value}" for label, value in self.rows]
        if self.link:
            parts += ["", f"{self.link_label}:", self.link]
        parts += ["", self.footer]
        return "\n".join(parts).strip() + "\n"


def _month(day: date) -> str:
    return format_date(day, "MMMM yyyy")


def _event_rows(facts: Facts) -> list[tuple[str, str]]:
    when = f"{format_event_date(facts.day)}, {format_clock(facts.start)}"
    return [(_("Event"), facts.event_name), (_("When"), when), (_("Where"), facts.venue)]


def _confirmed(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("Your place at %(event)s: bib %(bib)s", event=facts.event_name, bib=facts.bib)
    paragraphs = [
        _("Your place is confirmed. Your bib and e-ticket are attached (PDF)."),
        _("Show the QR code at the race-pack desk with your KTP to collect your race pack."),
    ]
    return subject, paragraphs, [(_("Bib number"), facts.bib or ""), *_event_rows(facts)]


def _promoted(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("A place opened up: you are running %(event)s", event=facts.event_name)
    paragraphs = [
        _("A place became free and it is yours: you were next on the waitlist."),
        _("You have nothing to do. Your bib and e-ticket are attached (PDF)."),
    ]
    return subject, paragraphs, [(_("Bib number"), facts.bib or ""), *_event_rows(facts)]


def _waitlisted(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("You are on the waitlist for %(event)s", event=facts.event_name)
    paragraphs = [
        _("The event is full, so you are on the waitlist."),
        _("If a place becomes free, it goes to the next runner on the list and we tell you."),
    ]
    rows = [(_("Waitlist position"), str(facts.waitlist_position or "-")), *_event_rows(facts)]
    return subject, paragraphs, rows


def _cancelled(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("Your registration for %(event)s is cancelled", event=facts.event_name)
    paragraphs = [
        _("Your registration is cancelled; a place you held goes to the waitlist's next runner."),
        _("If you did not ask for this, contact the organiser."),
    ]
    return subject, paragraphs, _event_rows(facts)


def _details_changed(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("Your details for %(event)s were changed", event=facts.event_name)
    paragraphs = [
        _("Your contact details or shirt size were changed with your private link."),
        _("If you did not do this, open your link and check them."),
    ]
    return subject, paragraphs, _event_rows(facts)


def _reminder(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("%(event)s is in %(days)s days", event=facts.event_name, days=facts.days_before)
    paragraphs = [
        _("Race day is coming. Collect your race pack before the race with your KTP."),
    ]
    rows = _event_rows(facts)
    if facts.bib:
        rows.insert(0, (_("Bib number"), facts.bib))
    if facts.pickup_hours:
        rows.append((_("Race-pack pickup"), facts.pickup_hours))
    return subject, paragraphs, rows


def _welcome(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("Welcome to the workers' social security scheme")
    paragraphs = [_("You are now a member. Keep your participant number.")]
    rows: list[tuple[str, str]] = []
    joined = facts.enrolment
    if joined is not None:
        paid = (
            _("paid by %(sponsor)s", sponsor=joined.sponsor)
            if joined.sponsor
            else rupiah(joined.paid)
        )
        rows = [
            (_("Participant number"), joined.participant_number),
            (_("Programmes"), joined.programmes),
            (_("Months covered"), f"{_month(joined.first_month)} - {_month(joined.last_month)}"),
            (_("Paid"), paid),
            (_("Next contribution due"), format_event_date(joined.next_due)),
        ]
        paragraphs.append(
            _(
                "Pay the next month by %(day)s to stay covered.",
                day=format_event_date(joined.next_due),
            )
        )
    return subject, paragraphs, rows


def _recovered(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("Your new private link for %(event)s", event=facts.event_name)
    paragraphs = [
        _("You asked for your private link again. Here is a new one; the old one no longer works."),
        _("If you did not ask for this, you can ignore this message."),
    ]
    return subject, paragraphs, _event_rows(facts)


def _deadline(facts: Facts) -> str:
    """Until when a group member's place is held, in venue time: "13 Desember 2026, 23.59"."""
    if facts.hold_until is None:
        return "-"
    return f"{format_event_date(facts.hold_until.date())}, {format_clock(facts.hold_until.time())}"


def _group_invite(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    partner = facts.partner or _("Your organisation")
    subject = _(
        "%(partner)s registered you for %(event)s: confirm your place",
        partner=partner,
        event=facts.event_name,
    )
    paragraphs = [
        _(
            "%(partner)s registered you for %(event)s in %(city)s on %(day)s.",
            partner=partner,
            event=facts.event_name,
            city=facts.city,
            day=format_event_date(facts.day),
        ),
        _(
            "Your place (bib %(bib)s) is held until %(deadline)s: confirm it yourself and "
            "give your consent with your private link below, or let it go.",
            bib=facts.bib or "-",
            deadline=_deadline(facts),
        ),
        _("A place not confirmed by then goes to the next runner on the waitlist."),
    ]
    rows = [
        (_("Bib number"), facts.bib or "-"),
        *_event_rows(facts),
        (_("Confirm by"), _deadline(facts)),
    ]
    return subject, paragraphs, rows


def _hold_expired(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("Your held place for %(event)s went back", event=facts.event_name)
    paragraphs = [
        _(
            "Your held place went back because it was not confirmed by %(deadline)s.",
            deadline=_deadline(facts),
        ),
        _("It goes to the next runner on the waitlist. You can still register yourself."),
    ]
    return subject, paragraphs, _event_rows(facts)


def _payment_due(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    due = facts.payment_due
    if due is None:  # no enrolment any more: a plain note
        return _("Your monthly contribution"), [], []
    months = _month(due.month)
    if due.first_unpaid < due.month:
        months = f"{_month(due.first_unpaid)} - {_month(due.month)}"
    subject = _("Time to pay your contribution for %(month)s", month=_month(due.month))
    paragraphs = [
        _(
            "Pay by %(day)s to stay covered by the workers' social security scheme.",
            day=format_event_date(due.due_by),
        ),
        _(
            "How to pay: at any BPJS Ketenagakerjaan office or partner bank, or with an "
            "e-payment app, giving your participant number."
        ),
    ]
    rows = [
        (_("Participant number"), due.participant_number),
        (_("Month due"), months),
        (_("Due by"), format_event_date(due.due_by)),
        (_("Monthly contribution"), rupiah(due.monthly_amount)),
    ]
    return subject, paragraphs, rows


def _entries_close(facts: Facts) -> str:
    """When a ballot's entries close, in venue time: "13 Desember 2026, 23.59"."""
    if facts.entries_close is None:
        return "-"
    closes = facts.entries_close
    return f"{format_event_date(closes.date())}, {format_clock(closes.time())}"


def _ballot_entered(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    number = str(facts.entry_number or "-")
    subject = _(
        "Your ballot entry for %(event)s: number %(number)s",
        event=facts.event_name,
        number=number,
    )
    paragraphs = [
        _(
            "We got your entry. It is not a place yet: after entries close, a draw picks "
            "who gets a place."
        ),
        _(
            "Keep your entry number. After the draw we send you a message: a place with a "
            "bib, or a place on the waitlist."
        ),
    ]
    rows = [
        (_("Entry number"), number),
        (_("Entries close"), _entries_close(facts)),
        *_event_rows(facts),
    ]
    return subject, paragraphs, rows


def _ballot_won(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("You got a place at %(event)s: bib %(bib)s", event=facts.event_name, bib=facts.bib)
    paragraphs = [
        _("Good news: the draw picked you."),
        _("Your place is confirmed. Your bib and e-ticket are attached (PDF)."),
        _("Show the QR code at the race-pack desk with your KTP to collect your race pack."),
    ]
    rows = [
        (_("Bib number"), facts.bib or ""),
        (_("Entry number"), str(facts.entry_number or "-")),
        *_event_rows(facts),
    ]
    return subject, paragraphs, rows


def _ballot_waitlisted(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = _("The draw for %(event)s: you are on the waitlist", event=facts.event_name)
    paragraphs = [
        _(
            "The draw did not pick you for a place this time, so you are on the waitlist, "
            "in draw order."
        ),
        _("If a place becomes free, it goes to the next runner on the list and we tell you."),
    ]
    rows = [
        (_("Waitlist position"), str(facts.waitlist_position or "-")),
        (_("Entry number"), str(facts.entry_number or "-")),
        *_event_rows(facts),
    ]
    return subject, paragraphs, rows


def _broadcast(facts: Facts) -> tuple[str, list[str], list[tuple[str, str]]]:
    subject = facts.subject or facts.event_name
    paragraphs = [p.strip() for p in (facts.body or "").split("\n\n") if p.strip()]
    return f"{facts.event_name}: {subject}", paragraphs, _event_rows(facts)


_KINDS = {
    MessageKind.CONFIRMED: _confirmed,
    MessageKind.PROMOTED: _promoted,
    MessageKind.WAITLISTED: _waitlisted,
    MessageKind.CANCELLED: _cancelled,
    MessageKind.DETAILS_CHANGED: _details_changed,
    MessageKind.REMINDER: _reminder,
    MessageKind.ENROLMENT_WELCOME: _welcome,
    MessageKind.LINK_RECOVERED: _recovered,
    MessageKind.BROADCAST: _broadcast,
    MessageKind.GROUP_INVITE: _group_invite,
    MessageKind.HOLD_EXPIRED: _hold_expired,
    MessageKind.PAYMENT_DUE: _payment_due,
    MessageKind.BALLOT_ENTERED: _ballot_entered,
    MessageKind.BALLOT_WON: _ballot_won,
    MessageKind.BALLOT_WAITLISTED: _ballot_waitlisted,
}


def kind_name(kind: str) -> str:
    """A kind of message, in words."""
    names = {
        MessageKind.CONFIRMED: _("Place confirmed"),
        MessageKind.PROMOTED: _("Promoted from the waitlist"),
        MessageKind.WAITLISTED: _("On the waitlist"),
        MessageKind.CANCELLED: _("Registration cancelled"),
        MessageKind.DETAILS_CHANGED: _("Details changed"),
        MessageKind.REMINDER: _("Race-week reminder"),
        MessageKind.ENROLMENT_WELCOME: _("Welcome to the scheme"),
        MessageKind.LINK_RECOVERED: _("New private link"),
        MessageKind.BROADCAST: _("Message from the organiser"),
        MessageKind.GROUP_INVITE: _("Place held by your organisation"),
        MessageKind.HOLD_EXPIRED: _("Held place went back"),
        MessageKind.PAYMENT_DUE: _("Contribution due"),
        MessageKind.BALLOT_ENTERED: _("Ballot entry received"),
        MessageKind.BALLOT_WON: _("Place won in the ballot"),
        MessageKind.BALLOT_WAITLISTED: _("Waitlisted by the ballot"),
    }
    return names.get(kind, kind)  # type: ignore[call-overload,no-any-return]


def _link_label(facts: Facts) -> str:
    if facts.kind == MessageKind.GROUP_INVITE:
        return _("Confirm your place (or let it go)")
    return _("Your private link (see, change or cancel)")


def word(facts: Facts) -> Wording:
    """The message's words in the runner's language."""
    with force_locale(facts.locale):
        subject, paragraphs, rows = _KINDS[facts.kind](facts)
        opted = facts.kind == MessageKind.REMINDER
        footer = (
            _("You can turn race-week reminders off with your private link.")
            if opted
            else _("This message is about your registration; you get it whatever your settings.")
        )
        return Wording(
            subject=subject,
            greeting=_("Hello %(name)s,", name=facts.name),
            paragraphs=tuple(paragraphs),
            rows=tuple(rows),
            link_label=_link_label(facts) if facts.link else None,
            link=facts.link,
            footer=footer,
        )
