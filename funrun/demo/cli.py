"""``flask seed-demo``: the 2015 tour, demo log-ins, and optional synthetic runners."""

from __future__ import annotations

import time

import click
from flask import current_app

from funrun.demo.services import seed_runners, seed_tour, seed_users
from funrun.enrolment.schedule import load_shipped_if_empty


@click.command("seed-demo")
@click.option(
    "--runners",
    type=click.IntRange(min=0),
    default=0,
    help="Also add N synthetic registrations spread over the cities.",
)
@click.option("--if-empty", is_flag=True, help="Do nothing if the tour already exists.")
def seed_demo(runners: int, if_empty: bool) -> None:
    """Seed the 2015 tour (11 cities) and, with --runners, N synthetic registrations."""
    tour, created = seed_tour()
    if load_shipped_if_empty():
        click.echo("loaded the shipped contribution schedules")
    click.echo(
        f"{'created' if created else 'kept'} tour {tour.slug} with {len(tour.events)} events"
    )
    if current_app.config["ENV_NAME"] in ("development", "testing"):
        for email, role, password in seed_users():
            click.echo(f"demo log-in  {role:10} {email}  password: {password}")
    if not created and if_empty:
        return
    if runners:
        started = time.perf_counter()
        with click.progressbar(length=runners, label="synthetic runners") as bar:
            seed_runners(runners, progress=bar.update)
        click.echo(f"added {runners} registrations in {time.perf_counter() - started:.1f} s")
