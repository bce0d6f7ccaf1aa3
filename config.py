"""Configuration classes, read from the environment with safe development defaults.

``FUNRUN_ENV`` picks the class (``development``, ``testing``, ``production``).
Production refuses to start without its secrets; development and testing generate
throw-away keys into ``instance/`` so a fresh clone runs with no set-up.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    FUNRUN_DATA_KEY = os.environ.get("FUNRUN_DATA_KEY")
    FUNRUN_SIGNING_KEY = os.environ.get("FUNRUN_SIGNING_KEY")
    #: Public keys (base64url, comma-separated) of earlier signing keys whose bibs still
    #: verify: list the old key here when rotating FUNRUN_SIGNING_KEY.
    FUNRUN_ACCEPTED_SIGNING_KEYS = os.environ.get("FUNRUN_ACCEPTED_SIGNING_KEYS", "")
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'funrun.sqlite3'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    #: Where rate-limit counters live: unset = REDIS_URL (shared by every worker and
    #: instance; development and testing fall back to memory without it); ``memory`` =
    #: each process counts for itself, so every limit is multiplied by the number of
    #: processes. Production refuses per-process counters unless this says ``memory``.
    FUNRUN_RATE_LIMIT_STORAGE = os.environ.get("FUNRUN_RATE_LIMIT_STORAGE", "").strip().lower()
    #: Public registration limit per client; "off" disables limiting (load tests).
    FUNRUN_RATE_LIMITS = os.environ.get("FUNRUN_RATE_LIMITS", "20/minute")
    #: How long a process reuses an event's registration terms during a rush (seconds;
    #: 0 = read them every time). The write re-checks quota and window itself.
    FUNRUN_TERMS_CACHE_SECONDS = float(os.environ.get("FUNRUN_TERMS_CACHE_SECONDS", "2"))
    #: Asking for a lost manage link again: per NIK (counted under its keyed hash) and
    #: per client; the page and the API share both counts.
    FUNRUN_RECOVERY_NIK_RATE_LIMITS = os.environ.get("FUNRUN_RECOVERY_NIK_RATE_LIMITS", "3/hour")
    FUNRUN_RECOVERY_RATE_LIMITS = os.environ.get("FUNRUN_RECOVERY_RATE_LIMITS", "10/hour")
    #: Partner API tokens register many workers at once, so they get their own limit.
    FUNRUN_PARTNER_RATE_LIMITS = os.environ.get("FUNRUN_PARTNER_RATE_LIMITS", "600/minute")
    #: How many reverse proxies in front of the app set X-Forwarded-For.
    FUNRUN_TRUSTED_PROXIES = int(os.environ.get("FUNRUN_TRUSTED_PROXIES", "0"))
    #: The site's public address (e.g. https://lari.example.id), for the OpenAPI document's
    #: server URL; without it the document gives a relative one (never from Host headers).
    FUNRUN_PUBLIC_URL = os.environ.get("FUNRUN_PUBLIC_URL") or None
    #: Days after an event's date before `flask privacy purge` removes its runners'
    #: personal data (the totals stay).
    FUNRUN_RETENTION_DAYS = int(os.environ.get("FUNRUN_RETENTION_DAYS", "365"))
    #: Files the worker writes (batch bib PDFs), named by row id; shared storage when
    #: several app instances serve them.
    FUNRUN_FILES_DIR = os.environ.get("FUNRUN_FILES_DIR") or str(INSTANCE_DIR / "files")
    #: ``off`` queues no messages at all; anything else (the default) sends them.
    FUNRUN_MESSAGES = os.environ.get("FUNRUN_MESSAGES", "on").strip().lower()
    #: E-mail: ``smtp://user:pass@host:587`` (STARTTLS), ``smtps://...:465`` (TLS) or
    #: ``smtp://host:25?tls=none`` (a local relay); unset: the app's outbox (development).
    FUNRUN_SMTP_URL = os.environ.get("FUNRUN_SMTP_URL") or None
    FUNRUN_MAIL_FROM = os.environ.get("FUNRUN_MAIL_FROM") or "Fun Run <no-reply@funrun.invalid>"
    #: WhatsApp Business Cloud API (the sending number's node and its token), or an SMS
    #: gateway (contract in funrun/messages/sms.py); unset: neither is used.
    FUNRUN_WHATSAPP_URL = os.environ.get("FUNRUN_WHATSAPP_URL", "")
    FUNRUN_WHATSAPP_TOKEN = os.environ.get("FUNRUN_WHATSAPP_TOKEN", "")
    FUNRUN_SMS_URL = os.environ.get("FUNRUN_SMS_URL", "")
    FUNRUN_SMS_TOKEN = os.environ.get("FUNRUN_SMS_TOKEN", "")
    #: Threads of one worker that send messages at once (PostgreSQL; SQLite: one).
    FUNRUN_MESSAGE_SENDERS = int(os.environ.get("FUNRUN_MESSAGE_SENDERS", "2"))
    #: Seconds a message channel (SMTP, WhatsApp, SMS) gets to connect and to answer.
    FUNRUN_MESSAGE_TIMEOUT = float(os.environ.get("FUNRUN_MESSAGE_TIMEOUT", "10"))
    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = ("id", "en")
    WTF_CSRF_TIME_LIMIT = 6 * 3600
    #: A staff sign-in lasts one working day at most (server side, see StaffSession).
    FUNRUN_STAFF_SESSION_HOURS = float(os.environ.get("FUNRUN_STAFF_SESSION_HOURS", "10"))
    #: The signed cookie itself stops verifying after the same time (Flask's default: 31 days).
    PERMANENT_SESSION_LIFETIME = timedelta(hours=FUNRUN_STAFF_SESSION_HOURS)
    #: Sign-in attempts per client (address) on the sign-in form.
    FUNRUN_LOGIN_RATE_LIMITS = "10/minute"
    #: Failed sign-ins for one email within the window (any clients) that lock it ...
    FUNRUN_SIGNIN_MAX_FAILURES = 5
    FUNRUN_SIGNIN_FAILURE_WINDOW = timedelta(minutes=15)
    #: ... for this long, doubling with each further lock up to the cap.
    FUNRUN_SIGNIN_LOCK = timedelta(minutes=5)
    FUNRUN_SIGNIN_LOCK_MAX = timedelta(hours=1)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    MAX_CONTENT_LENGTH = 64 * 1024
    #: Development and testing may create missing keys in instance/.
    GENERATE_MISSING_KEYS = False

    @classmethod
    def check(cls, settings: Mapping[str, Any] | None = None) -> None:
        """Raise if this environment cannot run safely with ``settings`` (the app's config)."""
        rate_limit_storage(os.environ if settings is None else settings)


class DevelopmentConfig(Config):
    """A developer's machine: SQLite in instance/, keys generated on first run."""

    ENV_NAME = "development"
    GENERATE_MISSING_KEYS = True


class TestingConfig(Config):
    """The test suite: its own database (TEST_DATABASE_URL or a temporary SQLite file)."""

    ENV_NAME = "testing"
    TESTING = True
    GENERATE_MISSING_KEYS = True
    SECRET_KEY = "testing-secret-key"
    # A fixed, obviously fake key so tests are repeatable.
    FUNRUN_DATA_KEY = "dGVzdGluZy1kYXRhLWtleS0zMi1ieXRlcy1sb25nISE="
    FUNRUN_SIGNING_KEY = "dGVzdGluZy1zaWduaW5nLWtleS0zMi1ieXRlcy1vayE"
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("TEST_DATABASE_URL", "sqlite:///:memory:")
    )
    FUNRUN_RATE_LIMITS = "off"
    WTF_CSRF_ENABLED = True
    #: Each test process has its own file store (parallel sessions restart ids at 1).
    FUNRUN_FILES_DIR = os.environ.get("FUNRUN_FILES_DIR") or os.path.join(
        tempfile.gettempdir(), f"funrun-test-files-{os.getpid()}"
    )


