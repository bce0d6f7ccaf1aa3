"""``flask enrolment ...``: load contribution schedules, make an export batch."""

from __future__ import annotations

from pathlib import Path

import click

from funrun.enrolment.export import batch_file, create_batch
from funrun.enrolment.schedule import SHIPPED, ScheduleDataError, load_file


@click.group("enrolment")
def enrolment_cli() -> None:
    """On-site enrolment: contribution schedules and export batches."""


@enrolment_cli.command("load-schedules")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
def load_schedules(path: str | None) -> None:
    """Load contribution schedules and sponsors (the shipped file by default)."""
    try:
        count = load_file(Path(path) if path else SHIPPED)
    except ScheduleDataError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc
    click.echo(f"loaded {count} contribution schedule(s)")


@enrolment_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def export(fmt: str, output: str) -> None:
    """Put the enrolments not yet exported into a new batch and write it to OUTPUT."""
    batch = create_batch(user_id=None)
    if batch is None:
        raise click.ClickException("no new enrolments to export")
    Path(output).write_bytes(batch_file(batch.number, fmt, user_id=None) or b"")
    click.echo(f"batch {batch.number}: {batch.count} enrolment(s) written to {output}")
