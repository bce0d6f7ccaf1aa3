"""Codes put into words, in the reader's language: one place per kind of code.

Pages never show a stored code (``organiser``, ``already_checked_in``, ``pickup``): they
show its words through the filters registered here (``role``, ``scan_result``,
``reg_status``, ``reg_source``, ``event_status``, ``audit_action``, ``audit_detail``).
A code without words (a new one, or an old row's) shows as itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import format_date, format_datetime, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from funrun.accounts.forms import ROLE_LABELS
from funrun.audit.services import ACTIONS
from funrun.checkin.models import STATION_LABELS

SCAN_RESULTS = {
    "checked_in": _l("Checked in"),
    "already_checked_in": _l("Already checked in"),
    "unknown": _l("Unknown bib"),
    "invalid": _l("Invalid code"),
    "wrong_event": _l("Bib of another event"),
    "not_confirmed": _l("Not confirmed"),
    "confirm_identity": _l("ID card asked for"),
    "proxy_limit": _l("Representative over the limit"),
    "undone": _l("Check-in undone"),
}
REGISTRATION_STATUSES = {
    "confirmed": _l("confirmed"),
    "waitlisted": _l("waitlisted"),
    "cancelled": _l("cancelled"),
    "held": _l("held for a group, not confirmed yet"),
}
REGISTRATION_SOURCES = {
    "web": _l("website"),
    "api": _l("partner API"),
    "partner": _l("partner API"),
    "walkup": _l("walk-up at the desk"),
    "demo": _l("demo data"),
    "group": _l("a partner's group"),
    "desk": _l("enrolment desk"),
}
EVENT_STATUSES = {
    "open": _l("Open"),
    "full": _l("Full: waitlist"),
    "closed": _l("Closed"),
}
CONTACTS = {
    "email": _l("email"),
    "phone": _l("phone"),
    "sms": _l("SMS"),
    "whatsapp": _l("WhatsApp"),
}


def words(labels: Mapping[str, object], code: object) -> str:
    """The words for ``code`` in ``labels``; the code itself when it has none."""
    if code is None:
        return ""
    return str(labels.get(str(code), code))


def role_name(code: object) -> str:
    return words(ROLE_LABELS, code)


def station_name(code: object) -> str:
    return words(STATION_LABELS, code)


def scan_result_name(code: object) -> str:
    return words(SCAN_RESULTS, code)


def day_short(value: date) -> str:
    """``Sab, 5 Des 2026`` / ``Sat, 5 Dec 2026``: a date in a table cell."""
    return format_date(value, "EEE, d MMM y")


def when_short(value: datetime | None, tz: str = "Asia/Jakarta") -> str:
    """``5 Des 2026 14.05`` / ``5 Dec 2026 14:05`` in ``tz``: a moment on one line."""
    if value is None:
        return ""
    pattern = "d MMM y HH.mm" if str(get_locale()) == "id" else "d MMM y HH:mm"
    return format_datetime(value.astimezone(ZoneInfo(tz)), pattern)


# --- Audit details: each action's stored detail, back into words. -----------------------

_SEP = " · "


def _scan(detail: str) -> str:
    # "<result> · <station> · <device>" (funrun.audit.queries)
    parts = detail.split(_SEP)
    if len(parts) != 3:
        return detail
    result, station, device = parts
    said = [scan_result_name(result), station_name(station)]
    if device:
        said.append(_("device %(name)s", name=device))
    return _SEP.join(said)


def _undo(detail: str) -> str:
    # "<station> · <device>" (funrun.checkin.services)
    station, _sep, device = detail.partition(_SEP)
    said = [station_name(station)]
    if device:
        said.append(_("device %(name)s", name=device))
    return _SEP.join(said)


def _number(pattern: str, say: Callable[[int], str]) -> Callable[[str], str]:
    """A detail holding a count (``pattern``'s first group) said by ``say``."""
    compiled = re.compile(pattern)

    def said(detail: str) -> str:
        found = compiled.fullmatch(detail)
        return say(int(found.group(1))) if found else detail

    return said


def _enrolments(n: int) -> str:
    return ngettext("%(num)d enrolment", "%(num)d enrolments", n)


def _sessions(n: int) -> str:
    return ngettext("%(num)d session ended", "%(num)d sessions ended", n)


def _event_edit(detail: str) -> str:
    found = re.fullmatch(r"quota (\d+) reminder (\d+|none)", detail)
    if not found:
        return detail
    quota, days = found.groups()
    reminder = (
        _("no reminder")
        if days == "none"
        else ngettext("reminder %(num)d day before", "reminder %(num)d days before", int(days))
    )
    return _SEP.join([_("quota %(n)s", n=quota), reminder])


def _login_locked(detail: str) -> str:
    found = re.fullmatch(r"(\d+) min", detail)
    if not found:
        return detail
    return ngettext("locked for %(num)d minute", "locked for %(num)d minutes", int(found.group(1)))


def _message_retry(detail: str) -> str:
    # "<kind> · <channel>" (one message) or "<n> failed messages" (an event's)
    found = re.fullmatch(r"(\d+) failed messages", detail)
    if found:
        n = int(found.group(1))
        return ngettext("%(num)d failed message", "%(num)d failed messages", n)
    kind, _sep, channel = detail.partition(_SEP)
    from funrun.messages.wording import kind_name

    return _SEP.join([kind_name(kind), words(CONTACTS, channel)]) if channel else detail


def _broadcast(detail: str) -> str:
    count, _sep, subject = detail.partition(_SEP)
    if not count.endswith(" messages") or not count.split()[0].isdigit():
        return detail
    n = int(count.split()[0])
    said = ngettext("%(num)d message", "%(num)d messages", n)
    return _SEP.join([said, subject]) if subject else said


def _purge(detail: str) -> str:
    names = {
        "events": _l("events"),
        "registrations": _l("registrations"),
        "people": _l("people"),
        "enrolments": _l("enrolments"),
        "batches": _l("export batches"),
        "print_files": _l("print files"),
        "held": _l("held back"),
        "cancelled": _l("cancelled"),
        "promoted": _l("promoted from the waitlist"),
    }
    pairs = re.findall(r"(\w+)=(\d+)", detail)
    if not pairs or len(" ".join(f"{k}={v}" for k, v in pairs)) != len(detail.strip()):
        return detail
    return ", ".join(f"{words(names, key)}: {value}" for key, value in pairs)


_FIXED = {
    "locked": _l("locked"),
    "found": _l("found"),
    "not found": _l("not found"),
    "id card seen": _l("ID card seen"),
}

AUDIT_DETAILS: dict[str, Callable[[str], str]] = {
    "scan": _scan,
    "undo": _undo,
    "event_edit": _event_edit,
    "account_create": role_name,
    "assign": station_name,
    "enrolment": lambda d: words(REGISTRATION_SOURCES, d),
    "export_batch": _number(r"(\d+)", _enrolments),
    "sessions_end": _number(r"(\d+)", _sessions),
    "deactivate": _number(r"(\d+) sessions ended", _sessions),
    "token_revoke": lambda d: _("token %(id)s", id=d) if d.startswith("#") else d,
    "login_locked": _login_locked,
    "link_recovered": lambda d: (
        _("by %(contact)s", contact=words(CONTACTS, d[3:])) if d.startswith("by ") else d
    ),
    "message_retry": _message_retry,
    "broadcast": _broadcast,
    "privacy_purge": _purge,
    "privacy_delete": _purge,
}


def audit_action(code: object) -> str:
    """An audit action in words (``Scan``, ``Check-in undone``)."""
    return words(ACTIONS, code)


def audit_detail(action: str, detail: str | None) -> str:
    """A stored audit detail in words; what cannot be read back shows as stored."""
    if not detail:
        return ""
    if detail in _FIXED:
        return str(_FIXED[detail])
    say = AUDIT_DETAILS.get(action)
    if say is None:
        return detail
    try:
        return say(detail)
    except (ValueError, KeyError):
        return detail


def audit_target(action: str, target: str | None) -> str:
    """An audit target: an email, a slug, a file name, a bib; ``message 12`` in words."""
    if not target:
        return ""
    found = re.fullmatch(r"message (\d+)", target)
    if found:
        return _("message no. %(n)s", n=found.group(1))
    return target


def init_app(app: Flask) -> None:
    """Register the filters."""
    filters = app.jinja_env.filters
    filters["role"] = role_name
    filters["scan_result"] = scan_result_name
    filters["reg_status"] = lambda code: words(REGISTRATION_STATUSES, code)
    filters["reg_source"] = lambda code: words(REGISTRATION_SOURCES, code)
    filters["event_status"] = lambda code: words(EVENT_STATUSES, code)
    filters["audit_action"] = audit_action
    filters["day_short"] = day_short
    filters["when_short"] = when_short
    app.jinja_env.globals["audit_detail"] = audit_detail
    app.jinja_env.globals["audit_target"] = audit_target
