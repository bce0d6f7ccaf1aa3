"""Shared pieces for the people pages: an admin's browser and row counters."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from funrun.accounts.models import ApiToken, EventAssignment, User
from funrun.extensions import db
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    API,
    PASSWORD,
    Staff,
    _fast_password_hashes,
    browser,
    login,
    make_staff,
)
from tests.conftest import csrf_from

PEOPLE = "/staff/people"


def form_token(client: FlaskClient) -> str:
    """A CSRF token for ``client``'s session, read from the new-account page."""
    return csrf_from(client.get(f"{PEOPLE}/new").get_data(as_text=True))


def rows() -> dict[str, Any]:
    """What the people pages can change, read fresh: counts and every user's state."""
    db.session.rollback()
    return {
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "assignments": sorted(
            db.session.execute(
                select(EventAssignment.user_id, EventAssignment.event_id, EventAssignment.station)
            ).all()
        ),
        "tokens": sorted(
            db.session.execute(select(ApiToken.id, ApiToken.revoked_at.is_(None))).all()
        ),
        "active": sorted(db.session.execute(select(User.id, User.active)).all()),
    }


def token_on_page(html: str) -> str:
    """The API token shown once on the new-token page."""
    match = re.search(r'value="(frn_[A-Za-z0-9_-]+)"', html)
    assert match, "no token on the page"
    return match.group(1)


@pytest.fixture
def admin(app: Flask, make_staff: Callable[..., Staff]) -> tuple[FlaskClient, Staff]:  # noqa: F811
    """A signed-in admin's browser, and the admin."""
    staff = make_staff("admin", password=PASSWORD)
    client = browser(app)
    assert login(client, staff.email).status_code == 302
    return client, staff
