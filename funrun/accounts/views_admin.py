"""Admin pages for people: accounts, event assignments, API tokens, sessions, deactivation."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from funrun.accounts import admin_services, staff_sessions
from funrun.accounts.access import roles_required
from funrun.accounts.forms import (
    ROLE_LABELS,
    ActionForm,
    AssignForm,
    CreateAccountForm,
)
from funrun.accounts.models import Role, User
from funrun.accounts.services import AccountError, create_user
from funrun.accounts.views import bp
from funrun.audit.services import record
from funrun.extensions import db

#: What each refusal of the services says to the admin.
REASONS = {
    "email_invalid": _l("This is not a valid email address."),
    "email_taken": _l("An account with this email already exists."),
    "password_short": _l("The password is too short."),
    "bad_role": _l("Choose one of the roles listed."),
    "unknown_event": _l("Choose one of the events listed."),
    "bad_station": _l("Choose one of the stations listed."),
    "not_volunteer": _l("Only volunteers are assigned to events; organisers see every event."),
    "already_assigned": _l("This volunteer is already assigned to that event."),
    "inactive": _l("Reactivate the account before issuing it a token."),
    "self": _l("You cannot deactivate your own account."),
}


def _reason(error: AccountError) -> str:
    return str(REASONS.get(error.reason, _l("That could not be done.")))


def _account_or_404(user_id: int) -> User:
    user = admin_services.get_account(user_id)
    if user is None:
        abort(404)
    return user


def _assign_form(user: User) -> AssignForm:
    form = AssignForm()
    form.event_id.choices = [
        SelectChoice(e.id, f"{e.city} · {format_date(e.date, 'medium')}")
        for e in admin_services.assignable_events(user)
    ]
    return form


def _account_page(user: User, assign: AssignForm | None = None, status: int = 200):
    return render_template(
        "accounts/account.html",
        account=user,
        assignments=admin_services.account_assignments(user),
        tokens=admin_services.account_tokens(user),
        sessions=staff_sessions.live_sessions(user.id),
        assign=assign or _assign_form(user),
        action=ActionForm(),
        role_labels=ROLE_LABELS,
    ), status


@bp.route("/staff/people")
@roles_required(Role.ADMIN)
def people() -> str:
    """Every staff and partner account."""
    return render_template(
        "accounts/people.html", rows=admin_services.list_accounts(), role_labels=ROLE_LABELS
    )


@bp.route("/staff/people/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_account() -> Response | str | tuple[str, int]:
    """A new account: email, role and (for staff) a password."""
    form = CreateAccountForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                form.email.data or "",
                form.role.data or "",
                password=form.password.data or None,
            )
        except AccountError as refused:
            field = form.password if refused.reason == "password_short" else form.email
            field.errors = [*field.errors, _reason(refused)]
        else:
            record("account_create", user_id=current_user.id, target=user.email, detail=user.role)
            db.session.commit()
            flash(_("Account %(email)s created.", email=user.email), "success")
            return redirect(url_for("accounts.account", user_id=user.id))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/new.html", form=form), status


@bp.route("/staff/people/<id:user_id>")
@roles_required(Role.ADMIN)
def account(user_id: int) -> tuple[str, int]:
    """One account: its events, its tokens, and what an admin can change."""
    return _account_page(_account_or_404(user_id))


@bp.route("/staff/people/<id:user_id>/assignments", methods=["POST"])
@roles_required(Role.ADMIN)
def assign(user_id: int) -> Response | tuple[str, int]:
    """Assign the volunteer to an event."""
    user = _account_or_404(user_id)
    form = _assign_form(user)
    if form.validate_on_submit():
        try:
            admin_services.assign_event(user, form.event_id.data, form.station.data or None)
        except AccountError as refused:
            form.event_id.errors = [*form.event_id.errors, _reason(refused)]
        else:
            flash(_("Assigned to the event."), "success")
            return redirect(url_for("accounts.account", user_id=user.id))
    return _account_page(user, form, 422)


@bp.route("/staff/people/<id:user_id>/assignments/<id:assignment_id>/remove", methods=["POST"])
@roles_required(Role.ADMIN)
def unassign(user_id: int, assignment_id: int) -> Response:
    """Take the volunteer off an event."""
    user = _account_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not admin_services.unassign_event(user, assignment_id):
        abort(404)
    flash(_("Removed from the event."), "success")
    return redirect(url_for("accounts.account", user_id=user.id))


@bp.route("/staff/people/<id:user_id>/tokens", methods=["POST"])
@roles_required(Role.ADMIN)
def issue_token(user_id: int) -> Response | tuple[str, int]:
    """Issue an API token and show it, once: only its hash is kept."""
    user = _account_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        token = admin_services.issue_token(user)
    except AccountError as refused:
        flash(_reason(refused), "error")
        return _account_page(user, status=409)
    response = make_response(render_template("accounts/token.html", account=user, token=token))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/staff/people/<id:user_id>/tokens/<id:token_id>/revoke", methods=["POST"])
@roles_required(Role.ADMIN)
def revoke_token(user_id: int, token_id: int) -> Response:
    """Revoke a token: the API refuses it from now on."""
    user = _account_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    token = admin_services.revoke_token(user, token_id)
    if token is None:
        abort(404)
    flash(_("Token %(prefix)s… revoked.", prefix=token.prefix), "success")
    return redirect(url_for("accounts.account", user_id=user.id))


@bp.route("/staff/people/<id:user_id>/<any(deactivate, reactivate):action>", methods=["POST"])
@roles_required(Role.ADMIN)
def set_active(user_id: int, action: str) -> Response | tuple[str, int]:
    """Deactivate or reactivate an account (never one's own)."""
    user = _account_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        admin_services.set_active(user, action == "reactivate", by=current_user)
    except AccountError as refused:
        flash(_reason(refused), "error")
        return _account_page(user, status=409)
    if action == "reactivate":
        flash(_("Account %(email)s reactivated.", email=user.email), "success")
    else:
        flash(_("Account %(email)s deactivated.", email=user.email), "success")
    return redirect(url_for("accounts.account", user_id=user.id))


@bp.route("/staff/people/<id:user_id>/sessions/end", methods=["POST"])
@roles_required(Role.ADMIN)
def end_sessions(user_id: int) -> Response:
    """End every session of the account: each of its browsers has to sign in again."""
    user = _account_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    ended = admin_services.end_sessions(user)
    flash(
        ngettext(
            "%(num)d session of %(email)s ended.",
            "%(num)d sessions of %(email)s ended.",
            ended,
            email=user.email,
        ),
        "success",
    )
    return redirect(url_for("accounts.account", user_id=user.id))
