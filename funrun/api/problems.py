"""RFC 9457 problem details for every API error."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

from funrun.api.schemas.base import Problem

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
    """A problem+json response (the contract's :class:`Problem`); ``errors`` maps fields to
    messages for validation failures, ``extra`` adds members of the problem's own type."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
        **extra,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = jsonify(Problem.dump(body))
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
