"""Who a sponsor pays for and within what budget (issue 20, point 2): the API and the
services, on the session's database (SQLite, or PostgreSQL in the PostgreSQL run)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from funrun.bibs.services import payload_for
from funrun.enrolment.models import Enrolment, Sponsor
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.registration.models import Registration
from funrun.sponsors.eligibility import offers_for
from tests.conftest import person_payload
from tests.sponsors.conftest import (
    APBD,
    MONTH,
    assert_problem,
    desk_browser,
    enrol_body,
    list_niks,
    next_index,
    sponsored,
    walkup_body,
)

API = "/api/v1"


@pytest.fixture
def api(app):
    """A client whose every request has its own context (its own locale)."""
    return desk_browser(app)


def enrolments() -> list[Enrolment]:
    db.session.rollback()
    return list(db.session.scalars(select(Enrolment).order_by(Enrolment.id)))


def enrol(api, staff, event, runner, body, lang="id"):
    return api.post(
        f"{API}/events/{event.slug}/enrolments",
        json={**body, "code": payload_for(runner)},
        headers={**staff.headers, "Accept-Language": lang},
    )


def nik_of(runner: Registration) -> str:
    return data_cipher().decrypt(runner.person.nik_encrypted)


def test_a_sponsor_without_a_list_pays_for_anyone_as_before(
    app, api, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,))
    response = enrol(api, staff, event, add_runner(event), sponsored(months=12))
    assert response.status_code == 201, response.get_json()
    [enrolment] = enrolments()
    assert enrolment.sponsor.code == APBD
    assert (enrolment.amount_due, enrolment.sponsor_amount) == (0, 12 * MONTH)


def test_a_sponsor_with_a_list_pays_only_for_listed_people(
    app, api, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,))
    listed, other = add_runner(event), add_runner(event)
    list_niks(APBD, [nik_of(listed)])
    for lang, words in (("id", "hanya membayar"), ("en", "pays only for")):
        refused = enrol(api, staff, event, other, sponsored(), lang=lang)
        problem = assert_problem(refused, 422)
        assert words in " ".join(problem["errors"]["sponsor"]), problem
    assert enrolments() == []
    # The one not listed can still enrol paying themselves...
    assert enrol(api, staff, event, other, enrol_body()).status_code == 201
    # ...and the listed one is paid for.
    assert enrol(api, staff, event, listed, sponsored()).status_code == 201
    paid = {e.registration_id: e.sponsor_id for e in enrolments()}
    apbd = db.session.scalar(select(Sponsor.id).where(Sponsor.code == APBD))
    assert paid == {other.id: None, listed.id: apbd}


def test_no_payer_named_and_on_a_list_the_sponsor_pays(
    app, api, make_event, make_staff, add_runner, on_finale_day
):
    """The API follows the desk's pre-selection: no channel and no sponsor sent, an
    eligible runner's enrolment is charged to the sponsor; a channel sent is kept."""
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,))
    eligible, paying, unlisted = add_runner(event), add_runner(event), add_runner(event)
    list_niks(APBD, [nik_of(eligible), nik_of(paying)])
    body = enrol_body(occupation="street_sweeper", payment_channel=None)
    assert enrol(api, staff, event, eligible, body).status_code == 201
    assert enrol(api, staff, event, paying, {**body, "payment_channel": "cash"}).status_code == 201
    missing = assert_problem(enrol(api, staff, event, unlisted, body), 422)
    assert "payment_channel" in missing["errors"]
    got = {e.registration_id: (e.sponsor_id is not None, e.amount_due) for e in enrolments()}
    assert got == {eligible.id: (True, 0), paying.id: (False, MONTH)}


