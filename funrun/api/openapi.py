"""The OpenAPI 3.1 document for /api/v1, kept beside the handlers it describes.

tests/api/test_openapi.py checks that every route is documented and that real responses
validate against these schemas, so the document cannot drift from what the API does.
"""

from __future__ import annotations

from typing import Any

from funrun.enrolment.choices import MONTHS, OCCUPATIONS, PAYMENT_CHANNELS, PROGRAMMES
from funrun.enrolment.validation import (
    MAX_ADDRESS,
    MAX_BIRTH_PLACE,
    MAX_MOTHER,
    MAX_OCCUPATION_OTHER,
)
from funrun.registration.validation import MAX_CONTACT, MAX_EMAIL, MAX_NAME, MAX_OCCUPATION


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


_NULLABLE_STRING = {"type": ["string", "null"]}
_SCAN_RESULTS = [
    "checked_in",
    "already_checked_in",
    "unknown",
    "invalid",
    "wrong_event",
    "not_confirmed",
]

_COUNT = {"type": "integer", "minimum": 0}
#: The figures of GET /stats, per event and in total.
_FIGURES = (
    "quota",
    "confirmed",
    "waitlisted",
    "cancelled",
    "checked_in",
    "no_shows",
    "members",
    "non_members",
    "non_members_checked_in",
    "enrolled",
    "conversion_rate",
    "shirt_sizes",
)
_FIGURE_PROPERTIES: dict[str, Any] = {
    **{name: _COUNT for name in _FIGURES[:-2]},
    "conversion_rate": {"type": ["number", "null"], "minimum": 0},
    "shirt_sizes": {
        "type": "object",
        "description": "Shirts needed for the confirmed runners, by size.",
        "additionalProperties": _COUNT,
    },
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "object",
                "description": "Messages per field, in the caller's language (Accept-Language).",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
    "Event": {
        "type": "object",
        "required": [
            "slug",
            "name",
            "city",
            "date",
            "date_is_illustrative",
            "start_time",
            "timezone",
            "venue",
            "quota",
            "confirmed",
            "waitlisted",
            "remaining",
            "status",
            "shirt_sizes",
            "min_age",
            "max_age",
            "registration_opens_at",
            "registration_closes_at",
        ],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "city": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "date_is_illustrative": {"type": "boolean"},
            "start_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
            "timezone": {"type": "string"},
            "venue": {"type": "string"},
            "quota": {"type": "integer", "minimum": 1},
            "confirmed": {"type": "integer", "minimum": 0},
            "waitlisted": {"type": "integer", "minimum": 0},
            "remaining": {"type": "integer", "minimum": 0},
            "status": {"type": "string", "enum": ["open", "full", "closed"]},
            "shirt_sizes": {"type": "array", "items": {"type": "string"}},
            "min_age": {"type": "integer"},
            "max_age": {"type": ["integer", "null"]},
            "registration_opens_at": {"type": ["string", "null"], "format": "date-time"},
            "registration_closes_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "EventList": {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
        },
    },
    "RegistrationRequest": {
        "type": "object",
        "required": [
            "full_name",
            "nik",
            "birth_date",
            "gender",
            "phone",
            "shirt_size",
            "member",
            "consent",
        ],
        "properties": {
            "full_name": {
                "type": "string",
                "maxLength": MAX_NAME,
                "description": "Full name as on the ID card (KTP), letters only.",
            },
            "nik": {
                "type": "string",
                "pattern": "^[0-9]{16}$",
                "description": "16 digits; the birth date part must match birth_date and "
                "gender (women add 40 to the day).",
            },
            "birth_date": {"type": "string", "format": "date"},
            "gender": {"type": "string", "enum": ["M", "F"]},
            "phone": {"type": "string", "description": "Indonesian mobile: 08xx, 628xx or +628xx."},
            "email": {"type": ["string", "null"], "format": "email", "maxLength": MAX_EMAIL},
            "shirt_size": {"type": "string", "description": "One of the event's shirt_sizes."},
            "member": {"type": "boolean", "description": "Already a member (has a KPJ number)."},
            "kpj_number": {
                "type": ["string", "null"],
                "pattern": "^[0-9]{11}$",
                "description": "Required when member is true.",
            },
            "occupation": {"type": ["string", "null"], "maxLength": MAX_OCCUPATION},
            "emergency_contact": {"type": ["string", "null"], "maxLength": MAX_CONTACT},
            "emergency_phone": {"type": ["string", "null"]},
            "consent": {
                "type": "boolean",
                "const": True,
                "description": "Explicit consent to the privacy notice at /privacy.",
            },
        },
    },
    "Registration": {
        "type": "object",
        "required": [
            "id",
            "event",
            "status",
            "bib",
            "bib_number",
            "qr",
            "waitlist_position",
            "full_name",
            "nik_masked",
            "shirt_size",
            "member",
            "created_at",
            "cancelled_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "event": {"type": "string"},
            "status": {"type": "string", "enum": ["confirmed", "waitlisted", "cancelled"]},
            "bib": {**_NULLABLE_STRING, "description": 'Bib as printed, e.g. "JKT 0042".'},
            "bib_number": {"type": ["integer", "null"]},
            "qr": {
                **_NULLABLE_STRING,
                "maxLength": 120,
                "description": "Signed QR payload of a confirmed bib (null otherwise): "
                "FR1<kid>:<event id>:<bib>:<base32 Ed25519 signature>.",
            },
            "waitlist_position": {"type": ["integer", "null"], "minimum": 1},
            "full_name": {"type": "string"},
            "nik_masked": {"type": "string"},
            "shirt_size": {"type": "string"},
            "member": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
            "manage_token": {
                "type": "string",
                "description": "Only in the answer that creates the registration.",
            },
            "manage_url": {"type": "string"},
        },
    },
    "MyData": {
        "type": "object",
        "description": "What one registration holds, for the runner holding its manage link: "
        "the person's masked NIK, birth date and gender, and this registration with its "
        "consent and check-ins. No other registration and no enrolment.",
        "required": ["generated_at", "person", "registration"],
        "additionalProperties": False,
        "properties": {
            "generated_at": {"type": "string", "format": "date-time"},
            "person": {
                "type": "object",
                "required": ["nik", "birth_date", "gender"],
                "properties": {
                    "nik": {**_NULLABLE_STRING, "description": "masked, e.g. 3174**********01"},
                    "birth_date": {"type": "string", "format": "date"},
                    "gender": {"enum": ["M", "F"]},
                },
            },
            "registration": {
                "type": "object",
                "required": ["event", "status", "full_name", "consent", "checkins"],
                "properties": {
                    "event": {"type": "string"},
                    "status": {"enum": ["confirmed", "waitlisted", "cancelled"]},
                    "bib": _NULLABLE_STRING,
                    "full_name": {"type": "string"},
                    "consent": {"type": "object"},
                    "checkins": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
    "JWKSet": {
        "type": "object",
        "description": "Ed25519 public keys (RFC 8037) that verify bib QR payloads.",
        "required": ["keys"],
        "properties": {
            "keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kty", "crv", "x", "kid"],
                    "properties": {
                        "kty": {"const": "OKP"},
                        "crv": {"const": "Ed25519"},
                        "x": {"type": "string", "description": "base64url public key"},
                        "kid": {"type": "string", "description": "named in each payload"},
                        "use": {"const": "sig"},
                        "alg": {"const": "EdDSA"},
                    },
                },
            }
        },
    },
    "CheckInRequest": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {
                "type": "string",
                "maxLength": 200,
                "description": "The QR payload, or a typed bib: 42, 0042, JKT0042, jkt-0042.",
            },
            "method": {
                "type": "string",
                "enum": ["scan", "typed"],
                "default": "scan",
                "description": "How the code was entered. scan: a camera or a handheld "
                "scanner read it; it must be a signed bib, and any other text (a plain QR "
                "holding a bib number) is invalid and checks nobody in. typed: a person "
                "typed a bib number; it checks in only with id_checked true, else the "
                "answer is confirm_identity.",
            },
            "id_checked": {
                "type": "boolean",
                "default": False,
                "description": "The volunteer compared the runner's ID card (KTP) with the "
                "name a confirm_identity answer gave. Recorded in the scan log.",
            },
            "station": {
                "type": "string",
                "enum": ["pickup", "start", "finish"],
                "default": "pickup",
            },
            "client_ref": {
                "type": ["string", "null"],
                "pattern": "^[A-Za-z0-9_.:\\-]{1,64}$",
                "description": "Unique per scan from the device; a replay returns "
                "the first outcome and changes nothing.",
            },
            "scanned_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When a queued scan was made (at most 7 days ago).",
            },
            "device": {"type": ["string", "null"], "maxLength": 64},
            "offline_answer": {
                "type": ["string", "null"],
                "enum": [*_SCAN_RESULTS, None],
                "description": "What the device answered while offline, for a queued scan. "
                "checked_in here and already_checked_in from the server is a conflict "
                "(another device checked the runner in first): the answer says so, and the "
                "roster lists it for both devices.",
            },
        },
    },
    "CheckInOutcome": {
        "type": "object",
        "required": ["result", "registration", "replayed"],
        "properties": {
            "result": {
                "type": "string",
                "enum": [
                    "checked_in",
                    "already_checked_in",
                    "unknown",
                    "invalid",
                    "wrong_event",
                    "not_confirmed",
                    "confirm_identity",
                ],
                "description": "confirm_identity (200): a typed bib that would check the "
                "runner in; registration carries the name and bib to compare with the ID "
                "card, nothing was checked in; send it again with id_checked true. A typed "
                "bib of a runner already checked in answers already_checked_in at once.",
            },
            "other_event": {
                "type": "object",
                "required": ["city"],
                "properties": {"city": {"type": "string"}},
                "description": "With wrong_event: the city of the event the bib belongs to "
                "(a typed bib with another event's prefix, or a genuine QR of another event).",
            },
            "replayed": {"type": "boolean"},
            "conflict": {
                "type": "boolean",
                "description": "The device answered checked_in offline, but another scan "
                "had checked the runner in first (first_at, first_by, first_device).",
            },
            "registration": {
                "type": ["object", "null"],
                "properties": {
                    "id": {"type": "integer"},
                    "bib": {"type": ["string", "null"]},
                    "bib_number": {"type": ["integer", "null"]},
                    "full_name": {"type": "string"},
                    "shirt_size": {"type": "string"},
                    "status": {"type": "string"},
                    "member": {"type": "boolean"},
                    "enrolled": {
                        "type": "boolean",
                        "description": "Enrolled at a venue already (any city).",
                    },
                    "offer_enrolment": {"type": "boolean"},
                },
            },
            "checkin_id": {"type": "integer"},
            "station": {"type": "string"},
            "first_at": {"type": "string", "format": "date-time"},
            "first_by": {"type": ["string", "null"]},
            "first_device": {"type": ["string", "null"]},
        },
    },
    "Roster": {
        "type": "object",
        "description": "What an offline scanner needs to answer a scan: no NIK, phone or "
        "email of a runner. The ETag header carries version; send it back in "
        "If-None-Match to get 304 when nothing changed.",
        "required": [
            "event",
            "version",
            "generated_at",
            "stations",
            "keys",
            "runners",
            "conflicts",
        ],
        "properties": {
            "event": {
                "type": "object",
                "required": ["id", "slug", "city", "bib_prefix"],
                "properties": {
                    "id": {"type": "integer", "description": "as signed in bib payloads"},
                    "slug": {"type": "string"},
                    "city": {"type": "string"},
                    "bib_prefix": {"type": "string"},
                },
            },
            "version": {"type": "string"},
            "generated_at": {"type": "string", "format": "date-time"},
            "stations": {"type": "array", "items": {"type": "string"}},
            "keys": {
                "type": "array",
                "description": "The accepted public keys, as in GET /signing-key.",
                "items": {"$ref": "#/components/schemas/JWKSet/properties/keys/items"},
            },
            "runners": {
                "type": "array",
                "description": "Every registration with a bib (cancelled ones too, so their "
                "bibs answer not_confirmed).",
                "items": {
                    "type": "object",
                    "required": [
                        "id",
                        "bib_number",
                        "bib",
                        "status",
                        "full_name",
                        "shirt_size",
                        "member",
                        "enrolled",
                        "checkins",
                    ],
                    "properties": {
                        "id": {"type": "integer"},
                        "bib_number": {"type": "integer"},
                        "bib": {"type": "string"},
                        "status": {
                            "type": "string",
                            "enum": ["confirmed", "waitlisted", "cancelled"],
                        },
                        "full_name": {"type": "string"},
                        "shirt_size": {"type": "string"},
                        "member": {"type": "boolean"},
                        "enrolled": {
                            "type": "boolean",
                            "description": "Enrolled at a venue already (any city).",
                        },
                        "checkins": {
                            "type": "object",
                            "description": "The active check-in per station.",
                            "propertyNames": {"enum": ["pickup", "start", "finish"]},
                            "additionalProperties": {"$ref": "#/components/schemas/ScanMark"},
                        },
                    },
                },
            },
            "conflicts": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Conflict"},
            },
        },
    },
    "ScanMark": {
        "type": "object",
        "required": ["at", "by", "device"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "by": {"type": ["string", "null"], "description": "the staff account"},
            "device": {"type": ["string", "null"]},
        },
    },
    "Conflict": {
        "type": "object",
        "description": "A queued scan answered checked_in offline after another device had "
        "checked the runner in: the runner may have been given two race packs.",
        "required": ["id", "registration_id", "bib", "full_name", "station", "first", "late"],
        "properties": {
            "id": {"type": "integer"},
            "registration_id": {"type": "integer"},
            "bib": {"type": ["string", "null"]},
            "full_name": {"type": "string"},
            "station": {"type": "string"},
            "first": {
                "type": "object",
                "required": ["at", "by", "device"],
                "properties": {
                    "at": {"type": ["string", "null"], "format": "date-time"},
                    "by": {"type": ["string", "null"]},
                    "device": {"type": ["string", "null"]},
                },
            },
            "late": {
                "type": "object",
                "required": ["scanned_at", "received_at", "by", "device"],
                "properties": {
                    "scanned_at": {"type": ["string", "null"], "format": "date-time"},
                    "received_at": {"type": "string", "format": "date-time"},
                    "by": {"type": ["string", "null"]},
                    "device": {"type": ["string", "null"]},
                },
            },
        },
    },
    "StationCounts": {
        "type": "object",
        "required": ["station", "checked_in", "confirmed"],
        "properties": {
            "station": {"type": "string"},
            "checked_in": {"type": "integer", "minimum": 0},
            "confirmed": {"type": "integer", "minimum": 0},
        },
    },
    "Undone": {
        "type": "object",
        "required": ["checkin_id", "undone_at"],
        "properties": {
            "checkin_id": {"type": "integer"},
            "undone_at": {"type": "string", "format": "date-time"},
        },
    },
    "EnrolmentRequest": {
        "type": "object",
        "description": "A registered runner (code) or a walk-up (full_name, nik, birth_date, "
        "gender, phone, shirt_size, email?), plus the enrolment fields. A walk-up is "
        "registered for the event (confirmed while places last, else waitlisted) and "
        "enrolled in one call.",
        "required": [
            "birth_place",
            "mother_maiden_name",
            "address",
            "occupation",
            "declared_income",
            "programs",
            "months",
            "consent",
        ],
        "properties": {
            "code": {
                "type": "string",
                "maxLength": 200,
                "description": "The bib's QR payload or a typed bib (registered runners).",
            },
            "full_name": {"type": "string", "maxLength": MAX_NAME},
            "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
            "birth_date": {"type": "string", "format": "date"},
            "gender": {"type": "string", "enum": ["M", "F"]},
            "phone": {"type": "string"},
            "email": {"type": ["string", "null"], "format": "email", "maxLength": MAX_EMAIL},
            "shirt_size": {"type": "string"},
            "emergency_contact": {"type": ["string", "null"], "maxLength": MAX_CONTACT},
            "emergency_phone": {"type": ["string", "null"]},
            "birth_place": {"type": "string", "maxLength": MAX_BIRTH_PLACE},
            "mother_maiden_name": {"type": "string", "maxLength": MAX_MOTHER},
            "address": {"type": "string", "maxLength": MAX_ADDRESS},
            "occupation": {"type": "string", "enum": list(OCCUPATIONS)},
            "occupation_other": {
                "type": ["string", "null"],
                "maxLength": MAX_OCCUPATION_OTHER,
                "description": "Required when occupation is other.",
            },
            "declared_income": {
                "type": "integer",
                "minimum": 0,
                "description": "Whole rupiah a month; at least the schedule's lowest income "
                "basis (Rp 1.000.000 in the 2015 schedule).",
            },
            "programs": {
                "type": "array",
                "items": {"type": "string", "enum": list(PROGRAMMES)},
                "uniqueItems": True,
                "minItems": 2,
                "description": 'JKK and JKM always, JHT optional: ["JKK", "JKM"] or '
                '["JKK", "JKM", "JHT"].',
            },
            "months": {"type": "integer", "enum": list(MONTHS)},
            "payment_channel": {
                "type": ["string", "null"],
                "enum": [*PAYMENT_CHANNELS, None],
                "description": "How the runner pays; null or absent when a sponsor pays.",
            },
            "sponsor": {
                "type": ["string", "null"],
                "description": "Code of a sponsor from the loaded schedule data (e.g. "
                "apbd-dki): the sponsor pays, and the amount due from the runner is 0.",
            },
            "consent": {"type": "boolean", "const": True},
        },
    },
    "Contribution": {
        "type": "object",
        "description": "Monthly amounts per programme and in total, whole rupiah.",
        "required": ["jkk", "jkm", "jht", "monthly_total", "months", "amount_due"],
        "properties": {
            "jkk": {"type": "integer", "minimum": 0},
            "jkm": {"type": "integer", "minimum": 0},
            "jht": {"type": "integer", "minimum": 0, "description": "0 without JHT."},
            "monthly_total": {"type": "integer", "minimum": 0},
            "months": {"type": "integer", "enum": list(MONTHS)},
            "amount_due": {
                "type": "integer",
                "minimum": 0,
                "description": "What the runner pays now (0 when a sponsor pays).",
            },
        },
    },
    "Enrolment": {
        "type": "object",
        "required": [
            "id",
            "participant_number",
            "registration_id",
            "registration_status",
            "bib",
            "full_name",
            "programs",
            "income_basis",
            "contribution",
            "sponsor_amount",
            "reliefs",
            "schedule",
            "valid_from",
            "paid_until",
        ],
        "properties": {
            "id": {"type": "integer"},
            "participant_number": {"type": "string", "pattern": "^[0-9]{11}$"},
            "registration_id": {"type": "integer"},
            "registration_status": {"type": "string", "enum": ["confirmed", "waitlisted"]},
            "bib": _NULLABLE_STRING,
            "full_name": {"type": "string"},
            "programs": {"type": "array", "items": {"type": "string"}},
            "income_basis": {"type": "integer"},
            "contribution": {"$ref": "#/components/schemas/Contribution"},
            "sponsor_amount": {"type": "integer", "minimum": 0},
            "reliefs": {"type": "array", "items": {"type": "string"}},
            "schedule": {"type": "string"},
            "valid_from": {"type": "string", "format": "date"},
            "paid_until": {"type": "string", "format": "date"},
            "manage_token": {"type": "string", "description": "Walk-ups only."},
        },
    },
    "EnrolmentEnvelope": {
        "type": "object",
        "required": ["enrolment"],
        "properties": {"enrolment": {"$ref": "#/components/schemas/Enrolment"}},
    },
    "CityFigures": {
        "type": "object",
        "description": "One event's figures. members and non_members count confirmed "
        "runners; no_shows counts confirmed runners without a pickup check-in once the race "
        "has started (0 before); conversion_rate is enrolled / non_members_checked_in (null "
        "while no non-member is checked in).",
        "required": [
            "slug",
            "city",
            *_FIGURES,
        ],
        "properties": {
            "slug": {"type": "string"},
            "city": {"type": "string"},
            **_FIGURE_PROPERTIES,
        },
    },
    "Stats": {
        "type": "object",
        "required": ["events", "totals", "generated_at"],
        "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/CityFigures"}},
            "totals": {
                "type": "object",
                "description": "The events' figures summed (the conversion rate of the sums).",
                "required": list(_FIGURES),
                "properties": _FIGURE_PROPERTIES,
            },
            "generated_at": {"type": "string", "format": "date-time"},
        },
    },
    "RegistrationEnvelope": {
        "type": "object",
        "required": ["registration"],
        "properties": {"registration": {"$ref": "#/components/schemas/Registration"}},
    },
}


