"""``flask bibs print SLUG -o FILE``: every confirmed bib of an event in one PDF."""

from __future__ import annotations

import time

import click

from funrun.bibs.services import count_confirmed, write_event_bibs
from funrun.events.services import get_event

bibs_cli = click.Group("bibs", help="Print race bibs.")


@bibs_cli.command("print")
@click.argument("slug")
@click.option("-o", "--output", type=click.File("wb"), required=True, help="PDF file to write.")
def print_command(slug: str, output: click.utils.LazyFile) -> None:
    """Write every confirmed bib of the event, in bib order, with a progress bar."""
    event = get_event(slug)
    if event is None:
        raise click.ClickException(f"no event with slug {slug}")
    total = count_confirmed(event.id)
    started = time.perf_counter()
    with click.progressbar(length=total, label=f"bibs {event.bib_prefix}") as bar:
        last = 0

        def progress(done: int) -> None:
            nonlocal last
            bar.update(done - last)
            last = done

        count = write_event_bibs(event, output, progress)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    click.echo(f"wrote {count} bibs in {elapsed:.1f} s ({count / max(elapsed, 1e-9):.0f}/s)")
