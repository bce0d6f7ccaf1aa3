"""Audit: what staff did (sign-ins, undo, enrolments, edits, exports), for admins to review."""

from flask import Blueprint

bp = Blueprint("audit", __name__)
