"""``flask payments import FILE.csv``: the scheme's payment file, row by row.

Only click is imported here: the import itself (and what it needs) is loaded when the
command runs, so a web worker, which registers the command, never carries it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click


@click.group("payments")
def payments_cli() -> None:
    """Members' monthly payments, from the scheme's payment files."""


@payments_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write every row's outcome (accepted, or refused and why) to this CSV file.",
)
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
def import_command(path: Path, report: Path | None, quiet: bool) -> None:
    """Record the payments of PATH (CSV: participant_number,month,amount)."""
    from funrun.payments.importing import HeaderError, import_file, write_report

    started = time.monotonic()

    def progress(rows: int) -> None:
        if not quiet:
            elapsed = time.monotonic() - started
            click.echo(f"{rows:,} rows read ({elapsed:.0f} s)", err=True)

    try:
        result = import_file(path, progress=progress)
    except HeaderError as exc:
        raise click.ClickException(f"{path.name}: {exc}; nothing recorded") from exc
    if result.repeated:
        click.echo(
            f"{path.name} was imported before (file {result.file_id}, "
            f"{result.imported_at}): nothing changed."
        )
    click.echo(
        f"file {result.file_id}: {result.rows:,} rows, {result.accepted:,} accepted, "
        f"{result.refused:,} refused"
    )
    for reason, count in sorted(result.reasons.items(), key=lambda item: -item[1]):
        click.echo(f"  refused {count:,}: {reason}")
    if report is not None:
        with report.open("w", encoding="utf-8", newline="") as target:
            written = write_report(result.file_id, path, target)
        click.echo(f"report: {written:,} rows written to {report}")
    if not quiet:
        click.echo(f"done in {time.monotonic() - started:.1f} s", err=True)
    sys.stdout.flush()
