"""Every /api/v1 operation: its models and its answers, one entry each.

:mod:`funrun.api.openapi` turns this table and the models of :mod:`funrun.api.schemas`
into the OpenAPI document; tests/api/test_openapi.py checks that every Flask route has an
entry here and that real answers match it.
"""

from __future__ import annotations

from funrun.api.operation import (
    INVALID,
    NO_EVENT,
    NO_REGISTRATION,
    NO_TOKEN,
    NOT_AN_OBJECT,
    NOT_ASSIGNED,
    NOT_JSON,
    SLUG,
    TOKEN,
    TOO_LARGE,
    Operation,
)
from funrun.api.routes_doc_groups import GROUP_OPERATIONS
from funrun.api.schemas.base import Problem
from funrun.api.schemas.checkins import CheckInOutcome, CheckInRequest, Roster, StationCounts
from funrun.api.schemas.checkins import Undone as UndoneAnswer
from funrun.api.schemas.contributions import ContributionQuote, query_parameters
from funrun.api.schemas.enrolment import EnrolmentEnvelope, EnrolmentRequest
from funrun.api.schemas.events import Event, EventList
from funrun.api.schemas.recovery import RecoveryAccepted, RecoveryRequest
from funrun.api.schemas.registrations import (
    JWKSet,
    MyData,
    RegistrationEnvelope,
    RegistrationRequest,
)
from funrun.api.schemas.stats import Stats
from funrun.checkin.models import STATIONS

