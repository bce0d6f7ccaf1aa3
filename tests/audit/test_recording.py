"""Every audited staff action leaves its row; none carries a NIK, password or token."""

from __future__ import annotations

import re
from datetime import date

from funrun.accounts import admin_services
from funrun.accounts.models import User
from funrun.enrolment.export import create_batch
from funrun.enrolment.services import enrol_registered, prepare
from funrun.extensions import db
from tests.audit.conftest import audit_rows
from tests.checkin.conftest import PASSWORD, browser, login
from tests.conftest import csrf_from
from tests.enrolment.conftest import enrol_body
from tests.reports.test_event_management import FORM

EVENT_FORM = {**FORM, "slug": "audit-city", "city": "Audit City"}


def test_sign_in_ok_failed_and_sign_out_are_recorded(app, make_staff):
    organiser = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    assert login(page, organiser.email, "wrong password!").status_code == 401
    assert login(page, "nobody@example.org", "hunter2-secret").status_code == 401
    assert login(page, organiser.email).status_code == 302
    token = csrf_from(page.get("/staff").get_data(as_text=True))
    assert page.post("/logout", data={"csrf_token": token}).status_code == 302

    failed = audit_rows("login_failed")
    assert [(r.target, r.user_id) for r in failed] == [
        (organiser.email, None),
        ("nobody@example.org", None),
    ]
    [ok] = audit_rows("login")
    assert (ok.user_id, ok.target) == (organiser.id, organiser.email)
    [out] = audit_rows("logout")
    assert out.user_id == organiser.id
    for row in audit_rows():
        assert "wrong password" not in f"{row.target}{row.detail}"
        assert "hunter2" not in f"{row.target}{row.detail}"


def test_undo_is_recorded(app, client, make_event, make_staff, add_runners):
    event = make_event(quota=5)
    add_runners(event, 1)
    volunteer = make_staff("volunteer", events=(event.slug,))
    organiser = make_staff("organiser", password=PASSWORD)
    scanned = client.post(
        f"/api/v1/events/{event.slug}/checkins",
        # A typed bib whose runner showed their ID card (issue 15).
        json={"code": "1", "method": "typed", "id_checked": True},
        headers=volunteer.headers,
    )
    checkin_id = scanned.json["checkin_id"]
    page = browser(app)
    login(page, organiser.email)
    html = page.get(f"/staff/events/{event.slug}/checkins").get_data(as_text=True)
    undone = page.post(f"/staff/checkins/{checkin_id}/undo", data={"csrf_token": csrf_from(html)})
    assert undone.status_code == 302
    [row] = audit_rows("undo")
    assert (row.user_id, row.event_id, row.target) == (organiser.id, event.id, f"#{checkin_id}")
    # Scans are not repeated in the audit log (scan_log has them).
    assert audit_rows("scan") == []


