"""Who is scanning and where: the API token's account, the event, and whether it may scan."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from flask_login import current_user
from sqlalchemy import String, select

from funrun import fastdb
from funrun.accounts.access import can_scan
from funrun.accounts.models import EventAssignment, Role, User
from funrun.accounts.services import TOKEN_PREFIX, hash_api_token
from funrun.checkin.models import STATIONS
from funrun.checkin.statements import desk_query, param, run
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db


@dataclass(frozen=True)
class DeskEvent:
    """The event a scan is for, as the hot path reads it."""

    id: int
    bib_prefix: str


@dataclass(frozen=True)
class DeskUser:
    """The active account behind an API token, as the hot path reads it."""

    id: int
    email: str
    role: Role


@dataclass(frozen=True)
class Desk:
    """Who is scanning (by API token) and where, read in one query."""

    user: DeskUser | None
    event: DeskEvent | None
    may_scan: bool


#: Who and where, by token and slug (the check-in API's refusals, and SQLite's scans).
_DESK = desk_query(param("token_hash", String), param("slug", String))


def read_desk(slug: str, token: str | None) -> Desk:
    """The API caller's account (by token) and the event, and whether they may scan there:
    one query (:func:`funrun.checkin.statements.desk_query`), on either database.

    On PostgreSQL it goes by :func:`fastdb.run_hot`, as the scan's own statement does: a
    replayed scan reads the desk after its write's conflict (5% of a race morning's scans
    in bench/checkin.py), and Core execution there cost more than the rest of the replay.
    """
    params = {"token_hash": token_hash(token), "slug": slug if len(slug) <= 64 else ""}
    rows = fastdb.run_hot(_DESK, params) if fastdb.available() else run(_DESK, params)
    user_id, email, role, event_id, prefix, allowed = rows[0]
    user = DeskUser(user_id, email, Role(role)) if user_id is not None else None
    event = DeskEvent(event_id, prefix) if event_id is not None else None
    return Desk(user, event, bool(allowed))


def token_hash(token: str | None) -> str | None:
    """The stored hash of an API token; None for a missing or malformed one."""
    if token is None or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return hash_api_token(token)


def event_for_desk(slug: str) -> Event:
    """The event at ``slug`` for the signed-in staff member of a page: 404 when there is no
    such event, 403 when they may not work its desk (:func:`can_scan`)."""
    event = get_event(slug)
    if event is None:
        abort(404)
    if not can_scan(current_user, event.id):
        abort(403)
    return event


def assigned_stations(user: User) -> dict[int, str]:
    """The station a volunteer was assigned at each event, where one was (event id: code).

    Where their scan page opens; they may still switch, as volunteers move between desks.
    """
    if user.role != Role.VOLUNTEER:
        return {}
    rows = db.session.execute(
        select(EventAssignment.event_id, EventAssignment.station).where(
            EventAssignment.user_id == user.id, EventAssignment.station.in_(STATIONS)
        )
    )
    return {event_id: station for event_id, station in rows}
