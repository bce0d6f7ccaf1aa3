"""GET /api/v1/contributions/quote: the issue's examples by hand, bad input, the document.

"Today" is 4 December 2026 in Jakarta unless a test says otherwise: the PP 50/2025 relief
covers December 2026 for every sector, and runs to March 2027 for transport workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from funrun.accounts.models import Role
from funrun.accounts.services import create_api_token, create_user
from funrun.api.schemas import contributions as quote_schema
from funrun.enrolment import services as enrolment_services
from funrun.enrolment.models import ContributionSchedule, Enrolment, EnrolmentMonth
from funrun.enrolment.schedule import load_file
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import Registration
from tests.api.test_openapi import Checker, document  # noqa: F401  (fixture)
from tests.checkin.conftest import browser as own_context_client
from tests.checkin.conftest import make_staff  # noqa: F401  (fixture)
from tests.conftest import build_app
from tests.enrolment.conftest import walkup_body

URL = "/api/v1/contributions/quote"
PROBLEM = "application/problem+json"
#: 10.00 WIB on Friday 4 December 2026.
TODAY = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
RELIEF = "pp-50-2025"

pytestmark = pytest.mark.usefixtures("schedules", "on_4_december_2026")


@pytest.fixture
def schedules(app: Flask) -> None:
    """The shipped schedules and sponsors."""
    load_file()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Each request in its own app context, as on a server (the language is not kept)."""
    return own_context_client(app)


