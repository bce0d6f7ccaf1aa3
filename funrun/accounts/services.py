"""Creating accounts and API tokens, and checking them."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from funrun.accounts.models import ApiToken, EventAssignment, Role, User
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db

TOKEN_PREFIX = "frn_"
MIN_PASSWORD = 10


class AccountError(Exception):
    """An account could not be created or changed; the message says why.

    ``reason`` is a stable key (e.g. ``email_taken``) that pages turn into a translated
    message; the English message serves the command line.
    """

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def hash_api_token(token: str) -> str:
    """SHA-256 of an API token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    email: str,
    role: Role | str,
    *,
    password: str | None = None,
    event_slugs: Iterable[str] = (),
) -> User:
    """Create a staff or partner account; volunteers are scoped to the events named."""
    try:
        email = validate_email(
            email, check_deliverability=False, test_environment=True
        ).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"not a valid email address: {email}", reason="email_invalid") from exc
    try:
        role = Role(role)
    except ValueError as exc:
        raise AccountError(f"not a known role: {role}", reason="bad_role") from exc
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"an account for {email} already exists", reason="email_taken")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(
            f"the password must have at least {MIN_PASSWORD} characters", reason="password_short"
        )
    user = User(
        email=email,
        role=role,
        password_hash=generate_password_hash(password) if password else None,
    )
    for slug in event_slugs:
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        if event is None:
            raise AccountError(f"no event with slug {slug}", reason="unknown_event")
        user.assignments.append(EventAssignment(event_id=event.id))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as exc:  # the same email created at the same moment
        db.session.rollback()
        raise AccountError(f"an account for {email} already exists", reason="email_taken") from exc
    return user


def find_user(email: str) -> User | None:
    """The account with this email (case-insensitive), or None."""
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def check_login(email: str, password: str) -> User | None:
    """The active account (staff, or a partner with a password: its own pages only)
    these credentials open for the pages, or None.

    It costs the same for every email: with no stored hash to check (an unknown email,
    a partner's API-only account) the typed password is hashed with the method and cost
    accounts are made with, which is the work a check does; a deactivated account is
    refused only after its hash is checked. Timing tells nobody which emails are staff.
    """
    user = find_user(email)
    if user is None or not user.password_hash:
        generate_password_hash(password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    if not user.active:
        return None
    return user


def create_api_token(user: User) -> str:
    """Issue a new API token for ``user``; only its hash is kept, so show it now."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_api_token(token), prefix=token[:12]))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The active account a bearer token belongs to, or None (revoked, unknown, malformed)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    user = db.session.scalar(
        select(User)
        .join(ApiToken, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_api_token(token), ApiToken.revoked_at.is_(None))
    )
    if user is None or not user.active:
        return None
    return user


def touch_token(token: str) -> None:
    """Record when a token was last used (best effort, its own small transaction)."""
    db.session.execute(
        ApiToken.__table__.update()
        .where(ApiToken.token_hash == hash_api_token(token))
        .values(last_used_at=utcnow())
    )
    db.session.commit()
