"""Request models (pydantic) whose fields are checked by our own rule functions.

A field is declared as ``Annotated[T, checked(rule), WithJsonSchema(...)]``: the rule (from
:mod:`funrun.people.rules` or beside the model) cleans the value or raises
:class:`~funrun.people.rules.RuleBroken`; the JSON schema is what the OpenAPI document
says about the field. :func:`validate` runs a model and turns a failure into
:class:`ValidationFailed` with ``{field: [messages]}`` in the user's language: pydantic's
own (English) messages never reach a user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from funrun.people.rules import REQUIRED, RuleBroken

M = TypeVar("M", bound=BaseModel)
RULE_ERROR = "funrun_rule"
#: pydantic error types our models can still raise, and what the user reads for them.
MESSAGES = {"missing": REQUIRED}
UNEXPECTED = _l("This value is not accepted.")


class ValidationFailed(Exception):
    """Input was rejected; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid input")
        self.errors = errors


class RequestModel(BaseModel):
    """A request body: unknown fields are ignored, every field is checked by a rule."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    #: What a user reads when a required field is absent, where it is not "required".
    MISSING: ClassVar[dict[str, Any]] = {}


def checked(rule: Callable[[Any, ValidationInfo], Any]) -> PlainValidator:
    """A pydantic validator that runs ``rule(value, info)`` and reports its messages.

    A rule about a nested object (or about several fields at once) raises
    :class:`ValidationFailed` with every field's messages, named as they are reported
    (e.g. ``proxy.nik``).
    """

    def run(value: Any, info: ValidationInfo) -> Any:
        try:
            return rule(value, info)
        except RuleBroken as broken:
            raise PydanticCustomError(
                RULE_ERROR,
                "{summary}",
                {"summary": str(broken), "messages": broken.messages, "field": broken.field},
            ) from None
        except ValidationFailed as failed:
            raise PydanticCustomError(
                RULE_ERROR, "{summary}", {"summary": "invalid", "fields": failed.errors}
            ) from None

    return PlainValidator(run)


def field_errors(failure: ValidationError, model: type[BaseModel]) -> dict[str, list[str]]:
    """pydantic's errors as ``{field: [messages]}`` in the user's language."""
    errors: dict[str, list[str]] = {}
    missing = getattr(model, "MISSING", {})
    for error in failure.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "body"
        if error["type"] == RULE_ERROR and "fields" in error["ctx"]:
            for field, messages in error["ctx"]["fields"].items():
                errors.setdefault(field, []).extend(messages)
            continue
        if error["type"] == RULE_ERROR:
            name = error["ctx"]["field"] or name
            messages = list(error["ctx"]["messages"])
        elif error["type"] == "missing" and name in missing:
            messages = [str(missing[name])]
        else:
            messages = [str(MESSAGES.get(error["type"], UNEXPECTED))]
        errors.setdefault(name, []).extend(messages)
    return errors


def validate(model: type[M], raw: Mapping[str, Any], **context: Any) -> M:
    """``raw`` checked by ``model``; raise :class:`ValidationFailed` with every problem."""
    try:
        return model.model_validate(dict(raw), context=context)
    except ValidationError as failure:
        raise ValidationFailed(field_errors(failure, model)) from None
