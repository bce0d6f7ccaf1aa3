"""Race-day check-in: scanning bibs at the race-pack desk and other stations."""

from flask import Blueprint

from funrun.checkin.models import STATION_LABELS

bp = Blueprint("checkin", __name__)


@bp.app_template_filter("station")
def station_label(code: str | None) -> str:
    """A station as people read it (Race-pack pickup), not its code (pickup)."""
    return str(STATION_LABELS.get(code, code or ""))
