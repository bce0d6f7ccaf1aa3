"""Registration: the runner's form, confirmation and manage link."""

from flask import Blueprint

bp = Blueprint("registration", __name__)
