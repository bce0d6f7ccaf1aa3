"""What a scanned or typed code names at an event: a bib number, or why it names none.

:func:`identify` (the event known) and :func:`code_params` (the scan's parameters; with
no event known, PostgreSQL's one statement compares the event itself) follow the rule of
entry.py: a code read as "qr" must be a validly signed bib, a typed one is a bib number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funrun.bibs.services import split_typed_bib
from funrun.bibs.signing import Verdict, bib_signer
from funrun.checkin.entry import city_of_event, city_of_prefix
from funrun.checkin.models import ScanResult
from funrun.checkin.outcomes import ScanEvent
from funrun.checkin.scanrequest import ScanRequest


@dataclass(frozen=True)
class Identified:
    """The bib number a scan names, or the reason it names none; and the code's kind."""

    result: ScanResult | None
    number: int | None
    kind: str
    #: For a bib of another event: that event's city.
    other_city: str | None = None


def identify(event: ScanEvent, code: str, kind: str) -> Identified:
    """What ``code`` (read as ``kind``: "qr" or "typed", entry.py) names at ``event``."""
    if kind == "qr":
        verification = bib_signer().verify(code, event.id)
        if verification.verdict == Verdict.WRONG_EVENT:
            return Identified(
                ScanResult.WRONG_EVENT, None, "qr", city_of_event(verification.event_id)
            )
        if verification.verdict != Verdict.VALID:
            return Identified(ScanResult.INVALID, None, "qr")
        return Identified(None, verification.bib_number, "qr")
    typed = split_typed_bib(code)
    if typed is None:
        return Identified(ScanResult.INVALID, None, "typed")
    prefix, number = typed
    if prefix and prefix != event.bib_prefix.upper():
        # Another event's prefix names that event; one no event has is just wrong.
        city = city_of_prefix(prefix, event.id)
        return Identified(
            ScanResult.WRONG_EVENT if city else ScanResult.INVALID, None, "typed", city
        )
    return Identified(None, number, "typed")


def code_params(req: ScanRequest, event: ScanEvent | None) -> tuple[dict[str, Any], str | None]:
    """What the scanned text names, as the write's parameters; and, for a bib of another
    event, that event's city when it is known already.

    With the event known, :func:`identify` decides everything. Without it (PostgreSQL's
    one round trip by token) a QR is verified against the keys alone and the statement
    compares the event it was signed for, and a typed bib's prefix, with the event's.
    """
    code, entry = req.code, req.entry
    qr_event = typed_prefix = city = None
    if event is not None:
        found = identify(event, code, entry.kind)
        result, number, kind, city = found.result, found.number, found.kind, found.other_city
    elif entry.kind == "qr":
        verification = bib_signer().verify(code)
        valid = verification.verdict == Verdict.VALID
        result = None if valid else ScanResult.INVALID
        number = verification.bib_number if valid else None
        qr_event = verification.event_id if valid else None
        kind = "qr"
    else:
        typed = split_typed_bib(code)
        result = None if typed else ScanResult.INVALID
        # The statement compares a prefix with the event's own, and tells another
        # event's prefix ("wrong_event", with its city) from one no event has ("invalid").
        typed_prefix, number = typed if typed else (None, None)
        kind = "typed"
    return {
        "result": None if result is None else str(result),
        "bib": number,
        "kind": kind,
        "qr_event": qr_event,
        "typed_prefix": typed_prefix,
        "method": entry.method,
        "id_checked": entry.id_checked,
        "may_check_in": entry.may_check_in,
        "station": req.station,
        "device": req.device,
        "client_ref": req.client_ref,
        "at": req.scanned_at or req.received_at,
        "scanned_at": req.scanned_at,
        "now": req.received_at,
        "offline_answer": req.offline_answer,
    }, city
