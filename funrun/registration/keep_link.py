"""Keeping the private manage link without any message provider (issue 18, point 3a).

The confirmation page offers two ways, neither of which needs JavaScript or loads
anything from another host: a ``wa.me`` link that opens WhatsApp on the runner's own
number with the text and link prefilled (WhatsApp's "message yourself"), and a small
text file to save. Both carry the same text, in the page's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from flask import url_for
from flask_babel import gettext as _

from funrun.i18n import format_clock, format_event_date
from funrun.registration.models import Registration, RegistrationStatus


@dataclass(frozen=True)
class KeepLink:
    """What the confirmation page offers to keep the link."""

    text: str
    whatsapp_url: str | None
    text_file_url: str


def link_text(registration: Registration, token: str) -> str:
    """The runner's own note: event, date, venue, bib (or waitlist) and the private link."""
    event = registration.event
    link = url_for("registration.manage", token=token, _external=True)
    when = f"{format_event_date(event.date)}, {format_clock(event.start_time)}"
    if registration.status == RegistrationStatus.CONFIRMED and registration.bib:
        place = _("Bib number: %(bib)s", bib=registration.bib)
    elif registration.status == RegistrationStatus.ENTERED:  # a ballot entry (funrun.ballot)
        place = _("Ballot entry number: %(number)s", number=registration.entry_number)
    else:
        place = _("On the waitlist")
    return "\n".join(
        [
            f"{event.name} · {when} · {event.venue}",
            place,
            _("My private link to see, change or cancel my registration:"),
            link,
        ]
    )


def keep_link(registration: Registration, token: str) -> KeepLink:
    """The text, the WhatsApp link to the runner's own number, and the file to save."""
    text = link_text(registration, token)
    digits = "".join(ch for ch in registration.phone or "" if ch.isdigit())
    whatsapp = f"https://wa.me/{digits}?text={quote(text, safe='')}" if digits else None
    return KeepLink(
        text=text,
        whatsapp_url=whatsapp,
        text_file_url="data:text/plain;charset=utf-8," + quote(text + "\n", safe=""),
    )
