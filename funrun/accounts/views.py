"""Signing staff in and out (Flask-Login, cookie sessions, CSRF-protected form)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from funrun.accounts.models import Role, User
from funrun.accounts.services import check_login
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


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    # A deactivated account's open sessions end at its next request. Partners are API only:
    # /login refuses them, and a session naming one (however it came about) opens no page.
    if user is None or not user.active or user.role == Role.PARTNER:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login() -> Response | str | tuple[str, int]:
    """Sign in with email and password; partners have API tokens only."""
    form = LoginForm()
    if form.validate_on_submit():
        user = check_login(form.email.data or "", form.password.data or "")
        if user is None or user.role == Role.PARTNER:
            # The typed email only, never the password (nor a password typed as the email).
            typed = (form.email.data or "").strip()
            record("login_failed", user_id=None, target=typed if "@" in typed else None)
            db.session.commit()
            flash(_("Wrong email or password."), "error")
            return render_template("accounts/login.html", form=form), 401
        login_user(user)
        user.last_login_at = utcnow()
        record("login", user_id=user.id, target=user.email)
        db.session.commit()
        return redirect(url_for("accounts.home"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out."""
    user_id = current_user_id()
    if user_id is not None:
        record("logout", user_id=user_id, target=current_user.email)
        db.session.commit()
    logout_user()
    return redirect(url_for("events.index"))


@bp.route("/staff")
@login_required
def home() -> str:
    """Where staff land after signing in."""
    return render_template("accounts/home.html", user=current_user)


def init_app(app: Flask) -> None:
    """Register the blueprint (with the admin pages) and the login view."""
    from funrun.accounts import views_admin as _admin_views  # noqa: F401  (routes register)

    app.register_blueprint(bp)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in first.")
