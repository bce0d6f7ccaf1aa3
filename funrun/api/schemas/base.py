"""What every schema shares: the base model, JSON Schema output, problem details."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema


class Schema(BaseModel):
    """A model of the contract; answers keep only the fields that were set."""

    model_config = ConfigDict(populate_by_name=True, use_enum_values=True)

    @classmethod
    def dump(cls, data: Any) -> dict[str, Any]:
        """``data`` checked against this model, as JSON-ready values (unset fields left out)."""
        return cls.model_validate(data).model_dump(mode="json", exclude_unset=True)


class OpenApiSchema(GenerateJsonSchema):
    """JSON Schema as the document writes it: ``type: [T, "null"]``, no generated titles."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        kind = inner.get("type")
        if isinstance(kind, str) and "$ref" not in inner:
            out = dict(inner)
            out["type"] = [kind, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
            if "const" in out:
                out = {"anyOf": [inner, {"type": "null"}]}
            return out
        return {"anyOf": [inner, {"type": "null"}]}

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def generate(self, schema: Any, mode: Any = "validation") -> JsonSchemaValue:
        out = super().generate(schema, mode)
        out.pop("title", None)
        return out


def strip_titles(schema: Any) -> Any:
    """Drop the model titles pydantic writes (the component names say them) and the
    ``default: null`` of fields an answer may leave out."""
    if isinstance(schema, dict):
        return {
            key: strip_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
            and not (key == "default" and value is None)
        }
    if isinstance(schema, list):
        return [strip_titles(item) for item in schema]
    return schema


class Problem(Schema):
    """RFC 9457 problem details (a problem type may add members of its own)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    type: str
    title: str
    status: int
    detail: str = None  # type: ignore[assignment]
    errors: dict[str, list[str]] = Field(
        default=None,  # type: ignore[assignment]
        description="Messages per field, in the caller's language (Accept-Language).",
    )


#: A timestamp as the API writes it (``datetime.isoformat()``, kept as written).
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Count = Annotated[int, Field(ge=0)]
