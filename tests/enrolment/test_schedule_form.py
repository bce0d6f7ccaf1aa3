"""The admins' schedule form: edit rows, refused with messages beside the fields, a preview
priced with the unsaved schedule, every save audited, the provisional mark, the JSON bulk."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from funrun.audit.models import AuditEntry
from funrun.enrolment.models import ContributionSchedule, IncomeBracket, ReliefPeriod
from funrun.enrolment.schedule import SHIPPED, dump_document
from funrun.enrolment.schedule_forms import form_fields
from funrun.extensions import db
from tests.browser.conftest import browser, live_server  # noqa: F401  (fixtures)
from tests.conftest import csrf_from
from tests.enrolment.conftest import PASSWORD, desk_browser, login

EDIT = "/staff/enrolment/schedules/bpu-2015/edit"
#: The shipped schedule's fields as the form sends them (index of each relief and period).
PP50, GENERAL_PERIOD = 1, 1


@pytest.fixture
def admin(app: Flask, make_staff: Callable[..., Any]) -> FlaskClient:
    """A browser signed in as an admin, reading Bahasa Indonesia."""
    staff = make_staff("admin", password=PASSWORD)
    client = desk_browser(app)
    assert login(client, staff.email).status_code == 302
    return client


def shipped_fields() -> list[tuple[str, str]]:
    """The form as the edit page fills it for the shipped schedule."""
    document = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return form_fields(document["schedules"][0])


def post(
    client: FlaskClient, fields: list[tuple[str, str]], *, url: str = EDIT, **changes: str
) -> Any:
    """POST the form with ``changes`` (field name -> value; a new name is added)."""
    out = [(k, changes.pop(k) if k in changes else v) for k, v in fields]
    out += list(changes.items())
    token = csrf_from(client.get(EDIT).get_data(as_text=True))
    return client.post(url, data=MultiDict([*out, ("csrf_token", token)]))


def html_of(response: Any) -> str:
    return response.get_data(as_text=True)


def error_of(html: str, field_id: str) -> str:
    """The error list shown for a field (by its id)."""
    match = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-error">(.*?)</ul>', html, re.S
    )
    assert match, f"no error shown for {field_id}"
    return re.sub(r"<[^>]+>", " ", match.group(1))


def months_table(html: str) -> list[str]:
    """The preview's monthly totals, as shown."""
    rows = re.findall(r'<td class="num month-total"[^>]*>([^<]+)</td>', html)
    return [re.sub(r"[^0-9.]", "", row) for row in rows]


def audit_rows() -> list[AuditEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "schedule_edit")))


def test_the_edit_page_shows_the_stored_schedule_as_rows(admin: FlaskClient) -> None:
    html = html_of(admin.get(EDIT))
    assert 'id="schedule-code">bpu-2015<' in html
    assert 'name="rates-0-amount" type="text" value="1.00"' in html
    assert 'name="rates-1-amount" type="text" value="6800"' in html
    assert 'name="brackets-32-income_from" type="text" value="20200000"' in html
    assert 'name="brackets-33-income_from" type="text" value=""' in html  # a spare row
    assert 'name="reliefs-1-periods-1-last_month"' in html
    assert re.search(r'value="trader"[^>]*checked|checked[^>]*value="trader"', html)


def test_editing_a_rate_is_saved_and_audited_in_words(admin: FlaskClient) -> None:
    response = post(admin, shipped_fields(), **{"rates-0-amount": "1,5"})
    assert response.status_code == 302, html_of(response)[:3000]
    db.session.rollback()
    jkk = next(r for r in dump_document()["schedules"][0]["rates"] if r["programme"] == "JKK")
    assert jkk["rate_percent"] == "1.50"
    [row] = audit_rows()
    assert row.target == "bpu-2015" and row.detail == "JKK 1.00% -> 1.50%"
    # Saving again unchanged writes nothing more.
    assert post(admin, shipped_fields(), **{"rates-0-amount": "1.50"}).status_code == 302
    assert len(audit_rows()) == 1


