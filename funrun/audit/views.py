"""The admin's audit page: staff actions and scans, newest first, filterable."""

from __future__ import annotations

from datetime import date

from flask import abort, make_response, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun.accounts.access import roles_required
from funrun.accounts.models import Role
from funrun.audit import bp
from funrun.audit.queries import MAX_PAGE, AuditFilter, entries
from funrun.audit.services import ACTIONS
from funrun.events.models import Event
from funrun.extensions import db


def _filter_from_args() -> tuple[AuditFilter, int]:
    """The GET form's filters; anything malformed is a 400 (never a 500)."""
    args = request.args
    action = args.get("action", "").strip() or None
    if action is not None and action not in ACTIONS:
        abort(400)
    email = args.get("email", "").strip() or None
    # PostgreSQL cannot compare text holding a NUL byte (a 500): no address has control characters.
    if email is not None and (
        len(email) > 254 or any(ord(ch) < 32 or ch == "\x7f" for ch in email)
    ):
        abort(400)
    raw_event = args.get("event", "").strip()
    event_id = None
    if raw_event:
        if not (raw_event.isascii() and raw_event.isdigit()) or len(raw_event) > 9:
            abort(400)
        event_id = int(raw_event)
    days: list[date | None] = []
    for name in ("from", "to"):
        raw = args.get(name, "").strip()
        try:
            days.append(date.fromisoformat(raw) if raw else None)
        except ValueError:
            abort(400)
        if len(raw) > 10:
            abort(400)
    raw_page = args.get("page", "1").strip()
    if not (raw_page.isascii() and raw_page.isdigit()) or len(raw_page) > len(str(MAX_PAGE)):
        abort(400)
    if not 1 <= int(raw_page) <= MAX_PAGE:
        abort(400)
    wanted = AuditFilter(
        action=action, email=email, event_id=event_id, date_from=days[0], date_to=days[1]
    )
    return wanted, int(raw_page)


@bp.route("/staff/audit")
@roles_required(Role.ADMIN)
def audit_page() -> Response:
    """Sign-ins, undo, enrolments, edits, exports and scans: who did what, and when."""
    wanted, page = _filter_from_args()
    rows, has_next = entries(wanted, page)
    events = db.session.execute(select(Event.id, Event.city, Event.date).order_by(Event.date)).all()
    response = make_response(
        render_template(
            "audit/audit.html",
            rows=rows,
            has_next=has_next,
            page=page,
            wanted=wanted,
            actions=ACTIONS,
            events=events,
            event_names={e.id: e.city for e in events},
            args={k: v for k, v in request.args.items() if k != "page" and v},
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
