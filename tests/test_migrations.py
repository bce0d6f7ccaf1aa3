"""Migrations build exactly the models' schema, on SQLite and PostgreSQL, and run both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, inspect

import funrun.models  # noqa: F401  (every table in the metadata)
from funrun.extensions import db


def schema_diff() -> list:
    """What autogenerate would still change to make the database match the models."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def table_names() -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_one_head_and_a_straight_history(app):
    config = app.extensions["migrate"].migrate.get_config()
    scripts = ScriptDirectory.from_config(config)
    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1
    revisions = list(scripts.walk_revisions())
    assert revisions
    assert all(not rev.is_merge_point for rev in revisions)


def test_upgrade_gives_exactly_the_models_schema(fresh_app):
    assert table_names() == set()
    upgrade()
    assert schema_diff() == []
    assert table_names() == set(db.metadata.tables) | {"alembic_version"}


def test_downgrade_to_base_then_upgrade_again(fresh_app):
    upgrade()
    downgrade(revision="base")
    assert table_names() == {"alembic_version"}
    assert schema_diff() != []  # the comparison does see a missing schema
    upgrade()
    assert schema_diff() == []
    assert table_names() == set(db.metadata.tables) | {"alembic_version"}


def test_partial_unique_index_survives_the_migration(fresh_app):
    """The index behind "one active registration per person" must really be partial."""
    upgrade()
    with db.engine.connect() as conn:
        indexes = {ix["name"]: ix for ix in inspect(conn).get_indexes("registrations")}
    active = indexes["uq_registrations_active_person"]
    assert active["unique"]
    assert active["column_names"] == ["event_id", "person_id"]
    where = active.get("dialect_options", {})
    assert any("cancelled" in str(value) for value in where.values()), where


def test_check_constraints_match_the_models(fresh_app):
    """Autogenerate ignores CHECK constraints, so compare their names directly."""
    upgrade()
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        checked = 0
        for table in db.metadata.sorted_tables:
            expected = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
            found = {c["name"] for c in inspector.get_check_constraints(table.name)}
            assert found == expected, table.name
            checked += len(expected)
    assert checked >= 8