def test_a_bad_rate_is_refused_beside_its_field_in_both_languages(admin: FlaskClient) -> None:
    before = dump_document()
    response = post(admin, shipped_fields(), **{"rates-0-amount": "1.005"})
    assert response.status_code == 422
    html = html_of(response)
    assert "JKK harus berupa persentase dengan paling banyak dua desimal" in error_of(
        html, "rates-0-amount"
    )
    assert 'value="1.005"' in html  # the form is kept as typed
    admin.set_cookie("lang", "en")
    html = html_of(post(admin, shipped_fields(), **{"rates-0-amount": "1.005"}))
    assert 'JKK must be a percentage with at most two decimals, e.g. "1.00".' in html.replace(
        "&#34;", '"'
    )
    assert dump_document() == before and audit_rows() == []


def test_adding_a_bracket_row(admin: FlaskClient) -> None:
    fields = shipped_fields()
    # The top bracket gets an end, and a new top bracket follows it.
    response = post(
        admin,
        fields,
        **{
            "brackets-32-income_to": "21.199.999",
            "brackets-33-income_from": "21.200.000",
            "brackets-33-basis": "21.700.000",
        },
    )
    assert response.status_code == 302, html_of(response)[:3000]
    db.session.rollback()
    top = db.session.scalars(select(IncomeBracket).order_by(IncomeBracket.income_from.desc()))
    assert [(b.income_from, b.income_to, b.basis) for b in list(top)[:2]] == [
        (21_200_000, None, 21_700_000),
        (20_200_000, 21_199_999, 20_700_000),
    ]
    [row] = audit_rows()
    assert "bracket added: 21200000" in row.detail and "brackets changed from: Rp 20.200.000" in (
        row.detail
    )


def test_a_bracket_row_with_a_gap_is_refused(admin: FlaskClient) -> None:
    response = post(admin, shipped_fields(), **{"brackets-33-income_from": "30000000"})
    assert response.status_code == 422
    html = html_of(response)
    assert "Kelompok dasar penghasilan" in error_of(html, "brackets") or "brackets" in html
    assert 'id="brackets-error"' in html
    assert db.session.scalar(select(func.count()).select_from(IncomeBracket)) == 33


def test_blank_rows_are_ignored_and_add_rows_gives_more(admin: FlaskClient) -> None:
    html = html_of(post(admin, shipped_fields(), action="add_rows"))
    assert 'name="brackets-37-income_from"' in html  # 33 + 5 spare
    assert 'name="reliefs-2-code"' in html and 'name="reliefs-0-periods-1-first_month"' in html
    assert 'name="sectors-2-code"' in html
    assert post(admin, shipped_fields(), action="save").status_code == 302
    assert audit_rows() == []  # nothing changed: nothing written


def test_a_relief_period(admin: FlaskClient) -> None:
    at = f"reliefs-{PP50}-periods"
    # A third period for PP 50/2025: fishers only... as a sector the schedule lacks: refused.
    response = post(
        admin,
        shipped_fields(),
        **{
            f"{at}-2-sector": "fishing",
            f"{at}-2-first_month": "2027-01",
            f"{at}-2-last_month": "2027-03",
        },
    )
    assert response.status_code == 422
    assert "Sektor: sektor tidak dikenal." in error_of(html_of(response), f"{at}-2-sector")
    # Months in the wrong order: refused on the period's row.
    response = post(admin, shipped_fields(), **{f"{at}-{GENERAL_PERIOD}-last_month": "2026-01"})
    assert response.status_code == 422
    html = html_of(response)
    assert "Periode 2 berakhir sebelum dimulai." in html
    # The summary at the top links to the row.
    assert f'<a href="#{at}-{GENERAL_PERIOD}">Periode 2 berakhir sebelum dimulai.</a>' in html
    # The general period extended to January 2027: saved.
    response = post(admin, shipped_fields(), **{f"{at}-{GENERAL_PERIOD}-last_month": "2027-01"})
    assert response.status_code == 302
    db.session.rollback()
    months = db.session.scalars(
        select(ReliefPeriod.last_month).where(ReliefPeriod.sector == "general")
    ).all()
    assert [f"{m:%Y-%m}" for m in months] == ["2027-01"]
    [row] = audit_rows()
    assert row.detail == (
        "relief pp-50-2025 periods transport 2026-01..2027-03, general 2026-04..2026-12 -> "
        "transport 2026-01..2027-03, general 2026-04..2027-01"
    )


