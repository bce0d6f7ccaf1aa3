"""Rupiah in the page language: ``Rp 16.800`` (id) or ``Rp 16,800`` (en)."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_decimal


def rupiah(amount: int | None) -> str:
    """Whole rupiah with the locale's thousands separator."""
    if amount is None:
        return ""
    return f"Rp {format_decimal(amount, format='#,##0')}"


def init_app(app: Flask) -> None:
    """Register the ``rupiah`` template filter."""
    app.jinja_env.filters["rupiah"] = rupiah
