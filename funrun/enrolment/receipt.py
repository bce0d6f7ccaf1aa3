"""The cash receipt (kuitansi) of an enrolment paid in cash at the desk: a one-page A4 PDF.

It says who received how much from whom and for what: the receipt number, the
organiser, place and date, the member's name and participant number, the amount in
figures and in words (terbilang), the months paid for with the per-month table, the
reliefs by name, the next due date, and a signature line for the desk volunteer. The
amounts are those stored for the enrolment (:func:`funrun.enrolment.charged.charged_quote`).
The receipt is in Bahasa Indonesia, the language of the form.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from funrun.enrolment.charged import charged_quote
from funrun.enrolment.contribution import Quote
from funrun.enrolment.filters import rupiah
from funrun.enrolment.models import Enrolment
from funrun.enrolment.wording import Explained, explain, long_date, terbilang_rupiah

MM = 72 / 25.4
MARGIN = 20 * MM
#: The standard PDF fonts have no "→".
PDF_ARROW = "->"


@dataclass(frozen=True)
class ReceiptFacts:
    """What a kuitansi states, apart from the contribution itself."""

    number: str
    organiser: str
    place: str
    #: The day the money was received (the enrolment day at the venue).
    day: date
    participant_number: str
    full_name: str
    received_by: str


class _Writer:
    """Lines down an A4 page, wrapped to the margins, a new page when one is full."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.width, self.height = A4
        self.y = self.height - MARGIN

    def need(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.canvas.showPage()
            self.y = self.height - MARGIN

    def line(self, text: str, *, size: float = 10, bold: bool = False, gap: float = 1.5) -> None:
        font = "Helvetica-Bold" if bold else "Helvetica"
        for part in simpleSplit(text, font, size, self.width - 2 * MARGIN) or [""]:
            self.need(size * gap)
            self.y -= size * gap
            self.canvas.setFont(font, size)
            self.canvas.drawString(MARGIN, self.y, part)

    def space(self, mm: float) -> None:
        self.y -= mm * MM

    def row(self, cells: list[str], stops: list[float], *, bold: bool = False) -> None:
        """One table row: the first cell left-aligned, the others right-aligned at stops."""
        self.need(14)
        self.y -= 14
        self.canvas.setFont("Helvetica-Bold" if bold else "Helvetica", 9.5)
        self.canvas.drawString(MARGIN, self.y, cells[0])
        for text, stop in zip(cells[1:], stops, strict=True):
            self.canvas.drawRightString(MARGIN + stop, self.y, text)

    def rule(self) -> None:
        self.canvas.setLineWidth(0.5)
        self.canvas.line(MARGIN, self.y - 4, self.width - MARGIN, self.y - 4)
        self.y -= 4


def _months_table(out: _Writer, words: Explained) -> None:
    programmes = list(words.programmes)
    stops = [70 * MM + 24 * MM * i for i in range(len(programmes) + 1)]
    out.row([_("Month"), *programmes, _("Total")], stops, bold=True)
    out.rule()
    for row in words.rows:
        amounts = [rupiah(getattr(row, p.lower())) for p in programmes]
        label = row.label + (f" ({row.relief_cut})" if row.relief_cut else "")
        out.row([label, *amounts, rupiah(row.total)], stops)
    out.rule()
    out.row([_("Total"), *[""] * len(programmes), rupiah(words.total)], stops, bold=True)
    out.space(3)
    for relief in words.reliefs:
        out.line(f"{relief.sentence}.", bold=True)
        out.line(f"{relief.months_sentence}.")
        for text in relief.lines:
            out.line(f"   {text}", size=9.5, gap=1.4)
    if words.full_rate_sentence:
        out.line(f"{words.full_rate_sentence}.")
    out.line(words.basis_sentence)
    out.space(2)
    out.line(f"{words.next_due_sentence}.", bold=True)


def receipt_pdf(facts: ReceiptFacts, quote: Quote, *, locale: str = "id") -> bytes:
    """The kuitansi as PDF bytes."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    with force_locale(locale):
        canvas.setTitle(_("Receipt %(number)s", number=facts.number))
        canvas.setAuthor(facts.organiser)
        words = explain(quote, locale, arrow=PDF_ARROW)
        out = _Writer(canvas)
        out.line(facts.organiser, size=11, bold=True)
        out.space(4)
        out.line(_("RECEIPT"), size=20, bold=True)
        out.line(_("No. %(number)s", number=facts.number), size=11, bold=True)
        out.space(4)
        out.line(_("Received from: %(name)s", name=facts.full_name), size=11)
        out.line(_("Participant number: %(number)s", number=facts.participant_number))
        out.line(_("The sum of: %(amount)s", amount=rupiah(quote.amount_due)), size=12, bold=True)
        out.line(_("In words: %(words)s", words=terbilang_rupiah(quote.amount_due)), size=11)
        out.line(
            _(
                "For payment of the contribution (%(programmes)s) for %(months)s",
                programmes=", ".join(quote.programmes),
                months=words.months_covered,
            ),
            size=11,
        )
        out.space(3)
        _months_table(out, words)
        out.space(10)
        out.need(40 * MM)
        # The place, the date, then the volunteer's signature over their name.
        canvas.setFont("Helvetica", 10)
        right = out.width - MARGIN
        place_date = f"{facts.place}, {long_date(facts.day)}"
        canvas.drawRightString(right, out.y, place_date)
        canvas.drawRightString(right, out.y - 14, _("Received by,"))
        canvas.line(right - 60 * MM, out.y - 50, right, out.y - 50)
        canvas.drawRightString(right, out.y - 62, facts.received_by)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def enrolment_receipt(enrolment: Enrolment, *, locale: str = "id") -> bytes:
    """The kuitansi of a cash enrolment (ValueError for one not paid in cash)."""
    if enrolment.payment_channel != "cash" or not enrolment.receipt_number:
        raise ValueError("only a cash enrolment has a receipt")
    event = enrolment.event
    facts = ReceiptFacts(
        number=enrolment.receipt_number,
        organiser=event.tour.organiser,
        place=event.city,
        day=enrolment.valid_from,
        participant_number=enrolment.participant_number,
        full_name=enrolment.full_name,
        received_by=_received_by(enrolment),
    )
    return receipt_pdf(facts, charged_quote(enrolment), locale=locale)


def _received_by(enrolment: Enrolment) -> str:
    from funrun.accounts.models import User
    from funrun.extensions import db

    user = db.session.get(User, enrolment.enrolled_by_id) if enrolment.enrolled_by_id else None
    return user.email if user is not None else ""