EXAMPLE = {
    "example_income": "1.000.000",
    "example_occupation": "trader",
    "example_months": "3",
    "example_jht": "y",
    "example_start": "2026-12",
    "action": "preview",
}


def test_the_preview_prices_the_shipped_schedule(admin: FlaskClient) -> None:
    response = post(admin, shipped_fields(), **EXAMPLE)
    assert response.status_code == 200
    assert months_table(html_of(response)) == ["28.400", "36.800", "36.800"]


def test_the_preview_prices_the_edited_schedule_without_saving(admin: FlaskClient) -> None:
    before = dump_document()
    at = f"reliefs-{PP50}-periods-{GENERAL_PERIOD}-last_month"
    response = post(admin, shipped_fields(), **EXAMPLE, **{at: "2027-01"})
    assert response.status_code == 200
    assert months_table(html_of(response)) == ["28.400", "28.400", "36.800"]
    db.session.rollback()
    assert dump_document() == before and audit_rows() == []
    assert db.session.scalar(select(func.count()).select_from(ContributionSchedule)) == 1


def test_a_bad_example_or_schedule_is_refused_in_the_preview(admin: FlaskClient) -> None:
    response = post(admin, shipped_fields(), **{**EXAMPLE, "example_start": "12/2026"})
    assert response.status_code == 422
    assert "YYYY-MM" in error_of(html_of(response), "example_start")
    response = post(admin, shipped_fields(), **{**EXAMPLE, "example_start": "2010-01"})
    assert response.status_code == 422
    assert "Tidak ada jadwal iuran" in error_of(html_of(response), "example_start")
    response = post(admin, shipped_fields(), **EXAMPLE, **{"rates-1-amount": "-5"})
    assert response.status_code == 422
    assert "jumlah rupiah bulat" in error_of(html_of(response), "rates-1-amount")


