"""Shared fixtures: one app per test session on a real database, cleaned after each test.

The database is TEST_DATABASE_URL (PostgreSQL) or a temporary SQLite file; tests that
need PostgreSQL itself use TEST_DATABASE_URL, or TEST_POSTGRES_URL in a run on SQLite.
Tests that need PostgreSQL or Chromium skip without them, and fail instead when
FUNRUN_REQUIRE_ALL=1 (as .ci/run sets), so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text

from config import TestingConfig, normalise_database_url
from funrun import create_app
from funrun.events.models import Event, Tour
from funrun.extensions import db
from funrun.registration import terms_cache

REQUIRE_ALL = os.environ.get("FUNRUN_REQUIRE_ALL") == "1"
#: The database the suite runs on (a temporary SQLite file without it).
PG_URL = os.environ.get("TEST_DATABASE_URL")
#: PostgreSQL for the PostgreSQL-only tests: TEST_DATABASE_URL when the suite runs there,
#: else TEST_POSTGRES_URL (`make test` runs the suite on SQLite with it, then on PostgreSQL).
POSTGRES_URL = (
    PG_URL if PG_URL and PG_URL.startswith("postgres") else os.environ.get("TEST_POSTGRES_URL")
)


def need(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, or fail under FUNRUN_REQUIRE_ALL=1."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"FUNRUN_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def reset_database(url: str) -> None:
    """Drop everything in the database at ``url`` so migrations start from nothing."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build_app(url: str, **overrides: Any) -> Flask:
    """A testing app on ``url`` with the schema migrated to head."""
    app = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=normalise_database_url(url), **overrides
    )
    return app


def truncate_all(app: Flask) -> None:
    """Empty every table (keeps the schema), restarting ids; forget remembered event terms."""
    terms_cache.forget()  # the next test's "city-1" is another event
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database: TEST_DATABASE_URL, else a SQLite file for this session."""
    if PG_URL:
        return normalise_database_url(PG_URL)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'funrun-test.sqlite3'}"


@pytest.fixture(scope="session")
def _session_app(database_url: str) -> Iterator[Flask]:
    reset_database(database_url)
    app = build_app(database_url)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    """The app, in an app context, with an empty database after the test."""
    with _session_app.app_context():
        yield _session_app
        db.session.remove()
    truncate_all(_session_app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (cookies kept between its requests)."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    """The CLI runner for ``flask`` commands."""
    return app.test_cli_runner()


#: Fixtures that hand a test the session's app, on the database the suite runs on.
SESSION_APP_FIXTURES = {"app", "client", "runner", "_session_app"}


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL (POSTGRES_URL), required: skips (or fails under FUNRUN_REQUIRE_ALL) without it.

    A test that also takes the session's app drives that app on PostgreSQL: in a run on
    SQLite it is left to the PostgreSQL run of the same `make test` (a skip that says so,
    not a failure: the two runs together run it). Tests on databases of their own
    (``separate_postgres_url``, engines of their own) run in both.
    """
    need(
        bool(POSTGRES_URL) and POSTGRES_URL.startswith("postgres"),
        "neither TEST_DATABASE_URL nor TEST_POSTGRES_URL names a PostgreSQL database",
    )
    if POSTGRES_URL != PG_URL and SESSION_APP_FIXTURES & set(request.fixturenames):
        pytest.skip("drives the app on PostgreSQL: runs in the PostgreSQL run of make test")
    return normalise_database_url(POSTGRES_URL or "")


@pytest.fixture
def separate_postgres_url(postgres_url: str) -> Callable[[str], str]:
    """Make ``<test database>_<suffix>`` (if missing) and give its URL; the caller resets it.

    For tests that need a whole database of their own (migrations, concurrency) without
    touching the session database the other tests share.
    """

    def _make(suffix: str) -> str:
        url = make_url(postgres_url)
        name = f"{url.database}_{suffix}"
        assert re.fullmatch(r"[A-Za-z0-9_]+", name), name
        engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return url.set(database=name).render_as_string(hide_password=False)

    return _make


# --- factories -------------------------------------------------------------------------


def make_nik(birth: date, gender: str, *, region: str = "317401", serial: int = 1) -> str:
    """A NIK that agrees with ``birth`` and ``gender``."""
    day = birth.day + (40 if gender == "F" else 0)
    return f"{region}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def person_payload(index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid registration body for the API; ``index`` makes the NIK distinct."""
    birth = date(1980, 1, 1).replace(day=1 + index % 28, month=1 + (index // 28) % 12)
    birth = birth.replace(year=1970 + (index // 336) % 25)
    gender = "F" if index % 2 else "M"
    body = {
        "full_name": "Budi Santoso" if gender == "M" else "Siti Rahmawati",
        "nik": make_nik(
            birth,
            gender,
            serial=1 + (index // 8400) % 9999,
            region=f"3174{(index // 336 // 25) % 90 + 10:02d}",
        ),
        "birth_date": birth.isoformat(),
        "gender": gender,
        "phone": f"08123{index % 1000000:06d}",
        "shirt_size": "M",
        "member": False,
        "consent": True,
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_event(app: Flask) -> Callable[..., Event]:
    """Create an event (and its tour) with sensible defaults; keywords override."""
    counter = {"n": 0}

    def _make(**kw: Any) -> Event:
        counter["n"] += 1
        tour = db.session.scalar(db.select(Tour).where(Tour.slug == "test-tour"))
        if tour is None:
            tour = Tour(slug="test-tour", name="Test Tour", organiser="Test")
            db.session.add(tour)
            db.session.flush()
        n = counter["n"]
        fields: dict[str, Any] = {
            "tour_id": tour.id,
            "slug": f"city-{n}",
            "city": f"City {n}",
            "name": f"Fun Run City {n}",
            "date": date(2026, 12, 13),
            "start_time": time(6, 0),
            "venue": "Alun-alun",
            "quota": 10,
            "bib_prefix": "TST",
            "bib_first": 1,
            "bib_last": 9999,
            "bib_next": kw.get("bib_first", 1),
        }
        fields.update(kw)
        event = Event(**fields)
        db.session.add(event)
        db.session.commit()
        return event

    return _make


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own (never the session database), on SQLite
    and on PostgreSQL: for migration and constraint tests."""
    if request.param == "postgresql":
        url = request.getfixturevalue("separate_postgres_url")("fresh")
    else:
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    reset_database(url)
    app = build_app(url)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
