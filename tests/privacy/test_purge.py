"""The retention purge: personal data of old events goes, every figure stays."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from sqlalchemy import func, select

from funrun.enrolment.export import batch_file, create_batch
from funrun.enrolment.models import Enrolment, ExportAccess, ExportBatch
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.privacy.services import PURGED_NAME, PURGED_NIK, purge
from funrun.registration.models import Registration
from funrun.registration.services import find_by_token
from tests.privacy.conftest import (
    API,
    PASSWORD,
    TODAY,
    audit_rows,
    enrol_body,
    figures,
    login,
    person_of,
    registrations_of,
)


def snapshot() -> list[tuple]:
    """Every personal column of every table, to show that nothing changed."""
    db.session.rollback()
    rows: list[tuple] = []
    for model in (Person, Registration, Enrolment, ExportBatch):
        for obj in db.session.scalars(select(model).order_by(model.id)):
            rows.append(tuple(sorted((k, repr(v)) for k, v in vars(obj).items() if k[0] != "_")))
    return rows


def test_purge_keeps_every_figure_and_removes_the_personal_fields(tour):
    before = figures()
    assert before["totals"]["checked_in"] == 3 and before["totals"]["enrolled"] == 1
    assert before["totals"]["cancelled"] == 1 and before["totals"]["waitlisted"] == 1

    counts = purge(365, today=TODAY)

    assert (counts.events, counts.registrations, counts.enrolments, counts.batches) == (1, 6, 1, 1)
    assert counts.people == 5  # the sixth also runs in 2026
    assert counts.held == 0
    assert figures() == before
    cipher = data_cipher()
    for r in registrations_of(tour.old):
        assert r.purged_at is not None
        assert r.full_name == PURGED_NAME
        assert (r.phone, r.email, r.kpj_number, r.occupation) == ("", None, None, None)
        assert (r.emergency_contact, r.emergency_phone) == (None, None)
        if r.id == tour.both[0]:
            continue
        person = r.person
        assert person.purged_at is not None
        assert cipher.decrypt(person.nik_encrypted) == PURGED_NIK
        assert person.nik_hash != cipher.lookup_hash(tour.niks[r.id])
        assert person.birth_date == date(1984, 1, 1)  # the year stays
        assert person.nik_hash == f"purged:{person.id}"
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert enrolment.purged_at is not None
    assert (enrolment.full_name, enrolment.mother_maiden_name, enrolment.address) == (
        PURGED_NAME,
        "",
        "",
    )
    assert (enrolment.birth_place, enrolment.phone, enrolment.declared_income) == ("", "", 0)
    # The amounts charged stay: they are the scheme's and the sponsor's records.
    assert enrolment.monthly_total > 0
    # The export batch no longer carries the purged runner (a NIK is nowhere in it).
    batch = db.session.scalars(select(ExportBatch)).one()
    as_csv = batch_file(batch.number, "csv", user_id=None).decode()
    as_json = json.loads(batch_file(batch.number, "json", user_id=None))
    assert list(csv.reader(io.StringIO(as_csv)))[1:] == []
    assert as_json["enrolments"] == [] and as_json["count"] == 0
    for nik in tour.niks.values():
        assert nik not in as_csv
    assert db.session.scalar(
        select(func.count()).select_from(ExportAccess).where(ExportAccess.action == "purge")
    )
    # One audit row per event, with counts and no personal data.
    [row] = audit_rows("privacy_purge")
    assert row.target == "old-2015" and row.user_id is None
    assert "registrations=6" in row.detail
    for nik in tour.niks.values():
        assert nik not in (row.detail or "")


def test_a_runner_of_a_newer_event_keeps_that_registration_and_their_identity(tour):
    newer_before = [
        (r.full_name, r.phone, r.email, r.manage_token_hash) for r in registrations_of(tour.new)
    ]
    purge(365, today=TODAY)
    newer_after = [
        (r.full_name, r.phone, r.email, r.manage_token_hash) for r in registrations_of(tour.new)
    ]
    assert newer_after == newer_before
    assert all(r.purged_at is None for r in registrations_of(tour.new))
    old_id, new_id = tour.both
    person = person_of(new_id)
    assert person.purged_at is None
    assert data_cipher().decrypt(person.nik_encrypted) == tour.niks[old_id]
    assert db.session.get_one(Registration, old_id).purged_at is not None
    # Once the newer event is old too, they go as well.
    purge(365, today=date(2028, 1, 1))
    assert person_of(new_id).purged_at is not None


def test_purge_is_idempotent_and_a_dry_run_changes_nothing(tour):
    before = snapshot()
    dry = purge(365, today=TODAY, dry_run=True)
    assert (dry.events, dry.registrations, dry.people) == (1, 6, 5)
    assert snapshot() == before
    assert audit_rows("privacy_purge") == []

    purge(365, today=TODAY)
    after = snapshot()
    again = purge(365, today=TODAY)
    assert (again.registrations, again.people, again.enrolments, again.batches) == (0, 0, 0, 0)
    assert snapshot() == after
    # Nothing older than the period: nothing to do.
    assert purge(365 * 20, today=TODAY).events == 0


def test_an_enrolment_not_yet_exported_holds_its_registration_back(tour, client, make_staff):
    from funrun.bibs.services import payload_for

    staff = make_staff("organiser")
    late = db.session.get_one(Registration, tour.old_ids[4])  # moved up from the waitlist
    response = client.post(
        f"{API}/events/{tour.old.slug}/enrolments",
        json=enrol_body(code=payload_for(late)),
        headers=staff.headers,
    )
    assert response.status_code == 201
    counts = purge(365, today=TODAY)
    assert (counts.held, counts.registrations) == (1, 5)
    held = db.session.get_one(Registration, late.id)
    assert held.purged_at is None and held.person.purged_at is None
    # Exported, it goes at the next purge; the batch made before stays consistent.
    assert create_batch(user_id=None) is not None
    assert purge(365, today=TODAY).registrations == 1
    assert db.session.get_one(Registration, late.id).person.purged_at is not None


def test_pages_and_files_still_work_after_a_purge(tour, client, make_staff):
    purge(365, today=TODAY)
    admin = make_staff("admin", password=PASSWORD)
    login(client, admin.email)
    for url in (
        f"/staff/events/{tour.old.slug}/roster",
        f"/staff/events/{tour.old.slug}/roster/{tour.old_ids[0]}",
        f"/staff/events/{tour.old.slug}/roster.csv",
        "/staff/dashboard",
        "/staff/totals.csv",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        response.get_data()
        # The roster stream leaves stream_results on the session's connection, which the
        # test shares between requests (a request of its own starts afresh).
        db.session.remove()
    # The runner's manage link opens nothing any more.
    assert all(find_by_token(r.manage_token_hash) is None for r in registrations_of(tour.old))


def test_the_purge_command_prints_counts_and_honours_dry_run(tour, runner):
    dry = runner.invoke(args=["privacy", "purge", "--older-than", "365", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would purge" in dry.output and "registrations=6" in dry.output
    assert all(r.purged_at is None for r in registrations_of(tour.old))
    # The default period is FUNRUN_RETENTION_DAYS (365): 2015 is older than that.
    done = runner.invoke(args=["privacy", "purge"])
    assert done.exit_code == 0, done.output
    assert "registrations=6" in done.output and "old-2015" in done.output
    assert all(r.purged_at is not None for r in registrations_of(tour.old))
    bad = runner.invoke(args=["privacy", "purge", "--older-than", "-1"])
    assert bad.exit_code != 0


def test_batch_printed_bibs_of_a_purged_event_are_dropped(tour):
    from funrun.bibs.models import PrintJob

    for event in (tour.old, tour.new):
        db.session.add(PrintJob(event_id=event.id, status="done", total=1, done=1, pdf_size=4))
    db.session.commit()
    counts = purge(365, today=TODAY)
    assert counts.print_files == 1
    db.session.rollback()
    kept = {job.event_id: job.pdf_size for job in db.session.scalars(select(PrintJob))}
    assert kept == {tour.old.id: None, tour.new.id: 4}


def test_a_batch_shared_with_a_newer_event_keeps_its_other_rows_as_they_were(
    tour, client, make_staff
):
    from funrun.bibs.services import payload_for

    staff = make_staff("organiser")
    newer = next(r for r in registrations_of(tour.new) if r.id != tour.both[1])
    for event, registration_id in ((tour.old, tour.old_ids[4]), (tour.new, newer.id)):
        response = client.post(
            f"{API}/events/{event.slug}/enrolments",
            json=enrol_body(code=payload_for(db.session.get_one(Registration, registration_id))),
            headers=staff.headers,
        )
        assert response.status_code == 201, response.get_data(as_text=True)
    batch = create_batch(user_id=None)
    assert batch is not None and batch.count == 2
    number = batch.number
    csv_before = batch_file(number, "csv", user_id=None).decode().splitlines()
    json_before = json.loads(batch_file(number, "json", user_id=None))
    old_nik = tour.niks[tour.old_ids[4]]
    assert old_nik in "\n".join(csv_before)

    assert purge(365, today=TODAY).batches == 2  # the fixture's batch and this one

    csv_after = batch_file(number, "csv", user_id=None).decode().splitlines()
    json_after = json.loads(batch_file(number, "json", user_id=None))
    assert csv_after == [csv_before[0], *(line for line in csv_before[1:] if old_nik not in line)]
    assert len(csv_after) == 2
    assert json_after["enrolments"] == [
        row for row in json_before["enrolments"] if row["nik"] != old_nik
    ]
    assert json_after["enrolments"][0]["event"] == "new-2026"
