"""``flask ballot draw SLUG``: draw an event's ballot now, as the organiser's button does."""

from __future__ import annotations

import time

import click


@click.group("ballot")
def ballot_cli() -> None:
    """Ballot openings: the draw."""


@ballot_cli.command("draw")
@click.argument("slug")
def draw_command(slug: str) -> None:
    """Draw the ballot of event SLUG (after its entries close; once)."""
    from funrun.ballot.draw import DrawRefused, draw
    from funrun.events.services import get_event

    event = get_event(slug)
    if event is None:
        raise click.ClickException(f"no event {slug!r}")
    started = time.monotonic()
    try:
        result = draw(event.id)
    except DrawRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{slug}: {result.entries:,} entries drawn in {time.monotonic() - started:.2f} s: "
        f"{result.confirmed:,} confirmed, {result.held:,} held for their group, "
        f"{result.waitlisted:,} waitlisted, {result.withdrawn:,} withdrawn"
    )
    click.echo(f"seed {result.seed}")
