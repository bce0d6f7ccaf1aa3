"""Organisers upload the scheme's payment file; the worker imports it (a progress page),
then the summary and the row-by-row report. Routes on the reports blueprint."""

from __future__ import annotations

import io

from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.extensions import db
from funrun.jobs.models import Job
from funrun.payments.models import PaymentFile
from funrun.payments.uploads import KIND, TooLarge, read_progress, start_import, upload_path
from funrun.reports import bp
from funrun.reports.views import _download

#: Files listed on the page, newest first.
RECENT = 20


class PaymentUploadForm(FlaskForm):
    """The scheme's payment file (CSV: participant_number,month,amount)."""

    file = FileField(
        _l("Payment file (CSV: participant_number,month,amount)"),
        render_kw={"accept": ".csv,text/csv"},
    )


def _page(form: PaymentUploadForm, error: str | None = None, status: int = 200) -> tuple[str, int]:
    recent = db.session.scalars(select(PaymentFile).order_by(PaymentFile.id.desc()).limit(RECENT))
    return render_template(
        "payments/upload.html", form=form, error=error, files=list(recent)
    ), status


@bp.route("/staff/payments", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def payments_page() -> Response | tuple[str, int]:
    """The upload form and the files imported so far."""
    form = PaymentUploadForm()
    if not form.is_submitted():
        return _page(form)
    if not form.validate():
        abort(400)
    upload = form.file.data
    if not upload or not getattr(upload, "stream", None) or not upload.filename:
        return _page(form, _("Choose the payment file."), 422)
    try:
        job_id = start_import(upload.stream, upload.filename, user_id=int(current_user.id))
    except TooLarge:
        db.session.rollback()
        return _page(form, _("The file is too large (at most 64 MB)."), 413)
    finally:
        upload.close()
    return redirect(url_for("reports.payments_job", job_id=job_id), code=303)


def _job_or_404(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.kind != KIND:
        abort(404)
    return job


@bp.route("/staff/payments/jobs/<int:job_id>")
@roles_required(*ORGANISERS)
def payments_job(job_id: int) -> str:
    """The import's progress (the page refreshes itself), then its summary."""
    job = _job_or_404(job_id)
    progress = read_progress(job.id)
    return render_template("payments/job.html", job=job, progress=progress)


@bp.route("/staff/payments/jobs/<int:job_id>/report.csv")
@roles_required(*ORGANISERS)
def payments_report(job_id: int) -> Response:
    """Every row of the uploaded file with its outcome (accepted, or refused and why)."""
    from funrun.payments.importing import write_report

    job = _job_or_404(job_id)
    progress = read_progress(job.id)
    if progress.get("status") != "done" or not upload_path(job.id).exists():
        abort(404)
    out = io.StringIO()
    write_report(int(progress["file_id"]), upload_path(job.id), out)
    return _download([out.getvalue().encode()], "text/csv", f"payment-report-{job.id}.csv")
