"""The funnel per city, aggregator and sponsor, on the dashboard and in its files."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from sqlalchemy import select, update

from funrun.bibs.services import payload_for
from funrun.dbtypes import utcnow
from funrun.enrolment.models import Sponsor
from funrun.extensions import db
from funrun.payments.funnel import funnel_rows, funnel_total
from funrun.payments.models import Payment, PaymentFile
from funrun.registration.models import Registration
from funrun.reports.figures import tour_figures
from tests.checkin.conftest import API, make_staff  # noqa: F401
from tests.payments.conftest import ENROLLED_AT
from tests.reports.conftest import browser, login, read_xlsx


def _pay(enrolment_id: int, *months: date) -> None:
    paid = PaymentFile(filename="f.csv", sha256=f"{enrolment_id:064d}", status="done")
    db.session.add(paid)
    db.session.flush()
    for month in months:
        number = (month.year * 12 + month.month) - (2015 * 12 + 12) + 1  # 2015-12 is 1
        db.session.add(
            Payment(
                enrolment_id=enrolment_id,
                month=month,
                month_number=number,
                amount=1,
                file_id=paid.id,
            )
        )
    db.session.commit()


def _story(client, make_event, add_runner, enrol, make_staff):  # noqa: F811
    """Batam: 4 non-members (one cancelled) and a member, 3 checked in, 2 enrolled (one by
    a sponsor), who paid months 1+2 and 1+3. Medan: 1 non-member held for a partner's group."""
    batam = make_event(slug="batam", city="Batam", date=ENROLLED_AT.date(), quota=10)
    medan = make_event(slug="medan", city="Medan", date=date(2015, 12, 20), quota=10)
    partner = make_staff("partner")
    volunteer = make_staff("volunteer", events=("batam",))
    a, b, c, gone = (add_runner(batam) for _ in range(4))
    add_runner(batam, member=True, kpj_number="12345678901")
    held = add_runner(medan)
    ids = {"a": a.id, "b": b.id, "c": c.id, "gone": gone.id, "held": held.id}
    db.session.execute(
        update(Registration)
        .where(Registration.id.in_([ids["a"], ids["b"], ids["held"]]))
        .values(partner_id=partner.id)
    )
    db.session.execute(
        update(Registration)
        .where(Registration.id == ids["held"])
        .values(status="held", hold_expires_at=utcnow() + timedelta(days=7))
    )
    db.session.execute(
        update(Registration).where(Registration.id == ids["gone"]).values(status="cancelled")
    )
    db.session.commit()
    for key in ("a", "b", "c"):
        reg = db.session.get_one(Registration, ids[key])
        reply = client.post(
            f"{API}/events/batam/checkins",
            json={"code": payload_for(reg)},
            headers=volunteer.headers,
        )
        assert reply.status_code == 201, reply.get_data(as_text=True)
    sponsor = db.session.scalars(select(Sponsor).order_by(Sponsor.id)).first()
    first = enrol(batam, db.session.get_one(Registration, ids["a"]))
    second = enrol(
        batam,
        db.session.get_one(Registration, ids["b"]),
        sponsor=sponsor.code,
        payment_channel=None,
    )
    _pay(first.id, date(2015, 12, 1), date(2016, 1, 1))
    _pay(second.id, date(2015, 12, 1), date(2016, 2, 1), date(2016, 3, 1))
    return partner, sponsor


def test_the_funnel_per_city_aggregator_and_sponsor(
    client,
    make_event,
    add_runner,
    enrol,
    make_staff,  # noqa: F811
):
    partner, sponsor = _story(client, make_event, add_runner, enrol, make_staff)
    by_city = {r.label: r for r in funnel_rows("city")}
    assert list(by_city) == ["Batam", "Medan"]
    batam = by_city["Batam"]
    assert (batam.registered_non_members, batam.checked_in, batam.enrolled) == (3, 3, 2)
    assert (batam.paid_month_1, batam.paid_month_2, batam.paid_month_3) == (2, 1, 1)
    assert by_city["Medan"].registered_non_members == 1 and by_city["Medan"].checked_in == 0
    steps = batam.steps()
    assert [s.count for s in steps] == [3, 3, 2, 2, 1, 1]
    assert steps[0].of_previous is None and steps[2].of_previous == 2 / 3
    assert steps[4].share == 1 / 3

    by_partner = funnel_rows("aggregator")
    assert [r.label for r in by_partner][-1] in ("none", "tidak ada")
    mine = by_partner[0]
    assert (mine.registered_non_members, mine.checked_in, mine.enrolled) == (3, 2, 2)
    assert by_partner[-1].registered_non_members == 1 and by_partner[-1].rest

    by_sponsor = {r.label: r for r in funnel_rows("sponsor")}
    assert by_sponsor[sponsor.name].enrolled == 1 and by_sponsor[sponsor.name].paid_month_3 == 1
    self_paid = next(r for r in by_sponsor.values() if r.rest)
    assert (self_paid.registered_non_members, self_paid.enrolled) == (3, 1)

    only = funnel_rows("city", partner_id=partner.id)
    assert [(r.label, r.registered_non_members) for r in only] == [("Batam", 2), ("Medan", 1)]
    total = funnel_total(funnel_rows("city"))
    assert total.registered_non_members == 4 and total.paid_month_1 == 2

    # The tour's figures: paid months per event and the held place.
    figures = {row.slug: row for row in tour_figures().events}
    assert (figures["batam"].paid_month_1, figures["batam"].paid_month_2) == (2, 1)
    assert figures["batam"].paid_month_3 == 1 and figures["medan"].held == 1


def test_the_dashboard_shows_the_funnel_and_its_files(
    app,
    client,
    make_event,
    add_runner,
    enrol,
    make_staff,  # noqa: F811
):
    _story(client, make_event, add_runner, enrol, make_staff)
    staff = make_staff("organiser", password="correct horse battery")
    organiser = browser(app)
    assert login(organiser, staff.email).status_code == 302
    page = organiser.get("/staff/dashboard").get_data(as_text=True)
    assert 'id="funnel"' in page and "funnel-chart" in page
    assert 'data-funnel="5">1 <small>100,0%</small>' in page  # Batam's third month: 1 of 1
    assert organiser.get("/staff/dashboard?funnel=sponsor").status_code == 200
    assert organiser.get("/staff/dashboard?funnel=nope").status_code == 400
    english = organiser.get("/staff/dashboard?funnel=aggregator&lang=en")
    assert english.status_code == 200

    text = organiser.get("/staff/funnel/city.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["city"] for r in rows][:2] == ["Batam", "Medan"]
    assert rows[0]["paid_month_2"] == "1" and rows[0]["enrolled_of_previous"] == "0.6667"
    assert rows[-1]["registered_non_members"] == "4"
    sheet, _xml = read_xlsx(organiser.get("/staff/funnel/sponsor.xlsx").data)
    assert sheet[0][0] and sheet[-1][1] == 4.0
    assert organiser.get("/staff/funnel/nope.csv").status_code == 404
    assert organiser.get("/staff/funnel/city.pdf").status_code == 404
