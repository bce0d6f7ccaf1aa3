"""Organiser pages: the live dashboard, totals and roster downloads, the roster page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from flask import (
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required, sees_full_nik
from funrun.dbtypes import utcnow
from funrun.downloads import export_response, file_chunks, spooled
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db
from funrun.payments.funnel import VIEWS as FUNNEL_VIEWS
from funrun.payments.funnel import funnel_rows
from funrun.people.crypto import data_cipher, mask_nik
from funrun.reports import bp
from funrun.reports.dashboard import FIELDS, WIB, dashboard
from funrun.reports.exports import (
    FORMATS,
    XLSX_MIMETYPE,
    funnel_csv,
    funnel_xlsx,
    totals_csv,
    totals_xlsx,
)
from funrun.reports.figures import tour_figures
from funrun.reports.roster_files import (
    RosterEvent,
    RosterWords,
    roster_csv,
    roster_events,
    roster_xlsx,
)
from funrun.reports.roster_queries import (
    MAX_PAGE,
    MAX_QUERY,
    RosterQueryError,
    registration_history,
    roster_page,
)

TOTALS_FORMATS = (*FORMATS, "pdf")
#: Seconds between the dashboard's live updates (config FUNRUN_DASHBOARD_POLL_SECONDS).
POLL_SECONDS = 20


def _download(
    body: Iterator[str] | Iterator[bytes] | list[bytes],
    mimetype: str,
    filename: str,
    event_id: int | None = None,
) -> Response:
    """A download logged as the signed-in user's export once its body was served."""
    return export_response(
        body, mimetype, filename, user_id=int(current_user.id), event_id=event_id
    )


def _file_download(
    write: Callable[[IO[bytes]], object], mimetype: str, filename: str, event_id: int | None = None
) -> Response:
    """A file written now, during the request, into a temporary file that is then sent
    in chunks (its body needs neither this request's session nor its context)."""
    spool = spooled(write)
    return export_response(
        file_chunks(spool),
        mimetype,
        filename,
        user_id=int(current_user.id),
        event_id=event_id,
        spool=spool,
    )


def _event_or_404(slug: str) -> Event:
    event = get_event(slug)
    if event is None:
        abort(404)
    return event


@bp.route("/staff/dashboard")
@roles_required(*ORGANISERS)
def dashboard_page() -> str:
    """Per-city and tour figures with charts; a small script refreshes them in place.
    ``?funnel=city|aggregator|sponsor`` chooses the funnel's rows (plain links)."""
    by = request.args.get("funnel", "city")
    if by not in FUNNEL_VIEWS:
        abort(400)
    board = dashboard()
    return render_template(
        "reports/dashboard.html",
        board=board,
        funnel_by=by,
        funnel=funnel_rows(by),
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
        return _file_download(
            lambda target: totals_pdf(board, generated, target), "application/pdf", name
        )
    figures = tour_figures()
    if fmt == "csv":
        return _download([totals_csv(figures).encode()], "text/csv", name)
    return _file_download(lambda target: totals_xlsx(figures, target), XLSX_MIMETYPE, name)


@bp.route("/staff/funnel/<by>.<fmt>")
@roles_required(*ORGANISERS)
def funnel_file(by: str, fmt: str) -> Response:
    """The funnel per city, aggregator or sponsor, as CSV or XLSX."""
    if fmt not in FORMATS or by not in FUNNEL_VIEWS:
        abort(404)
    rows = funnel_rows(by)
    name = f"funrun-funnel-{by}-{utcnow().astimezone(WIB):%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        return _download([funnel_csv(by, rows).encode()], "text/csv", name)
    return _file_download(lambda target: funnel_xlsx(by, rows, target), XLSX_MIMETYPE, name)


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
            event, query=query, page=int(raw_page), full_nik=sees_full_nik(current_user)
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
    event = RosterEvent.of(_event_or_404(slug))
    return _roster_download([event], fmt, f"roster-{event.slug}.{fmt}", event.city, event.id)


@bp.route("/staff/roster.<fmt>")
@roles_required(*ORGANISERS)
def tour_roster_file(fmt: str) -> Response:
    """Every event's roster in one file, CSV or XLSX, streamed (no NIK)."""
    if fmt not in FORMATS:
        abort(404)
    return _roster_download(roster_events(), fmt, f"roster-tour.{fmt}", _("Roster"))


def _roster_download(
    events: list[RosterEvent], fmt: str, name: str, title: str, event_id: int | None = None
) -> Response:
    """The CSV streams from a connection of its own as it is read; the XLSX is written
    now on this request's connection, then sent from its temporary file. Both in the
    request's language (statuses, yes/no, the XLSX's header)."""
    words = RosterWords.now()
    if fmt == "csv":
        return _download(roster_csv(db.engine, events, words), "text/csv", name, event_id)
    connection = db.session.connection()
    return _file_download(
        lambda target: roster_xlsx(connection, events, target, title=title, words=words),
        XLSX_MIMETYPE,
        name,
        event_id,
    )


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
            nik=nik if sees_full_nik(current_user) else mask_nik(nik),
            tz=event.timezone,
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# The payment files' pages are organisers' reports too (funrun/payments/views.py).
from funrun.payments import views as _payment_views  # noqa: E402, F401
