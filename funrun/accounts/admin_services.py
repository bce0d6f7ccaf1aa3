"""What admins do to accounts: list, assign, tokens, deactivate, end sessions, passwords.

Creating an account is ``services.create_user`` (shared with ``flask users create``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from funrun.accounts import services, staff_sessions
from funrun.accounts.models import ApiToken, EventAssignment, Role, User
from funrun.accounts.services import MIN_PASSWORD, AccountError, create_api_token
from funrun.audit.services import current_user_id, record
from funrun.checkin.models import STATIONS
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db


@dataclass(frozen=True)
class AccountRow:
    """One line of the account list."""

    user: User
    events: int
    live_tokens: int


def list_accounts() -> list[AccountRow]:
    """Every account with its number of assigned events and of unrevoked tokens."""
    events = (
        select(func.count(EventAssignment.id))
        .where(EventAssignment.user_id == User.id)
        .scalar_subquery()
    )
    tokens = (
        select(func.count(ApiToken.id))
        .where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = db.session.execute(select(User, events, tokens).order_by(User.role, User.email))
    return [AccountRow(user, n_events or 0, n_tokens or 0) for user, n_events, n_tokens in rows]


def get_account(user_id: int) -> User | None:
    """The account with this id, or None."""
    return db.session.get(User, user_id)


def account_tokens(user: User) -> list[ApiToken]:
    """The account's API tokens, newest first (revoked ones too)."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def account_assignments(user: User) -> list[tuple[EventAssignment, Event]]:
    """The events a volunteer is assigned to, by date."""
    rows = db.session.execute(
        select(EventAssignment, Event)
        .join(Event, Event.id == EventAssignment.event_id)
        .where(EventAssignment.user_id == user.id)
        .order_by(Event.date, Event.city)
    )
    return [(assignment, event) for assignment, event in rows]


def assignable_events(user: User) -> list[Event]:
    """Events the account is not yet assigned to, by date."""
    taken = select(EventAssignment.event_id).where(EventAssignment.user_id == user.id)
    return list(
        db.session.scalars(
            select(Event).where(Event.id.not_in(taken)).order_by(Event.date, Event.city)
        )
    )


def assign_event(user: User, event_id: int, station: str | None = None) -> EventAssignment:
    """Assign a volunteer to an event (and optionally a station)."""
    if user.role != Role.VOLUNTEER:
        raise AccountError("only volunteers are assigned to events", reason="not_volunteer")
    if station is not None and station not in STATIONS:
        raise AccountError(f"not a station: {station}", reason="bad_station")
    if db.session.get(Event, event_id) is None:
        raise AccountError(f"no event with id {event_id}", reason="unknown_event")
    assignment = EventAssignment(user_id=user.id, event_id=event_id, station=station)
    db.session.add(assignment)
    record(
        "assign", user_id=current_user_id(), target=user.email, event_id=event_id, detail=station
    )
    try:
        db.session.commit()
    except IntegrityError as exc:  # already assigned (perhaps by another admin just now)
        db.session.rollback()
        raise AccountError("already assigned to this event", reason="already_assigned") from exc
    return assignment


def unassign_event(user: User, assignment_id: int) -> bool:
    """Remove one of the account's assignments; False if it has no such assignment."""
    assignment = db.session.get(EventAssignment, assignment_id)
    if assignment is None or assignment.user_id != user.id:
        return False
    record("unassign", user_id=current_user_id(), target=user.email, event_id=assignment.event_id)
    db.session.delete(assignment)
    db.session.commit()
    return True


def issue_token(user: User) -> str:
    """A new API token for an active account; only its hash is stored, so show it now."""
    if not user.active:
        raise AccountError("the account is deactivated", reason="inactive")
    token = create_api_token(user)
    # Who got a token, never the token itself.
    record("token_issue", user_id=current_user_id(), target=user.email)
    db.session.commit()
    return token


def revoke_token(user: User, token_id: int) -> ApiToken | None:
    """Revoke one of the account's tokens (again is harmless); None if it has no such token."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        return None
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record("token_revoke", user_id=current_user_id(), target=user.email, detail=f"#{token.id}")
        db.session.commit()
    return token


def set_active(user: User, active: bool, *, by: User) -> None:
    """Deactivate (no sign-in, no working token) or reactivate an account; never one's own."""
    if user.id == by.id and not active:
        raise AccountError("you cannot deactivate your own account", reason="self")
    user.active = active
    if not active:
        # Reactivating must not bring back a browser that was signed in before.
        staff_sessions.end_all(user.id)
    record("reactivate" if active else "deactivate", user_id=by.id, target=user.email)
    db.session.commit()


def end_sessions(user: User) -> int:
    """End every open staff session of the account (every browser signs in again); how many."""
    ended = staff_sessions.end_all(user.id)
    record("sessions_end", user_id=current_user_id(), target=user.email, detail=str(ended))
    db.session.commit()
    return ended


def set_password(user: User, password: str, *, keep_current: bool = False) -> int:
    """Give the account a new password and end its other sessions; how many ended.

    ``keep_current`` keeps the session of this request's cookie (the account changing its
    own password); otherwise (an admin, the command line) every session ends.
    """
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"the password must have at least {MIN_PASSWORD} characters", reason="password_short"
        )
    user.password_hash = services.generate_password_hash(password)
    ended = staff_sessions.end_all(user.id, keep_current=keep_current)
    record(
        "password_change",
        user_id=current_user_id() or user.id,
        target=user.email,
        detail=f"{ended} sessions ended",
    )
    db.session.commit()
    return ended
