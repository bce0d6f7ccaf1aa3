"""The scan's lane: a bearer client's check-in answered in front of Flask's dispatch.

On race morning nearly every request is a scan from a desk's scanner or phone app, and
Flask's request machinery around the rule (request and response objects, routing, the
before- and after-request hooks, the session interface, the contexts) cost more of a
worker's CPU than the scan itself: bench/checkin.py, 5 sync workers under wrk, 1.82-1.94 ms
of worker CPU a scan through the app against 1.23 ms through this lane (ratio to "hello"
0.208-0.221 against 0.263, p99 63.5-70.9 against 49.3 ms).

It is the same contract, not a second one: the same route, the body checked by the same
declared schema (:func:`read_scan`), the same rule (:func:`run_scan`), the same answer
(:meth:`ScanOutcome.as_json` through the app's JSON provider, the outcome's status) with
the same headers (:func:`funrun.security.security_headers`). Only a scan the API
would answer with its outcome is taken here: ``POST /api/v1/events/<slug>/checkins``
with an ``Authorization: Bearer`` token and a JSON object the schema accepts, without a
pickup's details. Everything else goes on to the app unchanged, the body put back as it
came: the scan page's session calls, a body the schema refuses (the app checks the caller
first, then answers 422), a pickup, and a caller who may not scan there (nothing was
written; the app reads who and where again and answers the problem document). The route
has no rate limit and takes no CSRF token (a bearer call), so nothing the app would check
is skipped.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flask import Flask, current_app, has_app_context
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header

from funrun.checkin.engine import run_scan
from funrun.checkin.scanrequest import read_scan, with_device
from funrun.contracts import ValidationFailed
from funrun.security import security_headers

log = logging.getLogger(__name__)

Answer = tuple[str, list[tuple[str, str]], bytes]


def _is_json(content_type: str) -> bool:
    """What Flask's ``request.is_json`` says of this Content-Type."""
    mimetype = parse_options_header(content_type)[0]
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


class ScanLane:
    """WSGI middleware: a bearer client's scan, answered without Flask's dispatch."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask, slug: str) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        #: The check-in route (``slug``: the URL converter's pattern).
        self.path = re.compile(rf"/api/v1/events/({slug})/checkins")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            match = self.path.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                answer = self._scan(environ, match.group(1))
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _scan(self, environ: dict[str, Any], slug: str) -> Answer | None:
        """The answer to a scan this lane takes, else None (the app answers)."""
        scheme, _sep, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or not _is_json(environ.get("CONTENT_TYPE", "")):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= (self.app.config.get("MAX_CONTENT_LENGTH") or 0):
            return None  # no length (chunked), or too long: the app's answer
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)  # the app reads the same body if it answers
        try:
            body = self.app.json.loads(raw)
            if not isinstance(body, dict):
                return None
            req = read_scan(with_device(body, environ.get("HTTP_USER_AGENT", "")))
        except (ValueError, ValidationFailed):  # not JSON (or not UTF-8), or refused
            return None
        if req.pickup is not None:
            return None
        with self._app_context():
            try:
                _desk, outcome = run_scan(req, slug=slug, token=token)
            except Exception as failed:  # the app answers it (and logs what it raises)
                # The statement commits alone or not at all; a scan that did commit is
                # answered again by its client_ref when the app runs it.
                log.warning("check-in lane: %s; the app answers", type(failed).__name__)
                return None
            if outcome is None:
                return None  # may not scan there: nothing was written
            answer = self._json(outcome.as_json())
        status = outcome.http_status
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(answer))),
            *security_headers(self.app, environ["PATH_INFO"]),
        ]
        return f"{status} {HTTP_STATUS_CODES[status].upper()}", headers, answer  # as werkzeug

    def _app_context(self) -> AbstractContextManager[Any]:
        """The app context a request gets: the one already pushed for this app (as a
        test's), else a new one (as in a worker), as Flask's request context does."""
        if has_app_context() and current_app._get_current_object() is self.app:  # type: ignore[attr-defined]
            return nullcontext()
        return self.app.app_context()

    def _json(self, answer: dict[str, Any]) -> bytes:
        """``answer`` as ``jsonify`` writes it (the app's JSON provider and its layout)."""
        provider = self.app.json
        compact = getattr(provider, "compact", None)
        if (compact is None and self.app.debug) or compact is False:
            text = provider.dumps(answer, indent=2)
        else:
            text = provider.dumps(answer, separators=(",", ":"))
        return f"{text}\n".encode()
