"""The sponsor pages (issue 20, point 2): the overview, a sponsor's fields and budget, its
list's upload (only keyed hashes kept; refused lines reported with the NIK masked), and the
desk recognising an eligible runner."""

from __future__ import annotations

import re

from sqlalchemy import select

from funrun.audit.models import AuditEntry
from funrun.enrolment.models import Sponsor
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.sponsors.models import SponsorEligible
from tests.conftest import csrf_from, person_payload
from tests.sponsors.conftest import APBD, PASSWORD, desk_browser, list_niks, login, next_index


def signed_in(app, make_staff, role="organiser", events=()):
    staff = make_staff(role, events=events, password=PASSWORD)
    client = desk_browser(app)
    assert login(client, staff.email).status_code == 302
    return client, staff


def niks(count: int) -> list[str]:
    return [person_payload(next_index())["nik"] for _ in range(count)]


def hashes(code: str = APBD) -> set[str]:
    db.session.rollback()
    sponsor_id = db.session.scalar(select(Sponsor.id).where(Sponsor.code == code))
    return set(
        db.session.scalars(
            select(SponsorEligible.nik_hash).where(SponsorEligible.sponsor_id == sponsor_id)
        )
    )


def upload(client, body: bytes, mode: str = "add", code: str = APBD, name: str = "list.csv"):
    page = client.get(f"/staff/sponsors/{code}").get_data(as_text=True)
    tokens = re.findall(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    # The body encoded here: werkzeug's test client spools a large one to a temporary
    # file it never closes (a ResourceWarning in a later test).
    boundary = "sponsor-list-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in (("csrf_token", tokens[0]), ("mode", mode))
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + body
        + b"\r\n"
    )
    return client.post(
        f"/staff/sponsors/{code}/list",
        data=b"".join(parts) + f"--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_an_organiser_creates_a_sponsor_and_edits_its_budget(app, make_staff):
    client, _staff = signed_in(app, make_staff)
    page = client.get("/staff/sponsors/new").get_data(as_text=True)
    made = client.post(
        "/staff/sponsors/new",
        data={
            "csrf_token": csrf_from(page),
            "code": "ojol-csr",
            "name": "CSR Aplikator Ojol",
            "budget_member_months": "1.200",
            "budget_rupiah": "20.160.000",
            "partner_id": "",
            "active": "y",
        },
    )
    assert made.status_code == 303, made.get_data(as_text=True)
    sponsor = db.session.scalar(select(Sponsor).where(Sponsor.code == "ojol-csr"))
    assert (sponsor.budget_member_months, sponsor.budget_rupiah) == (1200, 20_160_000)
    assert sponsor.active and not sponsor.public_budget
    overview = client.get("/staff/sponsors").get_data(as_text=True)
    assert "CSR Aplikator Ojol" in overview and "1.200" in overview and "Rp 20.160.000" in overview
    # The same code again is refused, with the field named.
    again = client.post(
        "/staff/sponsors/new",
        data={"csrf_token": csrf_from(page), "code": "ojol-csr", "name": "Lain", "active": "y"},
    )
    assert again.status_code == 422 and "sudah ada" in again.get_data(as_text=True)
    # Edit: a budget is cleared (no limit), the name changed; audited.
    edit_page = client.get("/staff/sponsors/ojol-csr").get_data(as_text=True)
    saved = client.post(
        "/staff/sponsors/ojol-csr",
        data={
            "csrf_token": csrf_from(edit_page),
            "name": "CSR Ojol",
            "budget_member_months": "",
            "budget_rupiah": "20.160.000",
            "active": "y",
        },
    )
    assert saved.status_code == 303
    db.session.rollback()
    sponsor = db.session.scalar(select(Sponsor).where(Sponsor.code == "ojol-csr"))
    assert (sponsor.name, sponsor.budget_member_months) == ("CSR Ojol", None)
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("sponsor_edit") == 2


def test_a_budget_below_what_is_used_is_refused(
    app, make_event, make_staff, add_runner, set_sponsor, on_finale_day
):
    from funrun.enrolment.services import enrol_registered, prepare
    from tests.sponsors.conftest import sponsored

    event = make_event()
    set_sponsor(budget_member_months=10)
    runner = add_runner(event)
    ready = prepare(event, sponsored(months=6), walkup=False, registration=runner)
    enrol_registered(event, runner, ready, user=None, locale="id")
    client, _staff = signed_in(app, make_staff, role="admin")
    page = client.get(f"/staff/sponsors/{APBD}").get_data(as_text=True)
    assert "6 terpakai dari 10; sisa: 4" in page
    refused = client.post(
        f"/staff/sponsors/{APBD}",
        data={"csrf_token": csrf_from(page), "name": "APBD", "budget_member_months": "5",
              "active": "y", "public_budget": "y"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "6 peserta-bulan" in refused.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(Sponsor.budget_member_months).where(Sponsor.code == APBD)) == 10


def test_a_list_is_uploaded_as_hashes_with_refused_lines_masked(app, make_staff):
    client, _staff = signed_in(app, make_staff)
    good = niks(3)
    bad = ["3174010101010000", "1234", "Budi Santoso", "31740A0101900001"]
    body = ("nik;nama\r\n" + "".join(f"{n};Warga\r\n" for n in [*good, good[0], *bad])).encode()
    answer = upload(client, body)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html
    assert "5 baris" not in html  # 8 lines read
    assert "8 baris dibaca: 4 diterima (3 baru, 1 sudah ada di daftar), 4 ditolak" in html
    assert "Daftar kini berisi 3 orang" in html
    cipher = data_cipher()
    assert hashes() == {cipher.lookup_hash(n) for n in good}
    for nik in [*good, *bad[:1], bad[3]]:
        assert nik not in html  # no NIK in the page, refused ones masked
    assert "3174**********00" in html and "Budi******so" in html
    # Line numbers count the header: the first refused line is line 6.
    assert re.search(r"<td class=\"num\">6</td><td class=\"nowrap\">3174\*+00</td>", html)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "sponsor_list")).one()
    assert "4 accepted" in entry.detail and good[0] not in entry.detail