@pytest.fixture
def on_4_december_2026(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Quotes (and enrolments) are made at 10.00 WIB on 4 December 2026."""
    monkeypatch.setattr(quote_schema, "utcnow", lambda: TODAY)
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: TODAY)
    return TODAY


def quote(client, lang: str = "id", **params: Any) -> Any:
    """The quote's answer for ``params`` (lists give repeated parameters)."""
    return client.get(URL, query_string=params, headers={"Accept-Language": lang})


def contribution(client, **params: Any) -> dict[str, Any]:
    response = quote(client, **params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"contribution"}
    return body["contribution"]


def row(month: str, jkk: int, jkm: int, jht: int, relief: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"month": month, "jkk": jkk, "jkm": jkm, "jht": jht}
    out["total"] = jkk + jkm + jht
    if relief:
        out["relief"] = relief
    return out


# --- the examples, computed by hand ------------------------------------------------


def test_a_trader_with_jht_for_3_months_from_december_2026(client):
    """The relief for non-transport workers ends with December 2026: Jan and Feb are full."""
    got = contribution(
        client, income="1000000", occupation="trader", programs="JKK,JKM,JHT", months="3",
        start="2026-12",
    )  # fmt: skip
    assert got == {
        "jkk": 5_000,
        "jkm": 3_400,
        "jht": 20_000,
        "monthly_total": 28_400,
        "months": 3,
        "amount_due": 102_000,
        "basis": 1_000_000,
        "per_month": [
            row("2026-12", 5_000, 3_400, 20_000, RELIEF),
            row("2027-01", 10_000, 6_800, 20_000),
            row("2027-02", 10_000, 6_800, 20_000),
        ],
    }
    assert [m["total"] for m in got["per_month"]] == [28_400, 36_800, 36_800]


def test_an_ojek_driver_for_6_months_keeps_the_relief_to_march_2027(client):
    got = contribution(
        client, income="1000000", occupation="ojek_driver", months="6", start="2026-12"
    )
    assert got["per_month"] == [
        row("2026-12", 5_000, 3_400, 0, RELIEF),
        row("2027-01", 5_000, 3_400, 0, RELIEF),
        row("2027-02", 5_000, 3_400, 0, RELIEF),
        row("2027-03", 5_000, 3_400, 0, RELIEF),
        row("2027-04", 10_000, 6_800, 0),
        row("2027-05", 10_000, 6_800, 0),
    ]
    assert [m["total"] for m in got["per_month"]] == [8_400] * 4 + [16_800] * 2
    assert got["amount_due"] == 4 * 8_400 + 2 * 16_800 == 67_200
    assert (got["monthly_total"], got["jht"]) == (8_400, 0)


def test_an_income_of_1_500_000_is_priced_on_its_brackets_basis(client):
    got = contribution(client, income="1500000", occupation="trader", months="1", start="2027-01")
    assert got["basis"] == 1_600_000
    assert (got["jkk"], got["jkm"], got["jht"]) == (16_000, 6_800, 0)  # not 15.000
    with_jht = contribution(
        client, income="1500000", occupation="farmer", programs="JKK,JKM,JHT", months="1",
        start="2027-01",
    )  # fmt: skip
    assert (with_jht["jkk"], with_jht["jht"], with_jht["amount_due"]) == (16_000, 32_000, 54_800)


def test_a_public_budget_sponsor_pays_everything_and_no_relief_applies(client):
    """APBD DKI pays for a PPSU street sweeper: PP 50/2025 excludes public budgets."""
    got = contribution(
        client, income="1000000", occupation="street_sweeper", months="3", start="2026-12",
        sponsor="apbd-dki",
    )  # fmt: skip
    assert got["per_month"] == [
        row("2026-12", 10_000, 6_800, 0),
        row("2027-01", 10_000, 6_800, 0),
        row("2027-02", 10_000, 6_800, 0),
    ]
    assert got["amount_due"] == 0
    # Without the sponsor the same sweeper pays, with the relief in December.
    alone = contribution(
        client, income="1000000", occupation="street_sweeper", months="3", start="2026-12"
    )
    assert alone["amount_due"] == 8_400 + 2 * 16_800
    assert alone["per_month"][0]["relief"] == RELIEF


def test_the_relief_periods_first_and_last_months(client):
    """Non-transport: April to December 2026; transport: January 2026 to March 2027."""

    def months(occupation: str, start: str, n: int) -> list[bool]:
        got = contribution(
            client, income="1000000", occupation=occupation, months=str(n), start=start
        )
        return ["relief" in m for m in got["per_month"]]

    assert months("trader", "2026-03", 1) == [False]
    assert months("trader", "2026-04", 1) == [True]
    assert months("trader", "2026-12", 3) == [True, False, False]
    assert months("courier", "2025-12", 3) == [False, True, True]
    assert months("courier", "2027-03", 3) == [True, False, False]
    # A 12-month payment from March 2026 crosses both ends of the others' period.
    assert months("fisher", "2026-03", 12) == [False] + [True] * 9 + [False] * 2


# --- defaults -------------------------------------------------------------------------------


def test_start_defaults_to_the_current_month_and_programmes_to_jkk_jkm(client):
    got = contribution(client, income="1000000", occupation="trader", months="1")
    assert got["per_month"] == [row("2026-12", 5_000, 3_400, 0, RELIEF)]
    assert got["jht"] == 0


def test_the_current_month_is_jakartas(client, monkeypatch):
    """17.30 UTC on 30 November is already 1 December (00.30 WIB) in Jakarta."""
    monkeypatch.setattr(quote_schema, "utcnow", lambda: datetime(2026, 11, 30, 17, 30, tzinfo=UTC))
    got = contribution(client, income="1000000", occupation="trader", months="1")
    assert got["per_month"][0]["month"] == "2026-12"
    monkeypatch.setattr(quote_schema, "utcnow", lambda: datetime(2026, 11, 30, 16, 30, tzinfo=UTC))
    got = contribution(client, income="1000000", occupation="trader", months="1")
    assert got["per_month"][0]["month"] == "2026-11"


def test_the_start_runs_from_the_earliest_schedule_to_24_months_ahead(client):
    first = contribution(client, income="1000000", occupation="trader", months="1", start="2015-07")
    assert first["per_month"][0]["month"] == "2015-07"
    last = contribution(client, income="1000000", occupation="trader", months="12", start="2028-12")
    assert last["per_month"][-1]["month"] == "2029-11"
    for month in ("2015-06", "2029-01"):
        response = quote(
            client, lang="en", income="1000000", occupation="trader", months="1", start=month
        )
        body = _problem(response)
        assert body["errors"] == {
            "start": ["Choose a first month from July 2015 to December 2028."]
        }


def test_the_quote_is_the_contribution_an_enrolment_gets(
    client,
    make_event,
    make_staff,  # noqa: F811  (the fixture imported above)
):
    """The same object, computed without enrolling anyone: a walk-up enrolled the same day
    with the same answers is charged exactly what the quote said."""
    asked = contribution(
        client, income="1500000", occupation="ojek_driver", programs="JKK,JKM,JHT", months="6"
    )
    event = make_event(timezone="Asia/Jakarta")
    volunteer = make_staff("volunteer", events=(event.slug,))
    body = walkup_body(
        occupation="ojek_driver",
        declared_income=1_500_000,
        programs=["JKK", "JKM", "JHT"],
        months=6,
    )
    enrolled = client.post(
        f"/api/v1/events/{event.slug}/enrolments", json=body, headers=volunteer.headers
    )
    assert enrolled.status_code == 201, enrolled.get_data(as_text=True)
    assert enrolled.get_json()["enrolment"]["contribution"] == asked


def test_nothing_is_stored_and_no_token_is_needed(client):
    def counts() -> tuple[int, ...]:
        db.session.rollback()
        return tuple(
            db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Person, Registration, Enrolment, EnrolmentMonth)
        )

    contribution(client, income="1000000", occupation="trader", months="12")
    quote(client, income="x", occupation="trader", months="12")
    assert counts() == (0, 0, 0, 0)
    partner = create_user("quote@partner.test", Role.PARTNER)
    headers = {"Authorization": f"Bearer {create_api_token(partner)}"}
    response = client.get(
        URL,
        query_string={"income": "1000000", "occupation": "trader", "months": "1"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["contribution"]["amount_due"] == 8_400


# --- bad input ------------------------------------------------------------------------------

GOOD = {"income": "1000000", "occupation": "trader", "months": "3", "start": "2026-12"}


def _problem(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == 422
    assert body["type"].endswith("/validation")
    assert body["errors"] and all(
        messages and all(isinstance(m, str) and m for m in messages)
        for messages in body["errors"].values()
    )
    return body


BAD = [
    ({"income": ""}, "income", "This field is required."),
    ({"income": "lima juta"}, "income", "Enter an amount in whole rupiah, e.g. 1500000."),
    ({"income": "-1500000"}, "income", "Enter an amount in whole rupiah, e.g. 1500000."),
    ({"income": "1500000.50"}, "income", "Enter an amount in whole rupiah, e.g. 1500000."),
    ({"income": "1.500.000"}, "income", "Enter an amount in whole rupiah, e.g. 1500000."),
    ({"income": "2000000000"}, "income", "Enter an amount in whole rupiah, e.g. 1500000."),
    ({"income": "9" * 5000}, "income", "Enter an amount in whole rupiah, e.g. 1500000."),
    ({"income": "999999"}, "income", "The lowest income basis is Rp 1,000,000 a month."),
    ({"occupation": "astronaut"}, "occupation", "Choose one of the listed occupations."),
    ({"occupation": ""}, "occupation", "This field is required."),
    ({"months": "2"}, "months", "Pay for 1, 3, 6 or 12 months."),
    ({"months": "tiga"}, "months", "Pay for 1, 3, 6 or 12 months."),
    ({"months": "-3"}, "months", "Pay for 1, 3, 6 or 12 months."),
    ({"months": "²"}, "months", None),
    ({"start": "2099-01"}, "start", "Choose a first month from July 2015 to December 2028."),
    ({"start": "2026-13"}, "start", "Write the first month as YYYY-MM, e.g. 2026-12."),
    ({"start": "2026-00"}, "start", "Write the first month as YYYY-MM, e.g. 2026-12."),
    ({"start": "0000-01"}, "start", "Choose a first month from July 2015 to December 2028."),
    ({"start": "12-2026"}, "start", "Write the first month as YYYY-MM, e.g. 2026-12."),
    ({"start": " 2026-12"}, "start", "Write the first month as YYYY-MM, e.g. 2026-12."),
    ({"start": ""}, "start", "Write the first month as YYYY-MM, e.g. 2026-12."),
    ({"programs": "JHT"}, "programs", "JKK and JKM are always included."),
    ({"programs": "JKK"}, "programs", "JKK and JKM are always included."),
    ({"programs": "JKK,JKM,JKM"}, "programs", "Choose from JKK, JKM and JHT, each once."),
    ({"programs": "JKK,JKM,JP"}, "programs", "Choose from JKK, JKM and JHT, each once."),
    ({"programs": "jkk,jkm"}, "programs", "Choose from JKK, JKM and JHT, each once."),
    ({"programs": ""}, "programs", "Choose from JKK, JKM and JHT, each once."),
    ({"sponsor": "bank-dunia"}, "sponsor", "Choose one of the listed sponsors."),
    ({"income": ["1000000", "1500000"]}, "income", "Give this value once."),
    ({"months": ["3", "3"]}, "months", "Give this value once."),
    ({"start": ["2026-12", "2027-01"]}, "start", "Give this value once."),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD, ids=lambda v: repr(v)[:40])
def test_bad_input_is_a_422_naming_the_field(client, change, field, message):
    body = _problem(quote(client, lang="en", **{**GOOD, **change}))
    assert set(body["errors"]) == {field}, body["errors"]
    if message is not None:
        assert body["errors"][field] == [message]


def test_missing_parameters_are_named_each_in_indonesian_by_default(client, app):
    body = _problem(quote(client))
    assert set(body["errors"]) == {"income", "occupation", "months"}
    with app.test_request_context("/"), force_locale("id"):
        required = gettext("This field is required.")
    assert required != "This field is required."  # translated
    assert body["errors"]["income"] == [required]
    english = _problem(quote(client, lang="en", income="1000000", start="2026-13", months="2"))
    assert english["errors"] == {
        "start": ["Write the first month as YYYY-MM, e.g. 2026-12."],
        "occupation": ["This field is required."],
        "months": ["Pay for 1, 3, 6 or 12 months."],
    }
    indonesian = _problem(
        quote(client, income="1000000", occupation="trader", months="1", start="2099-01")
    )
    assert indonesian["errors"]["start"] == [
        "Pilih bulan pertama dari Juli 2015 sampai Desember 2028."
    ]


def test_no_schedule_in_force_is_a_422_on_start(client):
    db.session.execute(db.update(ContributionSchedule).values(effective_to=date(2026, 12, 31)))
    db.session.commit()
    response = quote(
        client, lang="en", income="1000000", occupation="trader", months="3", start="2026-12"
    )
    body = _problem(response)
    assert body["errors"] == {
        "start": ["No contribution schedule is in force in January 2027. An admin must load one."]
    }


# --- the document ---------------------------------------------------------------------------


def test_answers_match_the_openapi_document(client, document):  # noqa: F811
    check = Checker(client, document)
    path = "/contributions/quote"
    check.call("GET", path, 200, query_string={**GOOD, "programs": "JKK,JKM,JHT"})
    check.call("GET", path, 200, query_string={**GOOD, "sponsor": "apbd-dki"})
    check.call("GET", path, 422, query_string={**GOOD, "months": "2"})
    operation = document["paths"][path]["get"]
    assert "security" not in operation or {} in operation["security"]  # public
    params = {p["name"]: p for p in operation["parameters"]}
    # No personal data is asked: these and nothing else.
    assert set(params) == {"start", "income", "occupation", "programs", "months", "sponsor"}
    assert {n for n, p in params.items() if p["required"]} == {"income", "occupation", "months"}
    assert params["occupation"]["schema"]["enum"] == list(quote_schema.OCCUPATIONS)
    assert params["months"]["schema"]["enum"] == list(quote_schema.MONTHS)
    assert (params["programs"]["style"], params["programs"]["explode"]) == ("form", False)
    answer = document["components"]["schemas"]["ContributionQuote"]
    assert answer["properties"]["contribution"] == {"$ref": "#/components/schemas/Contribution"}


# --- rate limit -----------------------------------------------------------------------------


@pytest.fixture
def limited(app: Flask, database_url: str) -> Iterator[Flask]:
    """An app limiting public calls to 3 a minute per client (in memory)."""
    limited_app = build_app(
        database_url,
        FUNRUN_RATE_LIMITS="3/minute",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
    )
    yield limited_app
    with limited_app.app_context():
        db.engine.dispose()


def test_quotes_are_rate_limited_like_registering(limited):
    client = limited.test_client()
    statuses = [quote(client, **GOOD).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = quote(client, **GOOD)
    assert response.status_code == 429
    assert response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    # A partner's token counts under the partner's own limit instead.
    with limited.app_context():
        token = create_api_token(create_user("limits@partner.test", Role.PARTNER))
    again = client.get(URL, query_string=GOOD, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 200
