"""N desks charging one sponsor at once never spend more than its budget (issue 20, point 2).

Real threads, each with its own connection, released together: on PostgreSQL (a database
of its own, ``<test database>_enrol``) the sponsor's row lock (SELECT ... FOR UPDATE) makes
the second desk wait and then see the first's enrolment; on SQLite the write transactions
are serialised by BEGIN IMMEDIATE. The same code runs on both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from funrun.enrolment.models import Enrolment, Sponsor
from funrun.enrolment.services import enrol_registered, prepare
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.registration.models import Registration
from funrun.sponsors.budget import OverBudget
from funrun.sponsors.models import SponsorEligible
from tests.conftest import person_payload
from tests.enrolment.test_concurrency import (  # noqa: F401  (fixtures reused here)
    _apps,
    conc_app,
    registered,
)
from tests.registration.test_concurrency import make_event, run_together
from tests.sponsors.conftest import APBD, MONTH, sponsored

DESKS = 16


@pytest.fixture(autouse=True)
def schedules() -> None:
    """Not the session database's: conc_app loads the shipped schedules into its own."""


def charge_job(event_id: int, registration_id: int, months: int) -> Callable[[], Any]:
    def job() -> str:
        event = db.session.get_one(Event, event_id)
        registration = db.session.get_one(Registration, registration_id)
        ready = prepare(event, sponsored(months=months), walkup=False, registration=registration)
        return enrol_registered(event, registration, ready, user=None, locale="id")

    return job


def eligible_runners(count: int, first: int) -> tuple[int, list[int]]:
    """An event with ``count`` runners, all on APBD DKI's list."""
    event = make_event(quota=count + 5)
    ids = [registered(event, first + i) for i in range(count)]
    sponsor_id = db.session.scalar(select(Sponsor.id).where(Sponsor.code == APBD))
    cipher = data_cipher()
    db.session.add_all(
        SponsorEligible(
            sponsor_id=sponsor_id, nik_hash=cipher.lookup_hash(person_payload(first + i)["nik"])
        )
        for i in range(count)
    )
    db.session.commit()
    return event, ids


def set_budget(**budget: int | None) -> None:
    sponsor = db.session.scalar(select(Sponsor).where(Sponsor.code == APBD))
    for key, value in budget.items():
        setattr(sponsor, key, value)
    db.session.commit()


def charged() -> tuple[int, int, int]:
    db.session.rollback()
    row = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Enrolment.months), 0),
            func.coalesce(func.sum(Enrolment.sponsor_amount), 0),
        ).where(Enrolment.sponsor_id.is_not(None))
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


@pytest.mark.parametrize("budget", [5, 7])
def test_desks_at_once_never_exceed_the_member_months(conc_app, budget):  # noqa: F811
    """16 eligible people charged at once (1 or 3 months) against a budget of 5 or 7."""
    event, ids = eligible_runners(DESKS, 500 + budget * 100)
    set_budget(budget_member_months=budget, budget_rupiah=None)
    months = [1 if i % 2 else 3 for i in range(DESKS)]
    jobs = [charge_job(event, rid, m) for rid, m in zip(ids, months, strict=True)]
    results = run_together(conc_app, jobs, threads=DESKS // 2)
    refused = [value for kind, value in results if kind == "error"]
    assert all(isinstance(error, OverBudget) for error in refused), refused
    count, used, _rupiah = charged()
    assert used <= budget, (used, budget)
    assert count == len(results) - len(refused)
    # Every refusal was right: what was left could not take it.
    smallest_refused = min(
        (m for (kind, _v), m in zip(results, months, strict=True) if kind == "error"), default=0
    )
    assert refused == [] or used + smallest_refused > budget


def test_desks_at_once_never_exceed_the_rupiah(conc_app):  # noqa: F811
    event, ids = eligible_runners(DESKS, 900)
    set_budget(budget_member_months=None, budget_rupiah=3 * MONTH + 1000)
    results = run_together(conc_app, [charge_job(event, rid, 1) for rid in ids], threads=DESKS)
    ok = [value for kind, value in results if kind == "ok"]
    assert len(ok) == 3, results
    assert charged() == (3, 3, 3 * MONTH)
