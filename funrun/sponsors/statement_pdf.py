"""A sponsor's statement as a PDF (reportlab, imported only when one is made): the members'
table, the totals per month and the grand total, as the totals report is drawn
(:mod:`funrun.reports.pdf`)."""

from __future__ import annotations

from typing import IO
from xml.sax.saxutils import escape

from flask_babel import format_decimal
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from funrun.sponsors.statement import (
    MEMBER_LABELS,
    MONTH_LABELS,
    Statement,
    amounts_text,
    month_name,
)

_TITLE = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=15, leading=19)
_SMALL = ParagraphStyle("small", fontName="Helvetica", fontSize=8, leading=10)
_HEAD = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=7.5, leading=9)
_CELL = ParagraphStyle("cell", fontName="Helvetica", fontSize=7.5, leading=9)
_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F6F8FA")]),
    ]
)


def _n(value: int) -> str:
    return format_decimal(value)


def statement_pdf(doc: Statement, generated: str, target: IO[bytes]) -> None:
    """Write the statement to ``target``."""
    title = _("Statement of %(sponsor)s (%(code)s)", sponsor=doc.name, code=doc.code)
    pdf = SimpleDocTemplate(
        target,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        author="funrun",
    )
    rows: list[list[object]] = [[Paragraph(str(label), _HEAD) for label in MEMBER_LABELS]]
    for line in doc.members:
        uniform = line.uniform
        rows.append(
            [
                line.participant_number,
                Paragraph(escape(line.full_name), _CELL),
                line.nik_masked,
                line.event,
                line.city,
                month_name(line.first_month) if line.per_month else "",
                month_name(line.last_month) if line.per_month else "",
                _n(line.months),
                _n(uniform) if uniform is not None else Paragraph(amounts_text(line), _CELL),
                _n(line.total),
            ]
        )
    if not doc.members:
        rows.append([_("No enrolment is charged to this sponsor yet.")] + [""] * 9)
    widths = [24, 46, 27, 27, 22, 17, 17, 12, 40, 22]
    members = Table(rows, colWidths=[w * mm for w in widths], repeatRows=1, hAlign="LEFT")
    members.setStyle(_STYLE)
    members.setStyle(TableStyle([("ALIGN", (7, 1), (-1, -1), "RIGHT")]))
    month_rows: list[list[object]] = [[Paragraph(str(label), _HEAD) for label in MONTH_LABELS]]
    for month in doc.months:
        month_rows.append([month_name(month.month), _n(month.members), _n(month.total)])
    month_rows.append([_("Grand total (Rp)"), _n(len(doc.members)), _n(doc.total)])
    per_month = Table(month_rows, colWidths=[40 * mm, 25 * mm, 35 * mm], hAlign="LEFT")
    per_month.setStyle(_STYLE)
    per_month.setStyle(
        TableStyle(
            [
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 7.5),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
            ]
        )
    )
    story = [
        Paragraph(escape(title), _TITLE),
        Paragraph(
            _(
                "Generated %(when)s WIB. %(members)s members, %(months)s member-months, "
                "grand total Rp %(total)s.",
                when=generated,
                members=_n(len(doc.members)),
                months=_n(doc.member_months),
                total=_n(doc.total),
            ),
            _SMALL,
        ),
        Spacer(1, 4 * mm),
        members,
        Spacer(1, 6 * mm),
        Paragraph(_("Totals per month"), _HEAD),
        Spacer(1, 2 * mm),
        per_month,
    ]
    pdf.build(story)
