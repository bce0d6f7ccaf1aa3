"""Who is calling: the API's bearer tokens (no cookies) and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, request
from flask_babel import gettext as _

from funrun.accounts.models import Role, User
from funrun.accounts.services import user_for_token
from funrun.api.problems import problem

F = TypeVar("F", bound=Callable[..., Any])
_UNSET = object()
_CACHE_KEY = "funrun.bearer_user"


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_user() -> User | None:
    """The account behind the request's bearer token (looked up once per request).

    Cached on the request itself, not on ``g``: an app context (and its ``g``) can outlive
    one request, e.g. in tests, and a token must never answer for another request.
    """
    cached = request.environ.get(_CACHE_KEY, _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    token = bearer_token()
    user = user_for_token(token) if token else None
    request.environ[_CACHE_KEY] = user
    return user


def token_required() -> Response:
    """The 401 answer to a request without a valid token."""
    response = problem(401, _("A valid API token is required."), kind="unauthorized")
    response.headers["WWW-Authenticate"] = 'Bearer realm="funrun"'
    return response


def require_roles(*roles: Role) -> Callable[[F], F]:
    """API decorator: a valid token of one of ``roles``, else 401/403 problem details."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = bearer_user()
            if user is None:
                return token_required()
            if user.role not in roles:
                return problem(403, _("You are not allowed to do this."), kind="forbidden")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
