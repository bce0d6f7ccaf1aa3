"""Contribution schedules as data: read, checked, stored, chosen by date, written back.

The shipped file is ``data/schedules.json``; ``flask enrolment load-schedules`` and
``seed-demo`` load it, and admins edit the same document on a staff page. Loading is an
upsert by code: a schedule's rates, brackets and reliefs are replaced as a whole, and
nothing is deleted (enrolments keep pointing at the version that priced them). The
document's checks are in :mod:`funrun.enrolment.schedule_document`.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.enrolment.models import (
    ContributionRate,
    ContributionRelief,
    ContributionSchedule,
    ContributionSector,
    IncomeBracket,
    ReliefPeriod,
    Sponsor,
)
from funrun.enrolment.schedule_document import FORMAT, ScheduleDataError, parse_document
from funrun.extensions import db

SAVED_MEANWHILE = _l(
    "Another administrator saved the schedules at the same moment. Reload the page and try again."
)
SHIPPED = Path(__file__).parent / "data" / "schedules.json"


def apply_document(document: Any, *, user_id: int | None = None, typed: bool = False) -> int:
    """Check and store a schedules document (upsert by code); the schedules stored.

    ``typed``: the admins' schedule form's document (amounts typed as text)."""
    schedules, sponsors = parse_document(document, typed=typed)
    begin_write()  # SQLite: take the writer's lock first (two admins' saves queue up)
    try:
        for row in schedules:
            rates, brackets, reliefs = row.pop("rates"), row.pop("brackets"), row.pop("reliefs")
            sectors = row.pop("sectors")
            schedule = db.session.scalar(
                select(ContributionSchedule).where(ContributionSchedule.code == row["code"])
            )
            if schedule is None:
                schedule = ContributionSchedule(code=row["code"])
                db.session.add(schedule)
            for key, value in row.items():
                setattr(schedule, key, value)
            schedule.updated_at = utcnow()
            schedule.updated_by_id = user_id
            # Old child rows go first, before new ones take their unique keys.
            schedule.rates.clear()
            schedule.brackets.clear()
            schedule.reliefs.clear()
            schedule.sectors.clear()
            db.session.flush()
            schedule.rates.extend(ContributionRate(**rate) for rate in rates)
            schedule.brackets.extend(IncomeBracket(**bracket) for bracket in brackets)
            schedule.sectors.extend(ContributionSector(**sector) for sector in sectors)
            for relief in reliefs:
                periods = [ReliefPeriod(**period) for period in relief.pop("periods")]
                schedule.reliefs.append(ContributionRelief(**relief, periods=periods))
            db.session.flush()
        for row in sponsors:
            sponsor = db.session.scalar(select(Sponsor).where(Sponsor.code == row["code"]))
            if sponsor is None:
                sponsor = Sponsor(code=row["code"])
                db.session.add(sponsor)
            for key, value in row.items():
                setattr(sponsor, key, value)
        db.session.commit()
    except IntegrityError as exc:
        # Another admin saved a schedule or sponsor with the same new code in the same
        # instant: nothing of this document was stored.
        db.session.rollback()
        raise ScheduleDataError([str(SAVED_MEANWHILE)]) from exc
    except BaseException:
        db.session.rollback()
        raise
    return len(schedules)


def load_file(path: Path = SHIPPED) -> int:
    """Load a schedules file (the shipped one by default); the schedules stored."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ScheduleDataError([str(_l("The data is not valid JSON."))]) from exc
    return apply_document(document)


def load_shipped_if_empty() -> bool:
    """Load the shipped file unless schedules exist (an admin's edits are never undone)."""
    if db.session.scalar(select(ContributionSchedule.id).limit(1)) is not None:
        return False
    load_file()
    return True


def dump_document() -> dict[str, Any]:
    """Every stored schedule and sponsor as a document that apply_document accepts."""

    def percent(points: int) -> str:
        return f"{Decimal(points) / 100:.2f}"

    schedules = []
    for s in db.session.scalars(
        select(ContributionSchedule).order_by(ContributionSchedule.effective_from)
    ):
        rates = []
        for rate in s.rates:
            item: dict[str, Any] = {"programme": rate.programme}
            if rate.rate_bp is not None:
                item["rate_percent"] = percent(rate.rate_bp)
            else:
                item["flat_amount"] = rate.flat_amount
            item["optional"] = rate.optional
            rates.append(item)
        schedules.append(
            {
                "code": s.code,
                "name": s.name,
                "effective_from": s.effective_from.isoformat(),
                "effective_to": s.effective_to.isoformat() if s.effective_to else None,
                "source": s.source,
                "notes": s.notes,
                "min_income": s.min_income,
                "max_income": s.max_income,
                "brackets_complete": s.brackets_complete,
                "brackets_source": s.brackets_source,
                "rates": rates,
                "brackets": [
                    {"income_from": b.income_from, "income_to": b.income_to, "basis": b.basis}
                    for b in s.brackets
                ],
                "sectors": [
                    {
                        "code": c.code,
                        "name": c.name,
                        "name_en": c.name_en,
                        "occupations": c.occupation_list,
                    }
                    for c in s.sectors
                ],
                "reliefs": [
                    {
                        "code": x.code,
                        "name": x.name,
                        "name_en": x.name_en,
                        "periods": [
                            {
                                "sector": p.sector,
                                "first_month": f"{p.first_month:%Y-%m}",
                                "last_month": f"{p.last_month:%Y-%m}",
                            }
                            for p in x.periods
                        ],
                        "discount_percent": percent(x.discount_bp),
                        "programmes": x.programmes.split(","),
                        "excludes_public_budget": x.excludes_public_budget,
                        "source": x.source,
                    }
                    for x in s.reliefs
                ],
            }
        )
    sponsors = [
        {"code": p.code, "name": p.name, "public_budget": p.public_budget, "active": p.active}
        for p in db.session.scalars(select(Sponsor).order_by(Sponsor.code))
    ]
    return {"format": FORMAT, "schedules": schedules, "sponsors": sponsors}


def schedule_in_force(day: date) -> ContributionSchedule | None:
    """The schedule in force on ``day``: the latest that started by then and has not ended."""
    return db.session.scalar(
        select(ContributionSchedule)
        .where(
            ContributionSchedule.effective_from <= day,
            or_(
                ContributionSchedule.effective_to.is_(None),
                ContributionSchedule.effective_to >= day,
            ),
        )
        .order_by(ContributionSchedule.effective_from.desc(), ContributionSchedule.id.desc())
        .limit(1)
    )


def schedules_between(first: date, last: date) -> list[ContributionSchedule]:
    """Every schedule in force on some day from ``first`` to ``last``."""
    return list(
        db.session.scalars(
            select(ContributionSchedule).where(
                ContributionSchedule.effective_from <= last,
                or_(
                    ContributionSchedule.effective_to.is_(None),
                    ContributionSchedule.effective_to >= first,
                ),
            )
        )
    )


def active_sponsors() -> list[Sponsor]:
    """Sponsors a desk may choose."""
    return list(db.session.scalars(select(Sponsor).where(Sponsor.active).order_by(Sponsor.name)))
