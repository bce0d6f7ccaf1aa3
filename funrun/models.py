"""Every model, imported in one place so the metadata is complete (migrations, tests)."""

from funrun.accounts.models import ApiToken, EventAssignment, Role, User
from funrun.audit.models import AuditEntry
from funrun.bibs.models import PrintJob
from funrun.checkin.models import CheckIn, ScanLog
from funrun.enrolment.models import (
    ContributionRate,
    ContributionRelief,
    ContributionSchedule,
    Counter,
    Enrolment,
    ExportAccess,
    ExportBatch,
    IncomeBracket,
    Sponsor,
)
from funrun.events.models import Event, ShirtStock, Tour
from funrun.jobs.models import Job
from funrun.messages.models import Broadcast, Message
from funrun.people.models import Person
from funrun.registration.models import PrivacyNotice, Registration

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Broadcast",
    "CheckIn",
    "ContributionRate",
    "ContributionRelief",
    "ContributionSchedule",
    "Counter",
    "Enrolment",
    "Event",
    "EventAssignment",
    "ExportAccess",
    "ExportBatch",
    "IncomeBracket",
    "Job",
    "Message",
    "Person",
    "PrintJob",
    "PrivacyNotice",
    "Registration",
    "Role",
    "ScanLog",
    "ShirtStock",
    "Sponsor",
    "Tour",
    "User",
]
