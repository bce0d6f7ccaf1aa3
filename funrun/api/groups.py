"""API: a partner's group import (its members' held places), its progress and report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import jsonify, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from funrun.accounts.auth import bearer_user, require_roles
from funrun.accounts.models import Role
from funrun.api import bp
from funrun.api.common import event_not_found
from funrun.api.problems import problem
from funrun.api.schemas.groups import REFUSED_SHOWN, GroupImportAnswer
from funrun.dbtypes import utcnow
from funrun.downloads import file_chunks, spooled
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db, limiter
from funrun.groups import bodies
from funrun.groups.importing import ImportRefused, check_key, receive, start_import
from funrun.groups.models import GroupImport, GroupImportRefusal
from funrun.ratelimit import exempt_from_partner_limit, partner_limit, token_key
from funrun.spreadsheet import csv_cell

_FORMATS = {"application/json": "json", "text/csv": "csv"}


@bp.post("/events/<slug:slug>/group-registrations")
@limiter.limit(partner_limit, key_func=token_key, exempt_when=exempt_from_partner_limit)
@require_roles(Role.PARTNER)
def create_group_import(slug: str) -> Response | tuple[Response, int]:
    """A partner sends its members for the event (JSON or CSV); the worker holds places."""
    partner = bearer_user()
    assert partner is not None
    event = get_event(slug)
    if event is None:
        return event_not_found()
    body_format = _FORMATS.get(request.mimetype)
    if body_format is None:
        return problem(
            415, _("Send JSON (application/json) or CSV (text/csv)."), kind="unsupported-type"
        )
    if not event.accepts_registrations(utcnow()):
        return problem(409, _("Registration for this event is closed."), kind="registration-closed")
    request.max_content_length = bodies.MAX_BODY
    if request.content_length is not None and request.content_length > bodies.MAX_BODY:
        return _too_large()
    locale = str(get_locale())
    try:
        # Each checked whenever sent (a JSON body names its own): the header's is used.
        sent = [request.headers.get("Import-Key"), request.args.get("import_key")]
        keys = [check_key(key) for key in sent if key is not None]
        received = receive(request.stream, body_format, keys[0] if keys else None)
        group, new = start_import(event, partner.id, received, locale)
    except ImportRefused as refused:
        return problem(refused.status, str(refused.message), kind=refused.kind)
    response = _answer(group, event.slug)
    response.headers["Location"] = url_for("api.group_import", import_id=group.id)
    return response, 202 if new else 200


def _too_large() -> Response:
    return problem(
        413,
        _("The body is larger than %(n)d MiB.", n=bodies.MAX_BODY >> 20),
        kind="too-large",
    )


def _own_import(import_id: int) -> GroupImport | Response:
    """The caller's import, or the 404 (another partner's import is not found either)."""
    partner = bearer_user()
    group = db.session.get(GroupImport, import_id)
    if group is None or partner is None or group.partner_id != partner.id:
        return problem(404, _("No such import."), kind="not-found")
    return group


def _answer(group: GroupImport, slug: str | None = None) -> Response:
    if slug is None:
        slug = db.session.scalar(select(Event.slug).where(Event.id == group.event_id))
    rows = db.session.execute(
        select(GroupImportRefusal.row, GroupImportRefusal.errors)
        .where(GroupImportRefusal.import_id == group.id)
        .order_by(GroupImportRefusal.row)
        .limit(REFUSED_SHOWN)
    )
    refused = [{"row": row.row, "errors": row.errors} for row in rows]
    waitlisted = db.session.scalar(
        select(func.count()).where(
            GroupImportRefusal.import_id == group.id, GroupImportRefusal.waitlisted
        )
    )
    body = GroupImportAnswer.of(group, slug or "", refused, waitlisted or 0)
    response = jsonify({"import": body})
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/imports/<id:import_id>")
@require_roles(Role.PARTNER)
def group_import(import_id: int) -> Response:
    """A partner's import with its progress and its first refused rows."""
    group = _own_import(import_id)
    if isinstance(group, Response):
        return group
    return _answer(group)


@bp.get("/imports/<id:import_id>/report.csv")
@require_roles(Role.PARTNER)
def group_import_report(import_id: int) -> Response:
    """The refused (and waitlisted) rows: row, field, message, in the import's language."""
    group = _own_import(import_id)
    if isinstance(group, Response):
        return group
    spool = spooled(lambda out: _write_report(out, group.id))
    response = Response(file_chunks(spool), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="import-{group.id}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _write_report(out: io.RawIOBase | object, import_id: int) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)  # type: ignore[arg-type]
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["row", "field", "message"])
    for row, field, message in _report_rows(import_id):
        writer.writerow([row, csv_cell(field), csv_cell(message)])
    text.flush()
    text.detach()


def _report_rows(import_id: int) -> Iterator[tuple[int, str, str]]:
    rows = db.session.execute(
        select(GroupImportRefusal.row, GroupImportRefusal.errors)
        .where(GroupImportRefusal.import_id == import_id)
        .order_by(GroupImportRefusal.row)
        .execution_options(yield_per=1000)
    )
    for row, errors in rows:
        for field, messages in errors.items():
            for message in messages:
                yield row, field, message