def test_plain_text_adds_then_replace_swaps_the_whole_list(app, make_staff):
    client, _staff = signed_in(app, make_staff)
    first, second = niks(4), niks(2)
    assert upload(client, "\n".join(first).encode(), name="a.txt").status_code == 200
    assert len(hashes()) == 4
    added = upload(client, ("\ufeff" + "\r\n".join(second) + "\r\n").encode(), name="b.txt")
    assert "Daftar kini berisi 6 orang" in added.get_data(as_text=True)
    # The sponsor's own form on the answer is the stored sponsor's (not the upload's fields).
    assert '<input checked id="active" name="active" type="checkbox" value="y">' in (
        added.get_data(as_text=True)
    )
    replaced = upload(client, "\n".join(second).encode(), mode="replace")
    html = replaced.get_data(as_text=True)
    assert "Daftar sebelumnya yang berisi 6 orang telah diganti" in html
    cipher = data_cipher()
    assert hashes() == {cipher.lookup_hash(n) for n in second}


def test_a_file_without_any_valid_nik_changes_nothing(app, make_staff):
    client, _staff = signed_in(app, make_staff)
    list_niks(APBD, niks(2))
    before = hashes()
    refused = upload(client, b"bukan nik\n12345\n", mode="replace")
    assert refused.status_code == 422
    assert "Tidak ada baris" in refused.get_data(as_text=True)
    assert hashes() == before
    missing = client.post(
        f"/staff/sponsors/{APBD}/list",
        data={"csrf_token": csrf_from(client.get(f"/staff/sponsors/{APBD}").get_data(as_text=True)),
              "mode": "add"},
    )  # fmt: skip
    assert missing.status_code == 422 and "Pilih berkas" in missing.get_data(as_text=True)


