"""``flask privacy ...``: the retention purge, and a person's data export or erasure.

The NIK is read from standard input (``--nik-stdin``), never from an argument, so it
never lands in shell history or a process list.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from funrun.people.models import Person
from funrun.privacy.requests import delete_person, export_person, find_person
from funrun.privacy.services import PrivacyError, purge, retention_days


@click.group("privacy")
def privacy_cli() -> None:
    """Personal data: retention purge, a person's export and deletion on request."""


@privacy_cli.command("purge")
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(min=0),
    default=None,
    help="Days after the event date (default FUNRUN_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
def purge_command(older_than: int | None, dry_run: bool) -> None:
    """Remove the personal data of events older than the retention period; totals stay."""
    days = retention_days() if older_than is None else older_than
    counts = purge(days, dry_run=dry_run)
    prefix = "dry run, would purge" if dry_run else "purged"
    click.echo(f"{prefix} (events older than {days} days): {counts.summary()}")
    for slug in counts.slugs:
        click.echo(f"  {slug}")
    if counts.held:
        click.echo(
            f"{counts.held} registration(s) kept: their enrolment is not exported yet "
            "(flask enrolment export, then purge again)"
        )


def _person_from_stdin(nik_stdin: bool) -> Person:
    if not nik_stdin:
        raise click.UsageError("give the NIK on standard input with --nik-stdin")
    try:
        person = find_person(sys.stdin.readline().strip())
    except PrivacyError as exc:
        raise click.ClickException("not a NIK (16 digits expected)") from exc
    if person is None:
        raise click.ClickException("no data held for this NIK")
    return person


@privacy_cli.command("export")
@click.option("--nik-stdin", is_flag=True, help="Read the NIK from standard input.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None)
def export_command(nik_stdin: bool, output: str | None) -> None:
    """Write everything held about one person as JSON (to OUTPUT, or standard output)."""
    body = export_person(_person_from_stdin(nik_stdin), user_id=None)
    if output:
        Path(output).write_bytes(body)
        click.echo(f"written to {output}", err=True)
    else:
        click.echo(body.decode(), nl=False)


@privacy_cli.command("delete")
@click.option("--nik-stdin", is_flag=True, help="Read the NIK from standard input.")
def delete_command(nik_stdin: bool) -> None:
    """Cancel one person's places (the waitlist moves up) and purge their personal data."""
    person = _person_from_stdin(nik_stdin)
    try:
        done = delete_person(person, user_id=None)
    except PrivacyError as exc:
        raise click.ClickException(
            "their enrolment is not exported yet: run flask enrolment export first"
        ) from exc
    click.echo(
        f"deleted: cancelled={done.cancelled} promoted={done.promoted} {done.counts.summary()}"
    )
