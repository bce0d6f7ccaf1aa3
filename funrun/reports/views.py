"""Organiser pages: the live dashboard, totals and roster downloads, the roster page."""

from __future__ import annotations

from collections.abc import Iterator

from flask import (
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import format_datetime
from flask_login import current_user
from werkzeug.wrappers import Response

from funrun.accounts.access import roles_required
from funrun.accounts.models import Role
from funrun.audit.services import record
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db
from funrun.people.crypto import data_cipher, mask_nik
from funrun.reports import bp
from funrun.reports.dashboard import FIELDS, WIB, dashboard
from funrun.reports.exports import (
    FORMATS,
    XLSX_MIMETYPE,
    roster_csv,
    roster_xlsx,
    spooled,
    totals_csv,
    totals_xlsx,
)
from funrun.reports.figures import tour_figures
from funrun.reports.roster import (
    MAX_PAGE,
    MAX_QUERY,
    RosterQueryError,
    registration_history,
    roster_page,
)

ORGANISERS = (Role.ADMIN, Role.ORGANISER)
TOTALS_FORMATS = (*FORMATS, "pdf")
#: Seconds between the dashboard's live updates (config FUNRUN_DASHBOARD_POLL_SECONDS).
POLL_SECONDS = 20


def _download(
    body: str | Iterator[str] | Iterator[bytes],
    mimetype: str,
    filename: str,
    event_id: int | None = None,
) -> Response:
    # Recorded (and committed) before the body streams: a file asked for is a file given.
    record("export", user_id=current_user.id, target=filename, event_id=event_id)
    db.session.commit()
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _event_or_404(slug: str) -> Event:
    event = get_event(slug)
    if event is None:
        abort(404)
    return event


@bp.route("/staff/dashboard")
@roles_required(*ORGANISERS)
def dashboard_page() -> str:
    """Per-city and tour figures with charts; a small script refreshes them in place."""
    board = dashboard()
    return render_template(
        "reports/dashboard.html",
        board=board,
        fields=FIELDS,
        poll_seconds=current_app.config.get("FUNRUN_DASHBOARD_POLL_SECONDS", POLL_SECONDS),
        updated=format_datetime(board.figures.generated_at.astimezone(WIB), "HH:mm:ss"),
    )


@bp.route("/staff/dashboard.json")
@roles_required(*ORGANISERS)
def dashboard_live() -> Response:
    """The dashboard's live update: the API's figures, formatted cells and redrawn charts."""
    board = dashboard()
    charts = render_template("reports/_live_charts.html", board=board)
    parts = dict(_split_charts(charts))
    response = jsonify(
        {
            "stats": board.figures.as_json(),
            "cells": board.cells,
            "charts": parts,
            "updated": format_datetime(board.figures.generated_at.astimezone(WIB), "HH:mm:ss"),
        }
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _split_charts(markup: str) -> Iterator[tuple[str, str]]:
    """The live template writes each chart after a ``<!--chart:name-->`` marker."""
    for piece in markup.split("<!--chart:")[1:]:
        name, _sep, svg = piece.partition("-->")
        yield name, svg.strip()


@bp.route("/staff/totals.<fmt>")
@roles_required(*ORGANISERS)
def totals_file(fmt: str) -> Response:
    """Per-city totals with a tour total row, as CSV, XLSX or a PDF report with the charts."""
    if fmt not in TOTALS_FORMATS:
        abort(404)
    stamp_at = utcnow().astimezone(WIB)
    name = f"funrun-totals-{stamp_at:%Y%m%d-%H%M}.{fmt}"
    if fmt == "pdf":
        # Imported here: reportlab's page layout is only for this report (~7 MB a worker).
        from funrun.reports.pdf import totals_pdf

        board = dashboard()
        generated = format_datetime(board.figures.generated_at.astimezone(WIB), "medium")
        return _download(
            stream_with_context(spooled(totals_pdf, board, generated)), "application/pdf", name
        )
    figures = tour_figures()
    if fmt == "csv":
        return _download(totals_csv(figures), "text/csv", name)
    return _download(stream_with_context(spooled(totals_xlsx, figures)), XLSX_MIMETYPE, name)


@bp.route("/staff/events/<slug:slug>/roster")
@roles_required(*ORGANISERS)
def roster(slug: str) -> Response:
    """The event's runners, searchable by name or bib, 50 a page; NIK masked but for admins."""
    event = _event_or_404(slug)
    query = request.args.get("q", "")
    raw_page = request.args.get("page", "1")
    if len(query) > MAX_QUERY or not raw_page.isascii() or not raw_page.isdigit():
        abort(400)
    if len(raw_page) > len(str(MAX_PAGE)):
        abort(400)
    try:
        page = roster_page(
            event, query=query, page=int(raw_page), full_nik=current_user.role == Role.ADMIN
        )
    except RosterQueryError:
        abort(400)
    if page.page > page.pages:
        abort(404)
    response = make_response(
        render_template("reports/roster.html", event=event, roster=page, tz=event.timezone)
    )
    response.headers["Cache-Control"] = "private, no-store"  # names and NIKs
    return response


@bp.route("/staff/events/<slug:slug>/roster.<fmt>")
@roles_required(*ORGANISERS)
def roster_file(slug: str, fmt: str) -> Response:
    """The whole roster as CSV or XLSX, streamed (no NIK in either)."""
    if fmt not in FORMATS:
        abort(404)
    event = _event_or_404(slug)
    name = f"roster-{event.slug}.{fmt}"
    if fmt == "csv":
        return _download(stream_with_context(roster_csv(event)), "text/csv", name, event.id)
    return _download(
        stream_with_context(spooled(roster_xlsx, event)), XLSX_MIMETYPE, name, event.id
    )


@bp.route("/staff/roster.<fmt>")
@roles_required(*ORGANISERS)
def tour_roster_file(fmt: str) -> Response:
    """Every event's roster in one file, CSV or XLSX, streamed (no NIK)."""
    if fmt not in FORMATS:
        abort(404)
    name = f"roster-tour.{fmt}"
    if fmt == "csv":
        return _download(stream_with_context(roster_csv(None)), "text/csv", name)
    return _download(stream_with_context(spooled(roster_xlsx, None)), XLSX_MIMETYPE, name)


@bp.route("/staff/events/<slug:slug>/roster/<id:registration_id>")
@roles_required(*ORGANISERS)
def registration_page(slug: str, registration_id: int) -> Response:
    """One runner of the roster and what happened to the registration, oldest first."""
    event = _event_or_404(slug)
    found = registration_history(event, registration_id)
    if found is None:
        abort(404)
    registration, history = found
    nik = data_cipher().decrypt(registration.person.nik_encrypted)
    response = make_response(
        render_template(
            "reports/registration.html",
            event=event,
            registration=registration,
            history=history,
            nik=nik if current_user.role == Role.ADMIN else mask_nik(nik),
            tz=event.timezone,
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
