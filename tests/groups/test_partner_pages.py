"""A partner's own pages (issue 20, point 4): a partner given a password signs in on
/login and lands on /partner/: its imports (status, progress, report link), its members'
places (held until / confirmed / waitlisted / went back; NIK masked) and the counts of
confirmations. Never another partner's data, never a staff page.

Runs on the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from funrun.accounts.models import User
from funrun.accounts.services import create_user
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.groups import expiry
from funrun.groups.models import GroupImport, ImportStatus
from funrun.jobs.worker import Worker
from funrun.registration.models import Registration
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.checkin.conftest import browser, login
from tests.conftest import csrf_from, person_payload
from tests.groups.held_rows import make_held, make_import, make_partner

PASSWORD = "correct horse battery"


def t(app: Flask, message: str, locale: str = "id", **variables: Any) -> str:
    with app.test_request_context("/"), force_locale(locale):
        return str(escape(gettext(message, **variables)))


@pytest.fixture
def world(app: Flask, make_event: Callable[..., Event]) -> dict[str, Any]:
    """Two partners with places at one event: held, confirmed, gone back, waitlisted."""
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    event = make_event(quota=4, name="Fun Run Solo", city="Solo")
    ours = make_partner("hr@ojek.example", "Koperasi Ojek Sejahtera", password_hash=hashed)
    theirs = make_partner("hr@pasar.example", "Paguyuban Pasar Baru", password_hash=hashed)
    batch = make_import(
        event, ours, "ojek-1", total_rows=4, processed_rows=4, accepted=3, refused=1
    )
    other_batch = make_import(event, theirs, "pasar-1", total_rows=1, processed_rows=1, accepted=1)
    held = make_held(event.id, batch.id, ours.id, 1)
    confirmed = make_held(event.id, batch.id, ours.id, 2)
    late = make_held(event.id, batch.id, ours.id, 3, expires_at=utcnow() - timedelta(hours=1))
    stranger = make_held(event.id, other_batch.id, theirs.id, 4)
    # Confirmed by the member through the page.
    client = browser(app)
    token = csrf_from(client.get(f"/r/{confirmed.token}").get_data(as_text=True))
    notice = str(current_privacy_notice("id").id)
    answer = client.post(
        f"/r/{confirmed.token}/confirm",
        data={"csrf_token": token, "notice": notice, "consent": "y", "action": "confirm"},
    )
    assert answer.status_code == 303
    assert expiry.release_due() == 1  # the late one went back; its place to the waitlist
    # Registered one by one by the partner's API call: on the waitlist (the event is full).
    body = person_payload(5)
    full = register(event, clean_registration(body, event), notice=current_privacy_notice("id"))
    assert full.snapshot.status == "confirmed"  # the place the late one gave back
    waiting = register(
        event, clean_registration(person_payload(6), event), notice=current_privacy_notice("id")
    )
    from funrun.registration.models import Registration

    db.session.get_one(Registration, waiting.snapshot.id).partner_id = ours.id
    db.session.commit()
    return {
        "event": event,
        "ours": ours,
        "theirs": theirs,
        "batch": batch,
        "other_batch": other_batch,
        "held": held,
        "confirmed": confirmed,
        "late": late,
        "stranger": stranger,
    }


def test_the_cli_gives_a_partner_a_password_and_it_signs_in_to_its_page(app, runner):
    made = runner.invoke(
        args=["users", "create", "hr@koperasi.example", "--role", "partner", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    assert "password:" not in made.output
    user = db.session.scalar(select(User).where(User.email == "hr@koperasi.example"))
    assert user is not None and user.password_hash
    client = browser(app)
    signed_in = login(client, "hr@koperasi.example")
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/partner/")
    page = client.get("/partner/")
    assert page.status_code == 200
    assert t(app, "You have not sent a group yet.") in page.get_data(as_text=True)
    # Without --password-stdin a partner still has no password (API tokens only).
    runner.invoke(args=["users", "create", "api@koperasi.example", "--role", "partner"])
    assert login(browser(app), "api@koperasi.example").status_code == 401


def test_the_partner_sees_its_imports_counts_and_members_only(app, world):
    client = browser(app)
    assert login(client, "hr@ojek.example").status_code == 302
    home = client.get("/partner/").get_data(as_text=True)
    assert "Koperasi Ojek Sejahtera" in home and "ojek-1" in home
    assert f"/partner/imports/{world['batch'].id}/report.csv" in home
    assert "pasar-1" not in home and "Paguyuban" not in home
    assert '<progress class="job" value="4" max="4">' in home
    counts = re.search(r'<table class="list partner-counts">.*?</table>', home, re.S)
    assert counts is not None
    cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', counts.group(0))
    # held, confirmed, waitlisted, went back, cancelled, confirmed of places
    assert cells == ["1", "1", "1", "1", "0", "33%"]

    members = client.get("/partner/members").get_data(as_text=True)
    for key in ("held", "confirmed", "late"):
        nik = world[key].nik
        assert nik not in members and f"{nik[:4]}**********{nik[-2:]}" in members
    assert members.count('<tr class="place-') == 4
    assert t(app, "Went back") in members and t(app, "Waitlisted") in members
    held_until = re.search(r'<tr class="place-held">.*?</tr>', members, re.S)
    assert held_until is not None
    assert t(app, "Held until %(deadline)s", deadline="").split()[0] in held_until.group(0)


def test_another_partners_import_is_not_found(app, world):
    client = browser(app)
    login(client, "hr@ojek.example")
    page = client.get(f"/partner/imports/{world['batch'].id}")
    assert page.status_code == 200
    assert f"/api/v1/imports/{world['batch'].id}/report.csv" in page.get_data(as_text=True)
    assert client.get(f"/partner/imports/{world['other_batch'].id}").status_code == 404
    other_report = f"/partner/imports/{world['other_batch'].id}/report.csv"
    assert client.get(other_report).status_code == 404


def test_a_running_import_page_refreshes_itself_and_a_finished_one_does_not(app, world):
    running = make_import(
        world["event"],
        world["ours"],
        "ojek-2",
        status=ImportStatus.RUNNING,
        total_rows=1000,
        processed_rows=250,
    )
    client = browser(app)
    login(client, "hr@ojek.example")
    page = client.get(f"/partner/imports/{running.id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in page
    assert '<progress class="job" value="250" max="1000">' in page
    done = client.get(f"/partner/imports/{world['batch'].id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' not in done


STAFF_PAGES = [
    "/staff",
    "/staff/password",
    "/staff/scan",
    "/staff/events",
    "/staff/dashboard",
    "/staff/messages",
    "/staff/people",
    "/staff/audit",
]


def test_staff_pages_stay_forbidden_to_a_signed_in_partner(app, world):
    client = browser(app)
    login(client, "hr@ojek.example")
    for page in STAFF_PAGES:
        assert client.get(page).status_code == 403, page
    slug = world["event"].slug
    assert client.get(f"/staff/events/{slug}/roster").status_code == 403
    # The API reads tokens, not the partner's cookie.
    assert client.get("/api/v1/stats").status_code == 401
    # Its navigation names its own pages, no staff page.
    nav = client.get("/partner/").get_data(as_text=True)
    assert "/staff/" not in nav.split("<main")[0]


def test_staff_and_strangers_do_not_open_partner_pages(app, world):
    create_user("org@example.org", "organiser", password=PASSWORD)
    client = browser(app)
    login(client, "org@example.org")
    for page in ("/partner/", "/partner/members", f"/partner/imports/{world['batch'].id}"):
        assert client.get(page).status_code == 403, page
        anonymous = browser(app).get(page)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_partners_own_funnel_is_on_its_page(app, world):
    """The payments feature's funnel for this partner only (funnel_rows(by="aggregator",
    partner_id=...)), with its table and chart macros."""
    client = browser(app)
    login(client, "hr@ojek.example")
    page = client.get("/partner/").get_data(as_text=True)
    assert t(app, "From registration to paid months") in page
    funnel = page.split('<div class="partner-funnel">')[1].split("</form>")[0]
    assert "funnel-table" in funnel and "funnel-chart" in funnel
    assert "Koperasi Ojek Sejahtera" in funnel and "Paguyuban" not in funnel


def test_the_page_works_without_the_funnel(app, world, monkeypatch):
    """Guarded: without the payments feature's funnel the page still answers."""
    from funrun.groups import partner_views

    client = browser(app)
    login(client, "hr@ojek.example")
    monkeypatch.setattr(partner_views, "funnel", lambda partner_id: None)
    page = client.get("/partner/")
    assert page.status_code == 200
    assert t(app, "From registration to paid months") not in page.get_data(as_text=True)


