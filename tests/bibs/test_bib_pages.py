"""Bib pages: the runner's manage page (bib, QR, download), refusals, organiser batch print.

QR codes are read back, not trusted: PDFs through poppler and zxing-cpp (see test_pdf),
the manage page's SVG by drawing its path with Pillow and decoding that with zxing-cpp.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import zxingcpp
from flask import Flask, current_app
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from funrun.accounts.services import create_user
from funrun.bibs.models import PrintJob, PrintJobStatus
from funrun.bibs.signing import Verdict, bib_signer
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.jobs.worker import Worker
from tests.bibs.test_pdf import (
    API,
    api_registration,
    assert_pdf_file,
    read_back,
    register_runner,
)
from tests.conftest import csrf_from

PROBLEM_BASE = "https://funrun.example/problems/"
PASSWORD = "a long enough password"


# --- reading the SVG QR back -----------------------------------------------------------


def rasterise_svg_qr(svg: str, scale: int = 8) -> Image.Image:
    """Draw the QR's SVG (a viewBox, a white rect, one black path) as a bitmap.

    Understands only what a QR path needs (M, h, v, H, V, L, z); anything else fails
    the test, so a change of drawing would be noticed rather than misread.
    """
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert view, svg[:200]
    width, height = int(view.group(1)), int(view.group(2))
    paths = re.findall(r'<path d="([^"]*)" fill="#000"', svg)
    assert len(paths) == 1
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    tokens = re.findall(r"[A-Za-z]|-?\d+(?:\.\d+)?", paths[0])
    points: list[tuple[float, float]] = []
    x = y = 0.0
    i = 0
    while i < len(tokens):
        command = tokens[i]
        i += 1
        if command in "Zz":
            draw.polygon([(px * scale, py * scale) for px, py in points], fill=0)
            points = []
            continue
        if command in "ML":
            x, y = float(tokens[i]), float(tokens[i + 1])
            i += 2
        elif command == "h":
            x += float(tokens[i])
            i += 1
        elif command == "v":
            y += float(tokens[i])
            i += 1
        elif command == "H":
            x = float(tokens[i])
            i += 1
        elif command == "V":
            y = float(tokens[i])
            i += 1
        else:
            raise AssertionError(f"unexpected path command {command!r}")
        points.append((x, y))
    assert not points, "unclosed path"
    return image


def decode_svg_qr(svg: str) -> list[str]:
    return [
        code.text
        for code in zxingcpp.read_barcodes(
            rasterise_svg_qr(svg), formats=zxingcpp.BarcodeFormat.QRCode
        )
    ]


# --- helpers ---------------------------------------------------------------------------


class FreshUserClient(FlaskClient):
    """A browser whose every request runs in its own app context, as on a real server.

    The ``app`` fixture keeps one app context for the whole test and requests reuse it,
    so ``g`` (Flask-Login's user, Flask-WTF's raw CSRF token) would carry one client's
    user and token into another client's requests. A fresh context per request makes
    each request authenticate from the session cookie it sends.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def fresh_client(app: Flask) -> FreshUserClient:
    return FreshUserClient(app, app.response_class, use_cookies=True)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def staff_client(app: Flask, role: str, **kw: Any) -> tuple[FlaskClient, int]:
    """A separate browser, signed in with a new account of ``role``."""
    email = f"{role}-{secrets.token_hex(3)}@example.org"
    user = create_user(email, role, password=PASSWORD, **kw)
    staff = fresh_client(app)
    login(staff, email)
    return staff, user.id


def links(html: str) -> tuple[list[str], list[str]]:
    """The href of every link and the src of every image on a page."""
    return re.findall(r'<a [^>]*href="([^"]+)"', html), re.findall(r'<img [^>]*src="([^"]+)"', html)


def assert_no_bib_anywhere(client: FlaskClient, token: str) -> None:
    """No QR, no download on the manage page; the PDF and QR URLs refuse."""
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    hrefs, images = links(html)
    assert f"/r/{token}/bib.pdf" not in hrefs
    assert f"/r/{token}/qr.svg" not in images
    assert 'class="qr"' not in html
    assert client.get(f"/r/{token}/bib.pdf").status_code == 404
    assert client.get(f"/r/{token}/qr.svg").status_code == 404
    refused = client.get(f"{API}/registrations/{token}/bib.pdf")
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json(force=True)
    assert body["type"] == PROBLEM_BASE + "no-bib" and body["status"] == 409
    assert api_registration(client, token)["qr"] is None


def wait_for_job(job_id: int) -> PrintJob:
    """Run the worker until the queue is empty (as ``flask worker --burst`` does)."""
    Worker(current_app._get_current_object()).run(burst=True)
    db.session.rollback()  # see what the worker's own session committed
    job = db.session.get(PrintJob, job_id)
    assert job is not None
    return job


