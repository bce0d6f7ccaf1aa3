"""funrun: Fun Run tour registration, bibs, check-in and on-site enrolment."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import event as sa_event
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, IntegerConverter

from config import BASE_DIR, Config, config_from_env, rate_limit_storage
from funrun.extensions import babel, csrf, db, limiter, login_manager


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body nested too deeply is invalid JSON (a 400), not a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 to 2**31 - 1, so a huge number is a 404, not a DB error."""

    def __init__(self, url_map: Any) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)


class SlugConverter(BaseConverter):
    """An event slug in a URL: letters, digits, ``-``, ``_``, ``.``, at most 64 of them.

    Anything else (a NUL byte, which PostgreSQL cannot even compare) is a 404 before any
    query runs.
    """

    regex = r"[A-Za-z0-9_.\-]{1,64}"


def create_app(config_class: type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the application: configuration, extensions, blueprints, commands, errors."""
    app = Flask(
        __name__,
        instance_path=str(BASE_DIR / "instance"),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    config_class = config_class or config_from_env()
    app.config.from_object(config_class)
    app.config.update(overrides)
    config_class.check(app.config)
    app.json = JSONProvider(app)
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["slug"] = SlugConverter
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from funrun.keys import load_secrets
    from funrun.people.crypto import DataCipher

    load_secrets(app)
    app.extensions["funrun_data_cipher"] = DataCipher(app.config["FUNRUN_DATA_KEY"])
    from funrun.bibs.signing import signer_from_config

    app.extensions["funrun_bib_signer"] = signer_from_config(app.config)
    if app.config["FUNRUN_TRUSTED_PROXIES"]:
        n = app.config["FUNRUN_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    from funrun.checkin.lane import ScanLane
    from funrun.opening.lane import QueueLane

    # In front: a rush's queued arrivals and waiting-page refreshes, answered cheaply, and
    # race morning's scans by bearer clients (the same rule and answer, without dispatch).
    app.wsgi_app = ScanLane(app.wsgi_app, app, SlugConverter.regex)  # type: ignore[method-assign]
    app.wsgi_app = QueueLane(app.wsgi_app, app)  # type: ignore[method-assign]
    from funrun.errors import register_error_handlers
    from funrun.security import register_security_headers
    from funrun.sessions import PageSessionInterface

    register_error_handlers(app)
    register_security_headers(app)
    from funrun import formdata

    formdata.init_app(app)
    app.session_interface = PageSessionInterface()
    return app


def _configure_sqlite(app: Flask) -> None:
    """WAL, foreign keys, and explicit BEGINs: IMMEDIATE for writes (see funrun.dbtx)."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    from funrun.dbtx import BEGIN_OPTION

    begin = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}

    @sa_event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(begin[mode])


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions of funrun.extensions to ``app``."""
    from funrun.i18n import select_locale

    db.init_app(app)
    with app.app_context():
        _configure_sqlite(app)
    from funrun import migrating

    migrating.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    app.config["RATELIMIT_STORAGE_URI"] = rate_limit_storage(app.config)
    app.config.setdefault("RATELIMIT_ENABLED", app.config["FUNRUN_RATE_LIMITS"] != "off")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Attach every feature's blueprint."""
    from funrun import i18n
    from funrun.accounts import views as accounts_views
    from funrun.api import bp as api_bp
    from funrun.api import views as _api_views  # noqa: F401  (routes register on import)
    from funrun.audit import bp as audit_bp
    from funrun.audit import views as _audit_views  # noqa: F401
    from funrun.ballot.views import bp as ballot_bp
    from funrun.bibs import bp as bibs_bp
    from funrun.bibs import views as _bib_views  # noqa: F401
    from funrun.checkin import bp as checkin_bp
    from funrun.checkin import views as _checkin_views  # noqa: F401
    from funrun.enrolment import bp as enrolment_bp
    from funrun.enrolment import calculator_views as _calculator_views  # noqa: F401
    from funrun.enrolment import receipt_views as _receipt_views  # noqa: F401
    from funrun.enrolment import schedule_views as _schedule_views  # noqa: F401
    from funrun.enrolment import views as _enrolment_views  # noqa: F401
    from funrun.enrolment.filters import init_app as init_enrolment_filters
    from funrun.events import bp as events_bp
    from funrun.events import identity_views as _identity_views  # noqa: F401
    from funrun.events import views as _event_views  # noqa: F401
    from funrun.events import views_staff as _event_staff_views  # noqa: F401
    from funrun.groups.partner_views import bp as partner_bp
    from funrun.messages.views import bp as messages_bp
    from funrun.privacy import bp as privacy_bp
    from funrun.privacy import views as _privacy_views  # noqa: F401
    from funrun.registration import bp as registration_bp
    from funrun.registration import dispute_views as _dispute_views  # noqa: F401
    from funrun.registration import recovery_views as _recovery_views  # noqa: F401
    from funrun.registration import representative as _representative  # noqa: F401
    from funrun.registration import views as _registration_views  # noqa: F401
    from funrun.reports import bp as reports_bp
    from funrun.reports import views as _report_views  # noqa: F401
    from funrun.sponsors import bp as sponsors_bp
    from funrun.sponsors import views as _sponsor_views  # noqa: F401

    i18n.init_app(app)
    app.register_blueprint(events_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(bibs_bp)
    app.register_blueprint(checkin_bp)
    app.register_blueprint(enrolment_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(messages_bp)
    app.register_blueprint(partner_bp)
    app.register_blueprint(sponsors_bp)
    app.register_blueprint(ballot_bp)
    init_enrolment_filters(app)
    accounts_views.init_app(app)
    from funrun import i18n_words, staffnav

    staffnav.init_app(app)
    i18n_words.init_app(app)


def register_commands(app: Flask) -> None:
    """Attach the CLI commands (``flask --app wsgi ...``)."""
    from funrun.accounts.cli import tokens_cli, users_cli
    from funrun.ballot.cli import ballot_cli
    from funrun.bibs.cli import bibs_cli
    from funrun.demo.cli import seed_demo
    from funrun.enrolment.cli import enrolment_cli
    from funrun.jobs.cli import worker_command
    from funrun.payments.cli import payments_cli
    from funrun.privacy.cli import privacy_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(bibs_cli)
    app.cli.add_command(enrolment_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(ballot_cli)
