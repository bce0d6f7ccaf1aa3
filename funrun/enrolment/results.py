"""What an enrolment answers: the record the desk page and the API show once it is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from funrun.enrolment.contribution import Quote


@dataclass(frozen=True)
class EnrolmentResult:
    """An enrolment just made, read once (no lazy loads afterwards)."""

    id: int
    participant_number: str
    registration_id: int
    registration_status: str
    bib: str | None
    full_name: str
    quote: Quote
    valid_from: date
    paid_until: date
    #: For walk-ups: the new registration's manage link token, shown once.
    manage_token: str | None = None
