"""A partner's own pages (/partner/): its group imports with their progress, its members'
places (held until / confirmed / waitlisted / went back; NIK masked), the counts of
confirmations per event and, when the payments feature provides it, its funnel.

A partner signs in on /login like staff (with a password: ``flask users create EMAIL
--role partner --password-stdin``) and sees these pages only; every staff page admits
staff roles only (403 for a partner). Every query is scoped to the signed-in partner.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from jinja2 import TemplateNotFound
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import StringField

from funrun.accounts.access import PARTNERS, roles_required
from funrun.dbtypes import utcnow
from funrun.downloads import file_chunks, spooled
from funrun.events.services import get_event
from funrun.groups import bodies
from funrun.groups import partner_queries as queries
from funrun.groups.importing import MAX_KEY, ImportRefused, check_key, receive, start_import

bp = Blueprint("partner", __name__, url_prefix="/partner")

#: The payments feature's funnel (issue 20): its rows and its Jinja macros.
FUNNEL_TEMPLATE = "reports/_funnel.html"


class GroupUploadForm(FlaskForm):
    """A group for one event as a CSV file (the API's CSV columns), under an import key:
    the same key and file again answer the same import (a double tap changes nothing)."""

    import_key = StringField(_l("Import key"), render_kw={"maxlength": MAX_KEY})
    file = FileField(_l("Members (CSV file)"), render_kw={"accept": ".csv,text/csv"})


def new_key(slug: str) -> str:
    """A fresh import key offered with the form (the partner may type its own)."""
    return f"{slug}-{utcnow():%Y%m%d-%H%M}-{secrets.token_hex(2)}"


def _partner_id() -> int:
    return int(current_user.id)


def funnel(partner_id: int) -> list[Any] | None:
    """The partner's funnel rows (registered non-members -> checked in -> enrolled -> paid
    month 1/2/3), or None while the payments feature does not provide it."""
    try:
        from funrun.payments.funnel import funnel_rows  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        current_app.jinja_env.get_template(FUNNEL_TEMPLATE)
    except TemplateNotFound:
        return None
    return list(funnel_rows(by="aggregator", partner_id=partner_id))


@bp.route("/")
@roles_required(*PARTNERS)
def home() -> str | tuple[str, int]:
    """The partner's imports, its members' counts per event, upload forms and its funnel."""
    return _home()


def _home(
    status: int = 200, sent: GroupUploadForm | None = None, sent_slug: str | None = None
) -> tuple[str, int]:
    partner_id = _partner_id()
    uploads = []
    for event in queries.upcoming_events():
        form = sent if sent is not None and event.slug == sent_slug else GroupUploadForm()
        if not form.import_key.data:
            form.import_key.data = new_key(event.slug)
        uploads.append((event, form))
    page = render_template(
        "partner/home.html",
        organisation=current_user.organisation or current_user.email,
        imports=queries.imports(partner_id),
        counts=queries.event_counts(partner_id),
        uploads=uploads,
        columns=bodies.COLUMNS,
        required=bodies.REQUIRED_COLUMNS,
        funnel=funnel(partner_id),
        funnel_template=FUNNEL_TEMPLATE,
    )
    return page, status


@bp.route("/events/<slug:slug>/imports", methods=["POST"])
@roles_required(*PARTNERS)
def upload_group(slug: str) -> Response | tuple[str, int]:
    """Send a group for an event as a CSV file: the API's import (read, counted and stored
    encrypted, then held by the worker), then the import's page."""
    event = get_event(slug)
    if event is None:
        abort(404)
    form = GroupUploadForm()
    if not form.validate():
        abort(400)
    upload = form.file.data
    if not isinstance(upload, FileStorage) or not upload.filename:
        flash(_("Choose the CSV file of your members."), "error")
        return _home(422, form, slug)
    if not event.accepts_registrations(utcnow()):
        flash(_("Registration for this event is closed."), "error")
        return _home(409, form, slug)
    try:
        key = check_key(form.import_key.data)
        received = receive(upload.stream, "csv", key)
        group, _new = start_import(event, _partner_id(), received, str(get_locale()))
    except ImportRefused as refused:
        flash(str(refused.message), "error")
        return _home(refused.status, form, slug)
    return redirect(url_for("partner.import_page", import_id=group.id), code=303)


@bp.route("/password", methods=["GET", "POST"])
@roles_required(*PARTNERS)
def change_password() -> Response | str | tuple[str, int]:
    """The partner's own password change (the staff page's rule: the current one first,
    counted like a sign-in; every other session ends)."""
    from funrun.accounts.views import password_page

    return password_page("partner.home")


@bp.route("/members")
@roles_required(*PARTNERS)
def members() -> str:
    """The partner's members, 50 a page: where each place stands (NIK masked)."""
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 7 else 1
    rows, total = queries.members(_partner_id(), number)
    pages = max(1, (total + queries.PAGE_SIZE - 1) // queries.PAGE_SIZE)
    return render_template(
        "partner/members.html", rows=rows, total=total, page=min(number, pages), pages=pages
    )


@bp.route("/imports/<id:import_id>")
@roles_required(*PARTNERS)
def import_page(import_id: int) -> str:
    """One import's progress (the page refreshes itself while it runs) and its report."""
    found = queries.one_import(_partner_id(), import_id)
    if found is None:  # another partner's import is not there for this one
        abort(404)
    group, event = found
    return render_template("partner/import.html", group=group, event=event)


@bp.route("/imports/<id:import_id>/report.csv")
@roles_required(*PARTNERS)
def import_report(import_id: int) -> Response:
    """The import's report (each refused row, field and reason), as the API gives it."""
    from funrun.api.groups import _write_report  # the API's writer: one report

    found = queries.one_import(_partner_id(), import_id)
    if found is None:
        abort(404)
    group, _event = found
    spool = spooled(lambda out: _write_report(out, group.id))
    response = Response(file_chunks(spool), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="import-{group.id}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
