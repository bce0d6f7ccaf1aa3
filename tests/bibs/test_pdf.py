"""Bib PDFs, read back rather than trusted: rendered by poppler, QR decoded by zxing-cpp.

Every QR check renders the page with ``pdftoppm -r 150`` (poppler-utils), decodes the
bitmap with ``zxingcpp.read_barcodes`` and compares the text with the registration's
payload as the API gives it (``qr``), then verifies it against the signing key. Page
counts come from ``pdfinfo`` and page text from ``pdftotext``, not from our own writer.

The pages are rendered as PPM rather than PNG: the pixels are the same, and poppler's
PNG compression costs ten times the rendering (~250 ms a page here), which would make
the batch checks too slow for the suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tracemalloc
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import zxingcpp
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from config import BASE_DIR
from funrun.bibs.pdf import BibFace, EventLook, bib_page
from funrun.bibs.pdfwriter import StreamingPdf
from funrun.bibs.services import write_event_bibs
from funrun.bibs.signing import Verdict, bib_signer
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus
from tests.conftest import person_payload

API = "/api/v1"
DPI = "150"
MM = 72 / 25.4


# --- reading PDFs back with poppler and zxing-cpp -------------------------------------


@dataclass(frozen=True)
class PageReadBack:
    """What poppler and zxing-cpp make of one page."""

    width_pt: float
    height_pt: float
    qr_texts: list[str]
    qr_levels: list[str]
    text: str


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{args[0]} failed: {done.stderr}"
    assert "Syntax Error" not in done.stderr and "Syntax Warning" not in done.stderr, done.stderr
    return done.stdout


def pdf_info(path: Path) -> dict[str, str]:
    """``pdfinfo`` of the file as a dict (Pages, Title, Producer, ...)."""
    out = _run("pdfinfo", str(path))
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def page_sizes(path: Path, pages: int) -> list[tuple[float, float]]:
    """Each page's size in points, as poppler reads it."""
    out = _run("pdfinfo", "-f", "1", "-l", str(pages), str(path))
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out)
    return [(float(w), float(h)) for w, h in sizes]


def decode_qr(image_path: Path) -> list[Any]:
    """Every QR zxing-cpp finds on a rendered page."""
    with Image.open(image_path) as image:
        return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


def read_back(data: bytes, directory: Path, name: str = "doc") -> list[PageReadBack]:
    """Render every page at 150 dpi, decode its QR codes and extract its text."""
    directory.mkdir(parents=True, exist_ok=True)
    pdf = directory / f"{name}.pdf"
    pdf.write_bytes(data)
    pages = int(pdf_info(pdf)["Pages"])
    sizes = page_sizes(pdf, pages) if pages else []
    _run("pdftoppm", "-r", DPI, str(pdf), str(directory / name))
    images = sorted(directory.glob(f"{name}-*.ppm"))
    assert len(images) == pages
    texts = _run("pdftotext", "-layout", str(pdf), "-").split("\f")
    result = []
    for (width, height), image, text in zip(sizes, images, texts, strict=False):
        codes = decode_qr(image)
        result.append(
            PageReadBack(
                width,
                height,
                [code.text for code in codes],
                [code.ec_level for code in codes],
                text,
            )
        )
    assert len(result) == pages
    return result


