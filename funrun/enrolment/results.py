"""What an enrolment answers: the record the desk page and the API show once it is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

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

    def as_json(self) -> dict[str, Any]:
        """The API's ``enrolment`` object."""
        return {
            "id": self.id,
            "participant_number": self.participant_number,
            "registration_id": self.registration_id,
            "registration_status": self.registration_status,
            "bib": self.bib,
            "full_name": self.full_name,
            "programs": list(self.quote.programmes),
            "income_basis": self.quote.income_basis,
            "contribution": self.quote.as_json(),
            "sponsor_amount": self.quote.sponsor_amount,
            "reliefs": list(self.quote.reliefs),
            "schedule": self.quote.schedule_code,
            "valid_from": self.valid_from.isoformat(),
            "paid_until": self.paid_until.isoformat(),
        }
