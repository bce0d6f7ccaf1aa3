"""The desk's search on the scan page: find a runner by name, phone, bib or NIK.

POST, never GET: what is typed may be a NIK, which must stay out of addresses, browser
history and access logs. The form serves browsers without JavaScript (the scan page
again, with the cards found); the page's script sends the same form with its CSRF token
in ``X-CSRFToken`` and ``Accept: application/json``, and gets the same cards as JSON and
as the HTML of the card template (templates/checkin/_desk_card.html), so both ways show
the one card. Checking a runner in from a card is the scan page's own typed check-in.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.accounts.access import DESK_STAFF, roles_required
from funrun.checkin import bp
from funrun.checkin.desk import event_for_desk
from funrun.checkin.search import BIB, NAME, NIK, PHONE, Found, SearchRefused, search
from funrun.checkin.views import render_scan, station_of
from funrun.events.models import Event


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _query() -> object:
    if request.is_json:
        body = request.get_json(silent=True)
        return body.get("q") if isinstance(body, dict) else None
    return request.form.get("q")


def found_words(found: Found) -> str:
    """What the desk says about a search's answer, in words (never the query itself)."""
    how = {
        NIK: _("by NIK"),
        PHONE: _("by mobile number"),
        BIB: _("by bib"),
        NAME: _("by name"),
    }[found.kind]
    if not found.cards:
        return _("No runner of this event found %(how)s.", how=how)
    words = _("Runners found %(how)s: %(n)d.", how=how, n=len(found.cards))
    if found.more:
        words += " " + _("Only the first %(n)d are shown: type more.", n=len(found.cards))
    return words


def _cards_html(event: Event, station: str, found: Found) -> str:
    return render_template("checkin/_desk_results.html", event=event, station=station, found=found)


@bp.route("/staff/events/<slug:slug>/scan/search", methods=["POST"])
@roles_required(*DESK_STAFF)
def desk_search(slug: str) -> Response | tuple[Any, int]:
    """Search the event's runners; the scan page with the cards, or JSON for its script."""
    event = event_for_desk(slug)
    station = station_of(event)
    try:
        found = search(event, _query(), station)
    except SearchRefused as refused:
        if _wants_json():
            return jsonify({"error": str(refused)}), 400
        return render_scan(event, station, 400, search_error=str(refused))
    if _wants_json():
        body = {
            "kind": found.kind,
            "message": found_words(found),
            "more": found.more,
            "results": [card.as_json() for card in found.cards],
            "html": _cards_html(event, station, found),
        }
        return jsonify(body), 200
    return render_scan(event, station, 200, found=found, found_message=found_words(found))
