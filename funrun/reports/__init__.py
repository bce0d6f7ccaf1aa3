"""Organisers watch and report the tour: dashboard, per-city totals, rosters, exports."""

from flask import Blueprint

bp = Blueprint("reports", __name__)


@bp.record_once
def _filters(state: object) -> None:
    from funrun.reports.dashboard import register_filters

    register_filters(state)
