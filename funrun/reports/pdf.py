"""The per-city totals as a PDF report: the table with a tour total row, then the charts.

The charts are the dashboard's own geometry (funrun.reports.charts) drawn with
reportlab's vector shapes, so the report and the page show the same pictures.
"""

from __future__ import annotations

from typing import IO

from flask_babel import gettext as _
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from funrun.reports.charts import WIDTH, HChart, VChart
from funrun.reports.dashboard import FIELDS, Dashboard, number
from funrun.reports.exports import TOTALS_LABELS
from funrun.reports.figures import MEMBER

BRAND = colors.HexColor("#0A7A3D")
BACK = colors.HexColor("#E3E8EF")
MUTED = colors.HexColor("#5B6675")
#: Points per unit of the charts' 360-unit-wide geometry.
SCALE = 1.0

_TITLE = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=16, leading=20)
_HEADING = ParagraphStyle("heading", fontName="Helvetica-Bold", fontSize=11, leading=14)
_SMALL = ParagraphStyle("small", fontName="Helvetica", fontSize=8, leading=10, textColor=MUTED)
_HEAD_CELL = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=7.5, leading=9)

#: A small table with a header row and a total row (shirt sizes, who pays).
_LIST_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8.5),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
    ]
)


def _hchart(chart: HChart) -> Drawing:
    drawing = Drawing(WIDTH * SCALE, chart.height * SCALE)
    top = chart.height
    for bar in chart.bars:
        baseline = (top - bar.y - 15) * SCALE
        drawing.add(
            String(
                (chart.plot_x - 6) * SCALE, baseline, bar.label[:16], fontName="Helvetica",
                fontSize=8, textAnchor="end",
            )
        )  # fmt: skip
        y = (top - bar.y - 18) * SCALE
        if bar.back_width:
            drawing.add(
                Rect(chart.plot_x * SCALE, y, bar.back_width * SCALE, 14 * SCALE,
                     fillColor=BACK, strokeColor=None)
            )  # fmt: skip
        if bar.width:
            drawing.add(
                Rect(chart.plot_x * SCALE, y, bar.width * SCALE, 14 * SCALE,
                     fillColor=BRAND, strokeColor=None)
            )  # fmt: skip
        drawing.add(
            String(
                (chart.plot_x + max(bar.width, bar.back_width) + 4) * SCALE, baseline, bar.value,
                fontName="Helvetica", fontSize=8,
            )
        )  # fmt: skip
    return drawing


def _vchart(chart: VChart, peak_label: str) -> Drawing:
    drawing = Drawing(WIDTH * SCALE, chart.height * SCALE)
    top = chart.height
    drawing.add(
        Line(0, (top - chart.baseline) * SCALE, WIDTH * SCALE, (top - chart.baseline) * SCALE,
             strokeColor=MUTED, strokeWidth=0.5)
    )  # fmt: skip
    for bar in chart.bars:
        if bar.height:
            drawing.add(
                Rect(bar.x * SCALE, (top - bar.y - bar.height) * SCALE, bar.width * SCALE,
                     bar.height * SCALE, fillColor=BRAND, strokeColor=None)
            )  # fmt: skip
    for tick in chart.ticks:
        drawing.add(
            String(tick.x * SCALE, (top - chart.baseline - 14) * SCALE, tick.label,
                   fontName="Helvetica", fontSize=7, fillColor=MUTED)
        )  # fmt: skip
    drawing.add(
        String(WIDTH * SCALE - 2, (top - 11) * SCALE, peak_label, fontName="Helvetica",
               fontSize=7, fillColor=MUTED, textAnchor="end")
    )  # fmt: skip
    return drawing


#: The paid months have a small table of their own (the main one stays readable on A4).
PAID = ("enrolled", "paid_month_1", "paid_month_2", "paid_month_3")
MAIN = tuple(name for name in FIELDS if name not in PAID[1:])


def _paid_table(board: Dashboard) -> Table:
    rows = [[_("New members paying their months"), *(str(TOTALS_LABELS[n]) for n in PAID)]]
    rows += [
        [row.city, *(board.cells[f"{row.slug}:{n}"] for n in PAID)] for row in board.figures.events
    ]
    rows.append([_("Total"), *(board.cells[f"total:{n}"] for n in PAID)])
    table = Table(rows, hAlign="LEFT", repeatRows=1)
    table.setStyle(_LIST_STYLE)
    return table