def assert_pdf_file(data: bytes) -> None:
    """A whole PDF file: header, end marker, and poppler reads it without complaint."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")


# --- registering through the API --------------------------------------------------------


def runner_name(index: int) -> str:
    """A distinct name made of letters only (the name rule), e.g. ``Pelari Bac``."""
    letters = "".join(chr(ord("a") + (index // 26**k) % 26) for k in (2, 1, 0))
    return f"Pelari {letters.capitalize()}"


def register_runner(
    client: FlaskClient, event: Event, index: int, **overrides: Any
) -> dict[str, Any]:
    """Register through the public API; the registration JSON with its manage token."""
    overrides.setdefault("full_name", runner_name(index))
    response = client.post(
        f"{API}/events/{event.slug}/registrations", json=person_payload(index, **overrides)
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["registration"]


def api_registration(client: FlaskClient, token: str) -> dict[str, Any]:
    """The registration as the API shows it now."""
    response = client.get(f"{API}/registrations/{token}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["registration"]


def assert_verifies(payload: str, event_id: int, bib_number: int) -> None:
    """The payload is genuine for this event and names this bib."""
    result = bib_signer().verify(payload, event_id)
    assert (result.verdict, result.event_id, result.bib_number) == (
        Verdict.VALID,
        event_id,
        bib_number,
    )


# --- one runner's bib and e-ticket -----------------------------------------------------


def test_single_bib_pdf_reads_back_to_the_api_payload(client, make_event, tmp_path):
    event = make_event(bib_prefix="JKT", name="Fun Run Jakarta", city="Jakarta", quota=5)
    register_runner(client, event, 0)
    runner = register_runner(client, event, 1, full_name="Siti Rahmawati")
    assert runner["status"] == "confirmed" and runner["bib"] == "JKT 0002"
    token, payload = runner["manage_token"], runner["qr"]
    assert payload and api_registration(client, token)["qr"] == payload

    for source, url in (
        ("page", f"/r/{token}/bib.pdf"),
        ("api", f"{API}/registrations/{token}/bib.pdf"),
    ):
        response = client.get(url)
        assert response.status_code == 200, source
        assert response.mimetype == "application/pdf"
        assert 'filename="bib-JKT-0002.pdf"' in response.headers["Content-Disposition"]
        assert "no-store" in response.headers["Cache-Control"]
        data = response.get_data()
        assert_pdf_file(data)

        bib, ticket = read_back(data, tmp_path / source)
        # The bib is A5 landscape, the e-ticket A6 portrait.
        assert (round(bib.width_pt), round(bib.height_pt)) == (round(210 * MM), round(148 * MM))
        assert (round(ticket.width_pt), round(ticket.height_pt)) == (
            round(105 * MM),
            round(148 * MM),
        )
        for page in (bib, ticket):
            assert page.qr_texts == [payload]
            assert page.qr_levels == ["M"]
        assert_verifies(bib.qr_texts[0], event.id, 2)

        assert re.search(r"\bJKT\b", bib.text) and "0002" in bib.text
        assert "SITI RAHMAWATI" in bib.text
        assert "FUN RUN JAKARTA" in bib.text
        assert "JKT 0002" in ticket.text and "Siti Rahmawati" in ticket.text
        assert "E-TICKET" in ticket.text
        # Nobody else's name or number on this runner's PDF.
        assert "0001" not in bib.text + ticket.text
        assert runner_name(0).upper() not in bib.text


def test_bib_numbers_come_from_the_event_range_and_print_with_the_prefix(
    client, make_event, tmp_path
):
    event = make_event(bib_prefix="JKT", quota=5, bib_first=41, bib_last=42)
    runners = [register_runner(client, event, i) for i in range(3)]
    assert [(r["status"], r["bib"]) for r in runners] == [
        ("confirmed", "JKT 0041"),
        ("confirmed", "JKT 0042"),
        ("waitlisted", None),  # the range is used up before the quota
    ]
    response = client.get(f"/r/{runners[1]['manage_token']}/bib.pdf")
    assert 'filename="bib-JKT-0042.pdf"' in response.headers["Content-Disposition"]
    bib, ticket = read_back(response.get_data(), tmp_path)
    assert "JKT 0042" in ticket.text and re.search(r"\b0042\b", bib.text)
    assert bib.qr_texts == ticket.qr_texts == [runners[1]["qr"]]
    assert_verifies(bib.qr_texts[0], event.id, 42)


# --- a whole event, in bib order -------------------------------------------------------


def _confirmed_in_db(event_id: int) -> list[Any]:
    db.session.rollback()
    return list(
        db.session.execute(
            select(Registration.bib_number, Registration.full_name)
            .where(
                Registration.event_id == event_id,
                Registration.status == RegistrationStatus.CONFIRMED,
            )
            .order_by(Registration.bib_number)
        )
    )


def test_batch_pdf_has_every_confirmed_bib_in_order_and_reads_back(client, make_event, tmp_path):
    event = make_event(bib_prefix="JKT", quota=30)
    runners = [register_runner(client, event, i) for i in range(33)]
    assert [r["bib_number"] for r in runners[:30]] == list(range(1, 31))
    assert [r["status"] for r in runners[30:]] == ["waitlisted"] * 3

    # Bib 5 cancels: the head of the waitlist is confirmed with a new number (31),
    # never the retired 5. A waitlisted runner who cancels never had a number.
    cancelled, promoted, gave_up = runners[4], runners[30], runners[32]
    for runner in (cancelled, gave_up):
        response = client.post(f"{API}/registrations/{runner['manage_token']}/cancel")
        assert response.status_code == 200
    promoted_now = api_registration(client, promoted["manage_token"])
    assert promoted_now["status"] == "confirmed"
    assert (promoted_now["bib_number"], promoted_now["bib"]) == (31, "JKT 0031")
    assert api_registration(client, cancelled["manage_token"])["qr"] is None
    assert api_registration(client, runners[31]["manage_token"])["status"] == "waitlisted"

    expected_numbers = [n for n in range(1, 32) if n != 5]
    expected = {}  # bib number -> (name, payload the API shows)
    for runner in runners:
        now = api_registration(client, runner["manage_token"])
        if now["status"] == "confirmed":
            expected[now["bib_number"]] = (now["full_name"], now["qr"])
    assert sorted(expected) == expected_numbers
    assert [n for n, _ in _confirmed_in_db(event.id)] == expected_numbers

    path = tmp_path / "batch.pdf"
    with path.open("wb") as out:
        count = write_event_bibs(db.session.get(Event, event.id), out)
    assert count == 30
    data = path.read_bytes()
    assert_pdf_file(data)
    info = pdf_info(path)
    assert info["Pages"] == "30"

    pages = read_back(data, tmp_path / "render", "batch")
    decoded_numbers = []
    for page, number in zip(pages, expected_numbers, strict=True):
        name, payload = expected[number]
        assert page.qr_texts == [payload], f"page for bib {number}"
        result = bib_signer().verify(page.qr_texts[0], event.id)
        assert result.verdict == Verdict.VALID
        decoded_numbers.append(result.bib_number)
        # The big number, the prefix and the runner's name are on the page as text.
        assert re.search(rf"\b{number:04d}\b", page.text), page.text
        assert re.search(r"\bJKT\b", page.text)
        assert name.upper() in page.text
    assert decoded_numbers == expected_numbers  # bib order, page by page

    everything = "\f".join(page.text for page in pages)
    assert not re.search(r"\b0005\b", everything)  # the retired bib is not printed
    assert runner_name(4).upper() not in everything  # nor its cancelled runner
    assert runner_name(31).upper() not in everything  # nor anyone still waitlisted
    assert runner_name(32).upper() not in everything


def test_batch_without_confirmed_runners_is_one_notice_page(client, make_event, tmp_path):
    """A PDF needs a page (poppler rejects an empty page tree): it says there are no bibs."""
    event = make_event(bib_prefix="BDG", name="Fun Run Bandung")
    waiting = register_runner(client, event, 0)
    client.post(f"{API}/registrations/{waiting['manage_token']}/cancel")
    path = tmp_path / "empty.pdf"
    with path.open("wb") as out:
        assert write_event_bibs(event, out) == 0
    assert_pdf_file(path.read_bytes())
    (page,) = read_back(path.read_bytes(), tmp_path / "render")
    assert page.qr_texts == []
    assert "No confirmed runners" in page.text and "FUN RUN BANDUNG" in page.text
    assert runner_name(0).upper() not in page.text


# --- the command line ------------------------------------------------------------------


def test_cli_bibs_print_writes_every_bib_and_says_how_many(client, runner, make_event, tmp_path):
    event = make_event(bib_prefix="MDN", quota=3)
    runners = [register_runner(client, event, i) for i in range(4)]  # the 4th waits
    out = tmp_path / "medan.pdf"
    result = runner.invoke(args=["bibs", "print", event.slug, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert re.search(r"wrote 3 bibs in [\d.]+ s", result.output), result.output

    data = out.read_bytes()
    assert_pdf_file(data)
    pages = read_back(data, tmp_path / "render")
    assert [page.qr_texts for page in pages] == [[r["qr"]] for r in runners[:3]]
    assert all("MDN" in page.text for page in pages)


def test_cli_bibs_print_refuses_an_unknown_event(runner, tmp_path):
    out = tmp_path / "nothing.pdf"
    result = runner.invoke(args=["bibs", "print", "no-such-event", "-o", str(out)])
    assert result.exit_code != 0
    assert "no event with slug no-such-event" in result.output


def test_flask_command_line_as_documented(client, make_event, database_url, tmp_path):
    """``flask --app wsgi bibs print SLUG -o FILE`` in its own process, as an organiser runs it."""
    event = make_event(bib_prefix="SBY", quota=2)
    runners = [register_runner(client, event, i) for i in range(2)]
    out = tmp_path / "surabaya.pdf"
    env = dict(os.environ, FUNRUN_ENV="testing", TEST_DATABASE_URL=database_url)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "bibs", "print", event.slug, "-o", out],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 2 bibs" in done.stdout
    pages = read_back(out.read_bytes(), tmp_path / "render")
    assert [page.qr_texts for page in pages] == [[r["qr"]] for r in runners]


# --- memory stays flat as the batch grows ------------------------------------------------

_MEMORY_CHILD = textwrap.dedent(
    """
    import resource, sys
    from datetime import date, time

    from nacl.signing import SigningKey

    from funrun.bibs.pdf import BibFace, EventLook, batch_pdf
    from funrun.bibs.signing import BibSigner

    count = int(sys.argv[1])
    signer = BibSigner(SigningKey(bytes(range(32))))
    look = EventLook(
        "Fun Run Jakarta", "Jakarta", date(2015, 12, 13), time(6, 0), "Monas", "#0A7A3D", "JKT"
    )
    faces = (
        BibFace(n, f"Pelari Nomor {n}", "M", signer.sign(11, n)) for n in range(1, count + 1)
    )


    class Sink:  # like /dev/null, but counts what it is given
        written = 0

        def write(self, data):
            self.written += len(data)

        def flush(self):
            pass

    sink = Sink()
    pages = batch_pdf(look, faces, sink)
    written = sink.written
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(pages, written, peak_kib)
    """
)


def test_batch_memory_stays_flat_as_the_count_grows():
    """Peak RSS for 1,200 bibs is within a few MiB of that for 120 (written to a sink).

    reportlab keeps every page until it saves, ~40 KiB a bib page: 1,080 more pages
    would add ~40 MiB. Each count runs in a fresh interpreter so the peaks compare.
    """
    counts = (120, 1200)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _MEMORY_CHILD, str(n)],
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in counts
    ]
    peaks = {}
    for n, child in zip(counts, children, strict=True):
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        pages, written, peak_kib = (int(x) for x in out.split())
        assert pages == n
        assert written > n * 500  # every page really went out (a bib page is ~1.5 KB)
        peaks[n] = peak_kib / 1024
    growth = peaks[1200] - peaks[120]
    assert growth < 15, f"peak RSS grew {growth:.1f} MiB from 120 to 1,200 bibs: {peaks}"


def test_streaming_writer_keeps_only_a_few_bytes_a_page():
    """Traced Python memory while streaming pages: offsets only, not the pages themselves.

    A text-only bib page compresses to ~500 bytes; a writer holding its pages (or their
    streams) would keep at least that much a page, this one keeps ~20 (two offsets and a
    page number).
    """
    look = EventLook(
        "Fun Run Jakarta", "Jakarta", date(2015, 12, 13), time(6, 0), "Monas", "#0A7A3D", "JKT"
    )
    sink = _Discard()
    pages = 2000
    tracemalloc.start()
    try:
        pdf = StreamingPdf(sink, title="memory")
        pdf.add_page(bib_page(look, BibFace(1, "Pelari Satu", "M", ""), None))
        before = tracemalloc.get_traced_memory()[0]
        for n in range(2, pages + 1):
            pdf.add_page(bib_page(look, BibFace(n, f"Pelari Nomor {n}", "M", ""), None))
        kept = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.reset_peak()
        pdf.close()
        closing_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert pdf.page_count == pages
    assert sink.written > pages * 300  # the pages did go out
    assert kept / pages < 64, f"{kept / pages:.0f} bytes kept a page"
    # Writing the cross-reference table at the end is the only moment per-page data peaks.
    assert closing_peak / pages < 500, f"{closing_peak / pages:.0f} bytes a page at close"


class _Discard:
    """Counts the bytes written and drops them (like /dev/null)."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def flush(self) -> None:
        pass
