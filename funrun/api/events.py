"""API: events with their live places, the organisers' figures, the keys and this
document: the read-only answers."""

from __future__ import annotations

from flask import current_app, jsonify
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS
from funrun.accounts.auth import require_roles
from funrun.api import bp
from funrun.api.common import event_not_found
from funrun.api.openapi import openapi_document
from funrun.api.schemas.events import Event
from funrun.api.schemas.stats import Stats
from funrun.bibs.signing import bib_signer
from funrun.events.services import list_events, summarise, summary_of
from funrun.reports.figures import tour_figures


@bp.get("/events")
def events_index() -> Response:
    """Every event with live places."""
    return jsonify({"events": [Event.of(s) for s in summarise(list_events())]})


@bp.get("/events/<slug:slug>")
def event_detail(slug: str) -> Response:
    """One event with live places."""
    summary = summary_of(slug)
    if summary is None:
        return event_not_found()
    return jsonify(Event.of(summary))


@bp.get("/stats")
@require_roles(*ORGANISERS)
def stats() -> Response:
    """Per-city figures and the tour totals: the same numbers as the dashboard and exports."""
    response = jsonify(Stats.of(tour_figures()))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/signing-key")
def signing_key() -> Response:
    """The public keys that verify bib QR payloads, as a JWK set (RFC 8037)."""
    response = jsonify(bib_signer().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document describing this API."""
    # Never from the Host or X-Forwarded-Host header (a cached document would send
    # clients elsewhere): the configured public URL, else a URL relative to this document.
    base = current_app.config.get("FUNRUN_PUBLIC_URL") or ""
    response = jsonify(openapi_document(base.rstrip("/") + (bp.url_prefix or "")))
    response.headers["Cache-Control"] = "no-cache"
    return response
