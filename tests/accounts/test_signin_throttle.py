"""Failed sign-ins are counted per email in the database, from whichever clients they come,
and an unknown email is answered exactly like a staff one (same statuses, same messages,
the same lock).

Each attempt comes from its own client address, so the per-client limit is never what
stops them (it is off in the testing config anyway).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from flask_babel import force_locale, gettext, ngettext
from markupsafe import escape
from sqlalchemy import func, select, update

from funrun.accounts.models import SignInFailure
from funrun.accounts.signin import email_key
from funrun.audit.models import AuditEntry
from funrun.dbtypes import utcnow
from funrun.extensions import db
from tests.accounts.conftest import PASSWORD, browser, csrf_from

WRONG = "not the password at all"


def attempt(app: Flask, email: str, password: str, n: int = 0):
    """One sign-in from a fresh browser at address 10.0.<n>."""
    client = browser(app)
    address = f"10.0.{n // 250}.{n % 250 + 1}"
    token = csrf_from(client.get("/login", environ_base={"REMOTE_ADDR": address}).get_data(True))
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def locked_text(app: Flask, minutes: int) -> str:
    with app.test_request_context("/"), force_locale("id"):
        return str(
            escape(
                ngettext(
                    "Too many failed sign-ins with this email. Try again in %(num)d minute.",
                    "Too many failed sign-ins with this email. Try again in %(num)d minutes.",
                    minutes,
                )
            )
        )


def wrong_text(app: Flask) -> str:
    with app.test_request_context("/"), force_locale("id"):
        return str(escape(gettext("Wrong email or password.")))


def row(email: str) -> SignInFailure | None:
    db.session.rollback()
    return db.session.get(SignInFailure, email_key(email))


def audit(action: str) -> list[AuditEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def unlock(email: str) -> None:
    db.session.execute(
        update(SignInFailure)
        .where(SignInFailure.email_key == email_key(email))
        .values(locked_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_five_failures_from_five_clients_lock_the_account(app, make_staff):
    staff = make_staff("admin", password=PASSWORD)
    statuses = [attempt(app, staff.email, WRONG, n).status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    # Locked: even the right password, from yet another client, is refused.
    right = attempt(app, staff.email, PASSWORD, 99)
    assert right.status_code == 429
    assert locked_text(app, 5) in right.get_data(as_text=True)
    assert 240 < int(right.headers["Retry-After"]) <= 300
    [lock] = audit("login_locked")
    assert (lock.target, lock.detail) == (staff.email, "5 min")
    assert len(audit("login_failed")) == 6  # the refused right password too (detail: locked)
    assert not audit("login")
    # When the lock is over, the right password works and clears the count.
    unlock(staff.email)
    assert attempt(app, staff.email, PASSWORD, 7).status_code == 302
    assert row(staff.email) is None


def test_an_unknown_email_is_answered_exactly_like_a_staff_one(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    stranger = "nobody-here@example.org"
    answers = {}
    for email in (staff.email, stranger):
        responses = [attempt(app, email, WRONG, n) for n in range(6)]
        answers[email] = [
            (r.status_code, wrong_text(app) in r.get_data(as_text=True), "Retry-After" in r.headers)
            for r in responses
        ]
        assert locked_text(app, 5) in responses[-1].get_data(as_text=True)
    assert answers[staff.email] == answers[stranger]
    assert answers[stranger] == [(401, True, False)] * 4 + [(429, False, True)] * 2
    assert {entry.target for entry in audit("login_locked")} == {staff.email, stranger}


def test_each_lock_lasts_twice_as_long_as_the_one_before(app, make_staff):
    staff = make_staff("organiser", password=PASSWORD)
    lengths = []
    for lock in range(4):
        for n in range(5):
            attempt(app, staff.email, WRONG, n)
        current = row(staff.email)
        assert current is not None and current.locked_until is not None
        lengths.append(round((current.locked_until - current.window_started_at).total_seconds()))
        assert current.lockouts == lock + 1
        unlock(staff.email)
    assert lengths == [300, 600, 1200, 2400]
    for _ in range(2):  # capped at an hour
        for n in range(5):
            attempt(app, staff.email, WRONG, n)
        current = row(staff.email)
        assert current is not None and current.locked_until is not None
        assert round((current.locked_until - current.window_started_at).total_seconds()) == 3600
        unlock(staff.email)


def test_failures_outside_the_window_do_not_add_up(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    for n in range(4):
        assert attempt(app, staff.email, WRONG, n).status_code == 401
    db.session.execute(
        update(SignInFailure).values(window_started_at=utcnow() - timedelta(minutes=16))
    )
    db.session.commit()
    for n in range(4):
        assert attempt(app, staff.email, WRONG, n).status_code == 401
    current = row(staff.email)
    assert current is not None and current.failures == 4 and current.locked_until is None
    assert attempt(app, staff.email, WRONG, 9).status_code == 429


def test_a_success_clears_the_count(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    for n in range(4):
        assert attempt(app, staff.email, WRONG, n).status_code == 401
    assert attempt(app, staff.email, PASSWORD, 5).status_code == 302
    assert row(staff.email) is None
    for n in range(4):
        assert attempt(app, staff.email, WRONG, n).status_code == 401
    assert attempt(app, staff.email, PASSWORD, 6).status_code == 302


def test_the_email_is_counted_however_it_is_typed(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    spellings = [staff.email, staff.email.upper(), f"  {staff.email} ", staff.email.title()]
    for n, spelling in enumerate(spellings):
        assert attempt(app, spelling, WRONG, n).status_code == 401
    assert attempt(app, staff.email.capitalize(), WRONG, 8).status_code == 429


def test_other_accounts_are_not_held_back(app, make_staff):
    target = make_staff("admin", password=PASSWORD)
    colleague = make_staff("admin", password=PASSWORD)
    for n in range(5):
        attempt(app, target.email, WRONG, n)
    assert attempt(app, target.email, PASSWORD, 1).status_code == 429
    assert attempt(app, colleague.email, PASSWORD, 1).status_code == 302


def test_forgotten_rows_are_dropped(app, make_staff):
    """A day after its last failure (and with no lock running) an email's row goes."""
    for n in range(3):
        attempt(app, f"typo-{n}@example.org", WRONG, n)
    db.session.execute(update(SignInFailure).values(last_failed_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    attempt(app, "fresh@example.org", WRONG, 9)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 1


@pytest.mark.parametrize("clients", [12])
def test_simultaneous_failures_from_many_clients_are_all_counted(
    app, make_staff, clients, database_url
):
    """Real threads (each its own connection) failing at once: none is lost, one lock."""
    staff = make_staff("organiser", password=PASSWORD)
    barrier = threading.Barrier(clients)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def guess(n: int) -> None:
        try:
            client = browser(app)
            address = f"10.9.0.{n + 1}"
            page = client.get("/login", environ_base={"REMOTE_ADDR": address})
            token = csrf_from(page.get_data(as_text=True))
            barrier.wait()
            response = client.post(
                "/login",
                data={"email": staff.email, "password": WRONG, "csrf_token": token},
                environ_base={"REMOTE_ADDR": address},
            )
            statuses.append(response.status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(statuses) == clients
    # Five counted failures lock; every later one meets the lock.
    assert sorted(statuses) == [401] * 4 + [429] * (clients - 4), statuses
    assert len(audit("login_failed")) == clients
    assert len(audit("login_locked")) == 1
    current = row(staff.email)
    assert current is not None and current.lockouts == 1
    assert attempt(app, staff.email, PASSWORD, 200).status_code == 429
