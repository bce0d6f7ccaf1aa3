"""Shirt stock (issue 19, point 6): how many shirts of each size an event has, and what is left.

Organisers set a quantity per size of the event's ``shirt_sizes`` (``shirt_stock``);
what is left is the quantity minus the shirts handed out: race-pack pickups not undone,
each counting the size handed out (``checkins.shirt_given``, a swap) or else the one
registered. An event without any stock set shows demand only.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from funrun.checkin.models import CheckIn
from funrun.dbtx import begin_write
from funrun.events.models import Event, ShirtStock
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus

#: At most this many left of a size: the desk highlights it.
LOW = 5
MAX_QUANTITY = 99999


@dataclass(frozen=True)
class SizeStock:
    """One size: the stock (None: not set), demand, handed out, left."""

    size: str
    quantity: int | None
    demand: int
    handed_out: int

    @property
    def left(self) -> int | None:
        return None if self.quantity is None else self.quantity - self.handed_out

    @property
    def low(self) -> bool:
        return self.left is not None and self.left <= LOW

    @property
    def out(self) -> bool:
        return self.left is not None and self.left <= 0

    def as_json(self) -> dict:
        return {
            "size": self.size,
            "quantity": self.quantity,
            "handed_out": self.handed_out,
            "left": self.left,
            "low": self.low,
        }


def quantities(event_id: int) -> dict[str, int]:
    """The stock set per size (sizes without stock left out)."""
    rows = db.session.execute(
        select(ShirtStock.size, ShirtStock.quantity).where(ShirtStock.event_id == event_id)
    )
    return {size: quantity for size, quantity in rows}


def handed_out(event_ids: list[int]) -> dict[int, dict[str, int]]:
    """Shirts handed out per event and size: pickups not undone, the size given if swapped."""
    size = func.coalesce(CheckIn.shirt_given, Registration.shirt_size)
    rows = db.session.execute(
        select(CheckIn.event_id, size, func.count())
        .join(Registration, Registration.id == CheckIn.registration_id)
        .where(
            CheckIn.event_id.in_(event_ids),
            CheckIn.station == "pickup",
            CheckIn.undone_at.is_(None),
        )
        .group_by(CheckIn.event_id, size)
    )
    given: dict[int, dict[str, int]] = {}
    for event_id, name, count in rows:
        given.setdefault(event_id, {})[name] = count
    return given


def demand(event_ids: list[int]) -> dict[int, dict[str, int]]:
    """Shirts needed per event and size: one per confirmed runner."""
    rows = db.session.execute(
        select(Registration.event_id, Registration.shirt_size, func.count())
        .where(
            Registration.event_id.in_(event_ids),
            Registration.status == RegistrationStatus.CONFIRMED,
        )
        .group_by(Registration.event_id, Registration.shirt_size)
    )
    needed: dict[int, dict[str, int]] = {}
    for event_id, name, count in rows:
        needed.setdefault(event_id, {})[name] = count
    return needed


def _sizes(event: Event, *counted: dict[str, int]) -> list[str]:
    """The event's sizes, then any other size found (a size since dropped from the list)."""
    sizes = list(event.shirt_sizes)
    for counts in counted:
        sizes.extend(size for size in counts if size not in sizes)
    return sizes


def stock_table(event: Event, with_demand: bool = True) -> list[SizeStock]:
    """Every size of the event: stock, demand, handed out (four small queries at most)."""
    stock = quantities(event.id)
    given = handed_out([event.id]).get(event.id, {})
    needed = demand([event.id]).get(event.id, {}) if with_demand else {}
    return [
        SizeStock(size, stock.get(size), needed.get(size, 0), given.get(size, 0))
        for size in _sizes(event, stock, given, needed)
    ]


def shirts_left(event: Event) -> list[SizeStock]:
    """What the desk shows: the sizes with stock set (empty when none is)."""
    if not quantities(event.id):
        return []
    return [row for row in stock_table(event, with_demand=False) if row.quantity is not None]


@dataclass(frozen=True)
class EventStock:
    """One event's stock against demand, for the dashboard."""

    slug: str
    city: str
    rows: list[SizeStock]

    @property
    def has_stock(self) -> bool:
        return any(row.quantity is not None for row in self.rows)

    @property
    def peak(self) -> int:
        return max([1, *(max(r.demand, r.quantity or 0) for r in self.rows)])


def stock_against_demand(events: list[Event]) -> list[EventStock]:
    """Every event's sizes: demand, stock, handed out, left (three queries in all)."""
    ids = [event.id for event in events]
    stock: dict[int, dict[str, int]] = {}
    for event_id, size, quantity in db.session.execute(
        select(ShirtStock.event_id, ShirtStock.size, ShirtStock.quantity).where(
            ShirtStock.event_id.in_(ids)
        )
    ):
        stock.setdefault(event_id, {})[size] = quantity
    given, needed = handed_out(ids), demand(ids)
    boards = []
    for event in events:
        s, g, n = stock.get(event.id, {}), given.get(event.id, {}), needed.get(event.id, {})
        rows = [
            SizeStock(size, s.get(size), n.get(size, 0), g.get(size, 0))
            for size in _sizes(event, s, n)
        ]
        boards.append(EventStock(event.slug, event.city, rows))
    return boards


class StockRefused(ValueError):
    """Quantities that cannot be saved; ``errors`` per size."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("stock refused")
        self.errors = errors


def read_quantities(event: Event, raw: dict[str, object]) -> dict[str, int | None]:
    """The form's quantity per size (blank: no stock set); :class:`StockRefused` when one
    is not a whole number from 0 to :data:`MAX_QUANTITY`."""
    wanted: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for size in event.shirt_sizes:
        value = raw.get(size)
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            wanted[size] = None
        elif text.isascii() and text.isdigit() and int(text) <= MAX_QUANTITY:
            wanted[size] = int(text)
        else:
            errors[size] = str(_l("Enter a whole number from 0 to %(n)d.", n=MAX_QUANTITY))
    if errors:
        raise StockRefused(errors)
    return wanted


def set_stock(event: Event, wanted: dict[str, int | None]) -> None:
    """Save the quantities (None: the size has no stock set)."""
    event_id = event.id
    begin_write()
    try:
        db.session.execute(delete(ShirtStock).where(ShirtStock.event_id == event_id))
        db.session.add_all(
            ShirtStock(event_id=event_id, size=size, quantity=quantity)
            for size, quantity in wanted.items()
            if quantity is not None
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
