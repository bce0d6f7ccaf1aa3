"""Per-city totals as CSV and XLSX (the rosters' files are in :mod:`.roster_files`).

Totals come from :func:`funrun.reports.figures.tour_figures`, the same object the
dashboard and ``GET /api/v1/stats`` show, so the files cannot disagree with them. Text
cells go through :mod:`funrun.spreadsheet`, as in every CSV and XLSX funrun writes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from funrun.registration.models import Pool
from funrun.reports.figures import COUNTS, MEMBER, CityFigures, PayerTotal, TourFigures
from funrun.spreadsheet import csv_cell, csv_writer, workbook, xlsx_text

if TYPE_CHECKING:
    from funrun.payments.funnel import FunnelRow

FORMATS = ("csv", "xlsx")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Column keys of the totals files (CSV header), then one column per shirt size.
TOTALS_KEYS = ("slug", "city", *COUNTS, "non_members_checked_in", "conversion_rate")
TOTALS_LABELS = {
    "slug": _l("Event"),
    "city": _l("City"),
    "quota": _l("Quota"),
    "confirmed": _l("Confirmed"),
    "waitlisted": _l("Waitlisted"),
    "held": _l("Held for a group"),
    "cancelled": _l("Cancelled"),
    "checked_in": _l("Checked in"),
    "no_shows": _l("No-shows"),
    "members": _l("Existing members"),
    "non_members": _l("Non-members"),
    "non_members_checked_in": _l("Non-members checked in"),
    "enrolled": _l("New enrolments"),
    "paid_month_1": _l("Paid month 1"),
    "paid_month_2": _l("Paid month 2"),
    "paid_month_3": _l("Paid month 3"),
    "conversion_rate": _l("Conversion rate"),
}

# --- totals -----------------------------------------------------------------------------


def _payer_columns(figures: TourFigures) -> list[tuple[str, str]]:
    """After the shirt sizes, who pays (CSV key, XLSX header): the members' enrolments and
    what they paid, then each sponsor's enrolments and what it owes."""
    columns = [
        (f"{MEMBER}_paid_enrolments", _("Paid by members: enrolments")),
        (f"{MEMBER}_paid_amount", _("Paid by members: Rp")),
    ]
    for sponsor in figures.sponsors:
        columns += [
            (
                f"sponsor_{sponsor.code}_enrolments",
                _("%(sponsor)s: enrolments", sponsor=sponsor.name),
            ),
            (f"sponsor_{sponsor.code}_amount", _("%(sponsor)s: Rp owed", sponsor=sponsor.name)),
        ]
    return columns


def _payer_values(row: CityFigures, figures: TourFigures) -> list[int]:
    payers: list[PayerTotal] = [row.paid_by_members]
    payers += [row.sponsor(s.code) for s in figures.sponsors]
    return [n for payer in payers for n in (payer.members, payer.amount)]


#: Each pool's columns, between the shirt sizes and who pays: the API's names.
POOL_FIELDS = ("places", "taken", "left", "flow_at")
POOL_LABELS = {Pool.NON_MEMBER: _l("Non-member pool"), Pool.PARTNER: _l("Partner pool")}
POOL_FIELD_LABELS = {
    "places": _l("places"),
    "taken": _l("taken"),
    "left": _l("left"),
    "flow_at": _l("flows at (UTC)"),
}


def _pool_columns() -> list[tuple[str, str]]:
    """Every pool's places, taken, left and flow time (CSV key, XLSX header), for every
    event (zeros where its quota is not split)."""
    return [
        (f"pool_{pool.value}_{name}", f"{POOL_LABELS[pool]}: {POOL_FIELD_LABELS[name]}")
        for pool in Pool
        for name in POOL_FIELDS
    ]


def _pool_values(row: CityFigures) -> list[int | str]:
    """A row's pool cells: counts, and the flow time as ISO 8601 ("" when none)."""
    states = {state.pool: state for state in row.pools}
    values: list[int | str] = []
    for pool in Pool:
        state = states.get(pool)
        values += [state.places, state.taken, state.left] if state else [0, 0, 0]
        flow_at = state.flow_at if state else None
        values.append("" if flow_at is None else flow_at.isoformat(timespec="minutes"))
    return values


def _totals_rows(figures: TourFigures) -> Iterator[tuple[CityFigures, str, str]]:
    for row in figures.events:
        yield row, row.slug, row.city
    yield figures.totals, "", _("Total")


def _totals_values(row: CityFigures, slug: str, city: str) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in TOTALS_KEYS[2:]}
    values["conversion_rate"] = row.conversion_rate
    values.update(slug=slug, city=city)
    return values


