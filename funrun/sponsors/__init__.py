"""Sponsors who pay members' contributions: their lists of eligible people and budgets."""

from flask import Blueprint

bp = Blueprint("sponsors", __name__)


@bp.app_template_filter("sponsor_months")
def _months(months: int | None) -> str:
    from funrun.sponsors.budget import months_text

    return months_text(months)


@bp.app_template_filter("sponsor_rupiah")
def _rupiah(amount: int | None) -> str:
    from funrun.sponsors.budget import rupiah_text

    return rupiah_text(amount)
