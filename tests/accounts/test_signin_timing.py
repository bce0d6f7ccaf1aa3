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
from funrun.accounts.signin import email_key
from funrun.extensions import db
from tests.accounts.conftest import PASSWORD

TRIES = 7


@pytest.fixture
def real_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Werkzeug's default hashing, as in production (the suite patches in a cheap one)."""
    monkeypatch.setattr(services, "generate_password_hash", security.generate_password_hash)


def medians(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """The median time of each call, taken in interleaved rounds so that a busy moment of
    the (shared) machine slows every kind alike."""
    for call in calls.values():
        call()  # warm up (imports, connections)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(TRIES):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def ratios(calls: dict[str, Callable[[], object]], baseline: str) -> dict[str, float]:
    """Each call's median time over the baseline's."""
    found = medians(calls)
    assert found[baseline] > 0.005, found  # a real hash was checked
    return {name: value / found[baseline] for name, value in found.items() if name != baseline}


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
    found = ratios(
        {
            "staff, wrong password": lambda: services.check_login(emails["staff"], "wrong pw"),
            "unknown email": lambda: services.check_login("nobody@example.org", "wrong pw"),
            "partner (no password)": lambda: services.check_login(emails["partner"], PASSWORD),
            "deactivated, right password": lambda: services.check_login(
                emails["deactivated"], PASSWORD
            ),
            "staff, right password": lambda: services.check_login(emails["staff"], PASSWORD),
        },
        "staff, wrong password",
    )
    assert all(0.5 <= ratio <= 2 for ratio in found.values()), found
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
            db.session.execute(
                delete(SignInFailure).where(SignInFailure.email_key == email_key(email))
            )
            db.session.commit()
            return signin.attempt(email, "wrong password")

        return call

    found = ratios(
        {
            "staff": fresh(emails["staff"]),
            "unknown": fresh("nobody@example.org"),
            "partner": fresh(emails["partner"]),
        },
        "staff",
    )
    assert all(0.5 <= ratio <= 2 for ratio in found.values()), found
    # A locked email still spends the password work before it is refused.
    for _ in range(5):
        signin.attempt(emails["deactivated"], "wrong password")
    assert signin.attempt(emails["deactivated"], PASSWORD).locked_until is not None
    locked = ratios(
        {
            "not locked": fresh(emails["staff"]),
            "locked": lambda: signin.attempt(emails["deactivated"], PASSWORD),
        },
        "not locked",
    )
    assert 0.5 <= locked["locked"] <= 2, locked
