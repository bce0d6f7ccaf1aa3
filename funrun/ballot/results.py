"""The draw's published results (no names, no NIK) and the organiser's figures."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import case, func, select

from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus

_R = Registration.__table__.c

#: The results file's columns, in order.
HEADER = ("rank", "entry_number", "outcome")

#: What the draw decided for an entry, from what it wrote (kept whatever happens after:
#: a winner who cancels later keeps their retired bib, a waitlisted runner promoted later
#: keeps their waitlist number): waitlisted, confirmed (a place, with a bib), or withdrawn
#: (cancelled before the draw: ranked, given nothing).
OUTCOME = case(
    (_R.waitlist_seq.is_not(None), "waitlisted"),
    (_R.bib_number.is_not(None), "confirmed"),
    else_="withdrawn",
)


def results_csv(event_id: int) -> str:
    """``rank,entry_number,outcome`` for every ranked entry, in draw order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(
        db.session.execute(
            select(_R.ballot_rank, _R.entry_number, OUTCOME)
            .where(_R.event_id == event_id, _R.ballot_rank.is_not(None))
            .order_by(_R.ballot_rank)
        )
    )
    return out.getvalue()


@dataclass(frozen=True)
class BallotFigures:
    """Entries by where they stand now."""

    entered: int
    withdrawn: int
    confirmed: int
    waitlisted: int


def figures(event_id: int) -> BallotFigures:
    """The ballot's entries counted in one statement: still in the draw, withdrawn, and
    (after it) drawn to a place or to the waitlist."""
    ranked = _R.ballot_rank.is_not(None)

    def count(condition: object) -> object:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            count(_R.status == RegistrationStatus.ENTERED.value),
            count(_R.status == RegistrationStatus.CANCELLED.value),
            count(ranked & (OUTCOME == "confirmed")),
            count(ranked & (OUTCOME == "waitlisted")),
        ).where(_R.event_id == event_id, _R.entry_number.is_not(None))
    ).one()
    return BallotFigures(*(int(value) for value in row))
