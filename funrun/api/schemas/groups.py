"""A partner's group import: the JSON body that sends it, and the import as answered.

Each member is a registration body without ``consent``
(:class:`funrun.registration.schemas.MemberRequest`): the partner cannot consent for its
members, each confirms the held place (and consents) by their own link. Members are
checked one by one by the worker and refused row by row, so the body's schema only asks
for objects; a CSV body (``text/csv``) has the same fields as its columns.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import url_for
from pydantic import BaseModel, ConfigDict, Field

from funrun.api.schemas.base import Count, DateTime, Schema
from funrun.groups.bodies import COLUMNS, MAX_ROWS
from funrun.groups.importing import MAX_KEY
from funrun.groups.models import GroupImport, ImportStatus

#: The first refused rows an answer lists (every one is in the report CSV).
REFUSED_SHOWN = 1000


class GroupImportRequest(BaseModel):
    """The JSON body of POST /events/{slug}/group-registrations (documentation: the
    handler reads it as a stream)."""

    model_config = ConfigDict(extra="allow")

    import_key: Annotated[str, Field(min_length=1, max_length=MAX_KEY)] = Field(
        description="The partner's own name for this batch: the same key again answers "
        "the same import (and changes nothing); another body under it is a 409."
    )
    members: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_ROWS)] = Field(
        description="Registration bodies without consent (each member consents when "
        "confirming): " + ", ".join(COLUMNS) + ". Checked row by row as a registration "
        "is; a row that fails is refused in the import's report, the others are held."
    )


class RefusedRow(Schema):
    """A row of the import that was refused, or (``place``) put on the waitlist."""

    row: Annotated[int, Field(ge=1)] = Field(description="1 for the first member.")
    errors: dict[str, list[str]] = Field(
        description="Messages per field, in the language of the upload (Accept-Language)."
    )


class GroupImportAnswer(Schema):
    """An import and how far the worker has got."""

    id: int
    event: str
    import_key: str
    status: ImportStatus
    total_rows: Count
    processed_rows: Count
    accepted: Count = Field(
        description="Rows that took a held place or, the event being full, a waitlist place."
    )
    waitlisted: Count
    refused: list[RefusedRow] = Field(
        description=f"The first {REFUSED_SHOWN:,} refused or waitlisted rows, by row "
        "(report_url has them all)."
    )
    refused_count: Count
    created_at: DateTime
    finished_at: DateTime | None
    report_url: str

    @classmethod
    def of(
        cls, group: GroupImport, slug: str, refused: list[dict[str, Any]], waitlisted: int
    ) -> dict:
        """The answer for ``group``."""
        return cls.dump(
            {
                "id": group.id,
                "event": slug,
                "import_key": group.import_key,
                "status": group.status,
                "total_rows": group.total_rows or 0,
                "processed_rows": group.processed_rows,
                "accepted": group.accepted,
                "waitlisted": waitlisted,
                "refused": refused,
                "refused_count": group.refused,
                "created_at": group.created_at.isoformat(),
                "finished_at": group.finished_at.isoformat() if group.finished_at else None,
                "report_url": url_for("api.group_import_report", import_id=group.id),
            }
        )


class GroupImportEnvelope(Schema):
    """One import."""

    import_: GroupImportAnswer = Field(alias="import")
