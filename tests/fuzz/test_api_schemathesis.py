"""Fuzz every /api/v1 operation with schemathesis, as each kind of caller.

The schema is the app's own /api/v1/openapi.json, loaded in-process (WSGI). Every
operation is run as: nobody (public), a volunteer assigned to one event, an organiser, a
partner and an admin. Most cases get real values swapped in (events, manage tokens,
check-ins, participant numbers, bib payloads, valid registration and enrolment bodies), the
rest keep what schemathesis generated, so the handlers behind the 404s and 422s are reached
as well as the garbage paths. Checks: no 5xx; every answer's status code, content type
and body are the ones the document gives; what the document calls invalid is refused.

Bounded for CI: FUNRUN_FUZZ_EXAMPLES (default 5) generated examples per operation and
caller, on top of schemathesis's fixed coverage cases (boundary values, missing fields,
other methods); derandomized, no deadline. The data is made once for the module (every
caller sees the state the earlier ones left) and removed at its end. Hunt harder with::

    FUNRUN_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/fuzz/test_api_schemathesis.py
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from config import TestingConfig
from funrun import create_app
from funrun.accounts.models import Role
from funrun.accounts.services import create_api_token, create_user
from funrun.enrolment.schedule import load_file
from funrun.events.models import Event, Tour
from funrun.extensions import db
from tests.conftest import person_payload, truncate_all

API = "/api/v1"
EXAMPLES = int(os.environ.get("FUNRUN_FUZZ_EXAMPLES", "5"))
IDENTITIES = ("public", "volunteer", "organiser", "partner", "admin")


def rejects_what_the_document_forbids(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's negative_data_rejection: a case the document calls invalid is a 4xx.

    Except cases made invalid by a missing or bad Authorization header: the caller's own
    token is sent with every case, so those cases are not invalid as sent.
    """
    if case.meta is None or case.meta.is_negative_at(ParameterLocation.HEADER):
        return None
    return schemathesis.checks.negative_data_rejection(ctx, response, case)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    rejects_what_the_document_forbids,
]


@dataclass
class World:
    """Real values for the cases, and each caller's token."""

    tokens: dict[str, str] = field(default_factory=dict)
    slugs: list[str] = field(default_factory=list)
    manage_tokens: list[str] = field(default_factory=list)
    checkin_ids: list[int] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    #: The partner's group imports.
    import_ids: list[int] = field(default_factory=list)

    def path_values(self, operation: str) -> dict[str, list[Any]]:
        """Real values per path parameter name of ``operation``."""
        # Cancelling may use up all but the first two runners (confirmed), so a long run
        # still has bibs to download; it draws only runners it can cancel (not the fifth,
        # cancelled from the start): a run's cases are few and often alike, and where every
        # real token they drew was that one the operation was never answered 2xx (likely
        # what CI saw once, 1 run in some tens). A second cancel still answers 409.
        cancelling = operation.endswith("/cancel")
        # A bib is downloaded only for a confirmed runner: the first two stay confirmed, so
        # every real token drawn for it reaches the handler (drawing a waitlisted or
        # cancelled one every time left the operation without a 2xx, 1 run in 5).
        downloading = operation.endswith("/bib.pdf")
        tokens = self.manage_tokens
        return {
            "slug": self.slugs,
            "token": tokens[2:4] + tokens[5:]
            if cancelling
            else tokens[:2]
            if downloading
            else tokens,
            "checkin_id": self.checkin_ids,
            "number": self.numbers,
            "import_id": self.import_ids,
        }

    def headers(self, identity: str) -> dict[str, str]:
        """What ``identity`` sends: its bearer token, or nothing."""
        token = self.tokens.get(identity)
        return {"Authorization": f"Bearer {token}"} if token else {}


def _enrol_body(**fields: Any) -> dict[str, Any]:
    """A valid enrolment (add ``code``, or a walk-up's person fields)."""
    return {
        "birth_place": "Jakarta",
        "mother_maiden_name": "Sri Wahyuni",
        "address": "Jl. Kebon Sirih No. 10",
        "occupation": "ojek_driver",
        "declared_income": 1_000_000,
        "programs": ["JKK", "JKM"],
        "months": 1,
        "payment_channel": "cash",
        "consent": True,
        **fields,
    }


def _walkup_body(index: int) -> dict[str, Any]:
    """A walk-up's person fields and a valid enrolment."""
    person = person_payload(index)
    del person["member"], person["consent"]
    return {**person, **_enrol_body()}


def _group_body(index: int, key: str) -> dict[str, Any]:
    """A partner's import of two members (registration bodies without consent)."""
    members = [person_payload(index + n) for n in range(2)]
    for body in members:
        del body["consent"]
    return {"import_key": key, "members": members}