# --- sending a group from the page --------------------------------------------------------


def member_csv(indexes: list[int], bad: bool = False) -> bytes:
    """The API's CSV columns, one member a line; ``bad`` adds a row with a wrong NIK."""
    lines = ["full_name,nik,birth_date,gender,phone,shirt_size,member,email"]
    for index in indexes:
        p = person_payload(index)
        lines.append(
            f"{p['full_name']},{p['nik']},{p['birth_date']},{p['gender']},{p['phone']},M,n,"
            f"m{index}@example.com"
        )
    if bad:
        lines.append("Agus Salim,1234,1990-01-01,M,081200000001,M,n,")
    return ("\r\n".join(lines) + "\r\n").encode()


def upload(client: Any, slug: str, body: bytes | None, key: str = "web-1") -> Any:
    page = client.get("/partner/").get_data(as_text=True)
    data: dict[str, Any] = {"csrf_token": csrf_from(page), "import_key": key}
    if body is not None:
        data["file"] = (io.BytesIO(body), "members.csv", "text/csv")
    return client.post(
        f"/partner/events/{slug}/imports", data=data, content_type="multipart/form-data"
    )


def test_a_group_sent_from_the_page_is_imported_and_reported(app, make_event):
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    event = make_event(
        quota=10, name="Fun Run Solo", city="Solo", date=utcnow().date() + timedelta(days=30)
    )
    make_partner("hr@ojek.example", "Koperasi Ojek Sejahtera", password_hash=hashed)
    client = browser(app)
    login(client, "hr@ojek.example")
    home = client.get("/partner/").get_data(as_text=True)
    assert f'action="/partner/events/{event.slug}/imports"' in home
    assert 'enctype="multipart/form-data"' in home

    sent = upload(client, event.slug, member_csv([11, 12], bad=True))
    assert sent.status_code == 303, sent.get_data(as_text=True)
    location = sent.headers["Location"]
    import_id = int(location.rstrip("/").split("/")[-1])
    running = client.get(location).get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in running  # queued: the page follows it
    db.session.rollback()
    Worker(app).run(burst=True)
    db.session.rollback()
    group = db.session.get_one(GroupImport, import_id)
    assert (group.status, group.accepted, group.refused) == ("done", 2, 1)
    held = list(
        db.session.scalars(select(Registration).where(Registration.group_import_id == import_id))
    )
    assert {r.status for r in held} == {"held"} and len(held) == 2
    done = client.get(location).get_data(as_text=True)
    assert '<meta http-equiv="refresh"' not in done
    report = client.get(f"/partner/imports/{import_id}/report.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = report.get_data(as_text=True).splitlines()
    assert lines[0] == "row,field,message" and lines[1].startswith("3,nik,")

    # The same key and file again (a double tap): the same import, nothing new.
    again = upload(client, event.slug, member_csv([11, 12], bad=True))
    assert again.status_code == 303 and again.headers["Location"] == location
    assert db.session.scalar(select(func.count(GroupImport.id))) == 1


def test_a_bad_upload_is_refused_with_a_message_and_nothing_made(app, make_event):
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    event = make_event(name="Fun Run Solo", date=utcnow().date() + timedelta(days=30))
    closed = make_event(registration_open=False, date=utcnow().date() + timedelta(days=30))
    make_partner("hr@ojek.example", "Koperasi Ojek Sejahtera", password_hash=hashed)
    client = browser(app)
    login(client, "hr@ojek.example")
    missing = upload(client, event.slug, None)
    assert missing.status_code == 422
    assert t(app, "Choose the CSV file of your members.") in missing.get_data(as_text=True)
    empty = upload(
        client, event.slug, b"full_name,nik,birth_date,gender,phone,shirt_size,member\r\n"
    )
    assert empty.status_code == 422
    assert upload(client, event.slug, b"\xff\xfe not utf-8").status_code == 400
    assert upload(client, event.slug, member_csv([1]), key="").status_code == 422
    assert upload(client, closed.slug, member_csv([1])).status_code == 409
    assert upload(client, "no-such-city", member_csv([1])).status_code == 404
    forged = client.post(
        f"/partner/events/{event.slug}/imports",
        data={
            "csrf_token": "forged",
            "import_key": "k",
            "file": (io.BytesIO(member_csv([1])), "m.csv"),
        },
        content_type="multipart/form-data",
    )
    assert forged.status_code == 400
    db.session.rollback()
    assert db.session.scalar(select(func.count(GroupImport.id))) == 0


def test_a_partner_changes_its_own_password(app, world):
    client = browser(app)
    login(client, "hr@ojek.example")
    page = client.get("/partner/password")
    assert page.status_code == 200
    wrong = client.post(
        "/partner/password",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "current": "not the password",
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
    )
    assert wrong.status_code == 422
    changed = client.post(
        "/partner/password",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "current": PASSWORD,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
    )
    assert changed.status_code == 302 and changed.headers["Location"].endswith("/partner/")
    assert client.get("/partner/").status_code == 200  # this browser stays signed in
    assert login(browser(app), "hr@ojek.example").status_code == 401
    assert login(browser(app), "hr@ojek.example", "a brand new passphrase").status_code == 302
