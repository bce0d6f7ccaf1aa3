"""Language choice (Bahasa Indonesia first, English on request) and locale formatting."""

from __future__ import annotations

from datetime import date, datetime, time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    has_request_context,
    redirect,
    request,
)
from flask_babel import format_date, format_datetime, get_locale
from werkzeug.wrappers import Response

bp = Blueprint("i18n", __name__)

LANG_COOKIE = "lang"


def select_locale() -> str:
    """The page language: ?lang=, then the lang cookie; the API follows Accept-Language."""
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    # Services also run outside requests (CLI commands, workers, threads).
    if not has_request_context():
        return default
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(languages, default=default) or default
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    return chosen if chosen in languages else default


@bp.route("/lang/<code>")
def switch_language(code: str) -> Response:
    """Remember the chosen language in a cookie and go back (works without JavaScript)."""
    target = request.args.get("next", "/")
    # A control character (a newline) would split the Location header: refuse it.
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        abort(400)
    # Only ever redirect within this site.
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            httponly=True,
            # Secure wherever the session cookie is (production: HTTPS only).
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


def format_event_date(value: date) -> str:
    """An event's date in full, in the page's language (the ``event_date`` filter)."""
    return format_date(value, "full")


def format_clock(value: time) -> str:
    """A time of day as the page's language writes it: 06.00 or 06:00 (``clock``)."""
    return value.strftime("%H.%M") if str(get_locale()) == "id" else value.strftime("%H:%M")


def _format_when(value: datetime, tz: str = "Asia/Jakarta") -> str:
    from zoneinfo import ZoneInfo

    # Minutes, not seconds: "5 Des 2026 12.15" (Indonesian writes the time with a dot).
    pattern = "d MMM y HH.mm" if str(get_locale()) == "id" else "d MMM y, HH:mm"
    return format_datetime(value.astimezone(ZoneInfo(tz)), pattern)


def init_app(app: Flask) -> None:
    """Register the language switch and template filters."""
    app.register_blueprint(bp)
    app.jinja_env.filters["event_date"] = format_event_date
    app.jinja_env.filters["clock"] = format_clock
    app.jinja_env.filters["when"] = _format_when

    @app.context_processor
    def _inject_locale() -> dict:
        return {"current_locale": str(get_locale()), "languages": app.config["LANGUAGES"]}