def _table(board: Dashboard) -> Table:
    figures = board.figures
    header = [Paragraph(str(TOTALS_LABELS["city"]), _HEAD_CELL)]
    header += [Paragraph(str(TOTALS_LABELS[name]), _HEAD_CELL) for name in MAIN]
    rows = [header]
    for row in figures.events:
        rows.append([row.city, *(board.cells[f"{row.slug}:{name}"] for name in MAIN)])
    rows.append([_("Total"), *(board.cells[f"total:{name}"] for name in MAIN)])
    widths = [28 * mm] + [((A4[1] - 30 * mm) - 28 * mm) / len(MAIN)] * len(MAIN)
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8.5),
                # Narrow paddings: eleven columns whose headers are single long words
                # ("Terkonfirmasi") fit the width without breaking inside a word.
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#F6F8FA")]),
            ]
        )
    )
    return table


def totals_pdf(board: Dashboard, generated: str, target: IO[bytes]) -> None:
    """Write the report: the totals table, the shirt sizes, then the four charts."""
    doc = SimpleDocTemplate(
        target,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=_("Per-city totals"),
        author="funrun",
    )
    figures = board.figures
    sizes = figures.shirt_size_names
    shirts = [[_("Shirt sizes needed"), *sizes]]
    shirts += [
        [row.city, *(board.cells[f"{row.slug}:shirt:{s}"] for s in sizes)] for row in figures.events
    ]
    shirts.append([_("Total"), *(board.cells[f"total:shirt:{s}"] for s in sizes)])
    shirt_table = Table(shirts, hAlign="LEFT", repeatRows=1)
    shirt_table.setStyle(_LIST_STYLE)
    codes = [MEMBER, *(sponsor.code for sponsor in figures.sponsors)]
    payers = [
        [
            _("Who pays for the new enrolments"),
            _("Paid by members"),
            *(f"{_('Owed by')} {sponsor.name}" for sponsor in figures.sponsors),
        ]
    ]
    payers += [
        [row.city, *(board.cells[f"{row.slug}:payer:{c}"] for c in codes)] for row in figures.events
    ]
    payers.append([_("Total"), *(board.cells[f"total:payer:{c}"] for c in codes)])
    payer_table = Table(payers, hAlign="LEFT", repeatRows=1)
    payer_table.setStyle(_LIST_STYLE)
    story = [
        Paragraph(_("Per-city totals"), _TITLE),
        Paragraph(_("Generated %(when)s WIB.", when=generated), _SMALL),
        Spacer(1, 4 * mm),
        _table(board),
        Spacer(1, 2 * mm),
        Paragraph(
            _(
                "Members and non-members count confirmed runners. No-shows count confirmed "
                "runners without a race-pack pickup once the race has started. Conversion "
                "rate: new enrolments per non-member checked in."
            ),
            _SMALL,
        ),
        Spacer(1, 5 * mm),
        shirt_table,
        Spacer(1, 5 * mm),
        payer_table,
        Spacer(1, 5 * mm),
        _paid_table(board),
    ]
    charts = [
        (_("Quota fill per city"), _hchart(board.quota_fill)),
        (_("New enrolments per city"), _hchart(board.enrolments)),
        (
            _("Registrations over time"),
            _vchart(
                board.registrations,
                _("highest: %(n)s a day", n=number(board.registrations.peak)),
            ),
        ),
        (
            _("Check-ins per 10 minutes (race day, WIB)"),
            _vchart(board.checkins, _("highest: %(n)s in 10 min", n=number(board.checkins.peak))),
        ),
    ]
    # Two charts side by side, two rows: one page for the four.
    cells = [[Paragraph(title, _HEADING), drawing] for title, drawing in charts]
    grid = Table(
        [[cells[0], cells[1]], [cells[2], cells[3]]],
        colWidths=[WIDTH * SCALE + 8 * mm] * 2,
        hAlign="LEFT",
    )
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [PageBreak(), grid]
    doc.build(story)
