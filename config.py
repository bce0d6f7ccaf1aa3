"""Configuration classes, read from the environment with safe development defaults.

``FUNRUN_ENV`` picks the class (``development``, ``testing``, ``production``).
Production refuses to start without its secrets; development and testing generate
throw-away keys into ``instance/`` so a fresh clone runs with no set-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
    #: Public registration limit per client; "off" disables limiting (load tests).
    FUNRUN_RATE_LIMITS = os.environ.get("FUNRUN_RATE_LIMITS", "20/minute")
    #: How long a process reuses an event's registration terms during a rush (seconds;
    #: 0 = read them every time). The write re-checks quota and window itself.
    FUNRUN_TERMS_CACHE_SECONDS = float(os.environ.get("FUNRUN_TERMS_CACHE_SECONDS", "2"))
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
    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = ("id", "en")
    WTF_CSRF_TIME_LIMIT = 6 * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    MAX_CONTENT_LENGTH = 64 * 1024
    #: Development and testing may create missing keys in instance/.
    GENERATE_MISSING_KEYS = False

    @classmethod
    def check(cls, settings: Mapping[str, Any] | None = None) -> None:
        """Raise if this environment cannot run safely with ``settings`` (the app's config)."""


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
