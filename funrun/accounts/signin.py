"""Checking a sign-in: the same cost for every email, and failures counted per email.

Two things an attacker must not learn or get from the sign-in form:

- *which emails are staff*: an unknown email, an API-only partner's (no password) or a
  deactivated account spend the same password-hashing work as a real check, so the
  answer takes as long as for a staff email with a wrong password;
- *unlimited guesses at one account*: failures are counted in the database per typed
  email (``sign_in_failures``), whichever workers, instances and client addresses they
  come from. After ``FUNRUN_SIGNIN_MAX_FAILURES`` within ``FUNRUN_SIGNIN_FAILURE_WINDOW``
  the email is locked for ``FUNRUN_SIGNIN_LOCK``, twice as long at each further lock (up
  to ``FUNRUN_SIGNIN_LOCK_MAX``); while locked even the right password is refused. An
  unknown email is locked exactly the same way, so the lock tells nothing either. A
  successful sign-in clears the count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, select, update

from funrun.accounts import services
from funrun.accounts.models import SignInFailure, User
from funrun.audit.services import record
from funrun.dbtx import begin_write, insert_ignore
from funrun.dbtypes import utcnow
from funrun.extensions import db

#: Rows of emails that have not failed for this long (and are not locked) are dropped.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: the account, or a refusal (perhaps a lock)."""

    user: User | None
    #: Set when sign-in is refused because the email is locked (until then).
    locked_until: datetime | None = None

    @property
    def retry_after(self) -> int:
        """Whole seconds until the lock ends (at least 1)."""
        if self.locked_until is None:
            return 0
        return max(1, int((self.locked_until - utcnow()).total_seconds() + 0.999))


def email_key(email: str) -> str:
    """The key failures are counted under: SHA-256 of the trimmed, lower-cased email."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _lock_for(lockouts: int) -> timedelta:
    """How long the ``lockouts``-th lock (0 for the first) lasts."""
    config = current_app.config
    base: timedelta = config["FUNRUN_SIGNIN_LOCK"]
    cap: timedelta = config["FUNRUN_SIGNIN_LOCK_MAX"]
    return min(cap, base * (2 ** min(lockouts, 20)))


def current_lock(key: str, now: datetime) -> datetime | None:
    """When the lock on ``key`` ends, if it is locked now."""
    locked_until = db.session.scalar(
        select(SignInFailure.locked_until).where(SignInFailure.email_key == key)
    )
    return locked_until if locked_until is not None and locked_until > now else None


@dataclass(frozen=True)
class _Counted:
    """A failure counted: the lock it is under (new or not), if any."""

    locked_until: datetime | None = None
    #: True when this failure started the lock.
    new_lock: bool = False


def _count_failure(key: str, now: datetime) -> _Counted:
    """Count one failure for ``key`` in the caller's write transaction.

    One conditional UPDATE counts it on an unlocked row (restarting the count when the
    window has passed), so concurrent failures from several workers are all counted; the
    row lock it takes (PostgreSQL, which re-reads a row changed meanwhile) or the write
    lock (SQLite, BEGIN IMMEDIATE) covers the lock decision. A failure that meets a lock
    set meanwhile by another worker is answered as locked.
    """
    config = current_app.config
    window_start = now - config["FUNRUN_SIGNIN_FAILURE_WINDOW"]
    expired = SignInFailure.window_started_at < window_start
    unlocked = SignInFailure.locked_until.is_(None) | (SignInFailure.locked_until <= now)
    counted = db.session.execute(
        update(SignInFailure)
        .where(SignInFailure.email_key == key, unlocked)
        .values(
            failures=case((expired, 1), else_=SignInFailure.failures + 1),
            window_started_at=case((expired, now), else_=SignInFailure.window_started_at),
            last_failed_at=now,
        )
        .returning(SignInFailure.failures, SignInFailure.lockouts)
    ).first()
    if counted is not None:
        failures, lockouts = counted
    else:
        locked_until = current_lock(key, now)
        if locked_until is not None:
            return _Counted(locked_until)
        db.session.execute(
            delete(SignInFailure).where(SignInFailure.last_failed_at < now - FORGET_AFTER, unlocked)
        )
        inserted = db.session.scalar(
            insert_ignore(
                SignInFailure.__table__,
                {
                    "email_key": key,
                    "failures": 1,
                    "window_started_at": now,
                    "last_failed_at": now,
                    "lockouts": 0,
                },
            ).returning(SignInFailure.__table__.c.email_key)
        )
        if inserted is None:  # another worker inserted it just now: count on its row
            return _count_failure(key, now)
        failures, lockouts = 1, 0
    if failures < config["FUNRUN_SIGNIN_MAX_FAILURES"]:
        return _Counted()
    locked_until = now + _lock_for(lockouts)
    db.session.execute(
        update(SignInFailure)
        .where(SignInFailure.email_key == key)
        .values(failures=0, window_started_at=now, locked_until=locked_until, lockouts=lockouts + 1)
    )
    return _Counted(locked_until, new_lock=True)


def attempt(email: str, password: str) -> SignIn:
    """Check a sign-in, count a failure or clear the count, and audit; commits.

    The password is checked (or the same work spent) before anything else, so a locked,
    unknown, deactivated or API-only partner email answers in the time a wrong password
    takes.
    """
    typed = email.strip()
    key = email_key(typed)
    user = services.check_login(typed, password)
    user_id = user.id if user is not None else None
    target = typed if "@" in typed else None  # the typed email, never a password typed there
    begin_write()
    now = utcnow()
    locked_until = current_lock(key, now)
    if locked_until is None and user_id is not None:
        db.session.execute(delete(SignInFailure).where(SignInFailure.email_key == key))
        db.session.commit()
        return SignIn(db.session.get(User, user_id))
    counted = _Counted(locked_until) if locked_until is not None else _count_failure(key, now)
    locked = counted.locked_until is not None and not counted.new_lock
    record("login_failed", user_id=None, target=target, detail="locked" if locked else None)
    if counted.new_lock and counted.locked_until is not None:
        minutes = int((counted.locked_until - now).total_seconds() // 60)
        record("login_locked", user_id=None, target=target, detail=f"{minutes} min")
    db.session.commit()
    return SignIn(None, counted.locked_until)
