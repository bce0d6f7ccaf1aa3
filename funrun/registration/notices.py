"""The privacy notice a runner consents to, stored once per distinct text."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from funrun.dbtx import begin_write, insert_ignore
from funrun.dbtypes import utcnow
from funrun.extensions import db
from funrun.registration.models import PrivacyNotice

NOTICE_VERSION = "2026-11"
_NOTICE_DIR = Path(__file__).parent / "notices"


class Notice(Protocol):
    """The privacy notice a registration consents to (a :class:`PrivacyNotice`, or its id)."""

    id: int


@dataclass(frozen=True)
class NoticeRef:
    """A stored privacy notice known by its id."""

    id: int


@dataclass(frozen=True)
class NoticeWords:
    """What a page shows of the notice in force: its text and the consent box's label."""

    body: str
    consent_label: str


@functools.lru_cache(maxsize=8)
def notice_text(locale: str) -> tuple[str, str, str]:
    """Body, consent label and their SHA-256 for ``locale`` (read once per process)."""
    with force_locale(locale):
        label = _(
            "I have read the privacy notice and agree that my data is processed "
            "for this Fun Run as it describes."
        )
    return notice_from_file(_NOTICE_DIR / f"privacy.{locale}.txt", label)


def notice_from_file(path: Path, label: str) -> tuple[str, str, str]:
    """A notice's body read from ``path``, its consent ``label``, and the SHA-256 of both
    (what a consent records it was shown)."""
    body = path.read_text(encoding="utf-8").strip()
    return body, label, hashlib.sha256(f"{body}\n\n{label}".encode()).hexdigest()


def notice_words(locale: str) -> NoticeWords:
    """The words of the notice in force in ``locale``, without the database: the stored
    notice a consent records is the one with exactly these words (found by their digest)."""
    body, label, _digest = notice_text(locale if locale in ("id", "en") else "id")
    return NoticeWords(body, label)


def current_privacy_notice(locale: str) -> PrivacyNotice:
    """The privacy notice shown now in ``locale``, stored once per distinct text."""
    locale = locale if locale in ("id", "en") else "id"
    return stored_notice(NOTICE_VERSION, locale, *notice_text(locale))


def stored_notice(version: str, locale: str, body: str, label: str, digest: str) -> PrivacyNotice:
    """The stored notice with this text (``digest`` its SHA-256), stored now if new.

    Shared by every consent the app records (registration, enrolment): a runner's
    consent points at the exact words they were shown.
    """

    def find() -> PrivacyNotice | None:
        return db.session.scalar(
            select(PrivacyNotice).where(
                PrivacyNotice.locale == locale, PrivacyNotice.sha256 == digest
            )
        )

    notice = find()
    if notice is not None:
        return notice
    values = {
        "version": version,
        "locale": locale,
        "body": body,
        "consent_label": label,
        "sha256": digest,
        "created_at": utcnow(),
    }
    begin_write()
    db.session.execute(insert_ignore(PrivacyNotice, values))
    db.session.commit()
    return find()  # type: ignore[return-value]
