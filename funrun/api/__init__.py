"""The JSON API under /api/v1 (bearer tokens, no cookies, no CSRF)."""

from flask import Blueprint

from funrun.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
