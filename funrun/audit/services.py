"""Recording staff actions in the audit log, inside the caller's transaction (or, for
what is known only after a request's session is gone, in a transaction of its own)."""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Insert, insert
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Executable

from funrun.audit.models import AuditEntry
from funrun.dbtx import BEGIN_OPTION
from funrun.extensions import db

#: Every action recorded here, with its label on the admin page. "scan" rows come from
#: scan_log (every scan is logged there already), never from audit_log.
ACTIONS = {
    "login": _l("Signed in"),
    "login_failed": _l("Failed sign-in"),
    "logout": _l("Signed out"),
    "login_locked": _l("Sign-in locked after repeated failures"),
    "sessions_end": _l("Sessions ended"),
    "password_change": _l("Password changed"),
    "scan": _l("Scan"),
    "undo": _l("Check-in undone"),
    "enrolment": _l("Enrolment"),
    "event_create": _l("Event created"),
    "event_edit": _l("Event edited"),
    "event_open": _l("Registration opened"),
    "event_close": _l("Registration closed"),
    "export": _l("Export downloaded"),
    "export_batch": _l("Enrolment export batch made"),
    "schedule_edit": _l("Contribution schedule or sponsor changed"),
    "account_create": _l("Account created"),
    "assign": _l("Volunteer assigned"),
    "unassign": _l("Volunteer unassigned"),
    "token_issue": _l("API token issued"),
    "token_revoke": _l("API token revoked"),
    "deactivate": _l("Account deactivated"),
    "reactivate": _l("Account reactivated"),
    "privacy_purge": _l("Personal data purged (retention)"),
    "privacy_lookup": _l("Personal data looked up"),
    "privacy_export": _l("Personal data exported"),
    "privacy_delete": _l("Personal data deleted on request"),
    "registration_disputed": _l("Registration voided: the NIK's owner showed their KTP"),
    "link_recovered": _l("A runner's lost link was replaced and sent again"),
    "broadcast": _l("Message sent to an event's runners"),
    "message_retry": _l("Failed messages queued again"),
    "tour_edit": _l("Tour's name, colours or logo changed"),
    "sponsor_edit": _l("Sponsor created or changed"),
    "sponsor_list": _l("Sponsor's list of eligible NIKs uploaded"),
}


def current_user_id() -> int | None:
    """The signed-in staff member's id, or None outside a request or when anonymous."""
    if has_request_context() and current_user.is_authenticated:
        return int(current_user.id)
    return None


def _entry(
    action: str, user_id: int | None, target: str | None, event_id: int | None, detail: str | None
) -> dict[str, Any]:
    if action not in ACTIONS or action == "scan":
        raise ValueError(f"not an audit action: {action}")
    return {
        "action": action,
        "user_id": user_id,
        "target": target[:120] if target else None,
        "event_id": event_id,
        "detail": detail[:300] if detail else None,
    }


def record(
    action: str,
    *,
    user_id: int | None,
    target: str | None = None,
    event_id: int | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """Add an audit row to the session; it commits with the caller's transaction.

    Never pass a NIK, password or token: a target is an email, a slug or a file name.
    """
    entry = AuditEntry(**_entry(action, user_id, target, event_id, detail))
    db.session.add(entry)
    return entry


def audit_row(
    action: str,
    *,
    user_id: int | None,
    target: str | None = None,
    event_id: int | None = None,
    detail: str | None = None,
) -> Insert:
    """The INSERT of one audit row, for a connection's own transaction (same rules as
    :func:`record`)."""
    return insert(AuditEntry.__table__).values(**_entry(action, user_id, target, event_id, detail))


def write_apart(engine: Engine, *statements: Executable) -> None:
    """Run ``statements`` at once, in one short transaction of its own on ``engine``.

    Needs no app or request context: for what happens after a request's session is gone,
    such as an export whose body has just been served (funrun.downloads).
    """
    with engine.connect() as connection:
        # SQLite: take the write lock up front (BEGIN IMMEDIATE), as every writer does.
        connection.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            for statement in statements:
                connection.execute(statement)


def record_apart(
    engine: Engine,
    action: str,
    *,
    user_id: int | None,
    target: str | None = None,
    event_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Write an audit row at once, in a transaction of its own (:func:`write_apart`)."""
    write_apart(
        engine, audit_row(action, user_id=user_id, target=target, event_id=event_id, detail=detail)
    )
