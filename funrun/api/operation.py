"""What an entry of the API's operation table is, and the parts entries share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from funrun.api.schemas.base import Problem

#: An answer: a model (JSON), Problem (problem+json), "pdf", None (no body), or a tuple
#: of a model and Problem (either, by content type).
Answer = Any

SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
NO_TOKEN = (401, Problem, "No valid token")
NOT_ASSIGNED = (403, Problem, "Not assigned to this event")
NO_EVENT = (404, Problem, "No such event")
NOT_AN_OBJECT = (400, Problem, "The body is not a JSON object")
TOO_LARGE = (413, Problem, "The body is larger than 64 KiB")
NOT_JSON = (415, Problem, "The body is not JSON")
INVALID = (422, Problem, "Invalid fields (see errors)")
NO_REGISTRATION = (404, Problem, "No registration for this token")
IMPORT_ID = {"name": "import_id", "in": "path", "required": True, "schema": {"type": "integer"}}


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the document describes it."""

    method: str
    path: str
    operation_id: str
    responses: tuple[tuple[int, Answer, str], ...]
    summary: str | None = None
    body: type[BaseModel] | None = None
    parameters: tuple[dict[str, Any], ...] = ()
    #: None: public; "bearer": a token is required; "optional": public or a token.
    security: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Other content types the body may come as: ``{media type: {"schema": ...}}``.
    extra_bodies: dict[str, Any] = field(default_factory=dict)
