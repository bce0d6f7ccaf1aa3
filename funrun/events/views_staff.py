"""Organiser pages for events: the list, create, edit (quota, window, bibs), open/close."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.events import bp
from funrun.events.editing import (
    EventEditError,
    create_event,
    registrations_exist,
    set_registration_open,
    update_event,
)
from funrun.events.forms import EventForm, SwitchForm
from funrun.events.models import Event
from funrun.events.services import checked_in_counts, get_event, list_events, summarise


def _event_or_404(slug: str) -> Event:
    event = get_event(slug)
    if event is None:
        abort(404)
    return event


def _show_errors(form: EventForm, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            flash(" ".join(messages), "error")


@bp.route("/staff/events")
@roles_required(*ORGANISERS)
def manage_index() -> str:
    """Every event with its live figures and what an organiser can do with it."""
    events = list_events()
    return render_template(
        "events/manage.html",
        summaries=summarise(events),
        checked_in=checked_in_counts([e.id for e in events]),
        switch=SwitchForm(),
    )


@bp.route("/staff/events/new", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def create() -> Response | str | tuple[str, int]:
    """A new city event."""
    form = EventForm()
    if form.validate_on_submit():
        try:
            event = create_event(form.data_for_service(with_slug=True))
        except EventEditError as refused:
            _show_errors(form, refused.errors)
        else:
            flash(_("Event %(city)s created.", city=event.city), "success")
            return redirect(url_for("events.manage_index"))
    status = 422 if form.is_submitted() else 200
    return render_template("events/edit.html", form=form, event=None), status


@bp.route("/staff/events/<slug:slug>/edit", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def edit(slug: str) -> Response | str | tuple[str, int]:
    """Change an event; the quota never below the confirmed runners, raising it promotes."""
    event = _event_or_404(slug)
    form = EventForm()
    del form.slug  # the address is in every manage link and bib: it never changes
    if form.validate_on_submit():
        try:
            promoted = update_event(event, form.data_for_service(with_slug=False))
        except EventEditError as refused:
            _show_errors(form, refused.errors)
        else:
            flash(_("Event %(city)s saved.", city=event.city), "success")
            if promoted:
                flash(
                    _("%(n)d runners moved from the waitlist to confirmed.", n=len(promoted)),
                    "success",
                )
            return redirect(url_for("events.manage_index"))
    elif not form.is_submitted():
        form.fill(event)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "events/edit.html", form=form, event=event, has_runners=registrations_exist(event)
    ), status


@bp.route("/staff/events/<slug:slug>/registration/<any(open, close):action>", methods=["POST"])
@roles_required(*ORGANISERS)
def switch_registration(slug: str, action: str) -> Response:
    """Open or close registration for an event."""
    event = _event_or_404(slug)
    if not SwitchForm().validate_on_submit():
        abort(400)
    set_registration_open(event, action == "open")
    message = _("Registration opened.") if action == "open" else _("Registration closed.")
    flash(message, "success")
    return redirect(url_for("events.manage_index"))


# The shirt stock form (issue 19, point 6): routes of this blueprint, in their own module.
from funrun.events import stock_views as _stock_views  # noqa: E402,F401
