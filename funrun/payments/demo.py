"""Demo payments, so the dashboard's funnel shows every step (``flask seed-demo``).

The first city races today: some of its non-members collect their race pack, a third of
those enrol at the desk (the real enrolment rule, a few dozen at most), and a made-up
payment file is imported through the real import (months 1 to 3 for 80, 55 and 40% of
them: demo data, the later months paid in advance).
"""

from __future__ import annotations

import random
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from funrun.checkin.models import CheckIn
from funrun.dbtypes import utcnow
from funrun.enrolment.contribution import month_start
from funrun.enrolment.models import Enrolment
from funrun.enrolment.services import enrol_registered, prepare
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus
from funrun.reports.figures import PICKUP

#: At most this many demo enrolments (each is a real enrolment: a few ms apiece).
MAX_MEMBERS = 40
_ENROLMENT = {
    "birth_place": "Batam",
    "mother_maiden_name": "Sri Wahyuni",
    "address": "Jl. Demo No. 1",
    "occupation": "ojek_driver",
    "declared_income": 1500000,
    "programs": ["JKK", "JKM"],
    "months": 1,
    "payment_channel": "cash",
    "consent": True,
}


def seed_payments(seed: int = 2015, now: datetime | None = None) -> tuple[int, int]:
    """Check in, enrol and pay for some of the first city's runners; (enrolled, paid)."""
    from funrun.payments.importing import import_file

    now = now or utcnow()
    rng = random.Random(seed)
    event = db.session.scalars(select(Event).order_by(Event.date, Event.id)).first()
    if event is None:
        return 0, 0
    already = select(Enrolment.registration_id)
    candidates = list(
        db.session.scalars(
            select(Registration)
            .where(
                Registration.event_id == event.id,
                Registration.status == RegistrationStatus.CONFIRMED,
                ~Registration.is_member,
                Registration.id.not_in(already),
            )
            .order_by(Registration.id)
            .limit(MAX_MEMBERS * 3)
        )
    )
    checked = [r for r in candidates if rng.random() < 0.7]
    for registration in checked:
        db.session.add(
            CheckIn(
                event_id=event.id, registration_id=registration.id, station=PICKUP, device="demo"
            )
        )
    db.session.commit()
    members = []
    for registration in checked[:MAX_MEMBERS]:
        if rng.random() < 0.6:
            prepared = prepare(event, _ENROLMENT, walkup=False, now=now)
            done = enrol_registered(event, registration, prepared, user=None, locale="id", now=now)
            members.append(done.participant_number)
    first = month_start(now.date())
    lines = ["participant_number,month,amount"]
    for number in members:
        for n, share in enumerate((0.8, 0.55, 0.4)):
            if rng.random() < share:
                lines.append(f"{number},{month_start(first, n):%Y-%m},25000")
    with tempfile.TemporaryDirectory(prefix="funrun-demo-") as folder:
        path = Path(folder) / "demo-payments.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = import_file(path, filename="demo-payments.csv")
    return len(members), result.accepted
