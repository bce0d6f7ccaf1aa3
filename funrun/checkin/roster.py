"""What an offline scanner holds: the event's runners, their check-ins, conflicts, the keys.

The roster answers a scan without the network and holds no more personal data than a
scan answer shows (bib, name, shirt size, member flag, status): no NIK, no phone, no
email of a runner. Its version is a fingerprint of a few aggregates, so a device that
refreshes every half minute costs four index look-ups until something changes.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import datetime

from flask import Request, Response, jsonify
from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import aliased

from funrun.accounts.models import User
from funrun.bibs.signing import bib_signer
from funrun.checkin.models import STATIONS, CheckIn, ScanLog, ScanResult
from funrun.dbtypes import utcnow
from funrun.enrolment.models import Enrolment
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _conflicts_clause() -> ColumnElement[bool]:
    """CONFLICT_WHERE as an expression (the partial index's own condition)."""
    return and_(
        ScanLog.offline_answer == str(ScanResult.CHECKED_IN),
        ScanLog.result == str(ScanResult.ALREADY),
    )


def roster_version(event: Event) -> str:
    """A fingerprint that changes whenever the roster would (cheap: aggregates only)."""
    regs = db.session.execute(
        select(func.count(Registration.id), func.max(Registration.updated_at)).where(
            Registration.event_id == event.id
        )
    ).one()
    checkins = db.session.execute(
        select(func.count(CheckIn.id), func.max(CheckIn.id), func.max(CheckIn.undone_at)).where(
            CheckIn.event_id == event.id
        )
    ).one()
    conflicts = db.session.execute(
        select(func.count(ScanLog.id), func.max(ScanLog.id)).where(
            ScanLog.event_id == event.id, _conflicts_clause()
        )
    ).one()
    # Enrolled anywhere counts (one enrolment per person, any city): all of them, cheaply.
    enrolments = db.session.execute(select(func.count(Enrolment.id), func.max(Enrolment.id))).one()
    kids = ",".join(sorted(bib_signer().keys))
    text_form = repr(
        (event.id, event.bib_prefix, *map(tuple, (regs, checkins, conflicts, enrolments)))
    )
    return hashlib.sha256(f"{text_form}|{kids}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Roster:
    """The roster as JSON and its version (the ETag)."""

    version: str
    body: dict


def _runners(event: Event) -> list[dict]:
    scanner = aliased(User)
    active: dict[int, dict[str, dict]] = {}
    rows = db.session.execute(
        select(
            CheckIn.registration_id,
            CheckIn.station,
            CheckIn.checked_in_at,
            CheckIn.device,
            scanner.email,
        )
        .outerjoin(scanner, scanner.id == CheckIn.scanned_by_id)
        .where(CheckIn.event_id == event.id, CheckIn.undone_at.is_(None))
    )
    for reg_id, station, at, device, by in rows:
        active.setdefault(reg_id, {})[station] = {"at": _iso(at), "by": by, "device": device}
    r = Registration
    runners = db.session.execute(
        select(
            r.id,
            r.bib_number,
            r.status,
            r.full_name,
            r.shirt_size,
            r.is_member,
            exists().where(Enrolment.person_id == r.person_id),
        )
        .where(r.event_id == event.id, r.bib_number.is_not(None))
        .order_by(r.bib_number, r.id)
    )
    return [
        {
            "id": reg_id,
            "bib_number": number,
            "bib": f"{event.bib_prefix} {number:04d}",
            "status": status,
            "full_name": name,
            "shirt_size": shirt,
            "member": member,
            "enrolled": enrolled,
            "checkins": active.get(reg_id, {}),
        }
        for reg_id, number, status, name, shirt, member, enrolled in runners
    ]


def conflicts(event_id: int, prefix: str) -> list[dict]:
    """Queued scans answered "checked in" offline that another scan had beaten (times as
    datetimes; :func:`conflict_json` makes them JSON)."""
    late_by = aliased(User)
    first_by = aliased(User)
    rows = db.session.execute(
        select(
            ScanLog.id,
            ScanLog.registration_id,
            ScanLog.bib_number,
            Registration.full_name,
            ScanLog.station,
            ScanLog.scanned_at,
            ScanLog.received_at,
            ScanLog.device,
            late_by.email,
            CheckIn.checked_in_at,
            CheckIn.device,
            first_by.email,
        )
        .join(Registration, Registration.id == ScanLog.registration_id)
        .outerjoin(CheckIn, CheckIn.id == ScanLog.checkin_id)
        .outerjoin(late_by, late_by.id == ScanLog.user_id)
        .outerjoin(first_by, first_by.id == CheckIn.scanned_by_id)
        .where(ScanLog.event_id == event_id, _conflicts_clause())
        .order_by(ScanLog.id)
    )
    return [
        {
            "id": log_id,
            "registration_id": reg_id,
            "bib": f"{prefix} {number:04d}" if number is not None else None,
            "full_name": name,
            "station": station,
            "first": {"at": first_at, "by": first_email, "device": first_device},
            "late": {
                "scanned_at": scanned_at,
                "received_at": received_at,
                "by": late_email,
                "device": late_device,
            },
        }
        for (
            log_id,
            reg_id,
            number,
            name,
            station,
            scanned_at,
            received_at,
            late_device,
            late_email,
            first_at,
            first_device,
            first_email,
        ) in rows
    ]


def conflict_json(conflict: dict) -> dict:
    """A conflict with its times in ISO 8601."""
    first, late = conflict["first"], conflict["late"]
    return {
        **conflict,
        "first": {**first, "at": _iso(first["at"])},
        "late": {
            **late,
            "scanned_at": _iso(late["scanned_at"]),
            "received_at": _iso(late["received_at"]),
        },
    }


def event_roster(event: Event, version: str | None = None) -> Roster:
    """The whole roster of ``event`` for an offline scanner (no NIK, phone or email)."""
    version = version or roster_version(event)
    body = {
        "event": {
            "id": event.id,
            "slug": event.slug,
            "city": event.city,
            "bib_prefix": event.bib_prefix,
        },
        "version": version,
        "generated_at": utcnow().isoformat(),
        "stations": list(STATIONS),
        "keys": bib_signer().jwks()["keys"],
        "runners": _runners(event),
        "conflicts": [conflict_json(c) for c in conflicts(event.id, event.bib_prefix)],
    }
    return Roster(version, body)


def roster_response(event: Event, request: Request, **extra: object) -> Response:
    """The roster as JSON with its ETag; 304 when the device already holds this version."""
    version = roster_version(event)
    # Weak: the same version is sent plain or gzipped.
    etag = f'W/"{version}"'
    if f'"{version}"' in request.headers.get("If-None-Match", ""):
        response = Response(status=304)
    else:
        response = jsonify({**event_roster(event, version).body, **extra})
        # A city's roster is ~140 bytes a runner as JSON and a tenth of that gzipped: on a
        # venue's network, that is the difference that matters.
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.set_data(gzip.compress(response.get_data(), compresslevel=5))
            response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
    response.headers["ETag"] = etag
    # Personal data: the device keeps it in its own store, not in shared caches.
    response.headers["Cache-Control"] = "private, no-cache"
    return response
