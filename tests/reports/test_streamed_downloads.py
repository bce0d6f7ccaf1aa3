"""Every download of the app through a real server: gunicorn on loopback, a real HTTP client.

The test client runs the response's body inside the test's own app context, so it hid
that a streamed body read the event after the request's session was gone (every
per-event roster answered 500 on a real server). Here each file is fetched whole over a
socket and read back: CSV parsed and counted, XLSX opened with openpyxl, PDF read by
poppler (pdftotext, pdftoppm), JSON parsed. An export is in the audit log once, after
its body was served; one whose client went away half-way is not in it at all.
"""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import current_app
from sqlalchemy import func, select

from funrun.audit.models import AuditEntry
from funrun.bibs.models import PrintJob, PrintJobStatus
from funrun.demo.services import seed_runners
from funrun.downloads import served
from funrun.enrolment.export import create_batch
from funrun.enrolment.models import Enrolment, ExportAccess
from funrun.extensions import db
from funrun.jobs.worker import Worker
from funrun.registration.models import Registration
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.conftest import csrf_from, person_payload
from tests.reports.conftest import PASSWORD, browser, login
from tests.servers import HOST, flask_run, gunicorn, server_env

#: The loopback ports these tests may use.
PORTS = range(8700, 8750)
#: An event's city as an organiser might mistype it, or an attacker choose it.
FORMULA_CITY = '=HYPERLINK("http://x","y")'
NEUTRALISED = "'" + FORMULA_CITY


def _port() -> int:
    """The first port of :data:`PORTS` nobody listens on."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError("every port of 8700-8749 is taken")


@pytest.fixture(params=["gunicorn", "flask run"])
def server(request: pytest.FixtureRequest, database_url: str) -> Iterator[str]:
    """A server on the test database (SQLite file or PostgreSQL): gunicorn, then
    ``flask run`` (the issue saw both fail); its base URL."""
    env = server_env(database_url)
    if request.param == "gunicorn":
        with gunicorn(env, port=_port(), workers=2) as base_url:
            yield base_url
    else:
        with flask_run(env, port=_port()) as base_url:
            yield base_url


class Browser:
    """A real HTTP client with cookies; reads every body to its end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def open(
        self, path: str, data: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and the whole body (an incomplete body raises)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base_url + path, data=body, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get_ok(self, path: str) -> tuple[dict[str, str], bytes]:
        status, headers, body = self.open(path)
        assert status == 200, (path, status, body[:2000])
        return headers, body

    def post_form(self, page: str, action: str, fields: dict[str, str] | None = None) -> Any:
        """POST ``action`` with the CSRF token of the form on ``page``."""
        _headers, html = self.get_ok(page)
        return self.open(action, {"csrf_token": csrf_from(html.decode()), **(fields or {})})

    def sign_in(self, email: str) -> None:
        status, _headers, body = self.post_form(
            "/login", "/login", {"email": email, "password": PASSWORD}
        )
        assert status == 200, body[:2000]
        self.get_ok("/staff/dashboard")  # signed in: a staff page opens


# --- reading files back ----------------------------------------------------------------


def csv_rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def xlsx_rows(body: bytes) -> list[list[Any]]:
    """The first sheet's values; no cell of the file is a formula."""
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book.worksheets[0]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def pdf_text(body: bytes, tmp_path: Path) -> str:
    """The PDF's text (pdftotext), after pdftoppm rendered its first page."""
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    path = tmp_path / f"doc-{len(body)}.pdf"
    path.write_bytes(body)
    subprocess.run(
        ["pdftoppm", "-r", "20", "-png", "-f", "1", "-l", "1", str(path), str(path)], check=True
    )
    assert list(tmp_path.glob(f"{path.name}*.png"))
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def export_log() -> list[str]:
    """The files the audit log says were downloaded, in order."""
    db.session.rollback()  # a fresh snapshot: the server wrote them
    return list(
        db.session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "export").order_by(AuditEntry.id)
        )
    )


def registrations_of(event_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Registration).where(Registration.event_id == event_id)
    )


# --- every download --------------------------------------------------------------------


