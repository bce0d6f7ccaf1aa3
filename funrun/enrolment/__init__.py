"""On-site enrolment: non-members leave the venue as members of the scheme."""

from flask import Blueprint

bp = Blueprint("enrolment", __name__)
