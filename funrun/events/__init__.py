"""City events of a tour: the public pages that list them."""

from flask import Blueprint

bp = Blueprint("events", __name__)
