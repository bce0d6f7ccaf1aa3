"""The ballot's pages: the published results (public, after the draw) and the
organiser's page with the draw's button and progress."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.ballot.draw import DrawRefused
from funrun.ballot.jobs import latest_job, start_draw
from funrun.ballot.results import figures, results_csv
from funrun.dbtypes import utcnow
from funrun.events.models import Event, Opening
from funrun.events.services import get_event
from funrun.jobs.models import JobStatus

bp = Blueprint("ballot", __name__)


class DrawForm(FlaskForm):
    """Draws the ballot (a button: the CSRF token is the point)."""


def _event_or_404(slug: str) -> Event:
    event = get_event(slug)
    if event is None:
        abort(404)
    return event


@bp.route("/events/<slug:slug>/ballot.csv")
def results(slug: str) -> Response:
    """The draw's results: rank, entry number, outcome (no names, no NIK); 404 before."""
    event = _event_or_404(slug)
    if event.opening != Opening.BALLOT or event.ballot_drawn_at is None:
        abort(404)
    response = make_response(results_csv(event.id))
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="ballot-{event.slug}.csv"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/staff/events/<slug:slug>/ballot", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def manage(slug: str) -> Response | str:
    """The ballot: its entries, the draw's button once entries close, the draw's progress
    (the page refreshes itself while the worker draws) and its outcome."""
    event = _event_or_404(slug)
    form = DrawForm()
    if form.validate_on_submit():  # CSRF checked app-wide: a forged POST is a 400 already
        try:
            start_draw(event)
        except DrawRefused as exc:
            flash(str(exc), "error")
        else:
            flash(_("The draw is queued: this page shows when it is done."), "success")
        return redirect(url_for("ballot.manage", slug=slug), code=303)
    job = latest_job(event.id) if event.opening == Opening.BALLOT else None
    return render_template(
        "ballot/manage.html",
        event=event,
        form=form,
        figures=figures(event.id),
        job=job,
        working=job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING),
        entries_closed=bool(
            event.registration_closes_at and utcnow() >= event.registration_closes_at
        ),
    )
