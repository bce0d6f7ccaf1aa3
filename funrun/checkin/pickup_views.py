"""What the desk's pages show of pickups with details: the representative a runner named
(on their card) and the shirts left per size (on the scan page at the race-pack pickup)."""

from __future__ import annotations

from sqlalchemy import select

from funrun.checkin import bp
from funrun.events.models import Event
from funrun.events.stock import SizeStock, shirts_left
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.registration.validation import national_format


@bp.app_template_global()
def named_representative(registration_id: int) -> tuple[str, str] | None:
    """The representative a runner named on their manage page: (name, phone), or None."""
    row = db.session.execute(
        select(Registration.proxy_name, Registration.proxy_phone).where(
            Registration.id == registration_id
        )
    ).first()
    if row is None or not row.proxy_name:
        return None
    return row.proxy_name, national_format(row.proxy_phone) or ""


@bp.app_template_global()
def desk_shirts_left(event: Event) -> list[SizeStock]:
    """The sizes with stock set and what is left of each (empty: no stock set)."""
    return shirts_left(event)
