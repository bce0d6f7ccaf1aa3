"""A partner's own pages (/partner/): its group imports with their progress, its members'
places (held until / confirmed / waitlisted / went back; NIK masked), the counts of
confirmations per event and, when the payments feature provides it, its funnel.

A partner signs in on /login like staff (with a password: ``flask users create EMAIL
--role partner --password-stdin``) and sees these pages only; every staff page admits
staff roles only (403 for a partner). Every query is scoped to the signed-in partner.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user
from jinja2 import TemplateNotFound

from funrun.accounts.access import PARTNERS, roles_required
from funrun.groups import partner_queries as queries

bp = Blueprint("partner", __name__, url_prefix="/partner")

#: The payments feature's funnel (issue 20): its rows and its Jinja macros.
FUNNEL_TEMPLATE = "reports/_funnel.html"


def _partner_id() -> int:
    return int(current_user.id)


def funnel(partner_id: int) -> list[Any] | None:
    """The partner's funnel rows (registered non-members -> checked in -> enrolled -> paid
    month 1/2/3), or None while the payments feature does not provide it."""
    try:
        from funrun.payments.funnel import funnel_rows  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        current_app.jinja_env.get_template(FUNNEL_TEMPLATE)
    except TemplateNotFound:
        return None
    return list(funnel_rows(by="aggregator", partner_id=partner_id))


@bp.route("/")
@roles_required(*PARTNERS)
def home() -> str:
    """The partner's imports, its members' counts per event and its funnel."""
    partner_id = _partner_id()
    return render_template(
        "partner/home.html",
        organisation=current_user.organisation or current_user.email,
        imports=queries.imports(partner_id),
        counts=queries.event_counts(partner_id),
        funnel=funnel(partner_id),
        funnel_template=FUNNEL_TEMPLATE,
    )


@bp.route("/members")
@roles_required(*PARTNERS)
def members() -> str:
    """The partner's members, 50 a page: where each place stands (NIK masked)."""
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 7 else 1
    rows, total = queries.members(_partner_id(), number)
    pages = max(1, (total + queries.PAGE_SIZE - 1) // queries.PAGE_SIZE)
    return render_template(
        "partner/members.html", rows=rows, total=total, page=min(number, pages), pages=pages
    )


@bp.route("/imports/<id:import_id>")
@roles_required(*PARTNERS)
def import_page(import_id: int) -> str:
    """One import's progress (the page refreshes itself while it runs) and its report."""
    found = queries.one_import(_partner_id(), import_id)
    if found is None:  # another partner's import is not there for this one
        abort(404)
    group, event = found
    return render_template("partner/import.html", group=group, event=event)
