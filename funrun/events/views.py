"""Public pages: the tour with live places per city, and one city's page."""

from __future__ import annotations

from flask import abort, render_template

from funrun.events import bp
from funrun.events.services import current_tour, list_events, summarise, summary_of


@bp.route("/")
def index() -> str:
    """The tour: every city with its date and live remaining places."""
    return render_template(
        "events/index.html", tour=current_tour(), summaries=summarise(list_events())
    )


@bp.route("/events/<slug:slug>")
def event_page(slug: str) -> str:
    """One city's Fun Run: when, where, places left, and the way to register."""
    summary = summary_of(slug)
    if summary is None:
        abort(404)
    return render_template("events/event.html", summary=summary)
