"""The enrolment notice the runner reads at the desk, stored once per distinct text."""

from __future__ import annotations

import functools
from pathlib import Path

from flask_babel import force_locale
from flask_babel import gettext as _

from funrun.registration.models import PrivacyNotice
from funrun.registration.notices import notice_from_file, stored_notice

NOTICE_VERSION = "enrol-2026-11"
_NOTICE_DIR = Path(__file__).parent / "notices"


@functools.lru_cache(maxsize=8)
def _notice_text(locale: str) -> tuple[str, str, str]:
    with force_locale(locale):
        label = _(
            "The runner has read the enrolment notice and agrees that their data is "
            "passed to the social-security scheme to enrol them as a member."
        )
    return notice_from_file(_NOTICE_DIR / f"enrolment.{locale}.txt", label)


def enrolment_notice(locale: str) -> PrivacyNotice:
    """The enrolment notice shown now in ``locale``, stored once per distinct text."""
    locale = locale if locale in ("id", "en") else "id"
    return stored_notice(NOTICE_VERSION, locale, *_notice_text(locale))
