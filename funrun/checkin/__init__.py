"""Race-day check-in: scanning bibs at the race-pack desk and other stations."""

from flask import Blueprint

bp = Blueprint("checkin", __name__)
