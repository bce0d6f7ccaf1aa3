"""Staff sessions held on the server: the cookie names a row, the row decides.

Flask's session is a signed cookie: on its own, a copy saved before signing out opens the
pages as long as its signature holds. So signing in creates a ``staff_sessions`` row
and puts a random id in the cookie (only its SHA-256 is stored); every staff request
loads the account through that row, in one primary-key lookup joined to the user, and
gets nothing when the row is ended or older than ``FUNRUN_STAFF_SESSION_HOURS``.
Signing out ends the row; so do an admin's "End all sessions", a password change (the
other sessions) and deactivation. ``last_seen_at`` is written at most once a minute,
after the page's own work. The API never reads cookies and is untouched.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import Flask, Response, current_app, g, request, session
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from funrun.accounts.models import StaffSession, User
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db

#: The key of the session id in Flask's cookie session.
SESSION_KEY = "staff_sid"
#: Flask-Login's own keys, dropped with ours when a session has ended.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")
#: ``last_seen_at`` is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)
_TOUCH = "funrun_staff_session_touch"
#: Rows older than this are dropped when their account next signs in.
KEEP_FOR = timedelta(days=30)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def lifetime() -> timedelta:
    """How long a staff session lasts from sign-in (a working day by default)."""
    return timedelta(hours=float(current_app.config["FUNRUN_STAFF_SESSION_HOURS"]))


def open_session(user_id: int, user_agent: str | None = None) -> str:
    """Add a new session row for the account (the caller commits); its id for the cookie."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        StaffSession(
            id=_hash(sid),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    return sid


def start(user: User) -> None:
    """Sign-in: a fresh cookie session naming a new row (the caller commits).

    Whatever the cookie held before is dropped, so nothing from before sign-in (a planted
    id included) survives into the signed-in session.
    """
    session.clear()
    # The account's sessions that ended or expired long ago go (the audit log keeps
    # every sign-in and sign-out).
    db.session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.created_at < utcnow() - KEEP_FOR
        )
    )
    session[SESSION_KEY] = open_session(user.id, request.user_agent.string)


def forget_cookie() -> None:
    """Drop the staff session from this browser's cookie."""
    for key in (SESSION_KEY, *_LOGIN_KEYS):
        session.pop(key, None)


def end_current() -> bool:
    """Sign-out: end the row this cookie names (the caller commits); whether there was one."""
    sid = session.get(SESSION_KEY)
    if not isinstance(sid, str):
        return False
    ended = db.session.execute(
        update(StaffSession)
        .where(StaffSession.id == _hash(sid), StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return bool(ended.rowcount)


def end_all(user_id: int, *, keep_current: bool = False) -> int:
    """End every open session of the account (the caller commits); how many.

    ``keep_current`` spares the session of this request's cookie (a password change made
    by the account itself).
    """
    conditions = [StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)]
    sid = session.get(SESSION_KEY) if keep_current else None
    if isinstance(sid, str):
        conditions.append(StaffSession.id != _hash(sid))
    ended = db.session.execute(update(StaffSession).where(*conditions).values(ended_at=utcnow()))
    return int(ended.rowcount or 0)


def live_sessions(user_id: int) -> list[StaffSession]:
    """The account's sessions still open now, newest first (for the admin's page)."""
    since = utcnow() - lifetime()
    return list(
        db.session.scalars(
            select(StaffSession)
            .where(
                StaffSession.user_id == user_id,
                StaffSession.ended_at.is_(None),
                StaffSession.created_at > since,
            )
            .order_by(StaffSession.created_at.desc())
        )
    )


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the account, if this cookie's session is still open.

    One query (the session row by primary key, joined to its user). A cookie without a
    session id (older than this scheme, or forged), an ended or expired row, another
    account's row or a deactivated account: nobody is signed in, and the cookie forgets
    its staff keys. A partner signs in like staff; its pages are /partner/ only (every
    staff page names the staff roles it admits: funrun.accounts.access).
    """
    sid = session.get(SESSION_KEY)
    if not isinstance(sid, str) or not user_id.isdigit() or len(user_id) > 10:
        forget_cookie()
        return None
    now = utcnow()
    row = db.session.execute(
        select(User, StaffSession.last_seen_at)
        .join(StaffSession, StaffSession.user_id == User.id)
        .where(
            StaffSession.id == _hash(sid),
            StaffSession.user_id == int(user_id),
            StaffSession.ended_at.is_(None),
            StaffSession.created_at > now - lifetime(),
        )
    ).first()
    if row is None:
        forget_cookie()
        return None
    user, last_seen_at = row
    if not user.active:
        forget_cookie()
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        g.setdefault(_TOUCH, _hash(sid))
    return user


def _touch(response: Response) -> Response:
    """Write ``last_seen_at`` after the page's own work (at most once a minute)."""
    hashed = g.pop(_TOUCH, None)
    if hashed is None:
        return response
    db.session.rollback()  # nothing of the page's is pending: it committed or is discarded
    try:
        begin_write()
        db.session.execute(
            update(StaffSession).where(StaffSession.id == hashed).values(last_seen_at=utcnow())
        )
        db.session.commit()
    except SQLAlchemyError:  # best effort: the page has been served already
        db.session.rollback()
        current_app.logger.warning("could not record a staff session's last_seen_at")
    return response


def touched_at(user_id: int) -> datetime | None:
    """The newest ``last_seen_at`` of the account's sessions (tests, the admin page)."""
    return db.session.scalar(
        select(StaffSession.last_seen_at)
        .where(StaffSession.user_id == user_id)
        .order_by(StaffSession.last_seen_at.desc())
        .limit(1)
    )


def init_app(app: Flask) -> None:
    """Write ``last_seen_at`` after requests that are due for it; the signed cookie itself
    stops verifying when the session would end (FUNRUN_STAFF_SESSION_HOURS, as set)."""
    hours = float(app.config["FUNRUN_STAFF_SESSION_HOURS"])
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=hours)
    app.after_request(_touch)
