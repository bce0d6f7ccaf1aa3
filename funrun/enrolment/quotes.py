"""Pricing from the stored schedules: the desk, the API, the public quote and the schedule
preview all price through :func:`price`, with the rules of
:mod:`funrun.enrolment.contribution`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _

from funrun.enrolment.contribution import NoScheduleForMonth, Quote, month_end, month_start, quote
from funrun.enrolment.errors import NoSchedule
from funrun.enrolment.models import ContributionSchedule, Sponsor
from funrun.enrolment.schedule import schedules_between


def price(
    on: date,
    *,
    declared_income: int,
    programmes: Iterable[str],
    months: int,
    occupation: str | None,
    sponsor: Sponsor | None = None,
    schedules: Iterable[ContributionSchedule] | None = None,
) -> Quote:
    """Price ``months`` covered months from the month of ``on`` (raises NoSchedule).

    ``schedules``: the candidates (default: the stored ones in force in those months);
    the schedule page's preview passes the edited one.
    """
    if schedules is None:
        schedules = schedules_between(on, month_end(month_start(on, months - 1)))
    try:
        return quote(
            schedules,
            declared_income=declared_income,
            programmes=programmes,
            months=months,
            on=on,
            occupation=occupation,
            sponsored=sponsor is not None,
            public_budget=bool(sponsor and sponsor.public_budget),
        )
    except NoScheduleForMonth as missing:
        raise NoSchedule(
            _(
                "No contribution schedule is in force in %(month)s. An admin must load one.",
                month=format_date(missing.month, "MMMM y"),
            )
        ) from None
