"""A scan's input: the one declared check-in body, and the request it becomes once checked.

:class:`CheckInRequest` is the body of ``POST /api/v1/events/{slug}/checkins``, which the scan
page (online and its offline queue) and other clients send alike; the OpenAPI document
is generated from it, and :func:`read_scan` checks a body with it, so what the document
says is what is enforced. Each field runs one rule below (or of :mod:`funrun.checkin.entry`
and :mod:`funrun.checkin.pickup`), whose messages reach the user in their language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from flask_babel import lazy_gettext as _l
from pydantic import Field, ValidationInfo, WithJsonSchema

from funrun.checkin.entry import SCAN, Entry, read_entry
from funrun.checkin.models import METHODS, STATIONS, ScanResult
from funrun.checkin.pickup import (
    MAX_SIZE,
    PICKUP_STATION,
    Pickup,
    ProxyRequest,
    clean_size,
    pickup_from,
)
from funrun.contracts import RequestModel, ValidationFailed, checked, validate
from funrun.dbtypes import utcnow
from funrun.people.rules import RuleBroken

MAX_CODE = 200
MAX_DEVICE = 64
SCANNED_AT_PAST = timedelta(days=7)
SCANNED_AT_FUTURE = timedelta(minutes=10)
CLIENT_REF_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
_CLIENT_REF = re.compile(CLIENT_REF_PATTERN)

#: The answers a scan can give (``undone`` is only ever a log entry).
SCAN_ANSWERS = tuple(str(r) for r in ScanResult if r != ScanResult.UNDONE)
#: What a device may say it answered offline (it never undoes, and queues a typed bib
#: only once the ID card was checked).
OFFLINE_ANSWERS = tuple(
    a for a in SCAN_ANSWERS if a not in (ScanResult.CONFIRM_IDENTITY, ScanResult.PROXY_LIMIT)
)


def _code(value: Any, _info: ValidationInfo) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleBroken(_l("Scan a bib or type its number."))
    if len(value) > MAX_CODE:
        raise RuleBroken(_l("At most %(n)d characters.", n=MAX_CODE))
    return value.strip()


def _method(value: Any, _info: ValidationInfo) -> str:
    if value is None:
        return SCAN
    if value not in METHODS:
        raise RuleBroken(_l("method must be scan or typed."))
    return str(value)


def _flag(value: Any, _info: ValidationInfo) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RuleBroken(_l("id_checked must be true or false."))
    return value


def _station(value: Any, _info: ValidationInfo) -> str:
    if value not in STATIONS:
        raise RuleBroken(_l("Unknown station."))
    return str(value)


def _client_ref(value: Any, _info: ValidationInfo) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CLIENT_REF.fullmatch(value):
        raise RuleBroken(_l("client_ref must be 1-64 letters, digits or _.:-"))
    return value


def parse_scanned_at(value: object) -> datetime | None:
    """A queued scan's ISO 8601 time with a zone, in UTC; None when absent."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    try:
        # Years 1 and 9999 with an offset overflow when moved to UTC.
        parsed = parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo else None
    except OverflowError:
        parsed = None
    if parsed is None:
        raise RuleBroken(_l("Use an ISO 8601 time with a time zone."))
    return parsed


def _scanned_at(value: Any, _info: ValidationInfo) -> datetime | None:
    parsed = parse_scanned_at(value)
    now = utcnow()
    # Offline devices send scans late, never from the future or from last month.
    if parsed is not None and not (now - SCANNED_AT_PAST <= parsed <= now + SCANNED_AT_FUTURE):
        raise RuleBroken(_l("The scan time must be within the last 7 days."))
    return parsed


def clean_device(device: object) -> str | None:
    """A device label fit to store: printable characters only (no NUL, no lone
    surrogates), at most 64; anything else than text is no label."""
    if not isinstance(device, str):
        return None
    return "".join(ch for ch in device if ch.isprintable())[:MAX_DEVICE] or None


def _offline_answer(value: Any, _info: ValidationInfo) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in OFFLINE_ANSWERS:
        raise RuleBroken(_l("Unknown offline answer."))
    return value


def _proxy(value: Any, info: ValidationInfo) -> ProxyRequest | None:
    """The representative, checked with the fields it depends on (declared before it)."""
    if value is None:
        return None
    errors: dict[str, list[str]] = {}
    proxy = None
    if not isinstance(value, Mapping):
        errors["proxy"] = [str(_l("Give the representative's name and NIK."))]
    else:
        try:
            proxy = validate(ProxyRequest, value)
        except ValidationFailed as failed:
            errors.update({f"proxy.{key}": messages for key, messages in failed.errors.items()})
    if info.data.get("id_checked") is not True:
        errors["id_checked"] = [
            str(_l("Tick that you have seen the representative's ID card (KTP)."))
        ]
    errors.update(_at_pickup(info))
    if errors:
        raise ValidationFailed(errors)
    return proxy