def test_every_download_is_served_whole_by_a_real_server(
    app, scenario, make_staff, server, tmp_path
):
    past, future = scenario.past, scenario.future
    past.city = FORMULA_CITY  # through the model: no form stands in the way
    db.session.commit()
    organiser = make_staff("organiser", password=PASSWORD)
    admin = make_staff("admin", password=PASSWORD)
    create_batch(user_id=organiser.id)  # the scenario's enrolment, in the formula city
    number = db.session.scalar(select(Enrolment.participant_number))
    made = register(
        future,
        clean_registration(person_payload(4242), future),
        notice=current_privacy_notice("id"),
    )
    token, person_id = made.manage_token, made.registration.person_id
    counts = {event.slug: registrations_of(event.id) for event in (past, future)}
    db.session.commit()
    assert counts == {"past": 5, "future": 3}

    staff = Browser(server)
    staff.sign_in(organiser.email)
    exported: list[str] = []

    # Rosters, per event and for the tour.
    for slug, count in (*counts.items(), ("tour", sum(counts.values()))):
        path = "/staff/roster" if slug == "tour" else f"/staff/events/{slug}/roster"
        headers, body = staff.get_ok(f"{path}.csv")
        assert headers["Content-Type"].startswith("text/csv")
        assert headers["Cache-Control"] == "private, no-store"
        assert f'filename="roster-{slug}.csv"' in headers["Content-Disposition"]
        rows = csv_rows(body)
        assert len(rows) == count
        if slug in ("past", "tour"):
            assert rows[0]["city"] == NEUTRALISED
        _headers, body = staff.get_ok(f"{path}.xlsx")
        sheet = xlsx_rows(body)
        assert len(sheet) == count + 1
        assert [row[2] for row in sheet[1:]] == [row["bib"] for row in rows]
        if slug in ("past", "tour"):
            assert sheet[1][1] == FORMULA_CITY  # a string cell, shown as typed
        exported += [f"roster-{slug}.csv", f"roster-{slug}.xlsx"]

    # Per-city totals: CSV, XLSX, PDF.
    headers, body = staff.get_ok("/staff/totals.csv")
    name = re.search(r'filename="(funrun-totals-[0-9-]+)\.csv"', headers["Content-Disposition"])
    assert name
    rows = csv_rows(body)
    assert [row["slug"] for row in rows] == ["past", "future", ""]
    assert rows[0]["city"] == NEUTRALISED and rows[2]["confirmed"] == "6"
    totals_name = name.group(1)
    sheet_headers, body = staff.get_ok("/staff/totals.xlsx")
    sheet = xlsx_rows(body)
    assert len(sheet) == 4 and sheet[1][1] == FORMULA_CITY and sheet[3][3] == 6
    pdf_headers, body = staff.get_ok("/staff/totals.pdf")
    assert pdf_headers["Content-Type"] == "application/pdf"
    assert "Jakarta" in pdf_text(body, tmp_path)
    exported += [
        f"{totals_name}.csv",
        _filename(sheet_headers),
        _filename(pdf_headers),
    ]

    # The funnel per city: CSV (the city's name neutralised) and XLSX (a string cell).
    funnel_headers, body = staff.get_ok("/staff/funnel/city.csv")
    rows = csv_rows(body)
    assert rows[0]["city"] == NEUTRALISED and rows[0]["enrolled"] == "1"
    funnel_sheet_headers, body = staff.get_ok("/staff/funnel/city.xlsx")
    assert xlsx_rows(body)[1][0] == FORMULA_CITY
    exported += [_filename(funnel_headers), _filename(funnel_sheet_headers)]

    # The enrolment export batch, the membership card, every bib of an event.
    _headers, body = staff.get_ok("/staff/enrolment/exports/1.csv")
    [row] = csv_rows(body)
    assert row["city"] == NEUTRALISED and row["participant_number"] == number
    assert re.fullmatch(r"\+628[0-9]{7,11}", row["phone"])  # E.164 kept for the scheme
    _headers, body = staff.get_ok("/staff/enrolment/exports/1.json")
    document = json.loads(body)
    assert document["count"] == 1 and document["enrolments"][0]["city"] == FORMULA_CITY
    exported += ["enrolments-batch-0001.csv", "enrolments-batch-0001.json"]
    _headers, body = staff.get_ok(f"/staff/enrolments/{number}/card.pdf")
    assert number in pdf_text(body, tmp_path).replace(" ", "")
    status, _headers, _body = staff.post_form(
        f"/staff/events/{future.slug}/bibs", f"/staff/events/{future.slug}/bibs"
    )
    assert status == 200
    job = _finished_print_job()
    _headers, body = staff.get_ok(f"/staff/print-jobs/{job}.pdf")
    assert re.findall(r"TST\s+(\d{4})", pdf_text(body, tmp_path)) == ["0001", "0002", "0003"]

    # A runner's own bib and data, from the manage link; an admin's export of a person.
    runner = Browser(server)
    _headers, body = runner.get_ok(f"/r/{token}/bib.pdf")
    assert re.search(r"TST\s+0003", pdf_text(body, tmp_path))
    _headers, body = runner.get_ok(f"/r/{token}/my-data.json")
    assert "*" in json.loads(body)["person"]["nik"]  # masked: it is only a link
    officer = Browser(server)
    officer.sign_in(admin.email)
    status, _headers, body = officer.post_form(
        f"/staff/privacy/{person_id}", f"/staff/privacy/{person_id}/export", {"id_seen": "yes"}
    )
    assert status == 200
    assert json.loads(body)["person"]["nik"] == person_payload(4242)["nik"]

    # Each export in the audit log once, written after its body went out; the batch's
    # own access log has its two downloads too.
    assert export_log() == exported
    access = db.session.scalars(select(ExportAccess.action).order_by(ExportAccess.id))
    assert list(access) == ["create", "csv", "json"]


