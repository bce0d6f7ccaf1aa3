"""A batch print through the real page and the real worker: gunicorn on loopback serves
the page and the download, ``flask --app wsgi worker --burst`` (a process of its own) makes
the PDF in the file store; the download is streamed from disk, so the web worker's memory
does not grow with the size of the PDF."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import requests
from flask import Flask

from funrun.accounts.services import create_user
from funrun.bibs.models import PrintJob, PrintJobStatus
from funrun.bibs.printing import pdf_path
from funrun.bibs.signing import Verdict, bib_signer
from funrun.extensions import db
from tests.bibs.test_pdf import api_registration, assert_pdf_file, read_back, register_runner
from tests.conftest import csrf_from
from tests.servers import ROOT, gunicorn, server_env

PASSWORD = "a long enough password"
PORT_PRINT, PORT_MEMORY = 8950, 8951
BIG = 160 * 1024 * 1024


def live_env(database_url: str, app: Flask) -> dict[str, str]:
    """The server's and the worker's environment: the test database and file store; the
    sign-in limit counted in the server (a shared Redis would remember earlier runs)."""
    env = server_env(database_url, FUNRUN_FILES_DIR=app.config["FUNRUN_FILES_DIR"])
    env.pop("REDIS_URL", None)
    return env


def signed_in(base_url: str, app: Flask) -> requests.Session:
    """A browser signed in as a new organiser."""
    email = f"organiser-{secrets.token_hex(3)}@example.org"
    create_user(email, "organiser", password=PASSWORD)
    db.session.commit()
    browser = requests.Session()
    token = csrf_from(browser.get(base_url + "/login", timeout=30).text)
    answer = browser.post(
        base_url + "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text
    return browser


def test_a_batch_print_through_the_page_and_the_worker(
    app: Flask, client, make_event, database_url: str, tmp_path: Path
):
    event = make_event(bib_prefix="PLM", quota=60, name="Fun Run Palembang")
    runners = [register_runner(client, event, i) for i in range(60)]
    expected = sorted(
        (api_registration(client, r["manage_token"]) for r in runners),
        key=lambda r: r["bib_number"],
    )
    files_dir = app.config["FUNRUN_FILES_DIR"]
    env = live_env(database_url, app)
    with gunicorn(env, port=PORT_PRINT, workers=1) as base_url:
        browser = signed_in(base_url, app)
        page = browser.get(f"{base_url}/staff/events/{event.slug}/bibs", timeout=30)
        started = browser.post(
            page.url, data={"csrf_token": csrf_from(page.text)}, allow_redirects=False, timeout=30
        )
        assert started.status_code == 302
        job_id = int(re.search(r"/staff/print-jobs/(\d+)$", started.headers["Location"])[1])
        waiting = browser.get(f"{base_url}/staff/print-jobs/{job_id}", timeout=30).text
        assert 'http-equiv="refresh"' in waiting  # queued for the worker, which is not running
        assert browser.get(f"{base_url}/staff/print-jobs/{job_id}.pdf").status_code == 404

        worker = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert worker.returncode == 0, worker.stderr
        assert "1 jobs done" in worker.stdout

        done = browser.get(f"{base_url}/staff/print-jobs/{job_id}", timeout=30).text
        assert 'http-equiv="refresh"' not in done and 'value="60" max="60"' in done
        download = browser.get(f"{base_url}/staff/print-jobs/{job_id}.pdf", timeout=60)
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "application/pdf"
        assert "no-store" in download.headers["Cache-Control"]
        assert f"filename=bibs-{event.slug}-{job_id}.pdf" in download.headers[
            "Content-Disposition"
        ].replace('"', "")
        on_disk = Path(files_dir) / "print-jobs" / f"{job_id}.pdf"
        assert download.content == on_disk.read_bytes()  # served from the file store
        part = browser.get(
            f"{base_url}/staff/print-jobs/{job_id}.pdf", headers={"Range": "bytes=0-7"}, timeout=30
        )
        assert (part.status_code, part.content) == (206, download.content[:8])
        again = browser.get(
            f"{base_url}/staff/print-jobs/{job_id}.pdf",
            headers={"If-None-Match": download.headers["ETag"]},
            timeout=30,
        )
        assert again.status_code == 304

    assert not list(on_disk.parent.glob(".*.part"))  # written under a temporary name
    assert_pdf_file(download.content)
    pages = read_back(download.content, tmp_path)
    assert [p.qr_texts for p in pages] == [[r["qr"]] for r in expected]
    for page_read, runner in zip(pages, expected, strict=True):
        verdict = bib_signer().verify(page_read.qr_texts[0], event.id)
        assert (verdict.verdict, verdict.bib_number) == (Verdict.VALID, runner["bib_number"])
    db.session.rollback()
    job = db.session.get_one(PrintJob, job_id)
    assert (job.status, job.done, job.pdf_size) == (PrintJobStatus.DONE, 60, len(download.content))


def _is_gunicorn(pid: int) -> bool:
    try:
        return b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1])


def test_the_download_is_streamed_from_disk_in_flat_memory(
    app: Flask, make_event, database_url: str
):
    """A 160 MB batch PDF goes through a gunicorn worker whose peak memory grows by less
    than 16 MB (a PDF held in memory would add its whole size)."""
    event = make_event()
    job = PrintJob(event_id=event.id, status=PrintJobStatus.DONE, total=1, done=1, pdf_size=BIG)
    db.session.add(job)
    db.session.commit()
    path = pdf_path(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(b"%PDF-1.4\n")
        out.truncate(BIG)
    env = live_env(database_url, app)
    with gunicorn(env, port=PORT_MEMORY, workers=1) as base_url:
        browser = signed_in(base_url, app)
        browser.get(f"{base_url}/staff/print-jobs/{job.id}", timeout=30)  # warm the worker
        # The gunicorn master is this test's child running gunicorn (the session's
        # Chromium, started by an earlier test, is a child with children too).
        (master,) = [p for p in _children(os.getpid()) if _children(p) and _is_gunicorn(p)]
        (web_worker,) = _children(master)
        before = _peak_rss_kib(web_worker)
        received = 0
        with browser.get(
            f"{base_url}/staff/print-jobs/{job.id}.pdf", stream=True, timeout=120
        ) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(1024 * 1024):
                received += len(chunk)
        grown = _peak_rss_kib(web_worker) - before
    assert received == BIG
    assert grown < 16 * 1024, f"the web worker's peak memory grew by {grown} KiB"
