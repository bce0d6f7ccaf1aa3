"""Bibs: numbers, signed QR payloads, bib and e-ticket PDFs, batch printing."""

from flask import Blueprint

bp = Blueprint("bibs", __name__)