def totals_csv(figures: TourFigures) -> str:
    """The per-city totals with a tour total row; the header is the API's field names."""
    sizes = figures.shirt_size_names
    out = io.StringIO()
    writer = csv_writer(out)
    payer_keys = [csv_cell(key) for key, _label in _payer_columns(figures)]
    pool_keys = [key for key, _label in _pool_columns()]
    writer.writerow([*TOTALS_KEYS, *(f"shirt_{size}" for size in sizes), *pool_keys, *payer_keys])
    for row, slug, city in _totals_rows(figures):
        values = _totals_values(row, slug, city)
        rate = values["conversion_rate"]
        values["conversion_rate"] = "" if rate is None else f"{rate:.4f}"
        writer.writerow(
            [
                *(csv_cell(values[key]) for key in TOTALS_KEYS),
                *(row.shirt_sizes.get(s, 0) for s in sizes),
                *(csv_cell(value) for value in _pool_values(row)),
                *_payer_values(row, figures),
            ]
        )
    return out.getvalue()


def totals_xlsx(figures: TourFigures, target: IO[bytes]) -> None:
    """The totals as a worksheet: a bold header row, frozen panes, numbers as numbers."""
    sizes = figures.shirt_size_names
    book = workbook(target)
    sheet = book.add_worksheet(_("Totals")[:31])
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    total_row = book.add_format({"bold": True, "top": 1})
    total_percent = book.add_format({"bold": True, "top": 1, "num_format": "0.0%"})
    headers = [str(TOTALS_LABELS[key]) for key in TOTALS_KEYS]
    headers += [_("Shirts %(size)s", size=size) for size in sizes]
    headers += [label for _key, label in _pool_columns()]
    headers += [label for _key, label in _payer_columns(figures)]
    sheet.write_row(0, 0, headers, bold)
    sheet.freeze_panes(1, 2)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, len(headers) - 1, 11)
    rows = list(_totals_rows(figures))
    for index, (row, slug, city) in enumerate(rows, start=1):
        last = index == len(rows)
        values = _totals_values(row, slug, city)
        for col, key in enumerate(TOTALS_KEYS):
            value = values[key]
            if key == "conversion_rate":
                if value is None:
                    sheet.write_blank(index, col, None, total_row if last else None)
                else:
                    sheet.write_number(index, col, value, total_percent if last else percent)
            elif isinstance(value, str):
                xlsx_text(sheet, index, col, value, total_row if last else None)
            else:
                sheet.write_number(index, col, value, total_row if last else None)
        for offset, size in enumerate(sizes):
            sheet.write_number(
                index, len(TOTALS_KEYS) + offset, row.shirt_sizes.get(size, 0),
                total_row if last else None,
            )  # fmt: skip
        payer_values = _payer_values(row, figures)
        for offset, value in enumerate([*_pool_values(row), *payer_values]):
            column = len(TOTALS_KEYS) + len(sizes) + offset
            if isinstance(value, str):
                xlsx_text(sheet, index, column, value, total_row if last else None)
            else:
                sheet.write_number(index, column, value, total_row if last else None)
    book.close()


# --- the funnel ---------------------------------------------------------------------------


def _funnel_header(by: str) -> list[tuple[str, str]]:
    from funrun.payments.funnel import STEPS

    names = {"city": _("City"), "aggregator": _("Aggregator"), "sponsor": _("Sponsor")}
    return [(by, names[by]), *((name, str(label)) for name, label, _short in STEPS)]


def funnel_csv(by: str, rows: list[FunnelRow]) -> str:
    """The funnel per city, aggregator or sponsor, with a total row; the header is the
    steps' field names, then each step's share of the step before (empty after a 0)."""
    from funrun.payments.funnel import funnel_total

    header = _funnel_header(by)
    out = io.StringIO()
    writer = csv_writer(out)
    steps = [name for name, _label in header[1:]]
    writer.writerow([by, *steps, *(f"{name}_of_previous" for name in steps[1:])])
    for row in [*rows, funnel_total(rows)]:
        shares = [s.of_previous for s in row.steps()[1:]]
        writer.writerow(
            [
                csv_cell(row.label),
                *(getattr(row, name) for name in steps),
                *("" if share is None else f"{share:.4f}" for share in shares),
            ]
        )
    return out.getvalue()


def funnel_xlsx(by: str, rows: list[FunnelRow], target: IO[bytes]) -> None:
    """The funnel as a worksheet: counts as numbers, then the shares as percentages."""
    from funrun.payments.funnel import funnel_total

    header = _funnel_header(by)
    book = workbook(target)
    sheet = book.add_worksheet(_("Funnel")[:31])
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    labels = [label for _name, label in header]
    labels += [_("%(step)s, of the step before", step=label) for label in labels[2:]]
    sheet.write_row(0, 0, labels, bold)
    sheet.freeze_panes(1, 1)
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, len(labels) - 1, 13)
    for index, row in enumerate([*rows, funnel_total(rows)], start=1):
        xlsx_text(sheet, index, 0, row.label, bold if index > len(rows) else None)
        steps = row.steps()
        for col, step in enumerate(steps, start=1):
            sheet.write_number(index, col, step.count)
        for col, step in enumerate(steps[1:], start=len(steps) + 1):
            if step.of_previous is None:
                sheet.write_blank(index, col, None)
            else:
                sheet.write_number(index, col, step.of_previous, percent)
    book.close()
