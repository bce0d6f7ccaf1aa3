"""Chart series (grouped in SQL) and their geometry, drawn as inline SVG by the templates.

No chart library and nothing from another host: the server works out every bar's
position here and ``templates/reports/_charts.html`` writes the SVG, so the charts
show without JavaScript and the dashboard's poll only swaps the markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from funrun.checkin.models import CheckIn
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.reports.figures import PICKUP, TourFigures

#: Registrations are counted per day in WIB (UTC+7), where the tour is run from.
DAY_OFFSET = timedelta(hours=7)
BUCKET_SECONDS = 600
#: Bars drawn at most; older days or buckets are left out of the picture (not the tables).
MAX_DAYS = 60
MAX_BUCKETS = 144  # 24 hours of 10 minutes

WIDTH = 360
BAR_ROW = 22
LABEL_WIDTH = 96
VALUE_WIDTH = 76
PLOT_HEIGHT = 140
#: Room above the bars for the scale's note.
PLOT_TOP = 16
#: The widest a time series' bar gets (a single day is a bar, not a wall).
MAX_STEP = 36


@dataclass(frozen=True)
class HBar:
    """One labelled horizontal bar: ``fill`` of the plot width, and a text at its end."""

    label: str
    y: float
    width: float
    back_width: float
    value: str


@dataclass(frozen=True)
class VBar:
    """One vertical bar of a time series."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Axis:
    """A tick label under a time series."""

    x: float
    label: str


@dataclass(frozen=True)
class HChart:
    """Horizontal bars, one per city."""

    bars: list[HBar]
    height: float
    plot_x: float = LABEL_WIDTH
    plot_width: float = WIDTH - LABEL_WIDTH - VALUE_WIDTH


@dataclass(frozen=True)
class VChart:
    """A time series as vertical bars, with its largest value for the scale."""

    bars: list[VBar]
    ticks: list[Axis]
    peak: int
    height: float = PLOT_TOP + PLOT_HEIGHT + 24
    plot_height: float = PLOT_HEIGHT
    baseline: float = PLOT_TOP + PLOT_HEIGHT


def _epoch(column: ColumnElement[datetime]) -> ColumnElement[int]:
    """Seconds since 1970 (UTC) of a stored timestamp, on SQLite and PostgreSQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), Integer)
    return cast(func.strftime("%s", column), Integer)


def registrations_per_day() -> list[tuple[date, int]]:
    """Registrations made per day (WIB), over every event, oldest first."""
    seconds = _epoch(Registration.created_at) + int(DAY_OFFSET.total_seconds())
    day = (seconds // 86400).label("day")
    rows = db.session.execute(select(day, func.count()).group_by(day).order_by(day))
    epoch = date(1970, 1, 1)
    return [(epoch + timedelta(days=int(n)), count) for n, count in rows]


def checkins_per_bucket() -> list[tuple[datetime, int]]:
    """Pickup check-ins per 10 minutes over the 24 hours up to the latest one (race day)."""
    active = (CheckIn.station == PICKUP, CheckIn.undone_at.is_(None))
    latest = db.session.scalar(select(func.max(CheckIn.checked_in_at)).where(*active))
    if latest is None:
        return []
    if latest.tzinfo is None:  # SQLite hands back naive UTC from a bare max()
        latest = latest.replace(tzinfo=UTC)
    bucket = (_epoch(CheckIn.checked_in_at) // BUCKET_SECONDS).label("bucket")
    rows = db.session.execute(
        select(bucket, func.count())
        .where(*active, CheckIn.checked_in_at > latest - timedelta(hours=24))
        .group_by(bucket)
        .order_by(bucket)
    )
    return [(datetime.fromtimestamp(n * BUCKET_SECONDS, UTC), count) for n, count in rows]


def _hchart(rows: list[tuple[str, float, float, str]]) -> HChart:
    """Bars from (label, share of the plot, share of the background bar, value text)."""
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = [
        HBar(
            label=label,
            y=index * BAR_ROW,
            width=round(plot * min(max(share, 0.0), 1.0), 1),
            back_width=round(plot * min(max(back, 0.0), 1.0), 1),
            value=value,
        )
        for index, (label, share, back, value) in enumerate(rows)
    ]
    return HChart(bars=bars, height=max(len(bars), 1) * BAR_ROW)


def quota_fill_chart(figures: TourFigures, fmt: Callable[[int], str]) -> HChart:
    """Confirmed runners against each city's quota (the bar's background is the quota)."""
    return _hchart(
        [
            (
                row.city,
                row.confirmed / row.quota if row.quota else 0.0,
                1.0,
                f"{fmt(row.confirmed)}/{fmt(row.quota)}",
            )
            for row in figures.events
        ]
    )


def enrolments_chart(figures: TourFigures, fmt: Callable[[int], str]) -> HChart:
    """New enrolments per city, scaled to the city with the most."""
    peak = max((row.enrolled for row in figures.events), default=0) or 1
    return _hchart(
        [(row.city, row.enrolled / peak, 0.0, fmt(row.enrolled)) for row in figures.events]
    )


def _vchart(points: list[tuple[str, str, int]], tick_every: int) -> VChart:
    """Bars from (tick label, bar title, count), evenly spaced over the width."""
    peak = max((count for _label, _title, count in points), default=0)
    step = min(WIDTH / max(len(points), 1), MAX_STEP)
    bars, ticks = [], []
    for index, (label, title, count) in enumerate(points):
        height = round(PLOT_HEIGHT * count / peak, 1) if peak else 0.0
        x = round(index * step, 1)
        bars.append(
            VBar(
                x=x,
                y=round(PLOT_TOP + PLOT_HEIGHT - height, 1),
                width=round(max(step - 1, 0.5), 1),
                height=height,
                title=title,
            )
        )
        if index % tick_every == 0:
            ticks.append(Axis(x=x, label=label))
    return VChart(bars=bars, ticks=ticks, peak=peak)


def registrations_chart(series: list[tuple[date, int]], fmt_day: Callable[[date], str]) -> VChart:
    """Registrations per day; days without any are drawn as gaps, not skipped."""
    if not series:
        return _vchart([], 1)
    counts = dict(series)
    last = series[-1][0]
    first = max(series[0][0], last - timedelta(days=MAX_DAYS - 1))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    points = [(fmt_day(d), f"{fmt_day(d)}: {counts.get(d, 0)}", counts.get(d, 0)) for d in days]
    return _vchart(points, max(len(points) // 5, 1))


def checkins_chart(
    series: list[tuple[datetime, int]], fmt_time: Callable[[datetime], str]
) -> VChart:
    """Check-ins per 10 minutes, empty buckets included."""
    if not series:
        return _vchart([], 1)
    counts = dict(series)
    last = series[-1][0]
    first = max(series[0][0], last - timedelta(seconds=BUCKET_SECONDS * (MAX_BUCKETS - 1)))
    total = int((last - first).total_seconds() // BUCKET_SECONDS) + 1
    slots = [first + timedelta(seconds=BUCKET_SECONDS * n) for n in range(total)]
    points = [(fmt_time(t), f"{fmt_time(t)}: {counts.get(t, 0)}", counts.get(t, 0)) for t in slots]
    return _vchart(points, max(len(points) // 6, 1))
