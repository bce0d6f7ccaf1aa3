"""The OpenAPI document cannot drift from the API: routes, methods and real responses."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from funrun.accounts.models import Role
from funrun.accounts.services import create_api_token, create_user
from funrun.checkin.models import STATIONS, ScanResult
from funrun.enrolment.choices import MONTHS, OCCUPATIONS
from funrun.reports.figures import COUNTS
from tests.conftest import person_payload

API = "/api/v1"
DOC_URI = "urn:funrun:openapi"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
#: The public contract: events, registering, the manage link, the bib, the signing key and
#: this document (staff operations have their own tests).
CONTRACT_OPERATIONS = {
    ("GET", "/events"),
    ("GET", "/events/{slug}"),
    ("POST", "/events/{slug}/registrations"),
    ("GET", "/registrations/{token}"),
    ("POST", "/registrations/{token}/cancel"),
    ("GET", "/registrations/{token}/bib.pdf"),
    ("GET", "/signing-key"),
    ("GET", "/openapi.json"),
}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _strict(schema: Any) -> Any:
    """A copy where objects allow no undocumented properties (unless they say otherwise)."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """Validate against ``schema`` with the document's $refs resolved, formats checked."""
    strict = _strict(copy.deepcopy(document))
    resource = Resource.from_contents(strict, default_specification=DRAFT202012)
    registry = Registry().with_resource(DOC_URI, resource)
    root = {"$ref": DOC_URI + schema["$ref"]} if set(schema) == {"$ref"} else _strict(schema)
    return Draft202012Validator(
        root, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _template(rule: str) -> str:
    """Flask's /events/<slug> as OpenAPI's /events/{slug}, relative to the server URL."""
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
    assert path.startswith(API)
    return path[len(API) :] or "/"


def api_routes(app: Flask) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule == API or rule.rule.startswith(API + "/"):
            methods = set(rule.methods or ()) - IGNORED_METHODS
            routes.setdefault(_template(rule.rule), set()).update(methods)
    return routes


def documented_routes(document: dict[str, Any]) -> dict[str, set[str]]:
    http = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {
        path: {method.upper() for method in item if method in http}
        for path, item in document["paths"].items()
    }


def test_document_is_valid_openapi_31(document):
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document["servers"][0]["url"].endswith(API)


def test_every_route_is_documented_and_vice_versa(app, document):
    routes = api_routes(app)
    documented = documented_routes(document)
    assert routes, "no API routes found"
    assert set(routes) == set(documented), (
        f"undocumented: {sorted(set(routes) - set(documented))}, "
        f"documented but missing: {sorted(set(documented) - set(routes))}"
    )
    for path, methods in routes.items():
        assert methods == documented[path], path


def test_path_parameters_are_declared(document):
    for path, item in document["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_request_schema_accepts_valid_bodies_and_rejects_bad_ones(document):
    operation = document["paths"]["/events/{slug}/registrations"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator = _validator(document, schema)
    for index in range(40):
        validator.validate(person_payload(index))
    validator.validate(person_payload(3, member=True, kpj_number="12345678901"))
    validator.validate(
        person_payload(
            4,
            email="siti@example.com",
            occupation="Pedagang pasar",
            emergency_contact="Ibu Sri",
            emergency_phone="081234567890",
        )
    )
    for bad in (
        person_payload(1, consent=False),
        person_payload(1, consent=1),
        person_payload(1, gender="X"),
        person_payload(1, nik="123"),
        person_payload(1, member="yes"),
        {k: v for k, v in person_payload(1).items() if k != "nik"},
    ):
        with pytest.raises(ValidationError):
            validator.validate(bad)


class Checker:
    """Calls the API and validates each answer against the document."""

    def __init__(self, client: FlaskClient, document: dict[str, Any]) -> None:
        self.client = client
        self.document = document
        self.seen: set[tuple[str, str, int]] = set()

    def call(self, method: str, template: str, status: int, **kwargs: Any) -> Any:
        path = template
        for name, value in kwargs.pop("params", {}).items():
            path = path.replace("{" + name + "}", value)
        response = self.client.open(API + path, method=method, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        operation = self.document["paths"][template][method.lower()]
        documented = operation["responses"]
        assert str(status) in documented, f"{method} {template} answers {status}, undocumented"
        content = documented[str(status)].get("content")
        if content:
            assert response.mimetype in content, (response.mimetype, list(content))
            schema = content[response.mimetype]["schema"]
            if not response.mimetype.endswith("json"):
                assert schema.get("format") == "binary", schema
                self.seen.add((method, template, status))
                return response
            body = response.get_json(force=True)
            errors = sorted(
                _validator(self.document, schema).iter_errors(body), key=lambda e: e.path
            )
            assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
        self.seen.add((method, template, status))
        return response


def test_real_responses_match_their_documented_schemas(client, make_event, document):
    open_event = make_event(quota=1)
    closed = make_event(registration_open=False, max_age=70)
    check = Checker(client, document)
    slug = {"slug": open_event.slug}

    check.call("GET", "/events", 200)
    check.call("GET", "/events/{slug}", 200, params=slug)
    check.call("GET", "/events/{slug}", 200, params={"slug": closed.slug})
    check.call("GET", "/events/{slug}", 404, params={"slug": "nowhere"})

    reg = "/events/{slug}/registrations"
    first = check.call("POST", reg, 201, params=slug, json=person_payload(1, email="s@e.id"))
    waiting = check.call("POST", reg, 201, params=slug, json=person_payload(2))
    check.call(
        "POST",
        reg,
        201,
        params=slug,
        json=person_payload(3, member=True, kpj_number="12345678901"),
    )
    check.call("POST", reg, 400, params=slug, data="[1]", content_type="application/json")
    check.call(
        "POST",
        reg,
        401,
        params=slug,
        json=person_payload(4),
        headers={"Authorization": "Bearer frn_nope"},
    )
    check.call("POST", reg, 404, params={"slug": "nowhere"}, json=person_payload(4))
    check.call("POST", reg, 409, params=slug, json=person_payload(1))
    check.call("POST", reg, 409, params={"slug": closed.slug}, json=person_payload(4))
    check.call("POST", reg, 413, params=slug, json=person_payload(4, occupation="x" * 70000))
    check.call("POST", reg, 415, params=slug, data="x", content_type="text/plain")
    check.call("POST", reg, 422, params=slug, json=person_payload(4, nik="1", phone="2"))

    partner = create_user("p@partner.test", Role.PARTNER)
    token = create_api_token(partner)
    check.call(
        "POST",
        reg,
        201,
        params=slug,
        json=person_payload(5),
        headers={"Authorization": f"Bearer {token}"},
    )

    manage = first.get_json()["registration"]["manage_token"]
    token_param = {"token": manage}
    check.call("GET", "/registrations/{token}", 200, params=token_param)
    check.call(
        "GET",
        "/registrations/{token}",
        200,
        params={"token": waiting.get_json()["registration"]["manage_token"]},
    )
    check.call("GET", "/registrations/{token}", 404, params={"token": "x" * 40})
    check.call("POST", "/registrations/{token}/cancel", 200, params=token_param)
    check.call("POST", "/registrations/{token}/cancel", 409, params=token_param)
    check.call("POST", "/registrations/{token}/cancel", 404, params={"token": "nope"})
    check.call("GET", "/registrations/{token}", 200, params=token_param)
    check.call("GET", "/openapi.json", 200)

    # Bibs: the cancelled runner has none; the waitlisted one, promoted by that cancel,
    # now gets a PDF.
    promoted = {"token": waiting.get_json()["registration"]["manage_token"]}
    check.call("GET", "/registrations/{token}/bib.pdf", 409, params=token_param)
    check.call("GET", "/registrations/{token}/bib.pdf", 404, params={"token": "y" * 40})
    pdf = check.call("GET", "/registrations/{token}/bib.pdf", 200, params=promoted)
    assert pdf.data.startswith(b"%PDF-")
    keys = check.call("GET", "/signing-key", 200).get_json()
    assert keys["keys"], keys

    # The contract's operations were all exercised.
    exercised = {(method, template) for method, template, _status in check.seen}
    assert exercised >= CONTRACT_OPERATIONS, CONTRACT_OPERATIONS - exercised


def test_problem_errors_are_documented_per_field(client, make_event, document):
    event = make_event()
    response = client.post(f"{API}/events/{event.slug}/registrations", json={"consent": False})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    request_schema = document["components"]["schemas"]["RegistrationRequest"]
    # Every field the API complains about is one the document describes.
    assert set(errors) <= set(request_schema["properties"])
    assert set(request_schema["required"]) <= set(errors)


def test_the_document_reads_the_codes_constants(document):
    """Result codes, stations, report columns and listed values are not re-listed by hand."""
    schemas = document["components"]["schemas"]
    results = schemas["CheckInOutcome"]["properties"]["result"]["enum"]
    assert set(results) == {str(r) for r in ScanResult} - {ScanResult.UNDONE}
    request = schemas["CheckInRequest"]["properties"]
    assert request["station"]["enum"] == list(STATIONS)
    assert set(COUNTS) <= set(schemas["Figures"]["required"])
    assert set(COUNTS) <= set(schemas["CityFigures"]["required"])
    enrol = schemas["EnrolmentRequest"]["properties"]
    assert enrol["occupation"]["enum"] == list(OCCUPATIONS)
    assert enrol["months"]["enum"] == list(MONTHS)
    # The walk-up's person fields are the registration's own declarations.
    registration = schemas["RegistrationRequest"]["properties"]
    for name in ("nik", "birth_date", "gender", "phone", "full_name"):
        assert enrol[name] == registration[name], name
    assert "nik" not in schemas["EnrolmentRequest"]["required"]
