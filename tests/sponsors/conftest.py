"""Shared pieces for the sponsor tests: the enrolment tests' fixtures (the shipped
schedule, the finale's day, runners, staff), sponsors with lists and budgets."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from funrun.enrolment.models import Sponsor
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.sponsors.models import SponsorEligible
from tests.enrolment.conftest import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    _fast_password_hashes,
    add_runner,
    assert_problem,
    desk_browser,
    enrol_body,
    login,
    make_staff,
    next_index,
    on_finale_day,
    schedules,
    walkup_body,
)

#: The shipped public-budget sponsor (APBD DKI): a street sweeper's month at Rp 16.800.
APBD = "apbd-dki"
MONTH = 16_800


def list_niks(code: str, niks: Iterable[str]) -> None:
    """Put NIKs (as keyed hashes) on a sponsor's list."""
    sponsor_id = db.session.scalar(select(Sponsor.id).where(Sponsor.code == code))
    cipher = data_cipher()
    db.session.add_all(
        SponsorEligible(sponsor_id=sponsor_id, nik_hash=cipher.lookup_hash(nik)) for nik in niks
    )
    db.session.commit()


@pytest.fixture
def set_sponsor(app: Flask) -> Callable[..., Sponsor]:
    """Set fields of a sponsor (the shipped APBD DKI by default); the sponsor."""

    def _set(code: str = APBD, **fields: Any) -> Sponsor:
        sponsor = db.session.scalar(select(Sponsor).where(Sponsor.code == code))
        if sponsor is None:
            sponsor = Sponsor(code=code, name=fields.pop("name", code.upper()))
            db.session.add(sponsor)
        for key, value in fields.items():
            setattr(sponsor, key, value)
        db.session.commit()
        return sponsor

    return _set


def sponsored(**overrides: Any) -> dict[str, Any]:
    """An enrolment body a street sweeper's sponsor pays (no payment channel)."""
    body = enrol_body(occupation="street_sweeper", payment_channel=None, sponsor=APBD)
    body.update(overrides)
    return body
