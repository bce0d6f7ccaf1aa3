"""Signed bib payloads: any scanner holding the public key can tell real from forged.

Payload (ASCII, QR alphanumeric mode, at most 120 characters)::

    FR1<kid>:<event id>:<bib number>:<signature>

``kid`` is two base32 characters naming the signing key, the numbers are plain decimal
without leading zeros, and the signature is Ed25519 over everything before the last
colon, in unpadded base32 (103 characters). Base32 keeps the whole payload in the QR's
alphanumeric mode (5.5 bits a character instead of 8), so a bib fits a version 5 code.

Verification is a pure function of the payload, the accepted public keys and the event
being scanned; it accepts only the canonical spelling of each part, so no other string
(a changed character, lower case, leading zeros, padding bits) verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

VERSION = "FR1"
MAX_PAYLOAD = 120
_SHAPE = re.compile(r"FR1([A-Z2-7]{2}):(0|[1-9][0-9]{0,8}):(0|[1-9][0-9]{0,8}):([A-Z2-7]{103})")


class Verdict(StrEnum):
    """What a scanned payload turned out to be."""

    VALID = "valid"
    MALFORMED = "malformed"  # not a bib payload at all
    FORGED = "forged"  # bib-shaped, but no accepted key signed it
    WRONG_EVENT = "wrong_event"  # genuine, for another event


@dataclass(frozen=True)
class Verification:
    """The verdict and, when the payload parsed, the event and bib it names."""

    verdict: Verdict
    event_id: int | None = None
    bib_number: int | None = None


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def _b32decode(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_bytes(key: VerifyKey) -> bytes:
    """The raw 32 bytes of a public key."""
    return bytes(key)


def key_id(key: VerifyKey) -> str:
    """Two base32 characters derived from the public key (names it inside payloads)."""
    return _b32(hashlib.sha256(public_bytes(key)).digest())[:2]


def sign(key: SigningKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message``."""
    return key.sign(message).signature


def signature_is_valid(key: VerifyKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``key``'s Ed25519 signature of ``message``."""
    try:
        key.verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def _seed_from_pem(text: str) -> bytes:
    """The 32-byte seed of a PEM (PKCS#8) Ed25519 private key.

    cryptography reads the PEM, imported only here: it holds ~8 MB in every process that
    loads it, which a key given as base64url of its seed (the form ``instance/`` and the
    README's commands write) never needs.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(text.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("FUNRUN_SIGNING_KEY is not an Ed25519 key")
    return key.private_bytes_raw()


def load_private_key(text: str) -> SigningKey:
    """A private key from PEM (PKCS#8) or URL-safe base64 of the raw 32-byte seed."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return SigningKey(_seed_from_pem(text))
    try:
        raw = _b64url_decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("FUNRUN_SIGNING_KEY must be PEM or base64url of 32 bytes") from exc
    if len(raw) != 32:
        raise ValueError("FUNRUN_SIGNING_KEY must be PEM or base64url of 32 bytes")
    return SigningKey(raw)


def load_public_key(text: str) -> VerifyKey:
    """A public key from URL-safe base64 of its raw 32 bytes (the JWK ``x``)."""
    raw = _b64url_decode(text.strip())
    if len(raw) != 32:
        raise ValueError("an accepted signing key must be base64url of 32 bytes")
    return VerifyKey(raw)


def new_private_key_text() -> str:
    """A fresh private key as base64url of its seed (what development stores)."""
    return _b64url(bytes(SigningKey.generate()))


class BibSigner:
    """Signs with the current key; verifies with it and any previous accepted keys."""

    def __init__(self, private_key: SigningKey, previous: list[VerifyKey] | None = None) -> None:
        self._private = private_key
        self.current_kid = key_id(private_key.verify_key)
        self.keys: dict[str, VerifyKey] = {self.current_kid: private_key.verify_key}
        for key in previous or []:
            self.keys.setdefault(key_id(key), key)

    def sign(self, event_id: int, bib_number: int) -> str:
        """The signed payload for a bib."""
        message = f"{VERSION}{self.current_kid}:{event_id}:{bib_number}"
        payload = f"{message}:{_b32(sign(self._private, message.encode()))}"
        if len(payload) > MAX_PAYLOAD:
            raise ValueError("bib payload would exceed 120 characters")
        return payload

    def verify(self, payload: str, event_id: int | None = None) -> Verification:
        """Check a scanned payload against the accepted keys (and the event scanned)."""
        return verify_payload(payload, self.keys, event_id)

    def jwks(self) -> dict:
        """The accepted public keys as a JWK set (RFC 8037 OKP keys)."""
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64url(public_bytes(key)),
                    "kid": kid,
                    "use": "sig",
                    "alg": "EdDSA",
                }
                for kid, key in self.keys.items()
            ]
        }


def signer_from_config(config: Mapping[str, object]) -> BibSigner:
    """The signer for FUNRUN_SIGNING_KEY, accepting FUNRUN_ACCEPTED_SIGNING_KEYS too."""
    private = load_private_key(str(config["FUNRUN_SIGNING_KEY"]))
    accepted = str(config.get("FUNRUN_ACCEPTED_SIGNING_KEYS") or "")
    previous = [load_public_key(item) for item in accepted.split(",") if item.strip()]
    return BibSigner(private, previous)


def bib_signer() -> BibSigner:
    """The app's signer, built once at start-up."""
    from flask import current_app

    return current_app.extensions["funrun_bib_signer"]


def verify_payload(
    payload: str, keys: Mapping[str, VerifyKey], event_id: int | None = None
) -> Verification:
    """Pure check of ``payload``: malformed, forged, wrong event, or valid."""
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD:
        return Verification(Verdict.MALFORMED)
    match = _SHAPE.fullmatch(payload)
    if match is None:
        return Verification(Verdict.MALFORMED)
    kid, event_text, bib_text, signature_text = match.groups()
    signed_event, bib = int(event_text), int(bib_text)
    key = keys.get(kid)
    if key is None:
        return Verification(Verdict.FORGED, signed_event, bib)
    try:
        signature = _b32decode(signature_text)
    except (binascii.Error, ValueError):
        return Verification(Verdict.MALFORMED)
    # 103 base32 characters carry 515 bits for 512: the spare bits must be zero.
    if len(signature) != 64 or _b32(signature) != signature_text:
        return Verification(Verdict.FORGED, signed_event, bib)
    message = payload[: payload.rindex(":")].encode()
    if not signature_is_valid(key, signature, message):
        return Verification(Verdict.FORGED, signed_event, bib)
    if event_id is not None and signed_event != event_id:
        return Verification(Verdict.WRONG_EVENT, signed_event, bib)
    return Verification(Verdict.VALID, signed_event, bib)