def test_a_walkup_on_the_list_is_recognised_by_the_nik_typed(
    app, api, make_event, make_staff, on_finale_day
):
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,))
    body = walkup_body(occupation="street_sweeper", payment_channel=None)
    list_niks(APBD, [body["nik"]])
    response = api.post(f"{API}/events/{event.slug}/enrolments", json=body, headers=staff.headers)
    assert response.status_code == 201, response.get_json()
    [enrolment] = enrolments()
    assert enrolment.sponsor.code == APBD and enrolment.sponsor_amount == MONTH


def test_the_member_months_budget_is_consumed_and_then_refused(
    app, api, make_event, make_staff, add_runner, set_sponsor, on_finale_day
):
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,))
    set_sponsor(budget_member_months=4)
    first, second, third = add_runner(event), add_runner(event), add_runner(event)
    assert enrol(api, staff, event, first, sponsored(months=3)).status_code == 201
    for lang, words in (("id", "Anggaran"), ("en", "budget of")):
        refused = assert_problem(enrol(api, staff, event, second, sponsored(months=3), lang), 409)
        assert words in refused["title"] and "1" in refused["title"], refused
        assert refused["type"].endswith("/sponsor-refused")
    assert len(enrolments()) == 1
    # One member-month is left: a 1-month enrolment fits, then nothing is left.
    assert enrol(api, staff, event, second, sponsored(months=1)).status_code == 201
    assert offers_for(data_cipher().lookup_hash(nik_of(third))) == []
    assert_problem(enrol(api, staff, event, third, sponsored(months=1)), 409)
    # Paying themselves is still possible.
    assert enrol(api, staff, event, third, enrol_body()).status_code == 201
    assert [e.months for e in enrolments() if e.sponsor_id] == [3, 1]


def test_the_rupiah_budget_counts_the_sponsor_amount(
    app, api, make_event, make_staff, add_runner, set_sponsor, on_finale_day
):
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,))
    set_sponsor(budget_rupiah=2 * MONTH + 100)
    runners = [add_runner(event) for _ in range(3)]
    assert enrol(api, staff, event, runners[0], sponsored()).status_code == 201
    assert enrol(api, staff, event, runners[1], sponsored()).status_code == 201
    refused = assert_problem(enrol(api, staff, event, runners[2], sponsored(), "en"), 409)
    assert "Rp 100" in refused["title"], refused
    db.session.rollback()
    total = db.session.scalar(select(func.sum(Enrolment.sponsor_amount)))
    assert total == 2 * MONTH


def test_an_inactive_sponsor_is_neither_offered_nor_charged(
    app, api, make_event, make_staff, add_runner, set_sponsor, on_finale_day
):
    event = make_event()
    staff = make_staff("volunteer", events=(event.slug,))
    runner = add_runner(event)
    list_niks(APBD, [nik_of(runner)])
    assert [o.code for o in offers_for(data_cipher().lookup_hash(nik_of(runner)))] == [APBD]
    set_sponsor(active=False)
    assert offers_for(data_cipher().lookup_hash(nik_of(runner))) == []
    assert_problem(enrol(api, staff, event, runner, sponsored()), 422)
    assert enrolments() == []


def test_the_locked_check_refuses_even_when_the_precheck_passed(
    app, make_event, add_runner, set_sponsor, on_finale_day
):
    """The budget used up between the review and the confirm: the write refuses, and
    nothing of the enrolment is stored."""
    from funrun.enrolment.services import enrol_registered, prepare
    from funrun.sponsors.budget import OverBudget

    event = make_event()
    set_sponsor(budget_member_months=1)
    first, second = add_runner(event), add_runner(event)
    ready = [prepare(event, sponsored(), walkup=False, registration=r) for r in (first, second)]
    enrol_registered(event, first, ready[0], user=None, locale="id")
    try:
        enrol_registered(event, second, ready[1], user=None, locale="id")
    except OverBudget:
        pass
    else:  # pragma: no cover
        raise AssertionError("charged beyond the budget")
    assert [e.registration_id for e in enrolments()] == [first.id]


def test_person_payload_helper_is_unchanged():
    assert len(person_payload(next_index())["nik"]) == 16
