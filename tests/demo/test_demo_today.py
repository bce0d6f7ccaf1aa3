"""The demo works today: seed-demo races its first city today, and the demo volunteer
(printed by the command) signs in, finds that city on the scan page and checks a runner in."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from funrun.checkin.models import CheckIn
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from tests.checkin.conftest import browser, login
from tests.conftest import csrf_from


def test_the_demo_volunteer_scans_the_city_racing_today(app, runner):
    result = runner.invoke(args=["seed-demo", "--runners", "300"])
    assert result.exit_code == 0, result.output
    logins = re.findall(r"demo log-in\s+(\w+)\s+(\S+@\S+)\s+password: (\S+)", result.output)
    email, password = next((e, p) for role, e, p in logins if role == "volunteer")
    db.session.rollback()
    today = db.session.scalar(select(Event).where(Event.date == date.today()))
    assert today is not None and today.confirmed_count > 0  # runners to find at the desk
    runner_row = db.session.scalar(
        select(Registration)
        .where(Registration.event_id == today.id, Registration.status == "confirmed")
        .order_by(Registration.bib_number)
        .limit(1)
    )
    client = browser(app)
    assert login(client, email, password).status_code == 302
    choose = client.get("/staff/scan?lang=en").get_data(as_text=True)
    url = f"/staff/events/{today.slug}/scan"
    assert url in choose
    page = client.get(url + "?lang=en")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    bib = today.format_bib(runner_row.bib_number)
    done = client.post(url + "?lang=en", data={"code": bib, "id_checked": "1", "csrf_token": token})
    assert done.status_code in (200, 201), done.status_code
    db.session.rollback()
    checked = db.session.scalars(
        select(CheckIn).where(CheckIn.registration_id == runner_row.id)
    ).all()
    assert len(checked) == 1
