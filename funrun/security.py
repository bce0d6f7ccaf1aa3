"""Response headers that every page and API answer carries."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

#: No inline scripts, nothing from other hosts: venues have poor networks anyway.
#: worker-src allows blob: for the scan page's QR decoder: qr-scanner imports its worker
#: module from /static/vendor/ and starts the worker from a blob: URL made of that code
#: (a blob: URL can only be made by script already running on this origin).
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


#: Paths of a runner's manage link (pages, PDFs, QR, data), in the site and the API.
NEVER_STORED = ("/r/", "/api/v1/registrations/")
#: Staff pages and sign-in; the scan page's roster and service worker choose their own.
STAFF_PATHS = ("/staff", "/login", "/logout", "/account")


def register_security_headers(app: Flask) -> None:
    """Add CSP, framing, sniffing and referrer headers (HSTS in production)."""

    @app.after_request
    def _headers(response: Response) -> Response:
        return add_security_headers(app, request.path, response)


def add_security_headers(app: Flask, path: str, response: Response) -> Response:
    """Put :func:`security_headers` on ``response``, an answer to ``path``, where a view
    did not set them (a manage link's pages are never stored, whatever a view said)."""
    for name, value in security_headers(app, path):
        if name == "Cache-Control" and path.startswith(NEVER_STORED):
            response.headers[name] = value
        else:
            response.headers.setdefault(name, value)
    return response


def security_headers(app: Flask, path: str) -> list[tuple[str, str]]:
    """The security headers of an answer to ``path`` (every answer of the app, and the
    check-in lane's, :mod:`funrun.checkin.lane`)."""
    # Manage links carry their token in the path: never leak it in a Referer.
    policy = "no-referrer" if path.startswith("/r/") else "same-origin"
    headers = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", policy),
    ]
    # Pages with a person's data are never stored by a browser or a proxy: a manage
    # link's pages, staff pages (unless a view chose), sign-in.
    if path.startswith((*NEVER_STORED, *STAFF_PATHS)):
        headers.append(("Cache-Control", "private, no-store"))
    if app.config.get("ENV_NAME") == "production":
        headers.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))
    return headers
