"""Who calls the check-in API: a bearer token, or the scan page's signed-in session.

The check-in routes of the API (scan, counter, roster, undo) are the scan page's one
contract (issue 16, point 3). Other clients send ``Authorization: Bearer TOKEN`` and
never touch a session (the scan's hot path spends nothing on cookies). The page sends
the volunteer's session cookie instead, loaded through the staff sessions' own loader
(Flask-Login's ``current_user``: :func:`funrun.accounts.staff_sessions.load_user`), and
then every request that changes something must carry the CSRF token in ``X-CSRFToken``:
without it the answer is a 400 problem document and nothing is written. Only these
routes open the cookie session (:mod:`funrun.sessions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from funrun.accounts.auth import bearer_token, bearer_user, token_required
from funrun.accounts.models import Role, User
from funrun.api.problems import problem
from funrun.extensions import csrf

F = TypeVar("F", bound=Callable[..., Any])

#: The API paths a signed-in page may call with its session (and a CSRF token).
SESSION_PATHS = re.compile(
    r"/api/v1/(?:events/[^/]+/(?:checkins|checkins/counts|roster)|checkins/[^/]+/undo)"
)
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_CACHE_KEY = "funrun.checkin_caller"


def session_allowed(path: str, headers: Any) -> bool:
    """Whether a request to ``path`` may use the cookie session: a check-in route called
    without a bearer token."""
    if not SESSION_PATHS.fullmatch(path):
        return False
    scheme = headers.get("Authorization", "").partition(" ")[0]
    return scheme.lower() != "bearer"


def by_session() -> bool:
    """Whether this request is authenticated by the page session (not a bearer token)."""
    return bearer_token() is None and session_allowed(request.path, request.headers)


def caller() -> User | None:
    """The account calling a check-in route: the bearer token's, else the signed-in
    staff member's (the CSRF token checked first when the request changes something).

    Raises :class:`CSRFError` for a session call without a valid token.
    """
    cached = request.environ.get(_CACHE_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if not by_session():
        return bearer_user()
    if not current_user.is_authenticated:
        return None
    if request.method not in _SAFE:
        csrf.protect()
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    request.environ[_CACHE_KEY] = user
    return user


def csrf_refused() -> Response:
    """The problem document for a session call without a valid CSRF token."""
    return problem(
        400,
        _(
            "This form has expired or was not sent from our site. "
            "Please go back, reload the page and try again."
        ),
        kind="csrf",
    )


def staff_roles(*roles: Role) -> Callable[[F], F]:
    """API decorator for the check-in routes: a token or a session of one of ``roles``,
    else the same 401/403 problem documents as :func:`require_roles`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                user = caller()
            except CSRFError:
                return csrf_refused()
            if user is None:
                return token_required()
            if user.role not in roles:
                return problem(403, _("You are not allowed to do this."), kind="forbidden")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
