"""``GET /stats``: the dashboard's figures. The columns are those of
:data:`funrun.reports.figures.COUNTS`, declared once in the model below."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from funrun.api.schemas.base import Count, DateTime, Schema
from funrun.reports.figures import COUNTS, TourFigures
from funrun.reports.figures import CityFigures as ReportRow


class PoolFigures(Schema):
    """A place pool of the event's quota (the totals: each pool summed over the events)."""

    pool: Literal["non_member", "partner"] = Field(
        description="non_member: runners with no KPJ number and no enrolment on record; "
        "partner: runners a partner brought."
    )
    places: Count = Field(description="Places the pool keeps.")
    taken: Count = Field(description="Places of the pool held by its runners now.")
    left: Count = Field(description="Places the pool still keeps (0 once they flowed).")
    flow_at: DateTime | None = Field(
        description="When unfilled places go to everyone (null: kept to race day; "
        "null in the totals)."
    )
    flowed: bool


class _Figures(Schema):
    """The figures that are not plain counts."""

    non_members_checked_in: Count
    conversion_rate: float | None = Field(ge=0)
    shirt_sizes: dict[str, Count] = Field(
        description="Shirts needed for the confirmed runners, by size."
    )
    pools: list[PoolFigures] = Field(
        description="The place pools (empty when the quota is not split), each with its "
        "places, taken, left and flow time."
    )


#: One column per count of the reports, then the others.
Figures = create_model(  # type: ignore[call-overload]
    "Figures",
    __base__=_Figures,
    __doc__="The events' figures summed (the conversion rate of the sums).",
    **{name: (Count, ...) for name in COUNTS},
)


class CityFigures(Figures):  # type: ignore[misc, valid-type]
    """One event's figures. members and non_members count confirmed runners; no_shows
    counts confirmed runners without a pickup check-in once the race has started (0
    before); conversion_rate is enrolled / non_members_checked_in (null while no
    non-member is checked in); held counts a partner group's places awaiting their
    member's confirmation; paid_month_1, paid_month_2 and paid_month_3 count new members
    with a payment recorded (the scheme's payment files) for their first, second and
    third covered month (the first is the month of enrolment)."""

    slug: str
    city: str


class Stats(Schema):
    """Per-city figures and the tour totals."""

    events: list[CityFigures]
    totals: Figures  # type: ignore[valid-type]
    generated_at: DateTime

    @classmethod
    def of(cls, figures: TourFigures) -> dict[str, Any]:
        """The body of ``GET /stats`` from the reports' figures."""

        def row(city: ReportRow) -> dict[str, Any]:
            body: dict[str, Any] = {name: getattr(city, name) for name in COUNTS}
            body["non_members_checked_in"] = city.non_members_checked_in
            body["conversion_rate"] = city.conversion_rate
            body["shirt_sizes"] = dict(city.shirt_sizes)
            body["pools"] = [state.as_json() for state in city.pools]
            return body

        return cls.dump(
            {
                "events": [{"slug": c.slug, "city": c.city, **row(c)} for c in figures.events],
                "totals": row(figures.totals),
                "generated_at": figures.generated_at.isoformat(),
            }
        )
