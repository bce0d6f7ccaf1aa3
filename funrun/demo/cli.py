"""``flask seed-demo``: the demo tour from today on, demo log-ins, optional synthetic runners."""

from __future__ import annotations

import time
from datetime import datetime

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
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the first city races (YYYY-MM-DD; default: the machine's date).",
)
def seed_demo(runners: int, if_empty: bool, today: datetime | None) -> None:
    """Seed the demo tour (11 cities, the first racing today, the others over the coming
    weeks) and, with --runners, N synthetic registrations."""
    tour, created = seed_tour(today.date() if today else None)
    if load_shipped_if_empty():
        click.echo("loaded the shipped contribution schedules")
    click.echo(
        f"{'created' if created else 'kept'} tour {tour.slug} with {len(tour.events)} events"
    )
    if tour.events:
        first = tour.events[0]
        click.echo(f"first city: {first.city} ({first.slug}) on {first.date:%Y-%m-%d}")
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
        from funrun.payments.demo import seed_payments  # the funnel's later steps

        enrolled, paid = seed_payments()
        click.echo(f"enrolled {enrolled} runners of the first city, {paid} months paid")
