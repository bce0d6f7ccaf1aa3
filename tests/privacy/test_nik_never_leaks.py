"""No registered NIK, in full, in any page, file, header or log line of a whole race.

One run in-process: runners register through the HTML form and the API, one cancels, the
waitlist moves up, volunteers check runners in (API and scan page), two enrol (a runner
and a walk-up), an export batch is made, and every page and download staff and runners
use is fetched, while every log record is captured at DEBUG (SQL statements with their
parameters and rows included). Each body (XLSX unzipped, PDF text extracted and its
streams inflated), header and log message is searched for every registered NIK, with and
without separators. Only the places that carry the NIK by design may hold it, and the
test checks they do, so the search is proven to find one.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from funrun.bibs.services import payload_for
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import Registration
from tests.checkin.conftest import browser
from tests.conftest import csrf_from, need, person_payload
from tests.privacy.conftest import API, PASSWORD, enrol_body, login
from tests.registration.test_pages import form_data

#: NIKs with the separators people type (and PDFs and spreadsheets may add) removed.
_SEPARATORS = re.compile(r"[\s.\-/]")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


@dataclass
class Captured:
    """Everything the run produced: (label, text) pairs, and where NIKs are allowed."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    #: Labels of the outputs that carry a NIK by design.
    by_design: set[str] = field(default_factory=set)


def pdf_texts(data: bytes, tmp_path: Path, name: str) -> list[str]:
    """The PDF's text (pdftotext) and every inflated content stream, as text."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    found = [
        subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
        ).stdout
    ]
    for stream in _STREAM.findall(data):
        try:
            found.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            found.append(stream.decode("latin-1"))
    return found


def body_texts(response: Any, tmp_path: Path, name: str) -> list[str]:
    """What a response says: headers, body, and the insides of XLSX and PDF files."""
    data = response.get_data()
    found = [str(response.headers), data.decode("latin-1")]
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            found.extend(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    if data.startswith(b"%PDF"):
        found.extend(pdf_texts(data, tmp_path, name))
    return found


class Run:
    """Fetch pages and files, keeping each answer's text under a label."""

    def __init__(self, captured: Captured, tmp_path: Path) -> None:
        self.captured = captured
        self.tmp_path = tmp_path
        self.n = 0

    def keep(self, label: str, response: Any, status: int = 200, *, by_design: bool = False) -> Any:
        assert response.status_code == status, (label, response.get_data(as_text=True)[:500])
        self.n += 1
        for part in body_texts(response, self.tmp_path, f"file{self.n}"):
            self.captured.texts.append((label, part))
        if by_design:
            self.captured.by_design.add(label)
        return response