def _at_pickup(info: ValidationInfo) -> dict[str, list[str]]:
    station = info.data.get("station")
    if station is None or station == PICKUP_STATION:  # unknown: reported on its own
        return {}
    message = _l("A representative or a shirt size is recorded at the race-pack pickup.")
    return {"station": [str(message)]}


def _shirt_given(value: Any, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    size = clean_size(value)
    errors = _at_pickup(info)
    if errors:
        raise ValidationFailed(errors)
    return size


def _schema(**schema: Any) -> WithJsonSchema:
    return WithJsonSchema(schema)


class CheckInRequest(RequestModel):
    """``POST /events/{slug}/checkins``: one scan, from the scan page or any client."""

    MISSING = {"code": _l("Scan a bib or type its number.")}

    code: Annotated[str, checked(_code), _schema(type="string", maxLength=MAX_CODE)] = Field(
        description="The QR payload, or a typed bib: 42, 0042, JKT0042, jkt-0042."
    )
    method: Annotated[str, checked(_method), _schema(type="string", enum=list(METHODS))] = Field(
        default=SCAN,
        description="How the code was entered. scan: a camera or a handheld scanner read "
        "it; it must be a signed bib, and any other text (a plain QR holding a bib number) "
        "is invalid and checks nobody in. typed: a person typed a bib number; it checks in "
        "only with id_checked true, else the answer is confirm_identity.",
    )
    id_checked: Annotated[bool, checked(_flag), _schema(type="boolean")] = Field(
        default=False,
        description="The volunteer compared the runner's ID card (KTP) with the name a "
        "confirm_identity answer gave. Recorded in the scan log.",
    )
    station: Annotated[str, checked(_station), _schema(type="string", enum=list(STATIONS))] = (
        PICKUP_STATION
    )
    client_ref: Annotated[
        str | None,
        checked(_client_ref),
        _schema(type=["string", "null"], pattern=CLIENT_REF_PATTERN),
    ] = Field(
        default=None,
        description="Unique per scan from the device; a replay returns the first outcome "
        "and changes nothing.",
    )
    scanned_at: Annotated[
        datetime | None,
        checked(_scanned_at),
        _schema(type=["string", "null"], format="date-time"),
    ] = Field(default=None, description="When a queued scan was made (at most 7 days ago).")
    device: Annotated[
        str | None,
        checked(lambda v, _i: clean_device(v)),
        _schema(type=["string", "null"], maxLength=MAX_DEVICE),
    ] = Field(default=None, description="The device's label (else its User-Agent).")
    offline_answer: Annotated[
        str | None,
        checked(_offline_answer),
        _schema(type=["string", "null"], enum=[*OFFLINE_ANSWERS, None]),
    ] = Field(
        default=None,
        description="What the device answered while offline, for a queued scan. checked_in "
        "here and already_checked_in from the server is a conflict (another device checked "
        "the runner in first): the answer says so, and the roster lists it for both devices.",
    )
    # After id_checked and station: their rules read both.
    proxy: Annotated[
        ProxyRequest | None,
        checked(_proxy),
        _schema(anyOf=[{"$ref": "#/components/schemas/ProxyRequest"}, {"type": "null"}]),
    ] = Field(
        default=None,
        description="A representative collects the race pack (at station pickup, with "
        "id_checked true: the volunteer saw their ID card and the runner's signed letter). "
        "Each may collect for at most the event's proxy_limit runners; beyond it the answer "
        "is proxy_limit (409) and nobody is checked in.",
    )
    shirt_given: Annotated[
        str | None,
        checked(_shirt_given),
        _schema(type=["string", "null"], maxLength=MAX_SIZE),
    ] = Field(
        default=None,
        description="At station pickup: the shirt size handed out, one of the event's "
        "shirt_sizes, when it differs from the registered one (a swap).",
    )


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


def with_device(body: Mapping[str, Any], user_agent: str) -> Mapping[str, Any]:
    """``body`` naming its device: the client's own name for it, else its User-Agent."""
    if isinstance(body.get("device"), str) and body["device"]:
        return body
    return {**body, "device": user_agent}


def read_scan(body: Mapping[str, Any]) -> ScanRequest:
    """``body`` checked by :class:`CheckInRequest` (raises :class:`ValidationFailed` with every
    field's messages): the request a scan runs."""
    scan = validate(CheckInRequest, body)
    return ScanRequest(
        scan.code,
        scan.station,
        scan.client_ref,
        scan.scanned_at,
        scan.device,
        utcnow(),
        scan.offline_answer,
        read_entry(scan.method, scan.code, scan.id_checked),
        pickup_from(scan.proxy, scan.shirt_given),
    )
