"""Configuration: production refuses to start without its secrets; development makes them."""

from __future__ import annotations

import base64
import stat
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from config import (
    MEMORY_STORAGE,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    config_from_env,
    normalise_database_url,
    rate_limit_storage,
)
from funrun import create_app
from funrun.extensions import db
from funrun.keys import load_secrets
from funrun.people.crypto import DataCipher

SECRET_NAMES = ("SECRET_KEY", "FUNRUN_DATA_KEY", "FUNRUN_SIGNING_KEY")
DATA_KEY = base64.urlsafe_b64encode(b"p" * 32).decode()


def production_secrets() -> dict[str, str]:
    """Valid values for every secret production may ask for."""
    values = {
        "SECRET_KEY": "production-secret-key-" + "x" * 30,
        "FUNRUN_DATA_KEY": DATA_KEY,
        # Messages need SMTP and the public address: off unless a test says otherwise.
        "FUNRUN_MESSAGES": "off",
    }
    signing = getattr(TestingConfig, "FUNRUN_SIGNING_KEY", None)
    if signing:
        values["FUNRUN_SIGNING_KEY"] = signing
    return values


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def production_env(no_secrets: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of a production process started with its secrets.

    The config classes read the environment when ``config`` is imported, as a real
    process does at start-up; the class attributes stand in for that here.
    """
    values = production_secrets()
    for name, value in values.items():
        no_secrets.setenv(name, value)
        no_secrets.setattr(ProductionConfig, name, value)
    yield values


def test_production_check_names_every_missing_secret(no_secrets):
    with pytest.raises(RuntimeError) as refused:
        ProductionConfig.check()
    message = str(refused.value)
    assert "SECRET_KEY" in message
    assert "FUNRUN_DATA_KEY" in message


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FUNRUN_DATA_KEY"])
def test_production_check_refuses_each_missing_secret(no_secrets, missing):
    for name, value in production_secrets().items():
        if name != missing:
            no_secrets.setenv(name, value)
    with pytest.raises(RuntimeError, match=missing):
        ProductionConfig.check()
    no_secrets.setenv(missing, "")  # empty counts as missing
    with pytest.raises(RuntimeError, match=missing):
        ProductionConfig.check()


def test_create_app_refuses_production_without_secrets(no_secrets, database_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url)
    no_secrets.setenv("FUNRUN_ENV", "production")
    assert config_from_env() is ProductionConfig
    with pytest.raises(RuntimeError, match="FUNRUN_DATA_KEY"):
        create_app(SQLALCHEMY_DATABASE_URI=database_url)


def test_development_and_testing_need_no_secrets(no_secrets):
    DevelopmentConfig.check()
    TestingConfig.check()
    assert DevelopmentConfig.GENERATE_MISSING_KEYS is True
    assert ProductionConfig.GENERATE_MISSING_KEYS is False


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("FUNRUN_ENV", "staging")
    with pytest.raises(RuntimeError, match="staging"):
        config_from_env()
    monkeypatch.delenv("FUNRUN_ENV")
    assert config_from_env() is DevelopmentConfig


def test_database_urls_use_psycopg_3():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.fixture
def production_app(
    app: Flask, production_env: dict[str, str], database_url: str
) -> Iterator[Flask]:
    built = create_app(
        ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url, FUNRUN_RATE_LIMIT_STORAGE="memory"
    )
    yield built
    with built.app_context():
        db.engine.dispose()


def test_production_starts_with_its_secrets_and_sends_hsts(production_app, production_env):
    assert production_app.config["ENV_NAME"] == "production"
    assert production_app.config["SECRET_KEY"] == production_env["SECRET_KEY"]
    assert production_app.config["SESSION_COOKIE_SECURE"] is True
    assert not production_app.config.get("TESTING")
    client = production_app.test_client()
    for url in ("/api/v1/events", "/", "/privacy", "/api/v1/events/nowhere"):
        response = client.get(url)
        assert response.status_code in (200, 404), url
        hsts = response.headers.get("Strict-Transport-Security", "")
        assert "max-age=" in hsts, url
        assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_hsts_outside_production(client):
    response = client.get("/api/v1/events")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


# --- rate-limit storage: shared, or per process only when told so -----------------------


def test_production_refuses_per_process_rate_limits(production_env, no_secrets, database_url):
    """Without REDIS_URL every gunicorn worker would count for itself (limit x workers)."""
    no_secrets.delenv("REDIS_URL", raising=False)
    no_secrets.delenv("FUNRUN_RATE_LIMIT_STORAGE", raising=False)
    no_secrets.setattr(ProductionConfig, "REDIS_URL", None)
    no_secrets.setattr(ProductionConfig, "FUNRUN_RATE_LIMIT_STORAGE", "")
    with pytest.raises(RuntimeError, match=r"REDIS_URL.*FUNRUN_RATE_LIMIT_STORAGE=memory"):
        ProductionConfig.check()
    with pytest.raises(RuntimeError, match="per-process rate limits"):
        create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url)
    # A memory store given directly is per process all the same.
    with pytest.raises(RuntimeError, match="per-process rate limits"):
        create_app(
            ProductionConfig,
            SQLALCHEMY_DATABASE_URI=database_url,
            RATELIMIT_STORAGE_URI="memory://",
        )


def test_production_accepts_per_process_limits_only_when_told(
    production_env, no_secrets, database_url
):
    no_secrets.delenv("REDIS_URL", raising=False)
    no_secrets.setattr(ProductionConfig, "REDIS_URL", None)
    no_secrets.setenv("FUNRUN_RATE_LIMIT_STORAGE", "memory")
    ProductionConfig.check()  # the environment says so explicitly
    built = create_app(
        ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url, FUNRUN_RATE_LIMIT_STORAGE="memory"
    )
    try:
        assert built.config["RATELIMIT_STORAGE_URI"] == MEMORY_STORAGE
    finally:
        with built.app_context():
            db.engine.dispose()
    # Limits switched off altogether need no store (load tests).
    no_secrets.delenv("FUNRUN_RATE_LIMIT_STORAGE")
    no_secrets.setenv("FUNRUN_RATE_LIMITS", "off")
    ProductionConfig.check()
    # A misspelt choice is refused in every environment, not taken for "shared".
    no_secrets.setenv("FUNRUN_RATE_LIMIT_STORAGE", "memroy")
    with pytest.raises(RuntimeError, match="memroy"):
        ProductionConfig.check()
    with pytest.raises(RuntimeError, match="memroy"):
        DevelopmentConfig.check()


def test_production_with_redis_uses_it(production_env, no_secrets, database_url):
    redis_url = "redis://127.0.0.1:6379/4"
    no_secrets.delenv("FUNRUN_RATE_LIMIT_STORAGE", raising=False)
    no_secrets.setenv("REDIS_URL", redis_url)
    ProductionConfig.check()
    no_secrets.setattr(ProductionConfig, "REDIS_URL", redis_url)
    built = create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url)
    try:
        assert built.config["RATELIMIT_STORAGE_URI"] == redis_url
    finally:
        with built.app_context():
            db.engine.dispose()


def test_rate_limit_storage_choices():
    assert rate_limit_storage({}) == MEMORY_STORAGE  # development without Redis
    assert rate_limit_storage({"REDIS_URL": "redis://r/1"}) == "redis://r/1"
    both = {"REDIS_URL": "redis://r/1", "FUNRUN_RATE_LIMIT_STORAGE": "memory"}
    assert rate_limit_storage(both) == MEMORY_STORAGE
    assert rate_limit_storage({"RATELIMIT_STORAGE_URI": "redis://x/2", "REDIS_URL": "r"}) == (
        "redis://x/2"
    )
    # Development and testing run without Redis, with no setting at all.
    DevelopmentConfig.check({"FUNRUN_RATE_LIMITS": "20/minute"})
    TestingConfig.check({"FUNRUN_RATE_LIMITS": "20/minute"})


def test_staff_sessions_last_a_working_day(app, database_url):
    """The signed cookie itself stops verifying after a working day (Flask: 31 days)."""
    assert app.config["FUNRUN_STAFF_SESSION_HOURS"] == 10
    assert app.permanent_session_lifetime.total_seconds() == 10 * 3600
    shorter = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, FUNRUN_STAFF_SESSION_HOURS=8
    )
    try:
        assert shorter.permanent_session_lifetime.total_seconds() == 8 * 3600
    finally:
        with shorter.app_context():
            db.engine.dispose()


def test_every_new_setting_is_in_the_readme_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("## Configuration (environment)")[1].split("\n## ")[0]
    for name in ("REDIS_URL", "FUNRUN_RATE_LIMIT_STORAGE", "FUNRUN_STAFF_SESSION_HOURS"):
        assert f"| `{name}` |" in table, name


def test_production_refuses_a_malformed_data_key(production_env, no_secrets, database_url):
    no_secrets.setattr(ProductionConfig, "FUNRUN_DATA_KEY", "too-short")
    no_secrets.setenv("FUNRUN_DATA_KEY", "too-short")
    with pytest.raises(ValueError, match="FUNRUN_DATA_KEY"):
        create_app(
            ProductionConfig,
            SQLALCHEMY_DATABASE_URI=database_url,
            FUNRUN_RATE_LIMIT_STORAGE="memory",
        )


# --- development keys in instance/ -----------------------------------------------------


def dev_app(instance: Path, **config_values: str | None) -> Flask:
    """A Flask app shaped like development's, with its instance folder at ``instance``."""
    app = Flask("funrun-keys-test", instance_path=str(instance))
    app.config.update(
        GENERATE_MISSING_KEYS=True,
        **{name: None for name in SECRET_NAMES},
    )
    app.config.update(config_values)
    load_secrets(app)
    return app


def test_development_generates_keys_into_the_instance_folder(tmp_path):
    instance = tmp_path / "instance"
    first = dev_app(instance)
    for name in SECRET_NAMES:
        assert first.config.get(name) or name == "FUNRUN_SIGNING_KEY", name
    files = sorted(p.name for p in instance.iterdir())
    assert {"secret_key", "data_key"} <= set(files)
    for path in instance.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert not any(name.startswith(".") for name in files), files  # no temporary leftovers
    assert len(first.config["SECRET_KEY"]) >= 32
    DataCipher(first.config["FUNRUN_DATA_KEY"])  # a usable 32-byte key
    assert (instance / "data_key").read_text().strip() == first.config["FUNRUN_DATA_KEY"]
    contents = {p.name: p.read_text() for p in instance.iterdir()}
    # A second start reuses them, untouched.
    second = dev_app(instance)
    for name in SECRET_NAMES:
        assert second.config.get(name) == first.config.get(name), name
    assert {p.name: p.read_text() for p in instance.iterdir()} == contents
    # Another instance folder gets keys of its own.
    other = dev_app(tmp_path / "elsewhere")
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]
    assert other.config["FUNRUN_DATA_KEY"] != first.config["FUNRUN_DATA_KEY"]