def leaks(nik: str, haystack: str) -> bool:
    """Whether ``nik`` is in ``haystack``, as typed or with separators in between."""
    return nik in haystack or nik in _SEPARATORS.sub("", haystack)


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at DEBUG, SQL statements with parameters and rows included."""
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "psycopg", "werkzeug", "funrun", "flask.app"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_no_registered_nik_appears_outside_the_places_that_need_it(
    app, client, make_event, make_staff, on_finale_day, log_records, tmp_path
):
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) not installed")
    event = make_event(slug="jakarta", city="Jakarta", date=date(2026, 12, 13), quota=4)
    other = make_event(slug="bandung", city="Bandung", date=date(2026, 12, 20), quota=10)
    slug = event.slug
    organiser = make_staff("organiser", password=PASSWORD)
    admin = make_staff("admin", password=PASSWORD)
    volunteer = make_staff("volunteer", events=(slug,), password=PASSWORD)
    captured = Captured()
    run = Run(captured, tmp_path)
    runner_web = browser(app)
    staff_web = browser(app)
    admin_web = browser(app)
    login(staff_web, organiser.email)
    login(admin_web, admin.email)
    niks: list[str] = []
    tokens: list[str] = []

    # --- runners register: three on the form, three through the API --------------------
    for index in (9101, 9102, 9103):
        page = run.keep("form", runner_web.get(f"/events/{slug}/register"))
        data = {**form_data(index), "csrf_token": csrf_from(page.get_data(as_text=True))}
        response = run.keep(
            "form post", runner_web.post(f"/events/{slug}/register", data=data), 302
        )
        tokens.append(re.fullmatch(r"/r/([\w\-]+)\?new=1", response.headers["Location"])[1])
        niks.append(person_payload(index)["nik"])
    for index in (9104, 9105, 9106):
        body = person_payload(index, email=f"api{index}@example.org")
        response = run.keep(
            "api register", runner_web.post(f"{API}/events/{slug}/registrations", json=body), 201
        )
        tokens.append(response.get_json()["registration"]["manage_token"])
        niks.append(body["nik"])
    # The same NIK again (refused), and a NIK that disagrees with the birth date.
    run.keep(
        "api duplicate",
        runner_web.post(f"{API}/events/{slug}/registrations", json=person_payload(9104)),
        409,
    )
    wrong = person_payload(9107, birth_date="1991-02-03")
    run.keep("api invalid", runner_web.post(f"{API}/events/{slug}/registrations", json=wrong), 422)
    # One of them also runs in Bandung.
    run.keep(
        "api register",
        runner_web.post(f"{API}/events/{other.slug}/registrations", json=person_payload(9101)),
        201,
    )

    # --- the third cancels on their page; the waitlist's head moves up -----------------
    page = run.keep("cancel page", runner_web.get(f"/r/{tokens[2]}/cancel"))
    token = csrf_from(page.get_data(as_text=True))
    run.keep("cancel", runner_web.post(f"/r/{tokens[2]}/cancel", data={"csrf_token": token}), 302)

    # --- check-in: the API and the scan page's form ----------------------------------
    db.session.rollback()
    confirmed = list(
        db.session.scalars(
            select(Registration)
            .where(Registration.event_id == event.id, Registration.status == "confirmed")
            .order_by(Registration.id)
        )
    )
    assert len(confirmed) == 4
    for registration in confirmed[:3]:
        run.keep(
            "api scan",
            client.post(
                f"{API}/events/{slug}/checkins",
                json={"code": payload_for(registration)},
                headers=volunteer.headers,
            ),
            201,
        )
    page = run.keep("scan page", staff_web.get(f"/staff/events/{slug}/scan"))
    run.keep(
        "scan form",
        staff_web.post(
            f"/staff/events/{slug}/scan",
            data={
                "code": str(confirmed[3].bib_number),
                "id_checked": "1",  # a typed bib, the runner's ID card checked (issue 15)
                "csrf_token": csrf_from(page.get_data(as_text=True)),
            },
        ),
        201,
    )

    # --- enrolment: a registered runner and a walk-up ---------------------------------
    enrolled = confirmed[0]
    response = run.keep(
        "api enrol",
        client.post(
            f"{API}/events/{slug}/enrolments",
            json=enrol_body(code=payload_for(enrolled)),
            headers=organiser.headers,
        ),
        201,
    )
    number = response.get_json()["enrolment"]["participant_number"]
    walkup = person_payload(9108)
    for key in ("member", "consent"):
        walkup.pop(key)
    response = run.keep(
        "api walk-up",
        client.post(
            f"{API}/events/{slug}/enrolments",
            json={**walkup, **enrol_body()},
            headers=organiser.headers,
        ),
        201,
    )
    niks.append(walkup["nik"])
    walkup_number = response.get_json()["enrolment"]["participant_number"]
    db.session.rollback()
    cipher = app.extensions["funrun_data_cipher"]
    by_hash = {cipher.lookup_hash(nik): nik for nik in niks}
    person_niks = {p.id: by_hash[p.nik_hash] for p in db.session.scalars(select(Person))}
    enrolled_nik = person_niks[enrolled.person_id]

    # --- the export batch (carries the NIK by design) ---------------------------------
    page = run.keep("exports page", staff_web.get("/staff/enrolment/exports"))
    made = staff_web.post(
        "/staff/enrolment/exports", data={"csrf_token": csrf_from(page.get_data(as_text=True))}
    )
    run.keep("exports made", made, 302)
    run.keep("exports page", staff_web.get("/staff/enrolment/exports"))
    for fmt in ("csv", "json"):
        run.keep(
            f"batch {fmt}",
            staff_web.get(f"/staff/enrolment/exports/1.{fmt}"),
            by_design=True,
        )

    # --- everything staff read and download -------------------------------------------
    staff_pages = [
        "/staff/dashboard",
        "/staff/dashboard.json",
        "/staff/totals.csv",
        "/staff/totals.xlsx",
        "/staff/totals.pdf",
        f"/staff/events/{slug}/roster",
        f"/staff/events/{slug}/roster?q=Budi",
        f"/staff/events/{slug}/roster/{enrolled.id}",
        f"/staff/events/{slug}/roster.csv",
        f"/staff/events/{slug}/roster.xlsx",
        "/staff/roster.csv",
        "/staff/roster.xlsx",
        f"/api/v1/events/{slug}/roster",  # the scan page asks the API with its session
        f"/api/v1/events/{slug}/checkins/counts",
        f"/staff/events/{slug}/checkins",
        f"/staff/events/{slug}/enrol?registration={confirmed[1].id}",
        f"/staff/enrolments/{number}",
        f"/staff/enrolments/{number}/card.pdf",
        f"/staff/enrolments/{walkup_number}/card.pdf",
    ]
    for url in staff_pages:
        run.keep(f"organiser {url}", staff_web.get(url))
    for url in ("/stats", f"/events/{slug}/roster", f"/events/{slug}/checkins/counts"):
        run.keep(f"api {url}", client.get(f"{API}{url}", headers=organiser.headers))
    run.keep(
        "api card", client.get(f"{API}/enrolments/{number}/card.pdf", headers=organiser.headers)
    )
    # Admins: the audit log, the dashboard; the roster shows them the full NIK by design.
    for url in (
        "/staff/audit",
        "/staff/dashboard",
        "/staff/totals.pdf",
        f"/staff/events/{slug}/roster.csv",
    ):
        run.keep(f"admin {url}", admin_web.get(url))
    for url in (f"/staff/events/{slug}/roster", f"/staff/events/{slug}/roster/{enrolled.id}"):
        run.keep(f"admin {url}", admin_web.get(url), by_design=True)

    # --- the admin's person-data page and export (the person's own NIK, by design) -----
    page = run.keep("privacy page", admin_web.get("/staff/privacy"))
    found = admin_web.post(
        "/staff/privacy",
        data={"nik": enrolled_nik, "csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    run.keep("privacy lookup", found)
    run.keep(
        "privacy export",
        admin_web.post(
            f"/staff/privacy/{enrolled.person_id}/export",
            data={"csrf_token": csrf_from(found.get_data(as_text=True)), "id_seen": "yes"},
        ),
        by_design=True,
    )

    # --- what runners see ----------------------------------------------------------------
    db.session.rollback()
    for token in tokens:
        run.keep("manage page", runner_web.get(f"/r/{token}"))
        detail = run.keep("api registration", runner_web.get(f"{API}/registrations/{token}"))
        run.keep("my data", runner_web.get(f"/r/{token}/my-data.json"))
        # Only a confirmed runner has a bib (one cancelled, one still waitlisted).
        status = 200 if detail.get_json()["registration"]["status"] == "confirmed" else 404
        run.keep("qr", runner_web.get(f"/r/{token}/qr.svg"), status)
        run.keep("bib pdf", runner_web.get(f"/r/{token}/bib.pdf"), status)
    run.keep("api bib pdf", runner_web.get(f"{API}/registrations/{tokens[0]}/bib.pdf"))

    # --- the logs: every record, and the audit and scan logs in the database ------------
    logs = [
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in log_records.records
    ]
    # SQL was captured with its parameters: a person's keyed hash is in there somewhere
    # (on PostgreSQL the hot paths of funrun.fastdb bypass SQLAlchemy and its logging).
    assert any(h in line for line in logs for h in by_hash)
    for table in ("audit_log", "scan_log", "export_access_log"):
        rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
        assert rows, table
        logs.append(f"{table}: {rows!r}")

    # --- the search -----------------------------------------------------------------------
    assert len(niks) == 7 and len(set(niks)) == 7
    outside = [
        (label, nik)
        for label, part in captured.texts
        if label not in captured.by_design
        for nik in niks
        if leaks(nik, part)
    ]
    assert outside == []
    in_logs = [(line[:200], nik) for line in logs for nik in niks if leaks(nik, line)]
    assert in_logs == []
    # The places that carry it by design do: the search finds a NIK where there is one.
    by_design = {
        label: "\n".join(p for lbl, p in captured.texts if lbl == label)
        for label in captured.by_design
    }
    assert enrolled_nik in by_design["batch csv"] and walkup["nik"] in by_design["batch csv"]
    assert enrolled_nik in by_design["batch json"]
    assert (
        json.loads(
            next(p for lbl, p in captured.texts if lbl == "privacy export" and p.startswith("{"))
        )["person"]["nik"]
        == enrolled_nik
    )
    assert enrolled_nik in by_design[f"admin /staff/events/{slug}/roster/{enrolled.id}"]
    # Nobody else's NIK is in the batch: only the enrolled ones.
    others = set(niks) - {enrolled_nik, walkup["nik"]}
    assert not any(leaks(nik, by_design["batch csv"]) for nik in others)
    assert run.n > 60
