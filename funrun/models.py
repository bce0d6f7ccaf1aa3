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
from funrun.groups.models import GroupImport, GroupImportRefusal
from funrun.jobs.models import Job
from funrun.messages.models import Broadcast, Message
from funrun.payments.models import Payment, PaymentFile, PaymentRefusal
from funrun.people.models import Person
from funrun.registration.models import PrivacyNotice, Registration
from funrun.sponsors.models import SponsorEligible

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
    "GroupImport",
    "GroupImportRefusal",
    "IncomeBracket",
    "Job",
    "Message",
    "Payment",
    "PaymentFile",
    "PaymentRefusal",
    "Person",
    "PrintJob",
    "PrivacyNotice",
    "Registration",
    "Role",
    "ScanLog",
    "ShirtStock",
    "Sponsor",
    "SponsorEligible",
    "Tour",
    "User",
]