def test_the_desk_recognises_an_eligible_runner_and_preselects_the_sponsor(
    app, make_event, make_staff, add_runner, set_sponsor, on_finale_day
):
    event = make_event()
    set_sponsor(budget_member_months=24, budget_rupiah=None)
    eligible, other = add_runner(event), add_runner(event)
    list_niks(APBD, [data_cipher().decrypt(eligible.person.nik_encrypted)])
    client, _staff = signed_in(app, make_staff, role="volunteer", events=(event.slug,))
    page = client.get(f"/staff/events/{event.slug}/enrol?registration={eligible.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert (
        "Berhak atas sponsor APBD Provinsi DKI Jakarta (PPSU): sisa anggaran 24 peserta-bulan"
        " / tanpa batas" in html
    )
    assert re.search(r'<input checked id="payment_channel-\d" name="payment_channel" '
                     r'type="radio" value="sponsor">', html), html  # fmt: skip
    assert re.search(r'<option selected value="apbd-dki">', html)
    other_page = client.get(f"/staff/events/{event.slug}/enrol?registration={other.id}")
    assert "Berhak atas sponsor" not in other_page.get_data(as_text=True)
    english = client.get(f"/staff/events/{event.slug}/enrol?registration={eligible.id}&lang=en")
    assert "Eligible for sponsor APBD" in english.get_data(as_text=True)


WALKUP = {
    "birth_place": "Jakarta",
    "mother_maiden_name": "Siti Aminah",
    "address": "Jl. Kebon Kacang 3, Jakarta Pusat",
    "occupation": "street_sweeper",
    "declared_income": "1.000.000",
    "months": "3",
    "consent": "y",
    "shirt_size": "M",
}


def hidden_inputs(html: str) -> dict[str, str]:
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields["csrf_token"] = csrf_from(html)
    return {k: v.replace("&amp;", "&").replace("&#39;", "'") for k, v in fields.items()}


def test_a_listed_walkup_is_recognised_on_review_and_charged_to_the_sponsor(
    app, make_event, make_staff, set_sponsor, on_finale_day
):
    from funrun.enrolment.models import Enrolment

    event = make_event(quota=5)
    set_sponsor(budget_member_months=3)
    person = person_payload(next_index())
    list_niks(APBD, [person["nik"]])
    client, _staff = signed_in(app, make_staff, role="volunteer", events=(event.slug,))
    url = f"/staff/events/{event.slug}/enrol"
    form = {
        **WALKUP,
        **{k: person[k] for k in ("full_name", "nik", "birth_date", "gender", "phone")},
        "csrf_token": csrf_from(client.get(url).get_data(as_text=True)),
    }
    review = client.post(url, data=form)  # no payment channel chosen
    html = review.get_data(as_text=True)
    assert review.status_code == 200, html
    assert "Berhak atas sponsor APBD Provinsi DKI Jakarta (PPSU)" in html
    assert person["nik"] not in html.replace(f'value="{person["nik"]}"', "")  # only in the form
    fields = hidden_inputs(html)
    assert (fields["payment_channel"], fields["sponsor"]) == ("sponsor", APBD)
    done = client.post(url, data={**fields, "action": "confirm"})
    assert done.status_code == 302, done.get_data(as_text=True)
    db.session.rollback()
    [enrolment] = db.session.scalars(select(Enrolment)).all()
    assert (enrolment.sponsor.code, enrolment.amount_due, enrolment.sponsor_amount) == (
        APBD, 0, 3 * 16_800,
    )  # fmt: skip

    # The budget is spent: the next listed walk-up is told so and may pay themselves.
    second = person_payload(next_index())
    list_niks(APBD, [second["nik"]])
    form = {
        **WALKUP,
        **{k: second[k] for k in ("full_name", "nik", "birth_date", "gender", "phone")},
        "payment_channel": "sponsor",
        "sponsor": APBD,
        "csrf_token": csrf_from(client.get(url).get_data(as_text=True)),
    }
    refused = client.post(url, data=form)
    assert refused.status_code == 409
    assert "Anggaran APBD Provinsi DKI Jakarta (PPSU) tidak cukup" in refused.get_data(as_text=True)
    paying = client.post(url, data={**form, "payment_channel": "cash", "sponsor": ""})
    assert paying.status_code == 200 and "Rp 50.400" in paying.get_data(as_text=True)
    db.session.rollback()
    assert len(db.session.scalars(select(Enrolment)).all()) == 1


def test_a_list_larger_than_the_limit_is_refused_before_it_is_read(app, make_staff):
    client, _staff = signed_in(app, make_staff)
    list_niks(APBD, niks(1))
    before = hashes()
    too_big = upload(client, b"3174010101900001\n" * 500_000)  # 8.5 MB
    assert too_big.status_code == 413
    assert hashes() == before
