"""The runner's page for a lost manage link (/r/recover), and the limits it shares with
``POST /api/v1/registrations/recover``: per NIK (counted under the NIK's keyed hash, never
the NIK) and per client, in the limiter's store (Redis in production), so every process
counts together."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_limiter import RequestLimit
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField

from funrun.api.schemas.recovery import validate_recovery
from funrun.extensions import limiter
from funrun.people.crypto import data_cipher
from funrun.people.nik import normalise_nik
from funrun.people.rules import MAX_NIK_TYPED
from funrun.registration import bp
from funrun.registration.recovery import recover_link
from funrun.registration.schemas import MAX_EMAIL
from funrun.registration.validation import ValidationFailed

#: Defaults of FUNRUN_RECOVERY_NIK_RATE_LIMITS and FUNRUN_RECOVERY_RATE_LIMITS.
NIK_LIMIT = "3/hour"
CLIENT_LIMIT = "10/hour"
_NIK = re.compile(r"[0-9]{16}")
_HASH_KEY = "funrun.recovery_nik_hash"


def _nik_limit() -> str:
    return str(current_app.config.get("FUNRUN_RECOVERY_NIK_RATE_LIMITS", NIK_LIMIT))


def _client_limit() -> str:
    return str(current_app.config.get("FUNRUN_RECOVERY_RATE_LIMITS", CLIENT_LIMIT))


def _sent_nik_hash() -> str | None:
    """The keyed hash of the well-formed NIK this request sent, or None."""
    cached = request.environ  # this request's own (``g`` may outlive it in tests)
    if _HASH_KEY not in cached:
        body: Any = request.get_json(silent=True) if request.is_json else request.form
        value = body.get("nik") if hasattr(body, "get") else None
        nik = normalise_nik(value.strip()) if isinstance(value, str) else ""
        cached[_HASH_KEY] = data_cipher().lookup_hash(nik) if _NIK.fullmatch(nik) else None
    return cached[_HASH_KEY]  # type: ignore[no-any-return]


def _nik_key() -> str:
    return f"nik:{_sent_nik_hash()}"


def _no_nik() -> bool:
    """A request without a well-formed NIK is held to the client's limit only."""
    return _sent_nik_hash() is None


def too_many_message(limit: RequestLimit) -> str:
    """The translated 429 message, with the minutes left."""
    window = limit.limit.get_expiry()
    seconds = min(window, limit.reset_at - time.time())
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many attempts to find a link. Please try again in %(num)d minute.",
        "Too many attempts to find a link. Please try again in %(num)d minutes.",
        minutes,
    )


def recovery_limits(
    on_breach: Callable[[RequestLimit], Response],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Both limits for a recovery route (POSTs only); the page and the API share the
    counts (shared scopes), ``on_breach`` makes the 429 answer."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        per_nik = limiter.shared_limit(
            _nik_limit,
            scope="recover-nik",
            key_func=_nik_key,
            methods=["POST"],
            exempt_when=_no_nik,
            on_breach=on_breach,
        )
        per_client = limiter.shared_limit(
            _client_limit, scope="recover-client", methods=["POST"], on_breach=on_breach
        )
        return per_client(per_nik(view))

    return decorate


class RecoveryForm(FlaskForm):
    """NIK plus the phone or email given at registration."""

    nik = StringField(
        _l("NIK (16 digits)"),
        description=_l("The number on your KTP."),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": MAX_NIK_TYPED},
    )
    contact = StringField(
        _l("Mobile number or email"),
        description=_l("The one you gave when you registered, e.g. 0812 3456 7890."),
        render_kw={"autocomplete": "off", "maxlength": MAX_EMAIL},
    )


def _page(form: RecoveryForm, status: int = 200, sent: bool = False) -> tuple[str, int]:
    return render_template("registration/recover.html", form=form, sent=sent), status


def _page_breached(limit: RequestLimit) -> Response:
    flash(too_many_message(limit), "error")
    page, status = _page(RecoveryForm())
    response = current_app.make_response((page, status))
    response.status_code = 429
    return response


@bp.route("/r/recover", methods=["GET", "POST"])
@recovery_limits(_page_breached)
def recover_page() -> Response | tuple[str, int]:
    """Ask for the NIK and the phone or email; the same answer whether or not they match."""
    form = RecoveryForm()
    if request.method == "GET":
        return _page(form, sent=request.args.get("sent") == "1")
    if not form.validate():
        return _page(form, 400)
    try:
        body = validate_recovery({"nik": form.nik.data, "contact": form.contact.data})
    except ValidationFailed as failed:
        for name, messages in failed.errors.items():
            if name in form:
                form[name].errors = list(messages)
        flash(_("Some fields need correcting. See the messages below."), "error")
        return _page(form, 422)
    recover_link(body.nik, body.contact, body.via)
    return redirect(url_for("registration.recover_page", sent=1))
