"""A person's data on request: found by NIK, downloaded, deleted (admins only, audited)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from funrun.enrolment.export import batch_file
from funrun.enrolment.models import Enrolment, ExportBatch
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.privacy.services import PURGED_NAME, PURGED_NIK
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.services import new_manage_token
from tests.checkin.conftest import browser
from tests.conftest import csrf_from
from tests.privacy.conftest import (
    API,
    PASSWORD,
    audit_rows,
    enrol_body,
    figures,
    login,
    person_of,
)


@pytest.fixture
def web(app):
    """A browser whose requests each run in their own app context, as on a server."""
    return browser(app)


@pytest.fixture
def admin(web, make_staff):
    """An admin signed in on ``web``."""
    staff = make_staff("admin", password=PASSWORD)
    login(web, staff.email)
    return staff


def find(client, nik: str, lang: str = "id"):
    """Post the NIK form the way the page does (CSRF token from the page)."""
    token = csrf_from(client.get(f"/staff/privacy?lang={lang}").get_data(as_text=True))
    return client.post(f"/staff/privacy?lang={lang}", data={"nik": nik, "csrf_token": token})


def post(client, url: str, **data: str):
    token = csrf_from(client.get("/staff/privacy").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def test_only_admins_reach_the_page(tour, web, make_staff):
    assert web.get("/staff/privacy").status_code == 302  # to the sign-in
    organiser = make_staff("organiser", password=PASSWORD)
    login(web, organiser.email)
    assert web.get("/staff/privacy").status_code == 403
    person_id = person_of(tour.old_ids[0]).id
    assert web.post(f"/staff/privacy/{person_id}/export").status_code in (400, 403)
    assert web.post(f"/staff/privacy/{person_id}/delete").status_code in (400, 403)
    assert person_of(tour.old_ids[0]).purged_at is None
    assert audit_rows("privacy_export") == audit_rows("privacy_delete") == []


def test_a_form_without_its_csrf_token_is_refused(tour, web, admin):
    nik = tour.niks[tour.old_ids[0]]
    assert web.post("/staff/privacy", data={"nik": nik}).status_code == 400
    person_id = person_of(tour.old_ids[0]).id
    refused = web.post(f"/staff/privacy/{person_id}/delete", data={"confirm": "yes"})
    assert refused.status_code == 400
    assert person_of(tour.old_ids[0]).purged_at is None


@pytest.mark.parametrize(
    ("lang", "bad", "unknown", "heading"),
    [
        ("id", "NIK terdiri dari 16 angka.", "Tidak ada data", "Data pribadi"),
        ("en", "A NIK has 16 digits.", "No data is held", "Personal data"),
    ],
)
def test_lookup_answers_bad_and_unknown_niks_in_the_page_language(
    tour, web, admin, lang, bad, unknown, heading
):
    page = web.get(f"/staff/privacy?lang={lang}")
    assert page.status_code == 200 and heading in page.get_data(as_text=True)
    for typed in ("12345", "3174abcd11840001", "x" * 39):
        response = find(web, typed, lang)
        assert response.status_code == 400
        assert bad in response.get_data(as_text=True)
    response = find(web, "3174109999990001", lang)
    assert response.status_code == 404
    assert unknown in response.get_data(as_text=True)
    # Only the lookup that ran is recorded (without the NIK); malformed ones never ran.
    [row] = audit_rows("privacy_lookup")
    assert (row.target, row.detail) == (None, "not found")


def test_lookup_shows_the_person_with_the_nik_masked(tour, web, admin):
    nik = tour.niks[tour.old_ids[2]]
    # Typed with spaces, as people read it off the card.
    response = find(web, f"{nik[:6]} {nik[6:12]} {nik[12:]}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert nik not in body
    assert nik[:4] + "*" * 10 + nik[-2:] in body
    assert "Jakarta" in body and "Bandung" in body  # both registrations
    assert response.headers["Cache-Control"] == "private, no-store"
    [row] = audit_rows("privacy_lookup")
    assert (row.user_id, row.target, row.detail) == (
        admin.id,
        f"person #{person_of(tour.old_ids[2]).id}",
        "found",
    )


def test_export_holds_everything_with_the_consent_text_and_is_audited(tour, web, admin):
    rid = tour.enrolled_id
    person_id = person_of(rid).id
    response = post(web, f"/staff/privacy/{person_id}/export", id_seen="yes")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.data)
    assert document["person"]["nik"] == tour.niks[rid]
    [registration] = document["registrations"]
    assert registration["event"] == "old-2015" and registration["email"] == "runner0@example.org"
    assert registration["emergency_contact"] == "Ibu Sri"
    assert registration["consent"]["notice"]["body"]
    assert registration["consent"]["notice"]["consent_label"]
    assert [c["station"] for c in registration["checkins"]] == ["pickup"]
    enrolment = document["enrolment"]
    assert enrolment["mother_maiden_name"] == "Sri Wahyuni"
    assert enrolment["consent"]["notice"]["body"]
    [row] = audit_rows("privacy_export")
    assert row.user_id == admin.id and row.target == f"person #{person_id}"
    assert tour.niks[rid] not in f"{row.target} {row.detail}"


def test_delete_cancels_promotes_the_waitlist_and_purges(tour, web, admin):
    rid = tour.enrolled_id  # confirmed, checked in, enrolled and exported
    head = tour.old_ids[5]  # the waitlist's head
    assert db.session.get_one(Registration, head).status == RegistrationStatus.WAITLISTED
    before = figures()
    person_id = person_of(rid).id

    unconfirmed = post(web, f"/staff/privacy/{person_id}/delete")
    assert unconfirmed.status_code == 400
    assert person_of(rid).purged_at is None

    response = post(web, f"/staff/privacy/{person_id}/delete", confirm="yes")
    assert response.status_code == 303
    page = web.get(response.headers["Location"])
    assert page.status_code == 200 and "1 tempat dibatalkan" in page.get_data(as_text=True)

    db.session.rollback()
    promoted = db.session.get_one(Registration, head)
    assert promoted.status == RegistrationStatus.CONFIRMED and promoted.bib_number is not None
    gone = db.session.get_one(Registration, rid)
    assert gone.status == RegistrationStatus.CANCELLED
    assert gone.full_name == PURGED_NAME and gone.phone == "" and gone.email is None
    person = gone.person
    assert person.purged_at is not None
    assert data_cipher().decrypt(person.nik_encrypted) == PURGED_NIK
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert enrolment.purged_at is not None and enrolment.mother_maiden_name == ""
    # The figures move exactly as one cancellation with a promotion moves them.
    after = figures()
    old_before, old_after = before["events"][0], after["events"][0]
    assert old_after["confirmed"] == old_before["confirmed"]
    assert old_after["waitlisted"] == old_before["waitlisted"] - 1
    assert old_after["cancelled"] == old_before["cancelled"] + 1
    assert old_after["checked_in"] == old_before["checked_in"] - 1
    assert old_after["enrolled"] == old_before["enrolled"]
    assert after["events"][1] == before["events"][1]
    # Their row is gone from the export batch; the NIK is nowhere in the file.
    batch = db.session.scalars(select(ExportBatch)).one()
    assert tour.niks[rid] not in batch_file(batch.number, "csv", user_id=None).decode()
    # The NIK finds nothing any more; what is left says so.
    assert find(web, tour.niks[rid]).status_code == 404
    left = json.loads(post(web, f"/staff/privacy/{person_id}/export", id_seen="yes").data)
    assert left["person"]["nik"] is None and left["person"]["purged_at"]
    assert left["registrations"][0]["full_name"] == PURGED_NAME
    assert left["enrolment"]["address"] == "" and left["enrolment"]["declared_income"] == 0
    [row] = audit_rows("privacy_delete")
    assert row.user_id == admin.id and "cancelled=1 promoted=1" in row.detail
    assert tour.niks[rid] not in f"{row.target} {row.detail}"


def test_delete_waits_for_an_unexported_enrolment(tour, web, admin, make_staff):
    from funrun.bibs.services import payload_for

    staff = make_staff("organiser")
    rid = tour.old_ids[4]
    response = web.post(
        f"{API}/events/{tour.old.slug}/enrolments",
        json=enrol_body(code=payload_for(db.session.get_one(Registration, rid))),
        headers=staff.headers,
    )
    assert response.status_code == 201
    person_id = person_of(rid).id
    refused = post(web, f"/staff/privacy/{person_id}/delete?lang=en", confirm="yes")
    assert refused.status_code == 409
    assert "not been exported" in refused.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get_one(Registration, rid).status == RegistrationStatus.CONFIRMED
    assert person_of(rid).purged_at is None


def test_the_cli_reads_the_nik_from_stdin(tour, runner, tmp_path):
    old_id, new_id = tour.both
    nik = tour.niks[old_id]
    missing = runner.invoke(args=["privacy", "export"], input=nik + "\n")
    assert missing.exit_code != 0 and "--nik-stdin" in missing.output
    assert runner.invoke(args=["privacy", "export", "--nik-stdin"], input="123\n").exit_code == 1
    unknown = runner.invoke(args=["privacy", "export", "--nik-stdin"], input="3174109999990001\n")
    assert unknown.exit_code == 1 and "no data" in unknown.output
    out = tmp_path / "person.json"
    done = runner.invoke(args=["privacy", "export", "--nik-stdin", "-o", str(out)], input=nik)
    assert done.exit_code == 0, done.output
    document = json.loads(out.read_text())
    assert document["person"]["nik"] == nik
    assert {r["event"] for r in document["registrations"]} == {"old-2015", "new-2026"}

    deleted = runner.invoke(args=["privacy", "delete", "--nik-stdin"], input=nik + "\n")
    assert deleted.exit_code == 0, deleted.output
    assert "cancelled=2" in deleted.output  # one place in each event
    assert person_of(new_id).purged_at is not None
    rows = audit_rows()
    assert [r.action for r in rows if r.action.startswith("privacy")] == [
        "privacy_export",
        "privacy_delete",
    ]
    assert all(r.user_id is None for r in rows if r.action.startswith("privacy"))
    assert runner.invoke(args=["privacy", "delete", "--nik-stdin"], input=nik).exit_code == 1


def _link_to(registration_id: int) -> str:
    """A fresh manage token for a stored registration."""
    token, token_hash = new_manage_token()
    db.session.get_one(Registration, registration_id).manage_token_hash = token_hash
    db.session.commit()
    return token


def test_the_runner_downloads_what_their_registration_holds_with_the_nik_masked(tour, client):
    token = _link_to(tour.both[1])
    page = client.get(f"/r/{token}")
    assert f"/r/{token}/my-data.json" in page.get_data(as_text=True)
    response = client.get(f"/r/{token}/my-data.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    nik = tour.niks[tour.both[0]]
    assert nik not in response.get_data(as_text=True)
    document = response.get_json()
    assert document["person"]["nik"] == nik[:4] + "*" * 10 + nik[-2:]
    assert date.fromisoformat(document["person"]["birth_date"]).year == 1984
    assert document["registration"]["event"] == "new-2026"
    assert document["registration"]["email"] == "runner2@example.org"
    assert client.get("/r/" + "x" * 30 + "/my-data.json").status_code == 404


def test_a_manage_link_never_opens_the_persons_other_registrations(tour, client):
    """Whoever types a NIK at an open event gets a link: it opens that registration only."""
    token = _link_to(tour.both[1])
    document = client.get(f"/r/{token}/my-data.json").get_json()
    assert set(document) == {"generated_at", "person", "registration"}
    body = json.dumps(document)
    assert "old-2015" not in body  # the same person's registration at another event
    api = client.get(f"/api/v1/registrations/{token}/my-data.json")
    assert api.status_code == 200 and api.get_json() == {
        **document,
        "generated_at": api.get_json()["generated_at"],
    }


def test_a_manage_link_never_opens_the_persons_enrolment(tour, client):
    """Mother's maiden name, address, income and participant number are the desk's."""
    token = _link_to(tour.enrolled_id)
    enrolment = db.session.scalar(
        select(Enrolment).where(Enrolment.registration_id == tour.enrolled_id)
    )
    for path in (f"/r/{token}/my-data.json", f"/api/v1/registrations/{token}/my-data.json"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert "enrolment" not in response.get_json()
        for secret in (enrolment.participant_number, enrolment.mother_maiden_name):
            assert secret and secret not in body
        for key in ("mother_maiden_name", "declared_income", "birth_place", "address"):
            assert key not in body


def test_the_desk_exports_a_person_only_once_the_id_card_is_seen(tour, web, admin):
    person_id = person_of(tour.enrolled_id).id
    response = post(web, f"/staff/privacy/{person_id}/export")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "KTP" in response.get_data(as_text=True)
    assert audit_rows("privacy_export") == []
    response = post(web, f"/staff/privacy/{person_id}/export", id_seen="yes")
    assert response.status_code == 200
    [row] = audit_rows("privacy_export")
    assert row.detail == "id card seen"