def test_given_keys_are_kept_and_not_written(tmp_path):
    instance = tmp_path / "instance"
    app = dev_app(instance, SECRET_KEY="given-secret", FUNRUN_DATA_KEY=DATA_KEY)
    assert app.config["SECRET_KEY"] == "given-secret"
    assert app.config["FUNRUN_DATA_KEY"] == DATA_KEY
    assert not (instance / "secret_key").exists()
    assert not (instance / "data_key").exists()


def test_nothing_is_generated_unless_allowed(tmp_path):
    instance = tmp_path / "instance"
    app = Flask("funrun-keys-test", instance_path=str(instance))
    app.config.update(GENERATE_MISSING_KEYS=False, SECRET_KEY=None, FUNRUN_DATA_KEY=None)
    load_secrets(app)
    assert app.config["SECRET_KEY"] is None
    assert app.config["FUNRUN_DATA_KEY"] is None
    assert not instance.exists()


def test_workers_starting_together_share_one_complete_key(tmp_path):
    """Several workers on a fresh instance folder: one key each, the same, never empty."""

    failures: list[str] = []

    def start(instance: Path, barrier: threading.Barrier, seen: list[tuple[str, str]]) -> None:
        barrier.wait()
        try:
            app = dev_app(instance)
        except Exception:  # said whole below: a thread's exception is otherwise only a count
            failures.append(traceback.format_exc())
            return
        seen.append((app.config["SECRET_KEY"], app.config["FUNRUN_DATA_KEY"]))

    for attempt in range(30):
        instance = tmp_path / f"instance-{attempt}"
        barrier = threading.Barrier(8)
        seen: list[tuple[str, str]] = []
        threads = [threading.Thread(target=start, args=(instance, barrier, seen)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == [], f"attempt {attempt}: {failures[0]}"
        assert len(seen) == 8
        assert len(set(seen)) == 1, f"attempt {attempt}: {len(set(seen))} different keys"
        secret, data_key = seen[0]
        assert secret and data_key
        DataCipher(data_key)
        assert (instance / "secret_key").read_text().strip() == secret


def test_production_refuses_messages_without_smtp_or_public_address(no_secrets):
    """Runners' messages need a way out and links that work: production says which is
    missing, and starts once messages are explicitly off or both are set."""
    settings = {**production_secrets(), "FUNRUN_MESSAGES": "on", "FUNRUN_RATE_LIMITS": "off"}
    with pytest.raises(RuntimeError, match="FUNRUN_SMTP_URL"):
        ProductionConfig.check(settings)
    settings["FUNRUN_SMTP_URL"] = "smtp://mailer:secret@smtp.example.id:587"
    with pytest.raises(RuntimeError, match="FUNRUN_PUBLIC_URL"):
        ProductionConfig.check(settings)
    settings["FUNRUN_PUBLIC_URL"] = "https://lari.example.id"
    ProductionConfig.check(settings)
    ProductionConfig.check({**production_secrets(), "FUNRUN_RATE_LIMITS": "off"})
