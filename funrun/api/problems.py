"""RFC 9457 problem details for every API error."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

PROBLEM_TYPE_BASE = "https://funrun.example/problems/"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    kind: str | None = None,
    errors: dict[str, list[str]] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response; ``errors`` maps fields to messages for validation failures."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
