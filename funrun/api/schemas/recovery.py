"""A lost manage link found again: the request (shared with the /r/recover form) and the
one answer it always gets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, WithJsonSchema

from funrun import contracts
from funrun.api.schemas.base import Schema
from funrun.contracts import RequestModel, checked
from funrun.people import rules
from funrun.registration.schemas import MAX_EMAIL, NIK_PATTERN


def _contact(value: Any, _info: ValidationInfo) -> str:
    """The phone or email given at registration, normalised as it was stored then."""
    text = rules.single_line(value, max_length=MAX_EMAIL)
    assert text is not None
    if "@" in text:
        email = rules.email(text, max_length=MAX_EMAIL)
        assert email is not None
        return email
    phone = rules.mobile(text)
    assert phone is not None
    return phone


class RecoveryRequest(RequestModel):
    """Find a lost manage link (POST /registrations/recover)."""

    nik: Annotated[
        str,
        checked(lambda v, _i: rules.nik(v, None, None)),
        WithJsonSchema({"type": "string", "pattern": NIK_PATTERN}),
    ] = Field(description="The NIK registered with (16 digits).")
    contact: Annotated[
        str, checked(_contact), WithJsonSchema({"type": "string", "maxLength": MAX_EMAIL})
    ] = Field(
        description="The mobile number (08xx, 628xx or +628xx) or the email address given "
        "when registering."
    )

    @property
    def via(self) -> Literal["email", "phone"]:
        """Which of the two ``contact`` is (a new link goes there only)."""
        return "email" if "@" in self.contact else "phone"


def validate_recovery(raw: Any) -> RecoveryRequest:
    """``raw`` (a JSON object or the form's values) checked; raise ValidationFailed."""
    return contracts.validate(RecoveryRequest, raw)


class RecoveryAccepted(Schema):
    """The answer to every well-formed request, whether or not it matched a registration."""

    accepted: Literal[True]
    message: str = Field(description="What happens next, in the caller's language.")
