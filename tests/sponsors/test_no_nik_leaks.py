"""No listed NIK leaves the sponsor feature: an upload's answer, the sponsor pages, the
desk's note, the statement files (XLSX unzipped, PDF text and streams), the audit rows and
every log record at DEBUG (SQL with its parameters) hold none, only masked ones."""

from __future__ import annotations

import io

from sqlalchemy import text

from funrun.bibs.services import payload_for
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from tests.conftest import csrf_from, person_payload
from tests.privacy.test_nik_never_leaks import body_texts, leaks, log_records  # noqa: F401
from tests.sponsors.conftest import APBD, enrol_body, next_index, walkup_body
from tests.sponsors.test_pages import signed_in

API = "/api/v1"


def test_no_listed_nik_in_any_answer_row_or_log(
    app,
    make_event,
    make_staff,
    add_runner,
    on_finale_day,
    log_records,  # noqa: F811
    tmp_path,
):
    event = make_event()
    runner = add_runner(event)
    walkup = walkup_body(next_index(), payment_channel=None)
    others = [person_payload(next_index())["nik"] for _ in range(3)]
    niks = [data_cipher().decrypt(runner.person.nik_encrypted), walkup["nik"], *others]
    bad = "3174010101010000"  # refused: its serial is 0000
    client, _staff = signed_in(app, make_staff)
    admin, _admin = signed_in(app, make_staff, role="admin")
    volunteer = make_staff("volunteer", events=(event.slug,))
    texts: list[tuple[str, str]] = []

    def keep(label: str, response, status: int = 200) -> None:
        assert response.status_code == status, (label, response.get_data(as_text=True)[:300])
        name = f"answer{len(texts)}"
        texts.extend((label, part) for part in body_texts(response, tmp_path, name))

    page = client.get(f"/staff/sponsors/{APBD}").get_data(as_text=True)
    body = ("nik\n" + "\n".join([*niks, bad]) + "\n").encode()
    keep(
        "upload",
        client.post(
            f"/staff/sponsors/{APBD}/list",
            data={
                "csrf_token": csrf_from(page),
                "mode": "add",
                "file": (io.BytesIO(body), "x.csv"),
            },
            content_type="multipart/form-data",
        ),
    )
    keep("desk", client.get(f"/staff/events/{event.slug}/enrol?registration={runner.id}"))
    keep(
        "api enrol",
        app.test_client().post(
            f"{API}/events/{event.slug}/enrolments",
            json=enrol_body(code=payload_for(runner), payment_channel=None),
            headers=volunteer.headers,
        ),
        201,
    )
    keep(
        "api walk-up",
        app.test_client().post(
            f"{API}/events/{event.slug}/enrolments", json=walkup, headers=volunteer.headers
        ),
        201,
    )
    for url in (
        "/staff/sponsors",
        f"/staff/sponsors/{APBD}",
        f"/staff/sponsors/{APBD}/statement.csv",
        f"/staff/sponsors/{APBD}/statement.xlsx",
        f"/staff/sponsors/{APBD}/statement.pdf",
    ):
        keep(url, client.get(url))
    keep("audit", admin.get("/staff/audit"))
    db.session.rollback()
    for table in ("audit_log", "sponsor_eligibles", "sponsors"):
        rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
        texts.append((table, repr(rows)))
    texts.extend(("log", record.getMessage()) for record in log_records.records)
    texts.extend(("log", repr(record.args)) for record in log_records.records)

    assert any("3174**********00" in t for _label, t in texts)  # the refused line, masked
    statement = "".join(t for label, t in texts if label.endswith("statement.csv"))
    assert statement.count("3174**********") >= 2  # both members, masked
    found = [(label, nik) for nik in [*niks, bad] for label, t in texts if leaks(nik, t)]
    assert found == []
    cipher = data_cipher()
    listed = set(db.session.scalars(text("SELECT nik_hash FROM sponsor_eligibles")))
    assert listed == {cipher.lookup_hash(n) for n in niks}