def test_enrolment_is_recorded_without_the_nik(
    app, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event(date=date(2015, 12, 13))
    runner = add_runner(event)
    staff = make_staff("organiser")
    user = db.session.get(User, staff.id)
    prepared = prepare(event, enrol_body(), walkup=False)
    enrolled = enrol_registered(event, runner, prepared, user=user, locale="id")
    [row] = audit_rows("enrolment")
    assert (row.user_id, row.event_id) == (staff.id, event.id)
    assert row.target == enrolled.participant_number
    # A NIK is 16 digits: none in any audit row.
    assert not re.search(r"\d{16}", f"{row.target}{row.detail}")


def test_event_edit_and_switch_are_recorded(app, make_event, make_staff):
    event = make_event()
    organiser = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    login(page, organiser.email)
    html = page.get("/staff/events").get_data(as_text=True)
    closed = page.post(
        f"/staff/events/{event.slug}/registration/close", data={"csrf_token": csrf_from(html)}
    )
    assert closed.status_code == 302
    form = page.get(f"/staff/events/{event.slug}/edit").get_data(as_text=True)
    assert page.get(f"/staff/events/{event.slug}/edit").status_code == 200
    [row] = audit_rows("event_close")
    assert (row.user_id, row.event_id, row.target) == (organiser.id, event.id, event.slug)
    assert csrf_from(form)


def test_export_downloads_are_recorded(app, make_event, make_staff, add_runners):
    event = make_event()
    add_runners(event, 2)
    organiser = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    login(page, organiser.email)
    # Bodies read: an export is logged once its body was served (issue 15, point 4).
    assert page.get("/staff/totals.csv").data.startswith(b"slug,city")
    assert page.get(f"/staff/events/{event.slug}/roster.csv").data.startswith(b"event,city")
    totals, roster = audit_rows("export")
    assert totals.user_id == organiser.id and totals.target.startswith("funrun-totals-")
    assert (roster.target, roster.event_id) == (f"roster-{event.slug}.csv", event.id)


def test_people_actions_are_recorded_and_tokens_never_stored(app, make_staff):
    admin = make_staff("admin", password=PASSWORD)
    volunteer = make_staff("volunteer")
    page = browser(app)
    login(page, admin.email)
    html = page.get(f"/staff/people/{volunteer.id}").get_data(as_text=True)
    issued = page.post(f"/staff/people/{volunteer.id}/tokens", data={"csrf_token": csrf_from(html)})
    assert issued.status_code == 200
    shown = issued.get_data(as_text=True)
    admin_services.set_active(
        db.session.get(User, volunteer.id), False, by=db.session.get(User, admin.id)
    )
    [issue] = audit_rows("token_issue")
    assert (issue.user_id, issue.target) == (admin.id, volunteer.email)
    [off] = audit_rows("deactivate")
    assert (off.user_id, off.target) == (admin.id, volunteer.email)
    secrets = [admin.token, volunteer.token, PASSWORD]
    secrets += re.findall(r"frn_[\w-]+", shown)
    assert len(secrets) > 3
    for row in audit_rows():
        for secret in secrets:
            assert secret not in f"{row.target}{row.detail}"


def test_a_password_typed_as_the_email_is_not_stored(app):
    page = browser(app)
    assert login(page, "MySecretPass123", "whatever-else").status_code in (400, 401)
    for row in audit_rows("login_failed"):
        assert row.target is None


def test_event_create_and_edit_are_recorded(app, make_staff):
    organiser = make_staff("organiser", password=PASSWORD)
    page = browser(app)
    login(page, organiser.email)

    def post(url, **changes):
        token = csrf_from(page.get(url).get_data(as_text=True))
        return page.post(url, data={**EVENT_FORM, **changes, "csrf_token": token})

    assert post("/staff/events/new").status_code == 302
    assert post("/staff/events/audit-city/edit", quota="1200").status_code == 302
    [made] = audit_rows("event_create")
    [edited] = audit_rows("event_edit")
    assert (made.user_id, made.target) == (organiser.id, "audit-city")
    assert (edited.user_id, edited.event_id) == (organiser.id, made.event_id)
    assert "1200" in edited.detail


def test_enrolment_batch_making_and_download_are_recorded(
    app, make_event, make_staff, add_runner, on_finale_day
):
    event = make_event(date=date(2015, 12, 13))
    organiser = make_staff("organiser", password=PASSWORD)
    prepared = prepare(event, enrol_body(), walkup=False)
    enrol_registered(
        event, add_runner(event), prepared, user=db.session.get(User, organiser.id), locale="id"
    )
    batch = create_batch(user_id=organiser.id)
    [made] = audit_rows("export_batch")
    assert (made.user_id, made.target, made.detail) == (
        organiser.id,
        f"enrolments-batch-{batch.number:04d}",
        "1",
    )
    page = browser(app)
    login(page, organiser.email)
    download = page.get(f"/staff/enrolment/exports/{batch.number}.csv")
    assert download.status_code == 200 and audit_rows("export") == []  # not served yet
    assert download.data.startswith(b"batch_number,")
    [row] = audit_rows("export")
    assert (row.user_id, row.target) == (organiser.id, f"enrolments-batch-{batch.number:04d}.csv")


def test_account_create_and_assign_are_recorded(app, make_event, make_staff):
    event = make_event()
    admin = make_staff("admin", password=PASSWORD)
    page = browser(app)
    login(page, admin.email)
    token = csrf_from(page.get("/staff/people/new").get_data(as_text=True))
    made = page.post(
        "/staff/people/new",
        data={
            "email": "new-volunteer@example.org",
            "role": "volunteer",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": token,
        },
    )
    assert made.status_code == 302
    [created] = audit_rows("account_create")
    assert (created.user_id, created.target) == (admin.id, "new-volunteer@example.org")
    volunteer = db.session.scalar(db.select(User).where(User.email == "new-volunteer@example.org"))
    admin_services.assign_event(volunteer, event.id)
    [assigned] = audit_rows("assign")
    assert (assigned.target, assigned.event_id) == ("new-volunteer@example.org", event.id)
    for row in audit_rows():
        assert PASSWORD not in f"{row.target}{row.detail}"
