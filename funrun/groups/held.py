"""The member's page for a place a partner holds for them: who registered them, the
event, the deadline, the privacy notice in force and the consent box, with "Confirm my
place" and "I don't want this place" (one form, two buttons: no script needed)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField

from funrun.accounts.models import User
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.groups import expiry
from funrun.i18n import format_clock, format_event_date
from funrun.people.crypto import data_cipher, mask_nik
from funrun.registration.models import PrivacyNotice, Registration
from funrun.registration.notices import current_privacy_notice

CONFIRM, DECLINE = "confirm", "decline"


class HoldForm(FlaskForm):
    """Confirm (with the consent box ticked) or let go of a held place."""

    consent = BooleanField()
    #: The notice shown with the box: what the consent records.
    notice = HiddenField()

    def chosen(self, pressed: str | None) -> str | None:
        """``confirm`` or ``decline`` (the button pressed), else None."""
        return pressed if pressed in (CONFIRM, DECLINE) else None

    def shown_notice(self) -> PrivacyNotice | None:
        """The notice the page showed, if it is one of those in force (id or en)."""
        sent = (self.notice.data or "").strip()
        for locale in ("id", "en"):
            notice = current_privacy_notice(locale)
            if sent == str(notice.id):
                return notice
        return None


CONSENT_MISSING = _l(
    "Tick the box to say you have read the privacy notice and agree: without your consent "
    "your place cannot be confirmed."
)


def partner_name(registration: Registration) -> str:
    """The organisation that registered the member (its email when it has no name)."""
    partner = db.session.get(User, registration.partner_id) if registration.partner_id else None
    if partner is None:
        return _("Your organisation")
    return partner.organisation or partner.email


def deadline(registration: Registration) -> str:
    """Until when the place is held, in the venue's time and the page's language."""
    until = registration.hold_expires_at
    if until is None:
        return "-"
    local = until.astimezone(ZoneInfo(registration.event.timezone))
    return f"{format_event_date(local.date())}, {format_clock(local.time())}"


def held_page(
    registration: Registration, token: str, form: HoldForm | None = None, status: int = 200
) -> tuple[str, int]:
    """The held place's page, in the page's language (Bahasa Indonesia first)."""
    notice = current_privacy_notice(str(get_locale()))
    form = form or HoldForm()
    form.notice.data = str(notice.id)
    nik = data_cipher().decrypt(registration.person.nik_encrypted)
    return (
        render_template(
            "registration/held.html",
            registration=registration,
            token=token,
            form=form,
            notice=notice,
            partner=partner_name(registration),
            deadline=deadline(registration),
            expired=expiry.is_past(registration, utcnow()),
            masked_nik=mask_nik(nik),
        ),
        status,
    )
