"""A race pack collected with details: by a representative, or with another shirt size.

Indonesian races let someone collect a runner's pack with the runner's signed letter and
a copy of their own ID card; each representative collects for at most
``events.proxy_limit`` runners of an event (0: nobody may collect for another). The desk
records the representative's name and the NIK on the KTP it saw, stored only as its keyed
hash (``data_cipher().lookup_hash``): the NIK itself is never stored, shown or logged.

These are optional parts of the one check-in request (``proxy: {name, nik}`` and
``shirt_given``), checked here by the request models the OpenAPI document shows. The
limit is counted in the check-in's write transaction after the event's row is locked
(:func:`proxy_refused`), so two desks recording the same representative at once cannot
both pass it; the statements of funrun/checkin/statements.py write the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from flask_babel import lazy_gettext as _l
from pydantic import Field, ValidationInfo, WithJsonSchema
from sqlalchemy import func, select

from funrun.checkin.statements import CHECKINS, EVENTS, REGISTRATIONS
from funrun.contracts import RequestModel, ValidationFailed, checked
from funrun.extensions import db
from funrun.people import rules
from funrun.people.crypto import data_cipher
from funrun.registration.schemas import NIK_PATTERN

MAX_PROXY_NAME = 100
MAX_SIZE = 8
PICKUP_STATION = "pickup"
NAME_MESSAGE = _l("Write the representative's full name as on their ID card, letters only.")


def _proxy_name(value: Any, _info: ValidationInfo) -> str:
    return rules.person_name(value, max_length=MAX_PROXY_NAME, message=NAME_MESSAGE)


def clean_size(value: Any) -> str | None:
    """A shirt size as sent (upper case), None when none was; the event's sizes are
    checked when the scan runs (:func:`check_shirt`)."""
    size = rules.single_line(value, max_length=MAX_SIZE, required=False)
    return size.upper() if size else None


class ProxyRequest(RequestModel):
    """The representative collecting a runner's race pack (with the runner's letter)."""

    name: Annotated[
        str,
        checked(_proxy_name),
        WithJsonSchema({"type": "string", "maxLength": MAX_PROXY_NAME}),
    ] = Field(description="Their full name as on their ID card (KTP).")
    nik: Annotated[
        str,
        checked(lambda v, _i: rules.nik(v, None, None)),
        WithJsonSchema({"type": "string", "pattern": NIK_PATTERN}),
    ] = Field(
        description="The NIK on their ID card (KTP), seen by the volunteer: only its keyed "
        "hash is stored, to count how many runners they collected for."
    )


@dataclass(frozen=True)
class Pickup:
    """A pickup's details, checked: the representative (no NIK: its hash) and the size."""

    proxy_name: str | None = None
    proxy_nik_hash: str | None = None
    shirt_given: str | None = None

    def params(self) -> dict[str, Any]:
        """The check-in statement's parameters for these details."""
        return {
            "proxy_name": self.proxy_name,
            "proxy_nik_hash": self.proxy_nik_hash,
            "shirt_given": self.shirt_given,
        }


def pickup_from(proxy: ProxyRequest | None, shirt_given: str | None) -> Pickup | None:
    """A checked scan's pickup details (None when there are none): the representative's
    NIK becomes its keyed hash here, and goes no further."""
    if proxy is None and shirt_given is None:
        return None
    if proxy is None:
        return Pickup(None, None, shirt_given)
    return Pickup(proxy.name, data_cipher().lookup_hash(proxy.nik), shirt_given)


def check_shirt(event_id: int, pickup: Pickup) -> None:
    """The size handed out must be one of the event's (:class:`ValidationFailed`)."""
    if pickup.shirt_given is None:
        return
    sizes = db.session.scalar(select(EVENTS.c.shirt_sizes).where(EVENTS.c.id == event_id)) or []
    if pickup.shirt_given not in sizes:
        message = _l("Choose one of the event's shirt sizes: %(sizes)s.", sizes=", ".join(sizes))
        raise ValidationFailed({"shirt_given": [str(message)]})


def proxy_refused(event_id: int, nik_hash: str | None) -> tuple[bool, int]:
    """Whether the representative has collected for as many runners of the event as it
    allows (or it allows none), and the limit. Locks the event's row first on PostgreSQL
    (SQLite's write transaction is the only writer already): call it in the check-in's
    write transaction, before its insert."""
    locked = select(EVENTS.c.proxy_limit).where(EVENTS.c.id == event_id)
    if db.session.get_bind().dialect.name == "postgresql":
        locked = locked.with_for_update()
    limit = db.session.scalar(locked) or 0
    if nik_hash is None:
        return False, limit
    c = CHECKINS.c
    collected = db.session.scalar(
        select(func.count()).where(
            c.event_id == event_id,
            c.proxy_nik_hash == nik_hash,
            c.station == PICKUP_STATION,
            c.undone_at.is_(None),
        )
    )
    return (collected or 0) >= limit, limit


def is_named(typed: str | None, named: str | None) -> bool:
    """Whether the representative who collected is the one the runner named (letters
    compared without case or spacing)."""

    def plain(name: str | None) -> str:
        return "".join(ch for ch in (name or "").casefold() if ch.isalnum())

    return bool(typed) and plain(typed) == plain(named)


@dataclass(frozen=True)
class PickupView:
    """What a check-in answer says of its pickup details (never the NIK)."""

    proxy_name: str | None
    #: The representative the runner named on their manage page, if any.
    named: str | None
    shirt_given: str | None
    #: With a ``proxy_limit`` answer: how many runners one representative may collect for.
    limit: int | None = None

    @property
    def is_named(self) -> bool:
        return is_named(self.proxy_name, self.named)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.proxy_name is not None:
            body["proxy"] = {
                "name": self.proxy_name,
                "named": self.named,
                "is_named": self.is_named,
            }
        if self.shirt_given is not None:
            body["shirt_given"] = self.shirt_given
        if self.limit is not None:
            body["proxy_limit"] = self.limit
            body["message"] = limit_message(self.limit)
        return body


def limit_message(limit: int) -> str:
    """Why a representative was refused, in the user's language."""
    if limit == 0:
        return str(_l("At this event nobody may collect a race pack for another runner."))
    return str(
        _l(
            "This representative has already collected race packs for %(n)d runners, "
            "the most this event allows.",
            n=limit,
        )
    )


def pickup_view(
    pickup: Pickup | None, result: str, registration_id: int | None, limit: int | None
) -> PickupView | None:
    """The pickup details of an answer (None for a scan without any)."""
    if pickup is None:
        return None
    named = None
    if registration_id is not None:
        named = db.session.scalar(
            select(REGISTRATIONS.c.proxy_name).where(REGISTRATIONS.c.id == registration_id)
        )
    refused = result == "proxy_limit"
    return PickupView(
        proxy_name=pickup.proxy_name,
        named=named,
        shirt_given=pickup.shirt_given,
        limit=limit if refused else None,
    )


def write_pickup(statement: Any, params: dict[str, Any]) -> tuple[Any, ...]:
    """A pickup with details on PostgreSQL: the event's row locked and the representative's
    pickups counted (:func:`proxy_refused`), then the scan's ``statement``
    (engine.SCAN_WITH_PICKUP), in one transaction. READ COMMITTED: the statement after the
    lock sees what the lock waited for."""
    try:
        params["proxy_refused"], params["proxy_limit"] = proxy_refused(
            params["event_id"], params["proxy_nik_hash"]
        )
        row = tuple(db.session.execute(statement, params).one())
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row
