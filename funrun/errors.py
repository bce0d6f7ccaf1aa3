"""Error pages in the user's language, and problem details under /api/."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from funrun.api.problems import problem

log = logging.getLogger(__name__)


def _message(code: int) -> str:
    messages = {
        400: _("The request could not be understood. Please check what you sent."),
        401: _("Please sign in first."),
        403: _("You are not allowed to do this."),
        404: _("We could not find that page."),
        405: _("That is not allowed here."),
        409: _("That conflicts with what is already recorded."),
        413: _("What you sent is too large."),
        415: _("Send JSON (Content-Type: application/json)."),
        422: _("Some fields need correcting."),
        429: _("Too many requests. Please wait a minute and try again."),
        500: _("Something went wrong on our side. Please try again."),
    }
    return messages.get(code, _("Something went wrong on our side. Please try again."))


def _respond(code: int, detail: str | None = None) -> Response | tuple[str, int]:
    if request.path.startswith("/api/"):
        # A URL that names nothing is the same "not-found" problem a view gives.
        return problem(code, _message(code), detail, kind="not-found" if code == 404 else None)
    return render_template("errors/error.html", code=code, message=_message(code)), code


def register_error_handlers(app: Flask) -> None:
    """Every error becomes a page (HTML) or a problem document (API); never a trace."""
    # Flask's own line for an unexpected error names the address (a manage link's token
    # with it); _internal below logs the error, traceback and all, under its route instead.
    app.log_exception = lambda exc_info: None  # type: ignore[method-assign]

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response | tuple[str, int]:
        if request.path.startswith("/api/"):
            return problem(400, _message(400), error.description)
        return (
            render_template(
                "errors/error.html",
                code=400,
                message=_(
                    "This form has expired or was not sent from our site. "
                    "Please go back, reload the page and try again."
                ),
            ),
            400,
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response | tuple[str, int]:
        if error.response is not None:  # an answer made for this error (a limit's on_breach)
            return error.response  # type: ignore[return-value]
        code = error.code or 500
        response = _respond(code)
        if code == 405 and getattr(error, "valid_methods", None):
            if isinstance(response, tuple):
                return response[0], code, {"Allow": ", ".join(error.valid_methods)}
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError) -> Response | tuple[str, int]:
        # The route's rule ("/r/<token>"), not the address: a manage token is a password.
        rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
        log.error(
            "unhandled error on %s %s",
            request.method,
            rule,
            exc_info=error.original_exception,
        )
        return _respond(500)