class ProductionConfig(Config):
    """Behind a load balancer on PostgreSQL; secrets must come from the environment."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls, settings: Mapping[str, Any] | None = None) -> None:
        """Refuse to start without the secrets that protect sessions, personal data, bibs."""
        source: Mapping[str, Any] = os.environ if settings is None else settings
        required = ("SECRET_KEY", "FUNRUN_DATA_KEY", "FUNRUN_SIGNING_KEY")
        missing = [name for name in required if not source.get(name)]
        if missing:
            raise RuntimeError("production refuses to start without " + ", ".join(missing))
        messages_on = str(source.get("FUNRUN_MESSAGES") or "on").lower() != "off"
        if messages_on and not source.get("FUNRUN_SMTP_URL"):
            raise RuntimeError(
                "production refuses to start without FUNRUN_SMTP_URL (runners' messages "
                "would stay in the outbox): set it, or FUNRUN_MESSAGES=off to turn them off"
            )
        if messages_on and not source.get("FUNRUN_PUBLIC_URL"):
            raise RuntimeError(
                "production refuses to start without FUNRUN_PUBLIC_URL: the links in "
                "runners' messages need the site's address"
            )
        limits_off = source.get("FUNRUN_RATE_LIMITS") == "off" or (
            source.get("RATELIMIT_ENABLED") is False
        )
        explicit = _storage_choice(source) == "memory"
        if not limits_off and not explicit and rate_limit_storage(source) == MEMORY_STORAGE:
            raise RuntimeError(
                "production refuses to start with per-process rate limits (each worker would "
                "count for itself, multiplying every limit): set REDIS_URL, or "
                "FUNRUN_RATE_LIMIT_STORAGE=memory to accept them explicitly"
            )


MEMORY_STORAGE = "memory://"


def _storage_choice(settings: Mapping[str, Any]) -> str:
    choice = str(settings.get("FUNRUN_RATE_LIMIT_STORAGE") or "").strip().lower()
    if choice not in ("", "memory"):
        raise RuntimeError(
            f"FUNRUN_RATE_LIMIT_STORAGE must be empty (use REDIS_URL) or memory, not {choice!r}"
        )
    return choice


def rate_limit_storage(settings: Mapping[str, Any]) -> str:
    """The Flask-Limiter storage URI ``settings`` ask for.

    An explicit RATELIMIT_STORAGE_URI wins; FUNRUN_RATE_LIMIT_STORAGE=memory keeps the
    counters in each process; otherwise REDIS_URL, and memory when there is none.
    """
    if _storage_choice(settings) == "memory":
        return str(settings.get("RATELIMIT_STORAGE_URI") or MEMORY_STORAGE)
    return str(settings.get("RATELIMIT_STORAGE_URI") or settings.get("REDIS_URL") or MEMORY_STORAGE)


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The configuration class named by FUNRUN_ENV (development by default)."""
    name = os.environ.get("FUNRUN_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"FUNRUN_ENV must be one of {', '.join(CONFIGS)}, not {name!r}"
        ) from None
