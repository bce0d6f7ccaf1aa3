"""Personal data (UU PDP): retention purge, a person's data export and erasure on request."""

from flask import Blueprint

bp = Blueprint("privacy", __name__)