def _event(tour: Tour, n: int, **fields: Any) -> Event:
    """An event of the tour; ``fields`` override the defaults."""
    fields = {"quota": 3, **fields}
    event = Event(
        tour_id=tour.id,
        slug=f"fuzz-{n}",
        city=f"City {n}",
        name=f"Fun Run City {n}",
        date=date.today() + timedelta(days=60),
        start_time=time(6, 0),
        venue="Alun-alun",
        bib_prefix="FZ",
        bib_first=1,
        bib_last=9999,
        bib_next=1,
        **fields,
    )
    db.session.add(event)
    db.session.commit()
    return event


def _populate(app: Flask) -> World:
    """Events, accounts and registrations in every state, the runners made through the API."""
    load_file()
    tour = Tour(slug="fuzz-tour", name="Fuzz Tour", organiser="Test")
    db.session.add(tour)
    db.session.commit()
    open_event = _event(tour, 1)
    closed = _event(tour, 2, registration_open=False)
    other = _event(tour, 3, quota=2)
    world = World(slugs=[open_event.slug, closed.slug, other.slug])
    volunteer = create_user("volunteer@fuzz.test", Role.VOLUNTEER, event_slugs=[open_event.slug])
    accounts = {
        "volunteer": volunteer,
        "organiser": create_user("organiser@fuzz.test", Role.ORGANISER),
        "partner": create_user("partner@fuzz.test", Role.PARTNER),
        "admin": create_user("admin@fuzz.test", Role.ADMIN),
    }
    world.tokens = {identity: create_api_token(user) for identity, user in accounts.items()}
    staff = world.headers("organiser")
    client = app.test_client()
    registrations = []
    for index in range(5):  # 3 confirmed, 2 waitlisted
        answer = client.post(
            f"{API}/events/{open_event.slug}/registrations", json=person_payload(index)
        )
        assert answer.status_code == 201, answer.get_data(as_text=True)
        registrations.append(answer.get_json()["registration"])
    member = client.post(
        f"{API}/events/{other.slug}/registrations",
        json=person_payload(9, member=True, kpj_number="12345678901"),
    )
    assert member.status_code == 201, member.get_data(as_text=True)
    registrations.append(member.get_json()["registration"])
    world.manage_tokens = [r["manage_token"] for r in registrations]
    world.codes = [r["qr"] for r in registrations if r["qr"]]
    world.codes += [r["bib"] for r in registrations if r["bib"]]
    # A cancelled registration to look at.
    cancelled = client.post(f"{API}/registrations/{world.manage_tokens[4]}/cancel")
    assert cancelled.status_code == 200
    for code in world.codes[:2]:
        scanned = client.post(
            f"{API}/events/{open_event.slug}/checkins", json={"code": code}, headers=staff
        )
        assert scanned.status_code == 201, scanned.get_data(as_text=True)
        world.checkin_ids.append(scanned.get_json()["checkin_id"])
    imported = client.post(
        f"{API}/events/{open_event.slug}/group-registrations",
        json=_group_body(200, "fuzz-world"),
        headers=world.headers("partner"),
    )
    assert imported.status_code == 202, imported.get_data(as_text=True)
    world.import_ids.append(imported.get_json()["import"]["id"])
    enrolled = client.post(
        f"{API}/events/{open_event.slug}/enrolments",
        json=_enrol_body(code=world.codes[0]),
        headers=staff,
    )
    assert enrolled.status_code == 201, enrolled.get_data(as_text=True)
    world.numbers.append(enrolled.get_json()["enrolment"]["participant_number"])
    return world


@pytest.fixture(scope="module")
def world(_session_app: Flask) -> Iterator[World]:
    """The data every test of the module fuzzes against; the tables are emptied after."""
    app = _session_app
    # A partner token's own limit (600/minute) would answer 429 to most of a long run.
    partner_limit = app.config["FUNRUN_PARTNER_RATE_LIMITS"]
    app.config["FUNRUN_PARTNER_RATE_LIMITS"] = "1000000/minute"
    try:
        with app.app_context():
            made = _populate(app)
            db.session.remove()
        yield made
    finally:
        app.config["FUNRUN_PARTNER_RATE_LIMITS"] = partner_limit
        truncate_all(app)


@pytest.fixture(params=IDENTITIES)
def identity(request: pytest.FixtureRequest) -> str:
    """Who calls."""
    return request.param


class Served:
    """The app as a server and an HTTP client see it.

    Each request runs in its own app context, as on a server (so ``g`` and the database
    session are not shared between requests), and a gzip body is decoded, as any HTTP
    client does (schemathesis's WSGI transport asks for gzip but does not decode it).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer one request."""
        with self.app.app_context():
            response = Response.from_app(self.app, environ)
        if response.headers.get("Content-Encoding") == "gzip":
            response.set_data(gzip.decompress(response.get_data()))
            del response.headers["Content-Encoding"]
        return response(environ, start_response)

    def get(self, path: str, headers: dict[str, str]) -> Response:
        """A GET of ``path`` under the API, as this server answers it."""
        return Response.from_app(self, EnvironBuilder(API + path, headers=headers).get_environ())


