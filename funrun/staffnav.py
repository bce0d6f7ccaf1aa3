"""The staff navigation: the pages an account may open, the current one marked.

Every page under ``/staff`` shown to a signed-in staff member (and under ``/partner`` to a
signed-in partner) gets ``staff_nav`` in its template context (see ``templates/base.html``):
the links its role may follow (the rules of :mod:`funrun.accounts.access`; a partner's are
its own pages only), and whether the page takes the wide office layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, has_request_context, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from funrun.accounts.access import DESK_STAFF, ORGANISERS, PARTNERS
from funrun.accounts.models import EventAssignment, Role
from funrun.events.models import Event
from funrun.extensions import db

ADMINS = (Role.ADMIN,)

#: Each link: its key, its words, who sees it, and the pages (endpoints) it stands for.
LINKS: tuple[tuple[str, object, tuple[Role, ...], tuple[str, ...]], ...] = (
    (
        "events",
        _l("Events"),
        ORGANISERS,
        (
            "events.manage_index",
            "events.create",
            "events.edit",
            "reports.roster",
            "reports.registration_page",
            "bibs.print_bibs",
            "bibs.print_job",
            "checkin.recent_checkins",
            "registration.dispute_page",
        ),
    ),
    ("dashboard", _l("Dashboard"), ORGANISERS, ("reports.dashboard_page",)),
    ("scan", _l("Scan"), DESK_STAFF, ("checkin.choose_event", "checkin.scan_page")),
    (
        "desk",
        _l("Enrolment desk"),
        DESK_STAFF,
        ("enrolment.desk", "enrolment.done", "checkin.walkup", "checkin.walkup_done"),
    ),
    ("privacy", _l("Personal data"), ADMINS, ("privacy.person_page", "privacy.person_view")),
    ("exports", _l("Exports"), ORGANISERS, ("enrolment.exports",)),
    ("sponsors", _l("Sponsors"), ORGANISERS, ("sponsors.",)),
    ("messages", _l("Messages"), ORGANISERS, ("messages.",)),
    ("audit", _l("Audit log"), ADMINS, ("audit.audit_page",)),
    # A partner's own pages (its imports and members); it sees no staff link.
    ("partner", _l("Imports and members"), PARTNERS, ("partner.",)),
    (
        "accounts",
        _l("Accounts"),
        ADMINS,
        ("accounts.people", "accounts.account", "accounts.create_account"),
    ),
)

#: Pages held in the hand at a desk keep the narrow, phone-first column.
#: (A page may also choose its width: ``{% block staff_width %}{% endblock %}`` in base.html.)
NARROW = frozenset(
    {
        "checkin.scan_page",
        "checkin.walkup",
        "checkin.walkup_done",
        "enrolment.desk",
        "enrolment.done",
        "accounts.change_password",
        "partner.change_password",
    }
)


@dataclass(frozen=True)
class NavLink:
    """One link of the staff navigation."""

    key: str
    label: str
    url: str
    current: bool


@dataclass(frozen=True)
class StaffNav:
    """What ``templates/base.html`` draws for a staff page."""

    links: tuple[NavLink, ...]
    wide: bool
    email: str
    home: str

    @property
    def current(self) -> NavLink | None:
        return next((link for link in self.links if link.current), None)


def _is_current(endpoint: str, pages: tuple[str, ...]) -> bool:
    return any(
        endpoint == page or (page.endswith(".") and endpoint.startswith(page)) for page in pages
    )


def _desk_slugs(slug: str | None) -> list[str]:
    """The events whose desks the link may open directly: this page's, or a volunteer's."""
    if slug:
        return [slug]
    if current_user.role != Role.VOLUNTEER:
        return []
    return list(
        db.session.scalars(
            select(Event.slug)
            .join(EventAssignment, EventAssignment.event_id == Event.id)
            .where(EventAssignment.user_id == current_user.id)
            .limit(2)
        )
    )


def _url(key: str, slug: str | None, desk: list[str]) -> str:
    if key == "scan":
        return url_for("checkin.scan_page", slug=slug) if slug else url_for("checkin.choose_event")
    if key == "desk":
        if len(desk) == 1:
            return url_for("enrolment.desk", slug=desk[0])
        return url_for("checkin.choose_event")
    endpoint = {
        "events": "events.manage_index",
        "dashboard": "reports.dashboard_page",
        "privacy": "privacy.person_page",
        "exports": "enrolment.exports",
        "sponsors": "sponsors.sponsor_index",
        "messages": "messages.message_list",
        "audit": "audit.audit_page",
        "partner": "partner.home",
        "accounts": "accounts.people",
    }[key]
    return url_for(endpoint)


def staff_nav() -> StaffNav | None:
    """The navigation of this staff (or partner) page; None off ``/staff`` and
    ``/partner``, or for anyone not signed in."""
    if not has_request_context() or not request.path.startswith(("/staff", "/partner")):
        return None
    if not current_user.is_authenticated:
        return None
    role = current_user.role
    if role not in DESK_STAFF and role not in PARTNERS:
        return None
    endpoint = request.endpoint or ""
    args = request.view_args or {}
    slug = args.get("slug") if isinstance(args.get("slug"), str) else None
    # A volunteer's links go to events they work at only: this page's event is one of them
    # (the desks refuse the others), otherwise their own assignments.
    wanted = [link for link in LINKS if role in link[2]]
    desk = _desk_slugs(slug) if any(link[0] == "desk" for link in wanted) else []
    links = tuple(
        NavLink(key, str(label), _url(key, slug, desk), _is_current(endpoint, pages))
        for key, label, _roles, pages in wanted
    )
    return StaffNav(
        links=links,
        wide=endpoint not in NARROW,
        email=current_user.email,
        home=url_for("partner.home" if role in PARTNERS else "accounts.home"),
    )


def init_app(app: Flask) -> None:
    """Give every template ``staff_nav``."""

    @app.context_processor
    def _inject_staff_nav() -> dict[str, StaffNav | None]:
        # Templates rendered without a request (the worker's e-mail) have no staff page.
        return {"staff_nav": staff_nav() if has_request_context() else None}