def test_a_new_schedule(admin: FlaskClient) -> None:
    html = html_of(admin.get("/staff/enrolment/schedules/new?copy=bpu-2015"))
    assert 'name="code" type="text" value=""' in html
    assert 'name="brackets-0-income_from" type="text" value="1000000"' in html
    fields = [(k, v) for k, v in shipped_fields() if k != "code"]
    response = post(
        admin,
        fields,
        url="/staff/enrolment/schedules/new",
        code="bpu-2015",
        name="Iuran BPU 2030",
        effective_from="2030-01-01",
    )
    assert response.status_code == 422
    assert "sudah ada" in error_of(html_of(response), "code")
    response = post(
        admin,
        fields,
        url="/staff/enrolment/schedules/new",
        code="bpu-2030",
        name="Iuran BPU 2030",
        effective_from="2030-01-01",
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/enrolment/schedules/bpu-2030/edit")
    [row] = audit_rows()
    assert row.target == "bpu-2030" and row.detail.startswith("new schedule from 2030-01-01")


def test_the_provisional_mark_is_shown_to_admins(admin: FlaskClient) -> None:
    html = html_of(admin.get("/staff/enrolment/schedules"))
    card = html.split('id="schedule-bpu-2015"', 1)[1].split("</div>\n", 2)
    text = " ".join(card[:2])
    assert '<span class="provisional"' in text and "Sementara" in text
    assert "Lampiran II" in text  # its source, and what it awaits
    fields = [(k, v) for k, v in shipped_fields() if k != "brackets_complete"]
    assert post(admin, fields, brackets_complete="y").status_code == 302
    html = html_of(admin.get("/staff/enrolment/schedules"))
    assert '<span class="provisional"' not in html
    [row] = audit_rows()
    assert row.detail == "brackets_complete False -> True"


@pytest.mark.parametrize("role", ["organiser", "volunteer"])
def test_only_admins_see_or_edit_schedules(
    app: Flask, make_staff: Callable[..., Any], role: str
) -> None:
    staff = make_staff(role, password=PASSWORD)
    client = desk_browser(app)
    login(client, staff.email)
    for url in (EDIT, "/staff/enrolment/schedules/new", "/staff/enrolment/schedules.json"):
        assert client.get(url).status_code == 403
    token = csrf_from(client.get("/staff").get_data(as_text=True))
    assert client.post(EDIT, data={"csrf_token": token}).status_code == 403
    anonymous = desk_browser(app)
    assert anonymous.get(EDIT).headers["Location"].split("?")[0].endswith("/login")


def test_json_export_then_import_changes_nothing(admin: FlaskClient) -> None:
    exported = admin.get("/staff/enrolment/schedules.json")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    before = dump_document()
    assert json.loads(exported.get_data(as_text=True)) == before
    token = csrf_from(html_of(admin.get("/staff/enrolment/schedules")))
    response = admin.post(
        "/staff/enrolment/schedules",
        data={"document": exported.get_data(as_text=True), "csrf_token": token},
    )
    assert response.status_code == 302
    db.session.rollback()
    assert dump_document() == before
    assert audit_rows() == []


def test_a_json_import_is_audited_per_schedule_and_sponsor(admin: FlaskClient) -> None:
    document = dump_document()
    next(r for r in document["schedules"][0]["rates"] if r["programme"] == "JKM")["flat_amount"] = (
        7000
    )
    document["sponsors"][0]["active"] = False
    token = csrf_from(html_of(admin.get("/staff/enrolment/schedules")))
    response = admin.post(
        "/staff/enrolment/schedules", data={"document": json.dumps(document), "csrf_token": token}
    )
    assert response.status_code == 302
    rows = {row.target: row.detail for row in audit_rows()}
    assert rows == {
        "bpu-2015": "JKM Rp 6.800 -> Rp 7.000",
        "sponsor apbd-dki": "active True -> False",
    }


# --- in Chromium, without JavaScript: a laptop and a phone ------------------------------

#: Where to keep the screenshots (FUNRUN_SHOTS_DIR), if anywhere.
SHOTS = Path(os.environ["FUNRUN_SHOTS_DIR"]) if os.environ.get("FUNRUN_SHOTS_DIR") else None


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1366, 768), (360, 640)])
def test_the_form_tables_fit_the_screen(
    browser: Any,  # noqa: F811  (the browser tests' fixtures, imported above)
    live_server: str,  # noqa: F811
    make_staff: Callable[..., Any],
    width: int,
    height: int,
) -> None:
    staff = make_staff("admin", password=PASSWORD)
    context = browser.new_context(
        viewport={"width": width, "height": height}, java_script_enabled=False
    )
    page = context.new_page()
    allowed = urlsplit(live_server).netloc
    outside: list[str] = []

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).netloc == allowed:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(f"{live_server}/login")
    page.fill("#email", staff.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    page.goto(f"{live_server}{EDIT}")
    # Extend the general period to January 2027 and preview the trader.
    page.fill(f"#reliefs-{PP50}-periods-{GENERAL_PERIOD}-last_month", "2027-01")
    page.fill("#example_start", "2026-12")
    page.select_option("#example_occupation", "trader")
    page.select_option("#example_months", "3")
    page.check("#example_jht")
    page.click("#preview-button")
    page.wait_for_selector("#contribution-months")
    page.wait_for_load_state("load")  # the stylesheets too: an aborted one leaks its file
    totals = page.locator("#contribution-months td.month-total").all_inner_texts()
    assert [re.sub(r"[^0-9.]", "", t) for t in totals] == ["28.400", "28.400", "36.800"]
    tables = page.locator("table.rows")
    assert tables.count() >= 6
    for i in range(tables.count()):
        box = tables.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (i, box)
    for selector in ("input", "select", "button"):
        for element in page.locator(f"form {selector}:visible").all():
            box = element.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, (selector, box)
    # Nothing is wider than the window: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"schedule-{width}.png"), full_page=True)
    # A mistake is shown beside its field, the form kept as typed.
    page.fill("#rates-0-amount", "1.005")
    page.click("#save")
    page.wait_for_selector("#rates-0-amount-error")
    page.wait_for_load_state("load")
    assert page.input_value("#rates-0-amount") == "1.005"
    if SHOTS:
        page.screenshot(path=str(SHOTS / f"schedule-{width}-refused.png"))
        page.goto(f"{live_server}/staff/enrolment/schedules")
        page.screenshot(path=str(SHOTS / f"schedules-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert outside == []
    context.close()
