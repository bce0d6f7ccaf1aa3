"""Organisers upload a payment file; the worker imports it; the page follows and reports."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from funrun.extensions import db
from funrun.jobs.worker import Worker
from funrun.payments.models import Payment
from tests.checkin.conftest import make_staff  # noqa: F401
from tests.conftest import csrf_from
from tests.reports.conftest import browser, login


def _organiser(app, make_staff):  # noqa: F811
    staff = make_staff("organiser", password="correct horse battery")
    client = browser(app)
    assert login(client, staff.email).status_code == 302
    return client


def _upload(client, body: bytes, name: str = "payments.csv"):
    page = client.get("/staff/payments")
    assert page.status_code == 200
    return client.post(
        "/staff/payments",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "file": (io.BytesIO(body), name),
        },
        content_type="multipart/form-data",
    )


def _work(app) -> None:
    db.session.rollback()
    Worker(app).run(burst=True)
    db.session.rollback()


def test_an_uploaded_file_is_imported_by_the_worker(app, members, make_staff):  # noqa: F811
    [member] = members(1)
    organiser = _organiser(app, make_staff)
    body = f"participant_number,month,amount\n{member.participant_number},2016-01,16800\nx,y,z\n"
    sent = _upload(organiser, body.encode())
    assert sent.status_code == 303
    job_page = sent.headers["Location"]
    waiting = organiser.get(job_page).get_data(as_text=True)
    assert 'http-equiv="refresh"' in waiting and 'max="2"' in waiting  # two rows to read
    _work(app)
    done = organiser.get(job_page).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in done
    assert "2" in done and db.session.scalar(select(func.count()).select_from(Payment)) == 1
    report = organiser.get(job_page + "/report.csv")
    assert report.status_code == 200
    rows = list(csv.DictReader(io.StringIO(report.get_data(as_text=True))))
    assert [r["outcome"] for r in rows] == ["accepted", "refused"]
    listing = organiser.get("/staff/payments").get_data(as_text=True)
    assert "payments.csv" in listing

    again = _upload(organiser, body.encode(), "again.csv")  # the same bytes: nothing changes
    _work(app)
    assert organiser.get(again.headers["Location"]).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_a_file_without_the_header_is_refused_and_nothing_recorded(app, members, make_staff):  # noqa: F811
    organiser = _organiser(app, make_staff)
    sent = _upload(organiser, b"nik,month,amount\n1,2016-01,5\n")
    _work(app)
    page = organiser.get(sent.headers["Location"]).get_data(as_text=True)
    assert "participant_number,month,amount" in page and 'role="alert"' in page
    assert organiser.get(sent.headers["Location"] + "/report.csv").status_code == 404


def test_no_file_is_a_clear_422(app, make_staff):  # noqa: F811
    organiser = _organiser(app, make_staff)
    page = organiser.get("/staff/payments")
    sent = organiser.post(
        "/staff/payments", data={"csrf_token": csrf_from(page.get_data(as_text=True))}
    )
    assert sent.status_code == 422 and 'role="alert"' in sent.get_data(as_text=True)
    assert organiser.get("/staff/payments/jobs/999").status_code == 404
