"""Race bib and e-ticket PDFs, for one runner or a whole event in bib order."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time
from typing import BinaryIO

from funrun.bibs.pdfwriter import Page, StreamingPdf
from funrun.bibs.qr import QUIET_ZONE, Runs, dark_runs

MM = 72 / 25.4
BIB_SIZE = (210 * MM, 148 * MM)  # A5 landscape, pinned to the shirt
TICKET_SIZE = (105 * MM, 148 * MM)  # A6 portrait, shown on a phone or printed
QR_SIDE = 38 * MM  # the code itself; the quiet zone is outside it

MONTHS_ID = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
    "September", "Oktober", "November", "Desember",
]  # fmt: skip


@dataclass(frozen=True)
class EventLook:
    """What a bib shows of its event."""

    name: str
    city: str
    date: date
    start_time: time
    venue: str
    colour: str
    prefix: str


@dataclass(frozen=True)
class BibFace:
    """What a bib shows of its runner."""

    bib_number: int
    full_name: str
    shirt_size: str
    payload: str


def _date_text(day: date) -> str:
    return f"{day.day} {MONTHS_ID[day.month - 1]} {day.year}"


def draw_qr(page: Page, runs: Runs, x: float, y: float, side: float) -> None:
    """A QR with its quiet zone, the code's lower-left corner at (x, y)."""
    size, dark = runs
    module = side / size
    border = QUIET_ZONE * module
    page.fill_colour("#FFFFFF")
    page.rect(x - border, y - border, side + 2 * border, side + 2 * border)
    page.fill_colour("#000000")
    page.module_runs(x, y + side, module, dark)


def bib_page(look: EventLook, face: BibFace, runs: Runs | None) -> Page:
    """One race bib: colour bands, the big number, name, city, date and start, the QR."""
    width, height = BIB_SIZE
    page = Page(width, height)
    page.fill_colour(look.colour)
    page.rect(0, height - 24 * MM, width, 24 * MM)
    page.rect(0, 0, width, 10 * MM)
    page.fill_colour("#FFFFFF")
    page.text("Helvetica-Bold", 20, 10 * MM, height - 14 * MM, look.name.upper())
    page.text(
        "Helvetica",
        11,
        10 * MM,
        height - 20 * MM,
        f"{look.city} - {_date_text(look.date)} - Start {look.start_time:%H.%M}",
    )
    page.text("Helvetica", 9, 10 * MM, 3.5 * MM, look.venue)
    page.fill_colour("#000000")
    page.text("Helvetica-Bold", 30, 10 * MM, height - 40 * MM, look.prefix)
    page.text("Helvetica-Bold", 110, 8 * MM, 42 * MM, f"{face.bib_number:04d}")
    page.text("Helvetica-Bold", 15, 10 * MM, 24 * MM, face.full_name.upper()[:34])
    page.text("Helvetica", 10, 10 * MM, 17 * MM, f"Kaus / Shirt: {face.shirt_size}")
    if runs is not None:
        draw_qr(page, runs, width - QR_SIDE - 10 * MM, 16 * MM, QR_SIDE)
    return page


def ticket_page(look: EventLook, face: BibFace, runs: Runs) -> Page:
    """The e-ticket: shown with the KTP to collect the race pack."""
    width, height = TICKET_SIZE
    page = Page(width, height)
    page.fill_colour(look.colour)
    page.rect(0, height - 20 * MM, width, 20 * MM)
    page.fill_colour("#FFFFFF")
    page.text("Helvetica-Bold", 13, 7 * MM, height - 9 * MM, look.name)
    page.text("Helvetica", 9, 7 * MM, height - 15 * MM, "E-TICKET - RACE PACK")
    page.fill_colour("#000000")
    page.centred_text(
        "Helvetica-Bold", 30, width / 2, height - 36 * MM, f"{look.prefix} {face.bib_number:04d}"
    )
    page.centred_text("Helvetica-Bold", 11, width / 2, height - 44 * MM, face.full_name[:40])
    side = 50 * MM
    draw_qr(page, runs, (width - side) / 2, 40 * MM, side)
    lines = [
        f"{_date_text(look.date)} - Start {look.start_time:%H.%M} - Kaus {face.shirt_size}",
        look.venue[:60],
        "Bawa e-tiket ini dan KTP asli untuk mengambil race pack.",
        "Bring this e-ticket and your ID card (KTP) to collect your race pack.",
    ]
    for i, line in enumerate(lines):
        page.centred_text("Helvetica", 8.5, width / 2, 30 * MM - i * 5 * MM, line)
    return page


def single_bib_pdf(look: EventLook, face: BibFace) -> bytes:
    """The runner's PDF: the race bib (A5) and the e-ticket (A6)."""
    buffer = io.BytesIO()
    pdf = StreamingPdf(buffer, title=f"{look.prefix} {face.bib_number:04d}")
    runs = dark_runs(face.payload)
    pdf.add_page(bib_page(look, face, runs))
    pdf.add_page(ticket_page(look, face, runs))
    pdf.close()
    return buffer.getvalue()


def batch_pdf(
    look: EventLook,
    faces: Iterable[BibFace],
    out: BinaryIO,
    *,
    progress: Callable[[int], None] | None = None,
    with_qr: bool = True,
) -> int:
    """Write a bib page for each of ``faces``, in the order given; returns the count.

    Pages go to ``out`` as they are drawn, so memory does not grow with the count.
    """
    pdf = StreamingPdf(out, title=f"{look.name}: bibs")
    for face in faces:
        pdf.add_page(bib_page(look, face, dark_runs(face.payload) if with_qr else None))
        if progress is not None:
            progress(pdf.page_count)
    count = pdf.page_count
    if count == 0:
        # A PDF with an empty page tree is invalid (poppler refuses it): say why instead.
        pdf.add_page(no_bibs_page(look))
    pdf.close()
    return count


def no_bibs_page(look: EventLook) -> Page:
    """The only page of a batch with no confirmed runner."""
    width, height = BIB_SIZE
    page = Page(width, height)
    page.fill_colour("#000000")
    page.text("Helvetica-Bold", 20, 10 * MM, height - 20 * MM, look.name.upper())
    page.text("Helvetica", 14, 10 * MM, height - 35 * MM, "Belum ada pelari terkonfirmasi.")
    page.text("Helvetica", 14, 10 * MM, height - 43 * MM, "No confirmed runners yet.")
    return page
