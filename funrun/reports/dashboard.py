"""What the organiser's dashboard shows: the figures, formatted once, and the charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import format_date, format_datetime, format_decimal, format_percent, format_time
from flask_babel import gettext as _

from funrun.enrolment.filters import rupiah
from funrun.registration.pools import PoolState
from funrun.reports.charts import (
    HChart,
    VChart,
    checkins_chart,
    checkins_per_bucket,
    enrolments_chart,
    quota_fill_chart,
    registrations_chart,
    registrations_per_day,
)
from funrun.reports.figures import (
    COUNTS,
    CityFigures,
    PayerTotal,
    TourFigures,
    tour_figures,
)

#: Every figure a table cell shows, in column order.
FIELDS = (*COUNTS, "conversion_rate")
WIB = ZoneInfo("Asia/Jakarta")


def number(value: int) -> str:
    """A count with the page language's thousands separator."""
    return format_decimal(value, format="#,##0")


def rate(value: float | None) -> str:
    """A conversion rate as a percentage, or a dash before anyone is checked in."""
    return "\N{EN DASH}" if value is None else format_percent(value, format="#,##0.0%")


def _day(value: date) -> str:
    return format_date(value, "d MMM")


def _clock(value: datetime) -> str:
    return format_time(value.astimezone(WIB), "HH:mm")


def paid(payer: PayerTotal) -> str:
    """Who a payer pays for and how much, e.g. "12 members, Rp 2.419.200"."""
    if payer.members == 1:
        return _("%(count)s member, %(amount)s", count=number(1), amount=rupiah(payer.amount))
    return _(
        "%(count)s members, %(amount)s",
        count=number(payer.members),
        amount=rupiah(payer.amount),
    )


def members(payer: PayerTotal) -> str:
    """How many members a payer pays for, e.g. "12 members"."""
    if payer.members == 1:
        return _("%(count)s member", count=number(1))
    return _("%(count)s members", count=number(payer.members))


def _payer_cells(key: str, payer: PayerTotal) -> dict[str, str]:
    prefix = f"{key}:payer:{payer.code}"
    return {
        prefix: paid(payer),
        f"{prefix}:members": members(payer),
        f"{prefix}:amount": rupiah(payer.amount),
    }


def flow_time(state: PoolState) -> str:
    """When a pool's unfilled places go to everyone, in WIB; whether they went already."""
    if state.flow_at is None:
        return _("kept to race day")
    when = format_datetime(state.flow_at.astimezone(WIB), "d MMM HH:mm")
    if state.flowed:
        return _("%(when)s WIB, flowed", when=when)
    return _("%(when)s WIB", when=when)


def _pool_cells(key: str, pools: list[PoolState]) -> dict[str, str]:
    cells = {}
    for state in pools:
        prefix = f"{key}:pool:{state.pool.value}"
        for name in ("places", "taken", "left"):
            cells[f"{prefix}:{name}"] = number(getattr(state, name))
        cells[f"{prefix}:flow_at"] = flow_time(state) if key != "total" else ""
    return cells


def cells_of(
    row: CityFigures, key: str, sizes: list[str], sponsors: list[str] | None = None
) -> dict[str, str]:
    """The formatted figures of one row, keyed ``<row key>:<field>`` as the page marks them;
    who pays is keyed ``<row key>:payer:member`` and ``<row key>:payer:<sponsor code>``
    (then ``:members`` and ``:amount`` for the two parts alone)."""
    cells = {f"{key}:{name}": number(getattr(row, name)) for name in COUNTS}
    cells[f"{key}:conversion_rate"] = rate(row.conversion_rate)
    for size in sizes:
        cells[f"{key}:shirt:{size}"] = number(row.shirt_sizes.get(size, 0))
    cells.update(_payer_cells(key, row.paid_by_members))
    for code in sponsors or ():
        cells.update(_payer_cells(key, row.sponsor(code)))
    cells.update(_pool_cells(key, row.pools))
    return cells


@dataclass(frozen=True)
class Dashboard:
    """The figures, their formatted cells, and the four charts."""

    figures: TourFigures
    cells: dict[str, str]
    quota_fill: HChart
    registrations: VChart
    checkins: VChart
    enrolments: HChart


def dashboard() -> Dashboard:
    """Everything the dashboard page and its live update show (six queries)."""
    figures = tour_figures()
    sizes = figures.shirt_size_names
    sponsors = [p.code for p in figures.sponsors]
    cells: dict[str, str] = {}
    for row in figures.events:
        cells.update(cells_of(row, row.slug, sizes, sponsors))
    cells.update(cells_of(figures.totals, "total", sizes, sponsors))
    return Dashboard(
        figures=figures,
        cells=cells,
        quota_fill=quota_fill_chart(figures, number),
        registrations=registrations_chart(registrations_per_day(), _day),
        checkins=checkins_chart(checkins_per_bucket(), _clock),
        enrolments=enrolments_chart(figures, number),
    )


def register_filters(state: object) -> None:
    """Template filters for the report pages (``count``: a formatted count; ``percent``: a
    share as a percentage) and ``funnel_total`` for the funnel's macros."""
    from funrun.payments.funnel import funnel_total

    app = state.app  # type: ignore[attr-defined]
    app.jinja_env.filters["count"] = number
    app.jinja_env.filters["percent"] = rate
    app.jinja_env.globals["funnel_total"] = funnel_total