def openapi_document(server_url: str) -> dict[str, Any]:
    """The whole document; ``server_url`` is the configured public URL or a relative one."""
    slug = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "funrun API",
            "version": "1",
            "description": "Fun Run tour registration. Errors are RFC 9457 problem details. "
            "Partners send Authorization: Bearer TOKEN; no cookies are used.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/events": {
                "get": {
                    "operationId": "listEvents",
                    "summary": "Every event with live places",
                    "responses": {"200": _json("EventList", "The events")},
                }
            },
            "/events/{slug}": {
                "get": {
                    "operationId": "getEvent",
                    "parameters": [slug],
                    "responses": {
                        "200": _json("Event", "The event"),
                        "404": _problem_response("No such event"),
                    },
                }
            },
            "/events/{slug}/registrations": {
                "post": {
                    "operationId": "createRegistration",
                    "summary": "Register a runner (public; partners with their token)",
                    "parameters": [slug],
                    "security": [{}, {"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/RegistrationRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("RegistrationEnvelope", "Confirmed or waitlisted"),
                        "400": _problem_response("The body is not a JSON object"),
                        "401": _problem_response("A token was sent but is not valid"),
                        "404": _problem_response("No such event"),
                        "409": _problem_response(
                            "Registration closed, or this NIK already holds an active "
                            "registration for the event"
                        ),
                        "413": _problem_response("The body is larger than 64 KiB"),
                        "415": _problem_response("The body is not JSON"),
                        "422": _problem_response("Invalid fields (see errors)"),
                        "429": _problem_response("Too many requests from this client"),
                    },
                }
            },
            "/registrations/{token}": {
                "get": {
                    "operationId": "getRegistration",
                    "parameters": [token],
                    "responses": {
                        "200": _json("RegistrationEnvelope", "The registration"),
                        "404": _problem_response("No registration for this token"),
                    },
                }
            },
            "/registrations/{token}/cancel": {
                "post": {
                    "operationId": "cancelRegistration",
                    "parameters": [token],
                    "responses": {
                        "200": _json("RegistrationEnvelope", "Cancelled"),
                        "404": _problem_response("No registration for this token"),
                        "409": _problem_response("Already cancelled"),
                    },
                }
            },
            "/registrations/{token}/bib.pdf": {
                "get": {
                    "operationId": "getBibPdf",
                    "parameters": [token],
                    "responses": {
                        "200": {
                            "description": "Race bib (A5) and e-ticket (A6)",
                            "content": {
                                "application/pdf": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        "404": _problem_response("No registration for this token"),
                        "409": _problem_response("Not confirmed: waitlisted or cancelled"),
                    },
                }
            },
            "/registrations/{token}/my-data.json": {
                "get": {
                    "operationId": "getMyData",
                    "summary": "What this registration holds (the runner's own data, NIK "
                    "masked); never the person's other registrations or enrolment",
                    "parameters": [token],
                    "responses": {
                        "200": _json("MyData", "This registration's data"),
                        "404": _problem_response("No registration for this token"),
                    },
                }
            },
            "/signing-key": {
                "get": {
                    "operationId": "getSigningKeys",
                    "summary": "Public keys that verify bib QR payloads",
                    "responses": {"200": _json("JWKSet", "The accepted keys")},
                }
            },
            "/events/{slug}/checkins": {
                "post": {
                    "operationId": "checkIn",
                    "summary": "Scan a bib at a station (volunteers of the event, organisers)",
                    "parameters": [slug],
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CheckInRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("CheckInOutcome", "checked_in"),
                        "200": _json(
                            "CheckInOutcome",
                            "already_checked_in (first_at, first_by); or confirm_identity: a "
                            "typed bib without id_checked (the runner's name and bib, nothing "
                            "checked in)",
                        ),
                        "400": _problem_response("The body is not a JSON object"),
                        "401": _problem_response("No valid token"),
                        "403": _problem_response("Not assigned to this event"),
                        "404": {
                            "description": "unknown bib (CheckInOutcome), or no such event "
                            "(problem details)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CheckInOutcome"}
                                },
                                "application/problem+json": {
                                    "schema": {"$ref": "#/components/schemas/Problem"}
                                },
                            },
                        },
                        "409": _json(
                            "CheckInOutcome",
                            "wrong_event (other_event names its city) or not_confirmed",
                        ),
                        "422": {
                            "description": "invalid code: malformed or forged, or a scanned code "
                            "that is not a signed bib (CheckInOutcome); bad fields (problem "
                            "details)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CheckInOutcome"}
                                },
                                "application/problem+json": {
                                    "schema": {"$ref": "#/components/schemas/Problem"}
                                },
                            },
                        },
                    },
                }
            },
            "/events/{slug}/checkins/counts": {
                "get": {
                    "operationId": "checkInCounts",
                    "parameters": [
                        slug,
                        {
                            "name": "station",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["pickup", "start", "finish"]},
                        },
                    ],
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json("StationCounts", "Checked in and confirmed"),
                        "401": _problem_response("No valid token"),
                        "403": _problem_response("Not assigned to this event"),
                        "404": _problem_response("No such event"),
                        "422": _problem_response("Unknown station"),
                    },
                }
            },
            "/events/{slug}/roster": {
                "get": {
                    "operationId": "getRoster",
                    "summary": "The roster an offline scanner holds (volunteers of the event, "
                    "organisers)",
                    "parameters": [
                        slug,
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json("Roster", "The roster (ETag header: its version)"),
                        "304": {"description": "Unchanged since the version sent"},
                        "401": _problem_response("No valid token"),
                        "403": _problem_response("Not assigned to this event"),
                        "404": _problem_response("No such event"),
                    },
                }
            },
            "/checkins/{checkin_id}/undo": {
                "post": {
                    "operationId": "undoCheckIn",
                    "summary": "Take back a mistaken check-in (organisers and admins; logged)",
                    "parameters": [
                        {
                            "name": "checkin_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json("Undone", "Undone"),
                        "401": _problem_response("No valid token"),
                        "403": _problem_response("Not a supervisor"),
                        "404": _problem_response("No such check-in"),
                        "409": _problem_response("Already undone"),
                    },
                }
            },
            "/events/{slug}/enrolments": {
                "post": {
                    "operationId": "enrol",
                    "summary": "Enrol a scanned runner or a walk-up (volunteers of the event)",
                    "parameters": [slug],
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/EnrolmentRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("EnrolmentEnvelope", "Enrolled"),
                        "400": _problem_response("The body is not a JSON object"),
                        "401": _problem_response("No valid token"),
                        "403": _problem_response("Not assigned to this event"),
                        "404": _problem_response("No such event, or no runner with that bib"),
                        "409": _problem_response(
                            "Already a member, already enrolled (same NIK, any city), "
                            "registration cancelled or closed, or no schedule in force"
                        ),
                        "413": _problem_response("The body is larger than 64 KiB"),
                        "415": _problem_response("The body is not JSON"),
                        "422": _problem_response("Invalid fields (see errors)"),
                    },
                }
            },
            "/enrolments/{number}/card.pdf": {
                "get": {
                    "operationId": "getMembershipCard",
                    "parameters": [
                        {
                            "name": "number",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]{11}$"},
                        }
                    ],
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "The membership card (ID-1 size) with a signed QR",
                            "content": {
                                "application/pdf": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        "401": _problem_response("No valid token"),
                        "403": _problem_response("Not assigned to the enrolment's event"),
                        "404": _problem_response("No such enrolment"),
                    },
                }
            },
            "/stats": {
                "get": {
                    "operationId": "getStats",
                    "summary": "Per-city figures and tour totals (organisers and admins)",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json("Stats", "The figures the dashboard shows"),
                        "401": _problem_response("No valid token"),
                        "403": _problem_response("Not an organiser or admin"),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "responses": {"200": {"description": "This document"}},
                }
            },
        },
    }