_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/events",
        "listEvents",
        ((200, EventList, "The events"),),
        summary="Every event with live places",
    ),
    Operation(
        "get",
        "/events/{slug}",
        "getEvent",
        ((200, Event, "The event"), NO_EVENT),
        parameters=(SLUG,),
    ),
    Operation(
        "post",
        "/events/{slug}/registrations",
        "createRegistration",
        (
            (201, RegistrationEnvelope, "Confirmed or waitlisted"),
            NOT_AN_OBJECT,
            (401, Problem, "A token was sent but is not valid"),
            NO_EVENT,
            (
                409,
                Problem,
                "Registration closed, or this NIK already holds an active registration "
                "for the event",
            ),
            TOO_LARGE,
            NOT_JSON,
            INVALID,
            (
                429,
                Problem,
                "Too many requests from this client, or the event's orderly queue is busy "
                "(type queue-busy: Retry-After and retry_after say when to try again; an "
                "admission from the waiting page in a Queue-Admission header passes)",
            ),
        ),
        summary="Register a runner (public; partners with their token)",
        body=RegistrationRequest,
        parameters=(SLUG,),
        security="optional",
    ),
    Operation(
        "post",
        "/registrations/recover",
        "recoverRegistration",
        (
            (
                202,
                RecoveryAccepted,
                "Accepted: the same answer whether or not a registration matched; on a "
                "match a new manage link goes to that phone or email and the old one stops "
                "working",
            ),
            TOO_LARGE,
            (422, Problem, "Invalid fields, or a body that is not a JSON object (see errors)"),
            (429, Problem, "Too many attempts for this NIK or from this client"),
        ),
        summary="Find a lost manage link with the NIK and the phone or email given (public)",
        body=RecoveryRequest,
    ),
    Operation(
        "get",
        "/registrations/{token}",
        "getRegistration",
        ((200, RegistrationEnvelope, "The registration"), NO_REGISTRATION),
        parameters=(TOKEN,),
    ),
    Operation(
        "post",
        "/registrations/{token}/cancel",
        "cancelRegistration",
        (
            (200, RegistrationEnvelope, "Cancelled"),
            NO_REGISTRATION,
            (409, Problem, "Already cancelled"),
        ),
        parameters=(TOKEN,),
    ),
    Operation(
        "get",
        "/registrations/{token}/bib.pdf",
        "getBibPdf",
        (
            (200, "pdf", "Race bib (A5) and e-ticket (A6)"),
            NO_REGISTRATION,
            (409, Problem, "Not confirmed: waitlisted or cancelled"),
        ),
        parameters=(TOKEN,),
    ),
    Operation(
        "get",
        "/registrations/{token}/my-data.json",
        "getMyData",
        ((200, MyData, "This registration's data"), NO_REGISTRATION),
        summary="What this registration holds (the runner's own data, NIK masked); never "
        "the person's other registrations or enrolment",
        parameters=(TOKEN,),
    ),
    Operation(
        "get",
        "/signing-key",
        "getSigningKeys",
        ((200, JWKSet, "The accepted keys"),),
        summary="Public keys that verify bib QR payloads",
    ),
    Operation(
        "post",
        "/events/{slug}/checkins",
        "checkIn",
        (
            (201, CheckInOutcome, "checked_in"),
            (
                200,
                CheckInOutcome,
                "already_checked_in (first_at, first_by); or confirm_identity: a typed bib "
                "without id_checked (the runner's name and bib, nothing checked in)",
            ),
            NOT_AN_OBJECT,
            NO_TOKEN,
            NOT_ASSIGNED,
            (
                404,
                (CheckInOutcome, Problem),
                "unknown bib (CheckInOutcome), or no such event (problem details)",
            ),
            (
                409,
                CheckInOutcome,
                "wrong_event (other_event names its city), not_confirmed, or proxy_limit "
                "(the representative collected for as many runners as the event allows)",
            ),
            (
                422,
                (CheckInOutcome, Problem),
                "invalid code: malformed or forged, or a scanned code that is not a signed "
                "bib (CheckInOutcome); bad fields (problem details)",
            ),
        ),
        summary="Scan a bib at a station (volunteers of the event, organisers)",
        body=CheckInRequest,
        parameters=(SLUG,),
        security="bearer",
    ),
    Operation(
        "get",
        "/events/{slug}/checkins/counts",
        "checkInCounts",
        (
            (200, StationCounts, "Checked in and confirmed"),
            NO_TOKEN,
            NOT_ASSIGNED,
            NO_EVENT,
            (422, Problem, "Unknown station"),
        ),
        parameters=(
            SLUG,
            {
                "name": "station",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(STATIONS)},
            },
        ),
        security="bearer",
    ),
    Operation(
        "get",
        "/events/{slug}/roster",
        "getRoster",
        (
            (200, Roster, "The roster (ETag header: its version)"),
            (304, None, "Unchanged since the version sent"),
            NO_TOKEN,
            NOT_ASSIGNED,
            NO_EVENT,
        ),
        summary="The roster an offline scanner holds (volunteers of the event, organisers)",
        parameters=(
            SLUG,
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ),
        security="bearer",
    ),
    Operation(
        "post",
        "/checkins/{checkin_id}/undo",
        "undoCheckIn",
        (
            (200, UndoneAnswer, "Undone"),
            NO_TOKEN,
            (403, Problem, "Not a supervisor"),
            (404, Problem, "No such check-in"),
            (409, Problem, "Already undone"),
        ),
        summary="Take back a mistaken check-in (organisers and admins; logged)",
        parameters=(
            {"name": "checkin_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ),
        security="bearer",
    ),
    Operation(
        "post",
        "/events/{slug}/enrolments",
        "enrol",
        (
            (201, EnrolmentEnvelope, "Enrolled"),
            NOT_AN_OBJECT,
            NO_TOKEN,
            NOT_ASSIGNED,
            (404, Problem, "No such event, or no runner with that bib"),
            (
                409,
                Problem,
                "Already a member, already enrolled (same NIK, any city), registration "
                "cancelled or closed, or no schedule in force",
            ),
            TOO_LARGE,
            NOT_JSON,
            INVALID,
        ),
        summary="Enrol a scanned runner or a walk-up (volunteers of the event)",
        body=EnrolmentRequest,
        parameters=(SLUG,),
        security="bearer",
    ),
    Operation(
        "get",
        "/enrolments/{number}/card.pdf",
        "getMembershipCard",
        (
            (200, "pdf", "The membership card (ID-1 size) with a signed QR"),
            NO_TOKEN,
            (403, Problem, "Not assigned to the enrolment's event"),
            (404, Problem, "No such enrolment"),
        ),
        parameters=(
            {
                "name": "number",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]{11}$"},
            },
        ),
        security="bearer",
    ),
    Operation(
        "get",
        "/stats",
        "getStats",
        (
            (200, Stats, "The figures the dashboard shows"),
            NO_TOKEN,
            (403, Problem, "Not an organiser or admin"),
        ),
        summary="Per-city figures and tour totals (organisers and admins)",
        security="bearer",
    ),
    Operation(
        "get",
        "/contributions/quote",
        "quoteContribution",
        (
            (200, ContributionQuote, "The contribution, month by month"),
            (422, Problem, "Invalid parameters, or no schedule in force (see errors)"),
            (429, Problem, "Too many requests from this client"),
        ),
        summary="What membership would cost, computed without enrolling anyone (public; "
        "no personal data)",
        parameters=query_parameters(),
    ),
    Operation("get", "/openapi.json", "getOpenApi", ((200, None, "This document"),)),
)

#: Every operation, the partners' group imports (routes_doc_groups.py) among them.
OPERATIONS = _OPERATIONS[:-1] + GROUP_OPERATIONS + _OPERATIONS[-1:]
