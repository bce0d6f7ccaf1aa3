"""The OpenAPI 3.1 document for /api/v1, generated from the models and the route table.

Nothing here re-lists a field: the schemas are the pydantic models of
:mod:`funrun.api.schemas` (``model_json_schema`` through :class:`OpenApiSchema`) and the
operations are :data:`funrun.api.routes_doc.OPERATIONS`. tests/api/test_openapi.py checks
that every route is documented and that real answers validate against the document.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from funrun.api.routes_doc import OPERATIONS, Operation
from funrun.api.schemas.base import OpenApiSchema, Problem, strip_titles

REF = "#/components/schemas/{model}"
SECURITY = {"bearer": [{"bearer": []}], "optional": [{}, {"bearer": []}]}


def _models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = [Problem]
    for op in OPERATIONS:
        candidates: list[Any] = [op.body]
        for _status, answer, _text in op.responses:
            candidates.extend(answer if isinstance(answer, tuple) else (answer,))
        for model in candidates:
            if isinstance(model, type) and issubclass(model, BaseModel) and model not in seen:
                seen.append(model)
    return seen


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _content(model: type[BaseModel]) -> dict[str, Any]:
    mimetype = "application/problem+json" if model is Problem else "application/json"
    return {mimetype: {"schema": _ref(model)}}


def _response(answer: Any, description: str) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if answer == "pdf":
        out["content"] = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    elif answer == "csv":
        out["content"] = {"text/csv": {"schema": {"type": "string"}}}
    elif isinstance(answer, tuple):
        out["content"] = {k: v for model in answer for k, v in _content(model).items()}
    elif answer is not None:
        out["content"] = _content(answer)
    return out


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id}
    if op.summary:
        out["summary"] = op.summary
    if op.parameters:
        out["parameters"] = [dict(p) for p in op.parameters]
    if op.security:
        out["security"] = SECURITY[op.security]
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}, **op.extra_bodies},
        }
    out["responses"] = {
        str(status): _response(answer, text) for status, answer, text in op.responses
    }
    return out


@cache
def _document_body() -> dict[str, Any]:
    """Everything but the servers: it depends only on the code, so it is built once."""
    _keys, schemas = models_json_schema(
        [(model, "validation") for model in _models()],
        ref_template=REF,
        schema_generator=OpenApiSchema,
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "funrun API",
            "version": "1",
            "description": "Fun Run tour registration. Errors are RFC 9457 problem details. "
            "Partners send Authorization: Bearer TOKEN; no cookies are used.",
        },
        "components": {
            "schemas": strip_titles(schemas["$defs"]),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    """The whole document; ``server_url`` is the configured public URL or a relative one."""
    document = copy.deepcopy(_document_body())
    document["servers"] = [{"url": server_url}]
    return document
