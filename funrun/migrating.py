"""Flask-Migrate, loaded only when something migrates.

Flask-Migrate imports Alembic, Mako and Pygments: 11 MB resident in every process that
loads it. A gunicorn worker never migrates, so the app registers two stand-ins instead:
``app.extensions["migrate"]``, which binds the real extension on first use (so
``flask_migrate.upgrade()`` in an app context works as usual), and a ``flask db`` group
that hands every sub-command to Flask-Migrate's own group.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo

from config import BASE_DIR

MIGRATIONS_DIR = BASE_DIR / "migrations"


def bind_migrate(app: Flask) -> Any:
    """Bind the real Flask-Migrate to ``app`` (once); its ``app.extensions`` entry."""
    current = app.extensions.get("migrate")
    if current is not None and not isinstance(current, _UnboundMigrate):
        return current
    from flask_migrate import Migrate

    from funrun.extensions import db

    Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    return app.extensions["migrate"]


class _UnboundMigrate:
    """Stands in ``app.extensions["migrate"]`` until a migration needs the real one."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(bind_migrate(self._app), name)


@click.command(
    "db",
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def migration_commands(ctx: click.Context) -> None:
    """Perform database migrations (Flask-Migrate's commands: flask db --help)."""
    info = ctx.ensure_object(ScriptInfo)
    bind_migrate(info.load_app())
    from flask_migrate.cli import db as real_group

    real_group.main(args=ctx.args, prog_name=ctx.command_path, obj=info, standalone_mode=False)


def init_app(app: Flask) -> None:
    """Register the stand-ins for Flask-Migrate's extension entry and ``db`` command."""
    app.extensions["migrate"] = _UnboundMigrate(app)
    app.cli.add_command(migration_commands)
