"""Registrations as the API shows them to their runner; the body that creates one is
:class:`funrun.registration.schemas.RegistrationRequest`, shared with the forms."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from flask import url_for
from pydantic import Field

from funrun.api.schemas.base import DateTime, Schema
from funrun.bibs.signing import bib_signer
from funrun.messages.models import Channel, MessageKind, MessageStatus
from funrun.registration.models import RegistrationStatus
from funrun.registration.schemas import NIK_PATTERN, RegistrationRequest
from funrun.registration.services import RegistrationSnapshot, waitlist_position

__all__ = ["NIK_PATTERN", "RegistrationRequest"]  # the request body is the registration's own


class Registration(Schema):
    """A registration as its runner sees it (NIK masked)."""

    id: int
    event: str
    status: RegistrationStatus
    bib: str | None = Field(description='Bib as printed, e.g. "JKT 0042".')
    bib_number: int | None
    qr: Annotated[str, Field(max_length=120)] | None = Field(
        description="Signed QR payload of a confirmed bib (null otherwise): "
        "FR1<kid>:<event id>:<bib>:<base32 Ed25519 signature>."
    )
    waitlist_position: Annotated[int, Field(ge=1)] | None
    entry_number: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="A ballot entry's number in its event (status entered, and kept after "
        "the draw): the number the published results list.",
    )
    full_name: str
    nik_masked: str
    shirt_size: str
    member: bool
    created_at: DateTime
    cancelled_at: DateTime | None
    manage_token: str = Field(
        default=None,  # type: ignore[assignment]
        description="Only in the answer that creates the registration.",
    )
    manage_url: str = None  # type: ignore[assignment]

    @classmethod
    def of(cls, snapshot: RegistrationSnapshot, *, manage_token: str | None = None) -> dict:
        """A registration as the API shows it to its runner (NIK masked); the manage
        token and link only in the answer that creates it."""
        confirmed = snapshot.status == RegistrationStatus.CONFIRMED
        body: dict[str, Any] = {
            "id": snapshot.id,
            "event": snapshot.event_slug,
            "status": snapshot.status,
            "bib": snapshot.bib,
            "bib_number": snapshot.bib_number,
            "qr": (
                bib_signer().sign(snapshot.event_id, snapshot.bib_number)
                if confirmed and snapshot.bib_number is not None
                else None
            ),
            "waitlist_position": waitlist_position(snapshot),
            "entry_number": snapshot.entry_number,
            "full_name": snapshot.full_name,
            "nik_masked": snapshot.nik_masked,
            "shirt_size": snapshot.shirt_size,
            "member": snapshot.is_member,
            "created_at": snapshot.created_at.isoformat(),
            "cancelled_at": snapshot.cancelled_at.isoformat() if snapshot.cancelled_at else None,
        }
        if manage_token is not None:
            body["manage_token"] = manage_token
            body["manage_url"] = url_for("registration.manage", token=manage_token, _external=True)
        return cls.dump(body)


class RegistrationEnvelope(Schema):
    """One registration."""

    registration: Registration


class MyDataPerson(Schema):
    """The person behind the registration (NIK masked)."""

    nik: str | None = Field(description="masked, e.g. 3174**********01")
    birth_date: date
    gender: Literal["M", "F"]


class MyDataMessage(Schema):
    """One message sent (or to be sent) to the runner about this registration."""

    model_config = {"extra": "forbid"}

    kind: MessageKind
    channel: Channel
    status: MessageStatus
    sent_to: str | None = Field(
        description="Where it went, masked (the last digits of a phone, the e-mail's "
        "domain); null before it is tried and once the data is purged"
    )
    created_at: DateTime
    sent_at: DateTime | None


class MyDataRegistration(Schema):
    """This registration with its consent, check-ins and the messages sent about it."""

    event: str
    status: RegistrationStatus
    bib: str | None = None
    full_name: str
    consent: dict
    checkins: list[dict]
    messages: list[MyDataMessage] = Field(description="Newest first")


class MyData(Schema):
    """What one registration holds, for the runner holding its manage link: the person's
    masked NIK, birth date and gender, and this registration with its consent, check-ins
    and messages. No other registration and no enrolment."""

    model_config = {"extra": "forbid"}

    generated_at: DateTime
    person: MyDataPerson
    registration: MyDataRegistration


class JWK(Schema):
    """One Ed25519 public key (RFC 8037)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="base64url public key")
    kid: str = Field(description="named in each payload")
    use: Literal["sig"] = None  # type: ignore[assignment]
    alg: Literal["EdDSA"] = None  # type: ignore[assignment]


class JWKSet(Schema):
    """Ed25519 public keys (RFC 8037) that verify bib QR payloads."""

    keys: list[JWK]