def _filename(headers: dict[str, str]) -> str:
    found = re.search(r'filename="([^"]+)"', headers["Content-Disposition"])
    assert found
    return found.group(1)


def _finished_print_job() -> int:
    """The latest print job's id once the worker (as ``flask worker --burst``) ran it."""
    Worker(current_app._get_current_object()).run(burst=True)
    db.session.rollback()
    job = db.session.scalar(select(PrintJob).order_by(PrintJob.id.desc()))
    assert job is not None and job.status == PrintJobStatus.DONE, job and job.error
    return job.id


# --- a client that goes away -----------------------------------------------------------


def test_a_download_cut_short_is_not_logged_and_a_whole_one_is_once(
    app, make_event, make_staff, database_url
):
    event = make_event(slug="big", city="Surabaya", date=date(2030, 5, 5), quota=8000)
    seed_runners(8000)  # the only event: every runner is in it
    organiser = make_staff("organiser", password=PASSWORD)
    db.session.commit()
    # One worker: a request is answered only once the one before it is over.
    with gunicorn(server_env(database_url), port=_port(), workers=1) as base_url:
        staff = Browser(base_url)
        staff.sign_in(organiser.email)
        cookie = "; ".join(f"{c.name}={c.value}" for c in staff.cookies)
        head = _read_a_little_then_hang_up(base_url, "/staff/events/big/roster.csv", cookie)
        assert head.startswith(b"HTTP/1.1 200") and b"event,city,bib" in head
        _headers, body = staff.get_ok("/staff/events/big/roster.csv")
    assert len(csv_rows(body)) == registrations_of(event.id) == 8000
    assert export_log() == ["roster-big.csv"]  # the whole one only


def _read_a_little_then_hang_up(base_url: str, path: str, cookie: str) -> bytes:
    """Ask for ``path``, read the first few KB, close: the rest is never read.

    Small segments and a small receive buffer keep the server from pushing the whole
    body into the connection before the client hangs up (on loopback, a connection's
    send buffer starts at ten 64 KB segments); closing with unread data sends a reset.
    """
    port = int(base_url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect((HOST, port))
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        head = b""
        while len(head) < 4096:
            piece = sock.recv(4096)
            if not piece:
                break
            head += piece
        time.sleep(0.5)  # the server is now blocked, writing into a full connection
    return head


# --- the same rule, in process ---------------------------------------------------------


def test_served_calls_back_only_after_the_last_piece_was_taken():
    calls: list[str] = []
    whole = served(iter(["a", "b"]), lambda: calls.append("served"))
    assert next(whole) == "a" and next(whole) == "b" and calls == []
    assert list(whole) == [] and calls == ["served"]

    def body():
        try:
            yield b"a"
            yield b"b"
        finally:
            calls.append("body closed")

    cut = served(body(), lambda: calls.append("cut served"))
    assert next(cut) == b"a"
    cut.close()  # what a server does when the client went away
    assert calls == ["served", "body closed"]

    def failing():
        yield "a"
        raise OSError("disk gone")

    broken = served(failing(), lambda: calls.append("broken served"))
    with pytest.raises(OSError):
        list(broken)
    assert "broken served" not in calls


def test_a_head_request_serves_no_body_and_logs_no_export(app, scenario, make_staff):
    organiser = make_staff("organiser", password=PASSWORD)
    client = browser(app)
    login(client, organiser.email)
    for path in ("/staff/events/past/roster.xlsx", "/staff/events/past/roster.csv"):
        response = client.head(path)
        assert response.status_code == 200 and response.data == b""
        response.close()
    assert export_log() == []
    response = client.get("/staff/events/past/roster.xlsx")
    assert export_log() == []  # nothing read yet
    assert response.data.startswith(b"PK") and export_log() == ["roster-past.xlsx"]
