"""Sign-in costs the same whatever the email: timing must not tell which emails are staff.

Measured through the real functions with Werkzeug's real default hashing (scrypt), not
the cheap test hashes: the median of several tries per kind of email, compared as a
ratio to a staff email with a wrong password (absolute times depend on the machine).
Before the fix an unknown email answered in about a tenth of the time (21 ms vs 195 ms
in the issue).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from sqlalchemy import delete
from werkzeug import security

from funrun.accounts import services, signin
from funrun.accounts.models import SignInFailure, User
from funrun.extensions import db
from tests.accounts.conftest import PASSWORD

TRIES = 7


@pytest.fixture
def real_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Werkzeug's default hashing, as in production (the suite patches in a cheap one)."""
    monkeypatch.setattr(services, "generate_password_hash", security.generate_password_hash)


def median_seconds(call: Callable[[], object]) -> float:
    call()  # warm up (imports, connections)
    times = []
    for _ in range(TRIES):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def accounts(make_staff) -> dict[str, str]:
    """A staff account, a deactivated one, a partner (no password): their emails."""
    staff = make_staff("volunteer", password=PASSWORD)
    gone = make_staff("organiser", password=PASSWORD)
    partner = make_staff("partner")
    for staff_id in (staff.id, gone.id):
        db.session.get(User, staff_id).password_hash = security.generate_password_hash(PASSWORD)
    db.session.get(User, gone.id).active = False
    db.session.commit()
    return {"staff": staff.email, "deactivated": gone.email, "partner": partner.email}


def test_check_login_costs_the_same_for_every_email(app, make_staff, real_hashes):
    emails = accounts(make_staff)
    assert security.generate_password_hash("x").startswith("scrypt:")
    baseline = median_seconds(lambda: services.check_login(emails["staff"], "wrong password"))
    assert baseline > 0.005  # a real hash was checked
    others = {
        "unknown email": lambda: services.check_login("nobody@example.org", "wrong password"),
        "partner (no password)": lambda: services.check_login(emails["partner"], PASSWORD),
        "deactivated, right password": lambda: services.check_login(
            emails["deactivated"], PASSWORD
        ),
        "staff, right password": lambda: services.check_login(emails["staff"], PASSWORD),
    }
    ratios = {name: median_seconds(call) / baseline for name, call in others.items()}
    assert all(0.5 <= ratio <= 2 for ratio in ratios.values()), (baseline, ratios)
    # And the answers are still right.
    assert services.check_login(emails["staff"], PASSWORD) is not None
    assert services.check_login(emails["deactivated"], PASSWORD) is None
    assert services.check_login(emails["partner"], PASSWORD) is None


def test_a_whole_attempt_costs_the_same_for_every_email(app, make_staff, real_hashes):
    """The attempt as the form makes it (database counting included), locked or not."""
    emails = accounts(make_staff)

    def fresh(email: str) -> Callable[[], object]:
        def call() -> object:
            # Counting stays below the lock: each try starts from no failures.
            db.session.execute(delete(SignInFailure))
            db.session.commit()
            return signin.attempt(email, "wrong password")

        return call

    baseline = median_seconds(fresh(emails["staff"]))
    unknown = median_seconds(fresh("nobody@example.org")) / baseline
    partner = median_seconds(fresh(emails["partner"])) / baseline
    # A locked email still spends the password work before it is refused.
    for _ in range(5):
        signin.attempt(emails["staff"], "wrong password")
    assert signin.attempt(emails["staff"], PASSWORD).locked_until is not None
    locked = median_seconds(lambda: signin.attempt(emails["staff"], PASSWORD)) / baseline
    ratios = {"unknown": unknown, "partner": partner, "locked": locked}
    assert all(0.5 <= ratio <= 2 for ratio in ratios.values()), (baseline, ratios)
