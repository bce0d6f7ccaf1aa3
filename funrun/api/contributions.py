"""API: the public quote, what membership would cost, computed without enrolling anyone."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.wrappers import Response

from funrun.api import bp
from funrun.api.common import invalid
from funrun.api.schemas.contributions import ContributionQuote, quote_from_query
from funrun.contracts import ValidationFailed
from funrun.extensions import limiter
from funrun.ratelimit import (
    exempt_from_partner_limit,
    exempt_from_public_limit,
    partner_limit,
    public_limit,
    token_key,
)


@bp.get("/contributions/quote")
@limiter.limit(public_limit, exempt_when=exempt_from_public_limit)
@limiter.limit(partner_limit, key_func=token_key, exempt_when=exempt_from_partner_limit)
def contribution_quote() -> Response:
    """The contribution for an income, occupation, programmes and months (public)."""
    try:
        quote = quote_from_query(request.args)
    except ValidationFailed as failed:
        return invalid(failed.errors)
    return jsonify(ContributionQuote.dump({"contribution": quote.as_json()}))
