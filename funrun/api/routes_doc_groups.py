"""The partners' group imports in the API's operation table (:mod:`funrun.api.routes_doc`)."""

from __future__ import annotations

from funrun.api.operation import (
    IMPORT_ID,
    NO_EVENT,
    NO_TOKEN,
    SLUG,
    Operation,
)
from funrun.api.schemas.base import Problem
from funrun.api.schemas.groups import GroupImportEnvelope, GroupImportRequest
from funrun.groups.bodies import COLUMNS, MAX_BODY, MAX_ROWS

GROUP_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/events/{slug}/group-registrations",
        "createGroupImport",
        (
            (
                202,
                GroupImportEnvelope,
                "Accepted: the import, queued for the worker (Location: /imports/{id})",
            ),
            (
                200,
                GroupImportEnvelope,
                "This import key was used already with this body: that import, unchanged",
            ),
            (400, Problem, "Not valid JSON or CSV, not UTF-8, or a member or line too long"),
            NO_TOKEN,
            (403, Problem, "Not a partner"),
            NO_EVENT,
            (409, Problem, "Registration closed, or this import key was used for another body"),
            (413, Problem, f"More than {MAX_ROWS:,} members, or a body over {MAX_BODY >> 20} MiB"),
            (415, Problem, "Neither JSON nor CSV"),
            (
                422,
                Problem,
                "No import key or one too long, no members, members not objects, "
                "or CSV columns unknown or missing",
            ),
            (429, Problem, "Too many requests with this token"),
        ),
        summary="A partner's members for an event, held for each to confirm (partners). "
        "JSON, or CSV (text/csv) whose header names the members' fields ("
        + ", ".join(COLUMNS)
        + ") with the key in the Import-Key header or ?import_key=",
        body=GroupImportRequest,
        extra_bodies={"text/csv": {"schema": {"type": "string"}}},
        parameters=(
            SLUG,
            {
                "name": "Import-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 100},
            },
            {
                "name": "import_key",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": 100},
            },
        ),
        security="bearer",
    ),
    Operation(
        "get",
        "/imports/{import_id}",
        "getGroupImport",
        (
            (200, GroupImportEnvelope, "The import and its progress"),
            NO_TOKEN,
            (403, Problem, "Not a partner"),
            (404, Problem, "No such import of this partner"),
        ),
        summary="A partner's import: progress, counts and the first refused rows (partners)",
        parameters=(IMPORT_ID,),
        security="bearer",
    ),
    Operation(
        "get",
        "/imports/{import_id}/report.csv",
        "getGroupImportReport",
        (
            (
                200,
                "csv",
                "row, field, message: each refused or waitlisted row's messages, "
                "in the language of the upload",
            ),
            NO_TOKEN,
            (403, Problem, "Not a partner"),
            (404, Problem, "No such import of this partner"),
        ),
        summary="An import's refused rows as CSV (partners)",
        parameters=(IMPORT_ID,),
        security="bearer",
    ),
)