# --- the runner's manage page ----------------------------------------------------------


def test_manage_page_shows_bib_qr_and_download_that_read_back(client, make_event, tmp_path):
    event = make_event(bib_prefix="JKT", quota=5)
    register_runner(client, event, 0)
    runner = register_runner(client, event, 1)
    token, payload = runner["manage_token"], runner["qr"]

    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'<p class="bib">\s*JKT 0002\s*</p>', html)
    hrefs, images = links(html)
    assert f"/r/{token}/qr.svg" in images
    assert f"/r/{token}/bib.pdf" in hrefs

    qr = client.get(f"/r/{token}/qr.svg")
    assert qr.status_code == 200
    assert qr.mimetype == "image/svg+xml"
    assert qr.headers["Cache-Control"].startswith("private")
    svg = qr.get_data(as_text=True)
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert "<path " in svg
    assert decode_svg_qr(svg) == [payload]

    pdf = client.get(f"/r/{token}/bib.pdf")  # the link on the page
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pages = read_back(pdf.get_data(), tmp_path)
    assert [p.qr_texts for p in pages] == [[payload], [payload]]
    result = bib_signer().verify(pages[0].qr_texts[0], event.id)
    assert (result.verdict, result.bib_number) == (Verdict.VALID, 2)


def test_svg_reader_is_not_fooled():
    # The read-back helper itself: a different payload decodes as itself, not ours.
    from funrun.bibs.qr import svg

    assert decode_svg_qr(svg("FR1AA:1:2:HELLO")) == ["FR1AA:1:2:HELLO"]
    blank = '<svg viewBox="0 0 10 10"><path d="M0 0h1v1h-1z" fill="#000"/></svg>'
    assert decode_svg_qr(blank) == []


def test_waitlisted_and_cancelled_runners_have_no_bib(client, make_event, tmp_path):
    event = make_event(bib_prefix="JKT", quota=2)
    first, _second, third, fourth = (register_runner(client, event, i) for i in range(4))
    assert [third["status"], fourth["status"]] == ["waitlisted", "waitlisted"]
    assert third["qr"] is None and third["bib"] is None

    cancelled = client.post(f"{API}/registrations/{first['manage_token']}/cancel")
    assert cancelled.status_code == 200
    assert_no_bib_anywhere(client, first["manage_token"])  # cancelled: number retired
    assert_no_bib_anywhere(client, fourth["manage_token"])  # still waiting

    # The head of the waitlist took the freed place with a new number, and with it a bib.
    promoted = api_registration(client, third["manage_token"])
    assert (promoted["status"], promoted["bib"]) == ("confirmed", "JKT 0003")
    html = client.get(f"/r/{third['manage_token']}").get_data(as_text=True)
    assert "JKT 0003" in html
    svg = client.get(f"/r/{third['manage_token']}/qr.svg").get_data(as_text=True)
    assert decode_svg_qr(svg) == [promoted["qr"]]
    pdf = client.get(f"{API}/registrations/{third['manage_token']}/bib.pdf")
    assert pdf.status_code == 200
    (bib, _ticket) = read_back(pdf.get_data(), tmp_path)
    assert bib.qr_texts == [promoted["qr"]]
    assert bib_signer().verify(promoted["qr"], event.id).bib_number == 3


def test_unknown_forged_and_malformed_tokens_are_404(client, make_event):
    event = make_event()
    real = register_runner(client, event, 0)["manage_token"]
    flipped = real[:-1] + ("A" if real[-1] != "A" else "B")
    for token in (secrets.token_urlsafe(24), flipped, "x", "a" * 65, "..%2F..%2Fetc"):
        for url in (f"/r/{token}", f"/r/{token}/bib.pdf", f"/r/{token}/qr.svg"):
            assert client.get(url).status_code == 404, url
        api = client.get(f"{API}/registrations/{token}/bib.pdf")
        assert api.status_code == 404
        if api.mimetype == "application/problem+json":
            assert api.get_json(force=True)["status"] == 404
    assert client.get(f"/r/{real}/bib.pdf").status_code == 200  # the real one works


# --- organisers print every bib in the background -----------------------------------------


