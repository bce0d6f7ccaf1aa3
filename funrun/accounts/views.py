"""Signing staff in and out (Flask-Login, cookie sessions, CSRF-protected form)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from funrun.accounts import signin, staff_sessions
from funrun.accounts.access import STAFF, roles_required
from funrun.accounts.admin_services import set_password
from funrun.accounts.forms import ChangePasswordForm
from funrun.accounts.models import Role
from funrun.audit.services import current_user_id, record
from funrun.dbtypes import utcnow
from funrun.extensions import db, limiter, login_manager

bp = Blueprint("accounts", __name__)


#: WTForms ships no Indonesian: the sign-in form's messages are ours.
REQUIRED = _l("This field is required.")
TOO_LONG = _l("At most %(max)d characters.")


class LoginForm(FlaskForm):
    """Staff sign-in."""

    email = StringField(
        _l("Email"),
        validators=[DataRequired(message=REQUIRED), Length(max=254, message=TOO_LONG)],
        render_kw={"type": "email", "autocomplete": "username"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=REQUIRED), Length(max=200, message=TOO_LONG)],
        render_kw={"autocomplete": "current-password"},
    )


login_manager.user_loader(staff_sessions.load_user)


def _locked_page(
    template: str, form: FlaskForm, outcome: signin.SignIn, **context: str
) -> Response:
    """429: this email is locked for a while (the same answer for every email)."""
    minutes = max(1, (outcome.retry_after + 59) // 60)
    flash(
        ngettext(
            "Too many failed sign-ins with this email. Try again in %(num)d minute.",
            "Too many failed sign-ins with this email. Try again in %(num)d minutes.",
            minutes,
        ),
        "error",
    )
    page = make_response(render_template(template, form=form, **context), 429)
    page.headers["Retry-After"] = str(outcome.retry_after)
    return page


def _login_limit() -> str:
    return current_app.config["FUNRUN_LOGIN_RATE_LIMITS"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Response | str | tuple[str, int]:
    """Sign in with email and password: staff land on the staff home, a partner on its
    own pages (/partner/; API-only partners have no password).

    Each client has its own limit on attempts (FUNRUN_LOGIN_RATE_LIMITS), and each email
    its own on failures, whichever clients they come from (see funrun.accounts.signin).
    """
    form = LoginForm()
    if form.validate_on_submit():
        outcome = signin.attempt(form.email.data or "", form.password.data or "")
        if outcome.locked_until is not None:
            return _locked_page("accounts/login.html", form, outcome)
        user = outcome.user
        if user is None:
            flash(_("Wrong email or password."), "error")
            return render_template("accounts/login.html", form=form), 401
        staff_sessions.start(user)
        login_user(user)
        user.last_login_at = utcnow()
        record("login", user_id=user.id, target=user.email)
        db.session.commit()
        if user.role == Role.PARTNER:
            return redirect(url_for("partner.home"))
        return redirect(url_for("accounts.home"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out: the server ends this session, so no copy of the cookie opens a page."""
    user_id = current_user_id()
    if user_id is not None:
        record("logout", user_id=user_id, target=current_user.email)
    staff_sessions.end_current()
    db.session.commit()
    logout_user()
    staff_sessions.forget_cookie()
    return redirect(url_for("events.index"))


@bp.route("/staff")
@roles_required(*STAFF)
def home() -> str:
    """Where staff land after signing in."""
    return render_template("accounts/home.html", user=current_user)


@bp.route("/staff/password", methods=["GET", "POST"])
@roles_required(*STAFF)
def change_password() -> Response | str | tuple[str, int]:
    """A staff member's new password (see :func:`password_page`)."""
    return password_page("accounts.home")


def password_page(home: str) -> Response | str | tuple[str, int]:
    """A new password, the current one first; every other session of the account ends.
    Staff and partners (``/partner/password``) alike; ``home`` is where it leads back.

    The current password is checked like a sign-in (counted, locked after repeated
    failures), so a borrowed browser cannot guess it freely.
    """
    form = ChangePasswordForm()
    if form.validate_on_submit():
        email = current_user.email
        outcome = signin.attempt(email, form.current.data or "")
        if outcome.locked_until is not None:
            return _locked_page("accounts/password.html", form, outcome, home=home)
        if outcome.user is None:
            form.current.errors = [*form.current.errors, _("The current password is wrong.")]
            return render_template("accounts/password.html", form=form, home=home), 422
        set_password(outcome.user, form.password.data or "", keep_current=True)
        flash(_("Password changed. Every other browser signed in as you is signed out."), "success")
        return redirect(url_for(home))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/password.html", form=form, home=home), status


def init_app(app: Flask) -> None:
    """Register the blueprint (with the admin pages) and the login view."""
    from funrun.accounts import views_admin as _admin_views  # noqa: F401  (routes register)

    app.register_blueprint(bp)
    staff_sessions.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in first.")
