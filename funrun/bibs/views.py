"""Bib downloads for runners, and batch printing with progress for organisers."""

from __future__ import annotations

from flask import abort, make_response, redirect, render_template, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.bibs import bp
from funrun.bibs.models import PrintJob
from funrun.bibs.printing import job_is_stale, pdf_path, start_print_job
from funrun.bibs.qr import svg
from funrun.bibs.services import NoBib, bib_pdf, count_confirmed, payload_for
from funrun.events.services import get_event
from funrun.extensions import db
from funrun.registration.models import RegistrationStatus
from funrun.registration.services import find_by_token


def pdf_response(data: bytes, filename: str) -> Response:
    """A PDF download that proxies and browsers must not cache publicly."""
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/r/<token>/bib.pdf")
def runner_bib_pdf(token: str) -> Response:
    """The runner's race bib and e-ticket."""
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    if registration.status == RegistrationStatus.HELD:  # a group member confirms first
        return make_response(render_template("registration/held_no_bib.html", token=token), 409)
    try:
        data = bib_pdf(registration)
    except NoBib:
        abort(404)
    return pdf_response(
        data, f"bib-{registration.event.bib_prefix}-{registration.bib_number:04d}.pdf"
    )


@bp.route("/r/<token>/qr.svg")
def runner_qr(token: str) -> Response:
    """The e-ticket QR, shown on the runner's phone at the race-pack desk."""
    registration = find_by_token(token)
    payload = payload_for(registration) if registration else None
    if payload is None:
        abort(404)
    response = make_response(svg(payload))
    response.mimetype = "image/svg+xml"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


class PrintForm(FlaskForm):
    """Starts a batch print (the CSRF token is the point)."""


@bp.route("/staff/events/<slug:slug>/bibs", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def print_bibs(slug: str) -> Response | str:
    """Every confirmed bib of the event in one PDF, made by the worker."""
    event = get_event(slug)
    if event is None:
        abort(404)
    form = PrintForm()
    if form.validate_on_submit():
        job = start_print_job(event, current_user.id)
        return redirect(url_for("bibs.print_job", job_id=job.id))
    jobs = db.session.scalars(
        select(PrintJob).where(PrintJob.event_id == event.id).order_by(PrintJob.id.desc()).limit(10)
    ).all()
    return render_template(
        "bibs/print.html", event=event, form=form, jobs=jobs, confirmed=count_confirmed(event.id)
    )


@bp.route("/staff/print-jobs/<id:job_id>")
@roles_required(*ORGANISERS)
def print_job(job_id: int) -> str:
    """Progress of a print job; the page refreshes itself (no JavaScript) until done."""
    job = db.get_or_404(PrintJob, job_id)
    return render_template("bibs/job.html", job=job, stale=job_is_stale(job))


@bp.route("/staff/print-jobs/<id:job_id>.pdf")
@roles_required(*ORGANISERS)
def print_job_pdf(job_id: int) -> Response:
    """The finished batch PDF, streamed from the file store (ranges and If-None-Match too):
    the web worker never holds it in memory."""
    job = db.get_or_404(PrintJob, job_id)
    path = pdf_path(job.id)
    if job.pdf_size is None or not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"bibs-{job.event.slug}-{job.id}.pdf",
        conditional=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
