"""Organisers' and admins' sponsor pages: the overview (budgets used and left), a sponsor's
fields, its list of eligible NIKs (uploaded; only counts shown) and its statement."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.contracts import ValidationFailed
from funrun.dbtypes import utcnow
from funrun.downloads import export_response, file_chunks, spooled
from funrun.enrolment.models import Sponsor
from funrun.extensions import db
from funrun.sponsors import bp
from funrun.sponsors.forms import ListUploadForm, SponsorForm
from funrun.sponsors.nik_lists import ListReport, import_list
from funrun.sponsors.services import create, overview, partners, update
from funrun.sponsors.statement import (
    FORMATS,
    XLSX_MIMETYPE,
    statement,
    statement_csv,
    statement_xlsx,
)

WIB = ZoneInfo("Asia/Jakarta")
#: The upload's body: a list of 100,000 NIKs with a few columns more, and the form's fields.
MAX_LIST_BYTES = 8 * 1024 * 1024


def _sponsor_or_404(code: str) -> Sponsor:
    sponsor = None
    if len(code) <= 32:
        sponsor = db.session.scalar(select(Sponsor).where(Sponsor.code == code))
    if sponsor is None:
        abort(404)
    return sponsor


def _attach(form: SponsorForm | ListUploadForm, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        if name in form:
            form[name].errors = list(messages)
        else:
            flash(" ".join(messages), "error")


@bp.route("/staff/sponsors")
@roles_required(*ORGANISERS)
def sponsor_index() -> str:
    """Every sponsor with its list's size and its budget used and left."""
    return render_template("sponsors/index.html", sponsors=overview())


@bp.route("/staff/sponsors/new", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def sponsor_new() -> Response | str | tuple[str, int]:
    form = SponsorForm().with_partners(partners())
    if request.method == "POST":
        if not form.validate():
            abort(400)
        try:
            code = create(form.raw(new=True), user_id=int(current_user.id))
        except ValidationFailed as failed:
            _attach(form, failed.errors)
            return render_template("sponsors/new.html", form=form), 422
        flash(_("The sponsor is saved."), "success")
        return redirect(url_for("sponsors.sponsor_page", code=code), code=303)
    return render_template("sponsors/new.html", form=form)


def _stored_form(sponsor: Sponsor) -> SponsorForm:
    """The sponsor's form filled from the sponsor as stored (never from a request)."""
    form = SponsorForm(formdata=None, obj=sponsor).with_partners(partners())
    form.partner_id.data = str(sponsor.partner_id or "")
    for name in ("budget_member_months", "budget_rupiah"):
        value = getattr(sponsor, name)
        form[name].data = "" if value is None else format_decimal(value)
    return form


def _page(
    sponsor: Sponsor,
    form: SponsorForm,
    upload: ListUploadForm,
    report: ListReport | None = None,
    status: int = 200,
) -> tuple[str, int]:
    [row] = overview(sponsor.code)
    return (
        render_template(
            "sponsors/sponsor.html", sponsor=row, form=form, upload=upload, report=report
        ),
        status,
    )


@bp.route("/staff/sponsors/<code>", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def sponsor_page(code: str) -> Response | tuple[str, int]:
    """A sponsor: its fields (edited here), its list, its budget and its statement."""
    sponsor = _sponsor_or_404(code)
    if request.method == "GET":
        return _page(sponsor, _stored_form(sponsor), ListUploadForm())
    form = SponsorForm().with_partners(partners())
    if not form.validate():
        abort(400)
    try:
        update(sponsor.code, form.raw(new=False), user_id=int(current_user.id))
    except ValidationFailed as failed:
        _attach(form, failed.errors)
        return _page(sponsor, form, ListUploadForm(formdata=None), status=422)
    flash(_("The sponsor is saved."), "success")
    return redirect(url_for("sponsors.sponsor_page", code=sponsor.code), code=303)


@bp.route("/staff/sponsors/<code>/list", methods=["POST"])
@roles_required(*ORGANISERS)
def upload_list(code: str) -> tuple[str, int]:
    """Add or replace the sponsor's list of eligible NIKs from an uploaded file."""
    sponsor = _sponsor_or_404(code)
    upload = ListUploadForm()
    form = _stored_form(sponsor)
    if not upload.validate():
        abort(400)
    errors: dict[str, list[str]] = {}
    if upload.mode.data not in ("add", "replace"):
        errors["mode"] = [_("Choose whether to add to the list or replace it.")]
    if not upload.file.data or not getattr(upload.file.data, "stream", None):
        errors["file"] = [_("Choose the file with the list.")]
    if errors:
        _attach(upload, errors)
        return _page(sponsor, form, upload, status=422)
    try:
        report = import_list(
            sponsor.code,
            upload.file.data.stream,
            replace=upload.mode.data == "replace",
            user_id=int(current_user.id),
        )
    except ValidationFailed as failed:
        _attach(upload, failed.errors)
        return _page(sponsor, form, upload, status=422)
    finally:
        upload.file.data.close()  # the temporary copy goes now: the file is never kept
    return _page(sponsor, form, ListUploadForm(formdata=None), report=report)


@bp.route("/staff/sponsors/<code>/statement.<fmt>")
@roles_required(*ORGANISERS)
def statement_file(code: str, fmt: str) -> Response:
    """The sponsor's statement as CSV, XLSX or PDF (audited once served)."""
    if fmt not in FORMATS:
        abort(404)
    sponsor = _sponsor_or_404(code)
    now = utcnow()
    doc = statement(sponsor, now)
    name = f"sponsor-{sponsor.code}-{now.astimezone(WIB):%Y%m%d-%H%M}.{fmt}"
    user_id = int(current_user.id)
    if fmt == "csv":
        return export_response([statement_csv(doc).encode()], "text/csv", name, user_id=user_id)
    if fmt == "pdf":
        # Imported here: reportlab is loaded only when a PDF is made.
        from funrun.sponsors.statement_pdf import statement_pdf

        generated = format_datetime(now.astimezone(WIB), "medium")
        spool = spooled(lambda target: statement_pdf(doc, generated, target))
        mimetype = "application/pdf"
    else:
        spool = spooled(lambda target: statement_xlsx(doc, target))
        mimetype = XLSX_MIMETYPE
    return export_response(file_chunks(spool), mimetype, name, user_id=user_id, spool=spool)