def with_real_values(case: Any, world: World, app: Flask) -> None:
    """Swap real values into most cases: path parameters, a body's ``code``, a valid body,
    the roster's current ETag; leave out query parameters the operation does not declare.

    The choices are a hash of the case itself, so a case replayed (shrinking, or the
    coverage phase's fixed cases) gets the same values; a share of the cases keeps what
    was generated, so garbage is still sent.
    """
    key = repr((case.operation.label, case.path_parameters, case.query, case.body))
    seed = zlib.crc32(key.encode())
    declared = {parameter.name for parameter in case.operation.query}
    if case.query and not declared.issuperset(case.query):
        # The API ignores query parameters it does not know, as HTTP APIs do; a document
        # cannot say so, and a case made invalid only by one was answered as valid. A new
        # container: schemathesis checks again what is still invalid.
        case.query = {name: value for name, value in case.query.items() if name in declared}
    for name, values in world.path_values(case.operation.label).items():
        if case.path_parameters and name in case.path_parameters and values and seed % 4:
            # Whole new containers, so schemathesis re-checks whether the case is still
            # negative (invalid by the document) or now positive.
            real = values[(seed >> 4) % len(values)]
            case.path_parameters = {**case.path_parameters, name: real}
    if case.operation.label.endswith("/roster") and (seed >> 20) % 2:
        # The version the device already holds: the answer is a 304.
        held = Served(app).get(case.formatted_path, world.headers("organiser"))
        if held.status_code == 200:
            case.headers = {**(case.headers or {}), "If-None-Match": held.headers["ETag"]}
    if not isinstance(case.body, dict) or (seed >> 8) % 3 == 0:
        return
    index = 100 + (seed >> 12) % 1000
    code = world.codes[(seed >> 16) % len(world.codes)]
    if case.operation.label.endswith("/group-registrations"):
        if case.media_type == "application/json":
            case.body = _group_body(index, f"fuzz-{seed}")
    elif case.operation.label.endswith("/registrations"):
        case.body = person_payload(index)
    elif case.operation.label.endswith("/enrolments"):
        case.body = _enrol_body(code=code) if (seed >> 12) % 2 else _walkup_body(index)
    elif case.operation.label.endswith("/recover"):
        person = person_payload(index)
        case.body = {"nik": person["nik"], "contact": person["phone"]}
    elif "code" in case.body:
        case.body = {**case.body, "code": code}


# The document comes from the app itself. This app only serves it (its database is never
# opened); the cases are sent to the session's app on the test database.
schema = schemathesis.openapi.from_wsgi(
    f"{API}/openapi.json", create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
)

#: A partner's own operations (its group imports): bearer, for partners alone.
PARTNER_ONLY = {
    "POST /events/{slug}/group-registrations",
    "GET /imports/{import_id}",
    "GET /imports/{import_id}/report.csv",
}

#: Answers seen, per operation, caller and status (the last test reads them).
SEEN: Counter[tuple[str, str, int]] = Counter()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(
    case: Any, _session_app: Flask, world: World, identity: str
) -> None:
    """One case of one operation, as one caller: answered as the document says."""
    with_real_values(case, world, _session_app)
    response = case.call_and_validate(
        headers=world.headers(identity), checks=CHECKS, app=Served(_session_app)
    )
    if case.method.upper() == case.operation.method.upper():  # not a probe (OPTIONS, ...)
        SEEN[(case.operation.label, identity, response.status_code)] += 1


def test_the_fuzzing_reached_every_handler_and_no_one_else_s() -> None:
    """Read what the fuzzing above was answered (run with it, i.e. the whole module).

    Every operation answered 2xx (or 304) to someone, so real values reached past the 404s;
    the staff operations (bearer token required) never did to the public or a partner.
    """
    assert SEEN, "the fuzz tests above did not run"
    operations = {label for label, _, _ in SEEN}
    succeeded = {label for label, _, status in SEEN if 200 <= status < 400}
    never = operations - succeeded
    assert never == set(), {  # what each was answered instead, by whom
        label: sorted((who, status, n) for (seen, who, status), n in SEEN.items() if seen == label)
        for label in never
    }
    staff_only = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == [{"bearer": []}]
    }
    assert len(staff_only) >= 7, staff_only  # the document still marks them
    leaks = {
        key: count
        for key, count in SEEN.items()
        if key[0] in staff_only
        and (key[1] == "public" or (key[1] == "partner" and key[0] not in PARTNER_ONLY))
        and 200 <= key[2] < 400
    }
    # the partners' own operations answer partners only
    leaks.update(
        {
            key: count
            for key, count in SEEN.items()
            if key[0] in PARTNER_ONLY and key[1] != "partner" and 200 <= key[2] < 400
        }
    )
    assert leaks == {}
