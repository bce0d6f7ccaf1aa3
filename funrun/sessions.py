"""Cookie sessions for the pages; none for the API, except the scan page's check-in routes.

An API request authenticates by bearer token and never reads or writes the session
cookie: answers do not vary with cookies, and no work is spent on them. The one
exception is the check-in API called by the scan page without a token (scan, counter,
roster, undo: :data:`funrun.checkin.apiauth.SESSION_PATHS`): the volunteer's signed-in
session authenticates it, with a CSRF token (issue 16, point 3). A bearer call to those
routes still gets no session. The signed-cookie serializer is built once per key rather
than on every request.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from funrun.checkin.apiauth import session_allowed

API_PREFIX = "/api/"


class PageSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, skipped for API paths (bar the scan page's)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if key not in self._serializers:
            self._serializers[key] = super().get_signing_serializer(app)
        return self._serializers[key]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX) and not session_allowed(
            request.path, request.headers
        ):
            # A null session: reading it finds nothing, writing to it is an error.
            return self.make_null_session(app)
        return super().open_session(app, request)
