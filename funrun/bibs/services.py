"""Bib rules: payloads for confirmed runners, single bib PDFs, whole-event batches
(queued and run by the worker: funrun/bibs/printing.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from flask_babel import gettext as _
from sqlalchemy import func, select

from funrun.bibs.signing import bib_signer
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus

if TYPE_CHECKING:  # the PDF code (reportlab's font metrics) loads when a PDF is made
    from funrun.bibs.pdf import BibFace, EventLook

_TYPED_BIB = re.compile(r"([A-Za-z]{0,8})[ \-_.]*0*([0-9]{1,5})")


class NoBib(Exception):
    """Only confirmed runners have a bib; the message is for the runner."""


def payload_for(registration: Registration) -> str | None:
    """The signed QR payload of a confirmed registration's bib, else None."""
    if registration.status != RegistrationStatus.CONFIRMED or registration.bib_number is None:
        return None
    return bib_signer().sign(registration.event_id, registration.bib_number)


def split_typed_bib(text: str) -> tuple[str | None, int] | None:
    """The prefix (upper case, if typed) and number of a typed bib; None if it is none."""
    match = _TYPED_BIB.fullmatch(text.strip())
    if match is None:
        return None
    prefix, digits = match.groups()
    return prefix.upper() or None, int(digits)


def parse_typed_bib(text: str, event: Event) -> int | None:
    """A bib number as a volunteer types it: ``42``, ``0042``, ``JKT0042``, ``jkt-0042``."""
    typed = split_typed_bib(text)
    if typed is None:
        return None
    prefix, number = typed
    if prefix and prefix != event.bib_prefix.upper():
        return None
    return number


def event_look(event: Event) -> EventLook:
    """What bibs show of the event."""
    from funrun.bibs.pdf import EventLook

    return EventLook(
        name=event.name,
        city=event.city,
        date=event.date,
        start_time=event.start_time,
        venue=event.venue,
        colour=event.bib_colour,
        prefix=event.bib_prefix,
    )


def bib_pdf(registration: Registration) -> bytes:
    """The runner's race bib and e-ticket as one PDF."""
    payload = payload_for(registration)
    if payload is None:
        raise NoBib(_("Only confirmed runners have a bib."))
    from funrun.bibs.pdf import BibFace, single_bib_pdf

    face = BibFace(
        registration.bib_number or 0, registration.full_name, registration.shirt_size, payload
    )
    return single_bib_pdf(event_look(registration.event), face)


def confirmed_faces(event_id: int, batch: int = 500) -> Iterator[BibFace]:
    """Every confirmed bib of the event in bib order, streamed from the database."""
    from funrun.bibs.pdf import BibFace

    signer = bib_signer()
    rows = db.session.execute(
        select(Registration.bib_number, Registration.full_name, Registration.shirt_size)
        .where(
            Registration.event_id == event_id,
            Registration.status == RegistrationStatus.CONFIRMED,
        )
        .order_by(Registration.bib_number)
        .execution_options(yield_per=batch)
    )
    for number, name, size in rows:
        yield BibFace(number, name, size, signer.sign(event_id, number))


def count_confirmed(event_id: int) -> int:
    """Confirmed runners of the event."""
    return (
        db.session.scalar(
            select(func.count()).where(
                Registration.event_id == event_id,
                Registration.status == RegistrationStatus.CONFIRMED,
            )
        )
        or 0
    )


def write_event_bibs(
    event: Event, out: BinaryIO, progress: Callable[[int], None] | None = None
) -> int:
    """Write every confirmed bib of ``event`` to ``out`` as one PDF; returns the count."""
    from funrun.bibs.pdf import batch_pdf

    return batch_pdf(event_look(event), confirmed_faces(event.id), out, progress=progress)
