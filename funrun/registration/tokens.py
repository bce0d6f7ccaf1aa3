"""Manage tokens (a runner's link to their registration) and registration form ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationStatus

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]{20,64}")
#: A registration form's own id, made when the form is shown (128 random bits).
SUBMISSION_SHAPE = re.compile(r"[A-Za-z0-9_\-]{22,64}")


class TokenTaken(Exception):
    """The form's derived manage token belongs to an earlier registration already."""


#: What a stored manage token's ciphertext is bound to (see DataCipher.encrypt).
TOKEN_CONTEXT = b"manage_token"


def token_taken(exc: IntegrityError) -> bool:
    """Whether a failed insert hit the unique manage token."""
    return "manage_token_hash" in str(exc.orig)


def hash_token(token: str) -> str:
    """SHA-256 of a manage token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_manage_token() -> tuple[str, str]:
    """A fresh unguessable manage token (192 bits) and its hash."""
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


def new_submission_ref() -> str:
    """An id for a registration form about to be shown."""
    return secrets.token_urlsafe(16)


def manage_token_for(submission: str) -> str:
    """The manage token a form's registration gets: derived from the form's id under the
    app's secret, so the same form sent again (the answer to the first was lost on the
    way, or a double tap) can be given its link again, though only its hash is stored.
    Shaped like :func:`new_manage_token`'s (32 URL-safe characters)."""
    key = current_app.secret_key
    key = key if isinstance(key, bytes) else str(key).encode()
    digest = hmac.new(key, b"funrun manage token\0" + submission.encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def resent_registration(event_id: int, nik: str, submission: str) -> str | None:
    """The manage token of the active registration this same form made for this NIK at
    the event, or None: another person's details in the same form never find it."""
    token = manage_token_for(submission)
    found = db.session.scalar(
        select(Registration.id)
        .join(Person, Person.id == Registration.person_id)
        .where(
            Registration.manage_token_hash == hash_token(token),
            Registration.event_id == event_id,
            Registration.status != RegistrationStatus.CANCELLED,
            Person.nik_hash == data_cipher().lookup_hash(nik),
        )
    )
    return token if found is not None else None


def find_by_token(token: str) -> Registration | None:
    """The registration a manage token opens, or None (also for malformed tokens)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    return db.session.scalar(
        select(Registration).where(Registration.manage_token_hash == hash_token(token))
    )
