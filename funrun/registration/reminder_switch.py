"""The runner's switch for race-week reminders (messages they may turn off; everything
about a change they made, or news about their race, is always sent)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import update

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.outcomes import AlreadyCancelled


def set_reminders(registration: Registration, *, on: bool) -> None:
    """Turn the registration's race-week reminders on or off (refused once cancelled).

    A reminder already queued is not sent once they are off: the worker checks the switch
    as it sends.
    """
    registration_id = registration.id
    begin_write()
    changed = db.session.execute(
        update(Registration)
        .where(
            Registration.id == registration_id,
            Registration.status != RegistrationStatus.CANCELLED.value,
        )
        .values(reminders_off=not on, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        db.session.rollback()
        raise AlreadyCancelled(_("This registration was already cancelled."))
    db.session.commit()
