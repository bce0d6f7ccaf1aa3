"""Who may do what: the role groups staff pages name, and the checks that apply them.

Rules that also need an event (a volunteer works only the desks of the events assigned
to them) are here too: :func:`can_scan`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import select

from funrun.accounts.models import EventAssignment, Role, User
from funrun.extensions import db

F = TypeVar("F", bound=Callable[..., Any])

#: Event pages, figures, rosters, exports and undoing a check-in.
ORGANISERS = (Role.ADMIN, Role.ORGANISER)
#: The race-day desks (scan, enrol, disputes): organisers, and volunteers of the event.
DESK_STAFF = (Role.ADMIN, Role.ORGANISER, Role.VOLUNTEER)
#: Every staff page's floor (the staff home, a password change): staff, never a partner.
STAFF = DESK_STAFF
#: A partner (aggregator) signs in for its own pages only (/partner/), never a staff page.
PARTNERS = (Role.PARTNER,)


def sees_full_nik(user: Any) -> bool:
    """Whether ``user`` may see NIKs unmasked on rosters and registration pages (admins)."""
    return getattr(user, "role", None) == Role.ADMIN


def can_scan(user: User, event_id: int) -> bool:
    """Admins and organisers scan anywhere; volunteers only at events they are assigned."""
    if user.role in ORGANISERS:
        return True
    if user.role != Role.VOLUNTEER:
        return False
    return (
        db.session.scalar(
            select(EventAssignment.id).where(
                EventAssignment.user_id == user.id, EventAssignment.event_id == event_id
            )
        )
        is not None
    )


def roles_required(*roles: Role) -> Callable[[F], F]:
    """A signed-in account with one of ``roles``; others get 403, anonymous the sign-in."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
