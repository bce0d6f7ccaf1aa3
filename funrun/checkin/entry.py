"""How a code reached the desk decides what it may prove (issue 15, point 3).

A bib's QR is signed: a code read by a camera or a handheld scanner (``method`` "scan")
checks a runner in only when it is a validly signed bib, whatever other text a QR may
hold. Bib numbers are sequential, so a number a person typed (``method`` "typed") proves
nothing by itself: it names the runner, and checks them in only once the volunteer has
compared the ID card (``id_checked``). Until then the answer is ``confirm_identity``.

:func:`read_entry` is the one place that rule is written; the scan's statements
(statements.py) and the offline page (static/js/scan-offline.js) follow what it decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from funrun.checkin.models import METHODS
from funrun.checkin.statements import run
from funrun.events.models import Event

SCAN, TYPED = METHODS


def looks_signed(code: str) -> bool:
    """Whether ``code`` is meant as a signed bib payload (``FR1...``), not a bib number."""
    return code.upper().startswith("FR1") or len(code) > 24


@dataclass(frozen=True)
class Entry:
    """How a code was entered, and so how it is read."""

    method: str
    #: "qr": verify the signature (anything unsigned is invalid); "typed": a bib number.
    kind: str
    id_checked: bool

    @property
    def may_check_in(self) -> bool:
        """A signed bib checks in by itself; a typed number only after the ID card."""
        return self.kind == "qr" or self.id_checked


def method_errors(method: object, id_checked: object) -> dict[str, list[str]]:
    """Field errors for ``method`` and ``id_checked`` as sent (none when both are fine)."""
    errors: dict[str, list[str]] = {}
    if method is not None and method not in METHODS:
        errors["method"] = [str(_l("method must be scan or typed."))]
    if id_checked is not None and not isinstance(id_checked, bool):
        errors["id_checked"] = [str(_l("id_checked must be true or false."))]
    return errors


def read_entry(method: str | None, code: str, id_checked: bool | None) -> Entry:
    """The rule: what a code entered this way may prove.

    A scanned code is always read as a signed bib, so a QR holding ``QTA 0003`` is
    invalid. A typed signed payload is as good as a scanned one (it is signed); any other
    typed text is a bib number, which needs the ID card checked before it checks in.
    """
    method = method or SCAN
    kind = "qr" if method == SCAN or looks_signed(code) else "typed"
    return Entry(method, kind, bool(id_checked))


def city_of_prefix(prefix: str, not_event_id: int | None = None) -> str | None:
    """The city of an event whose bibs carry ``prefix`` (another event than the one given).

    Only asked when a typed bib's prefix is not the event's: the answer "bib of another
    event" then names where it belongs, and a prefix no event has stays "invalid".
    """
    query = select(Event.city).where(Event.bib_prefix == prefix.upper())
    if not_event_id is not None:
        query = query.where(Event.id != not_event_id)
    rows = run(query.order_by(Event.date.desc()).limit(1))
    return rows[0][0] if rows else None


def city_of_event(event_id: int | None) -> str | None:
    """The city of a signed bib's event (for a genuine QR scanned at another event)."""
    if event_id is None:
        return None
    rows = run(select(Event.city).where(Event.id == event_id))
    return rows[0][0] if rows else None