def test_organiser_prints_every_bib_in_the_background(app, client, make_event, tmp_path):
    event = make_event(bib_prefix="MKS", quota=6, name="Fun Run Makassar")
    runners = [register_runner(client, event, i) for i in range(7)]  # the 7th waits
    client.post(f"{API}/registrations/{runners[2]['manage_token']}/cancel")  # bib 3 retires
    expected = [api_registration(client, r["manage_token"]) for r in runners]
    expected = sorted(
        (r for r in expected if r["status"] == "confirmed"), key=lambda r: r["bib_number"]
    )
    assert [r["bib_number"] for r in expected] == [1, 2, 4, 5, 6, 7]

    organiser, organiser_id = staff_client(app, "organiser")
    form_page = organiser.get(f"/staff/events/{event.slug}/bibs")
    assert form_page.status_code == 200
    html = form_page.get_data(as_text=True)
    assert re.search(r"\b6\b", html)  # confirmed bibs to print
    started = organiser.post(
        f"/staff/events/{event.slug}/bibs", data={"csrf_token": csrf_from(html)}
    )
    assert started.status_code == 302
    match = re.search(r"/staff/print-jobs/(\d+)$", started.headers["Location"])
    assert match, started.headers["Location"]
    job_id = int(match.group(1))

    job = wait_for_job(job_id)
    assert job.status == PrintJobStatus.DONE, job.error
    assert (job.total, job.done, job.requested_by_id) == (6, 6, organiser_id)
    assert job.finished_at is not None

    status_page = organiser.get(f"/staff/print-jobs/{job_id}")
    assert status_page.status_code == 200
    status_html = status_page.get_data(as_text=True)
    assert 'http-equiv="refresh"' not in status_html  # finished: stops refreshing
    assert f"/staff/print-jobs/{job_id}.pdf" in links(status_html)[0]
    assert 'value="6" max="6"' in status_html

    download = organiser.get(f"/staff/print-jobs/{job_id}.pdf")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert "no-store" in download.headers["Cache-Control"]
    data = download.get_data()
    download.close()  # streamed from the file store: close the file
    assert_pdf_file(data)
    pages = read_back(data, tmp_path)
    assert [p.qr_texts for p in pages] == [[r["qr"]] for r in expected]
    for page, runner in zip(pages, expected, strict=True):
        result = bib_signer().verify(page.qr_texts[0], event.id)
        assert (result.verdict, result.bib_number) == (Verdict.VALID, runner["bib_number"])
        assert runner["full_name"].upper() in page.text

    listing = organiser.get(f"/staff/events/{event.slug}/bibs").get_data(as_text=True)
    assert f"/staff/print-jobs/{job_id}" in links(listing)[0]


def test_job_page_refreshes_itself_until_the_job_ends(app, make_event):
    event = make_event()
    organiser, _ = staff_client(app, "organiser")
    now = utcnow()
    running = PrintJob(event_id=event.id, status=PrintJobStatus.RUNNING, total=10, done=3)
    stale = PrintJob(
        event_id=event.id,
        status=PrintJobStatus.RUNNING,
        total=10,
        done=3,
        updated_at=now - timedelta(minutes=10),
    )
    failed = PrintJob(event_id=event.id, status=PrintJobStatus.FAILED, total=10, error="boom")
    db.session.add_all([running, stale, failed])
    db.session.commit()

    html = organiser.get(f"/staff/print-jobs/{running.id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in html
    assert 'value="3" max="10"' in html
    # Not finished: nothing to download yet.
    assert organiser.get(f"/staff/print-jobs/{running.id}.pdf").status_code == 404

    for ended in (stale, failed):  # a dead or failed job must not refresh forever
        html = organiser.get(f"/staff/print-jobs/{ended.id}").get_data(as_text=True)
        assert 'http-equiv="refresh"' not in html
        assert f"/staff/print-jobs/{ended.id}.pdf" not in html
        assert organiser.get(f"/staff/print-jobs/{ended.id}.pdf").status_code == 404

    assert organiser.get("/staff/events/no-such-event/bibs").status_code == 404
    assert organiser.get("/staff/print-jobs/999999").status_code == 404
    assert organiser.get("/staff/print-jobs/999999.pdf").status_code == 404


def test_volunteers_may_not_print_and_anonymous_must_sign_in(app, client, make_event):
    event = make_event()
    register_runner(client, event, 0)
    job = PrintJob(event_id=event.id, status=PrintJobStatus.DONE, total=1, done=1, pdf_size=4)
    db.session.add(job)
    db.session.commit()
    job_id = job.id
    urls = (
        f"/staff/events/{event.slug}/bibs",
        f"/staff/print-jobs/{job_id}",
        f"/staff/print-jobs/{job_id}.pdf",
    )

    volunteer, _ = staff_client(app, "volunteer", event_slugs=[event.slug])
    for url in urls:
        assert volunteer.get(url).status_code == 403, url
    token = csrf_from(volunteer.get("/login").get_data(as_text=True))
    refused = volunteer.post(urls[0], data={"csrf_token": token})
    assert refused.status_code == 403

    anonymous = fresh_client(app)
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert re.match(r"(http://localhost)?/login\?next=", response.headers["Location"])
    token = csrf_from(anonymous.get("/login").get_data(as_text=True))
    assert anonymous.post(urls[0], data={"csrf_token": token}).status_code == 302

    db.session.rollback()
    assert db.session.scalar(select(func.count(PrintJob.id))) == 1  # nobody started a job
