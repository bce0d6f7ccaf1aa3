"""A scan's input, checked: code, station, client_ref, time, device, method and ID flag."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l

from funrun.checkin.entry import (
    SCAN,
    Entry,
    method_errors,
    read_entry,
)
from funrun.checkin.models import STATIONS, ScanResult
from funrun.checkin.pickup import Pickup, read_pickup
from funrun.dbtypes import utcnow
from funrun.registration.validation import ValidationFailed

MAX_CODE = 200
SCANNED_AT_PAST = timedelta(days=7)
SCANNED_AT_FUTURE = timedelta(minutes=10)
_CLIENT_REF = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


#: What a device may say it answered offline (it never undoes, and queues a typed bib
#: only once the ID card was checked).
OFFLINE_ANSWERS = frozenset(
    str(r)
    for r in ScanResult
    if r not in (ScanResult.UNDONE, ScanResult.CONFIRM_IDENTITY, ScanResult.PROXY_LIMIT)
)


def _check_input(
    code: object,
    station: object,
    client_ref: object,
    offline_answer: object = None,
    method: object = None,
    id_checked: object = None,
) -> tuple[str, str, str | None]:
    errors = method_errors(method, id_checked)
    if offline_answer is not None and (
        not isinstance(offline_answer, str) or offline_answer not in OFFLINE_ANSWERS
    ):
        errors["offline_answer"] = [str(_l("Unknown offline answer."))]
    if not isinstance(code, str) or not code.strip():
        errors["code"] = [str(_l("Scan a bib or type its number."))]
    elif len(code) > MAX_CODE:
        errors["code"] = [str(_l("At most %(n)d characters.", n=MAX_CODE))]
    if station not in STATIONS:
        errors["station"] = [str(_l("Unknown station."))]
    if client_ref is not None and (
        not isinstance(client_ref, str) or not _CLIENT_REF.fullmatch(client_ref)
    ):
        errors["client_ref"] = [str(_l("client_ref must be 1-64 letters, digits or _.:-"))]
    if errors:
        raise ValidationFailed(errors)
    return code.strip(), station, client_ref  # type: ignore[union-attr,return-value]


def parse_scanned_at(value: object) -> datetime | None:
    """A queued scan's ISO 8601 time with a zone, in UTC; None when absent."""
    if value is None:
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            # Years 1 and 9999 with an offset overflow when moved to UTC.
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else None
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise ValidationFailed({"scanned_at": [str(_l("Use an ISO 8601 time with a time zone."))]})
    return parsed


def clean_device(device: str | None) -> str | None:
    """A device label fit to store: printable characters only (no NUL, no lone surrogates)."""
    if not isinstance(device, str):
        return None
    return "".join(ch for ch in device if ch.isprintable())[:64] or None


@dataclass(frozen=True)
class ScanRequest:
    """A scan's input, checked: what the page or the API was sent."""

    code: str
    station: str
    client_ref: str | None
    scanned_at: datetime | None
    device: str | None
    received_at: datetime
    #: What the device answered offline (a queued scan), else None.
    offline_answer: str | None = None
    #: How the code was entered, and so what it may prove (entry.py).
    entry: Entry = field(default_factory=lambda: Entry(SCAN, "qr", False))
    #: A representative collecting, or another shirt size handed out (pickup.py).
    pickup: Pickup | None = None


def read_scan(
    code: object,
    *,
    station: object = "pickup",
    client_ref: object = None,
    scanned_at: datetime | None = None,
    device: str | None = None,
    offline_answer: object = None,
    method: object = None,
    id_checked: object = None,
    proxy: object = None,
    shirt_given: object = None,
) -> ScanRequest:
    """Check a scan's fields (raises :class:`ValidationFailed` with field errors).

    ``method`` is "scan" (the default: a camera or a handheld scanner) or "typed";
    ``id_checked`` says the volunteer compared the ID card (entry.py has the rule).
    ``proxy`` ({name, nik}) and ``shirt_given`` are a pickup's details (pickup.py).
    """
    pickup, pickup_errors = read_pickup(proxy, shirt_given, station=station, id_checked=id_checked)
    try:
        code, station, client_ref = _check_input(
            code, station, client_ref, offline_answer, method, id_checked
        )
    except ValidationFailed as failed:
        raise ValidationFailed({**pickup_errors, **failed.errors}) from None
    if pickup_errors:
        raise ValidationFailed(pickup_errors)
    now = utcnow()
    # Offline devices send scans late, never from the future or from last month.
    if scanned_at is not None and not (
        now - SCANNED_AT_PAST <= scanned_at <= now + SCANNED_AT_FUTURE
    ):
        raise ValidationFailed(
            {"scanned_at": [str(_l("The scan time must be within the last 7 days."))]}
        )
    answered = offline_answer if isinstance(offline_answer, str) else None
    entry = read_entry(method, code, id_checked)  # type: ignore[arg-type]
    return ScanRequest(
        code, station, client_ref, scanned_at, clean_device(device), now, answered, entry, pickup
    )
